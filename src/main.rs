//! `wallet-api serve | migrate | verify | repair`

use std::process::ExitCode;

use anyhow::Context;
use wallet_api::config::Config;
use wallet_api::db;
use wallet_api::domain::format_money;
use wallet_api::models::balance_change::repair;
use wallet_api::models::wallet::audit_balances;
use wallet_api::startup::Application;

const USAGE: &str = "usage: wallet-api <command> [options]

commands:
  serve     run migrations, then serve the JSON:API on HOST:PORT
  migrate   apply pending migrations and exit
  verify    compare every wallet's stored balance with the sum of its transactions and
            with its balance journal; print each wallet where they disagree; exit 1 if any
  repair    for every wallet verify flags, show the balance its transactions add up to;
            with --apply, write it (with a 'repair' journal row), in one transaction

options (or environment variables):
  --database-url URL   DATABASE_URL
  --host HOST          HOST (default 127.0.0.1)
  --port PORT          PORT (default 8080)
  --pool-size N        DB_POOL_SIZE (default: twice the number of CPUs)
  --workers N          WORKERS (default: number of CPUs)
  --base-url URL       BASE_URL (default: from each request's Host)
  --idempotency-ttl D  IDEMPOTENCY_TTL (default 24h)
  --db-statement-timeout D, --db-lock-timeout D, --db-acquire-timeout D, --db-max-waiting N,
  --health-timeout D, --http-head-timeout D, --http-body-timeout D, --http-keep-alive D,
  --shutdown-timeout D
                       the bounds on every wait (README, Configuration)
  --apply              repair only: write the repairs (default: a dry run)

logging: RUST_LOG (default info)";

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(command) = args.first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let options = &args[1..];
    let outcome = match command.as_str() {
        "serve" => Config::from_env(options).and_then(|config| serve(&config)),
        "migrate" => Config::from_env(options).and_then(|config| migrate(&config)),
        "verify" => Config::from_env(options).and_then(|config| verify(&config)),
        "repair" => {
            let apply = options.iter().any(|option| option == "--apply");
            let rest: Vec<String> = options
                .iter()
                .filter(|o| *o != "--apply")
                .cloned()
                .collect();
            Config::from_env(&rest).and_then(|config| repair_balances(&config, apply))
        }
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        other => {
            eprintln!("unknown command {other:?}\n\n{USAGE}");
            Ok(ExitCode::from(2))
        }
    };
    outcome.unwrap_or_else(|error| {
        eprintln!("wallet-api: {error:#}");
        ExitCode::FAILURE
    })
}

fn serve(config: &Config) -> anyhow::Result<ExitCode> {
    actix_web::rt::System::new().block_on(async {
        let application = Application::build(config)?;
        log::info!(
            "serving on http://{}:{} ({} workers, {} database connections)",
            config.host,
            application.port(),
            config.workers,
            config.pool_size
        );
        application.run_until_stopped().await?;
        Ok(ExitCode::SUCCESS)
    })
}

fn migrate(config: &Config) -> anyhow::Result<ExitCode> {
    let applied = db::run_migrations(&mut db::connect(
        &config.database_url,
        "wallet-api migrate",
    )?)?;
    if applied.is_empty() {
        println!("the database is up to date");
    }
    for version in applied {
        println!("applied {version}");
    }
    Ok(ExitCode::SUCCESS)
}

fn verify(config: &Config) -> anyhow::Result<ExitCode> {
    let mut conn = db::connect(&config.database_url, "wallet-api verify")?;
    let problems = audit_balances(&mut conn)
        .context("cannot read wallet_balance_audit (run `wallet-api migrate` first?)")?;
    if problems.is_empty() {
        println!(
            "ok: every wallet's balance equals the sum of its transactions and its journal, \
             and none is negative"
        );
        return Ok(ExitCode::SUCCESS);
    }
    let money = |value: &Option<bigdecimal::BigDecimal>| {
        value.as_ref().map_or("none".to_string(), format_money)
    };
    for problem in &problems {
        println!(
            "wallet {}: {} (stored balance {}, sum of transactions {}, journal {})",
            problem.wallet_id,
            problem.problem,
            money(&problem.stored_balance),
            format_money(&problem.transactions_sum),
            money(&problem.journal_balance),
        );
    }
    println!("{} problem(s) found", problems.len());
    Ok(ExitCode::FAILURE)
}

fn repair_balances(config: &Config, apply: bool) -> anyhow::Result<ExitCode> {
    let mut conn = db::connect(&config.database_url, "wallet-api repair")?;
    let repairs =
        repair(&mut conn, apply).context("the repair did not run; nothing was changed")?;
    if repairs.is_empty() {
        println!(
            "nothing to repair: every wallet's balance agrees with its transactions and journal"
        );
        return Ok(ExitCode::SUCCESS);
    }
    for fix in &repairs {
        let verb = if apply { "repaired" } else { "would repair" };
        println!(
            "wallet {}: {verb}: balance {} -> {} (journal {} -> {}){}",
            fix.wallet_id,
            format_money(&fix.stored_balance),
            format_money(&fix.repaired_balance),
            format_money(&fix.journal_balance),
            format_money(&fix.repaired_balance),
            fix.balance_change_id
                .map_or(String::new(), |id| format!(", balance change {id}")),
        );
    }
    if apply {
        println!("{} wallet(s) repaired", repairs.len());
    } else {
        println!(
            "{} wallet(s) to repair; nothing was changed (run with --apply to write)",
            repairs.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}
