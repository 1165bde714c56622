//! `wallet-api serve | migrate | verify`

use std::process::ExitCode;

use anyhow::Context;
use wallet_api::config::Config;
use wallet_api::db;
use wallet_api::domain::format_money;
use wallet_api::models::wallet::audit_balances;
use wallet_api::startup::Application;

const USAGE: &str = "usage: wallet-api <command> [options]

commands:
  serve     run migrations, then serve the JSON:API on HOST:PORT
  migrate   apply pending migrations and exit
  verify    recompute every wallet's balance from its transactions; print each wallet
            whose stored balance differs or is negative; exit 1 if there is any

options (or environment variables):
  --database-url URL   DATABASE_URL
  --host HOST          HOST (default 127.0.0.1)
  --port PORT          PORT (default 8080)
  --pool-size N        DB_POOL_SIZE (default: twice the number of CPUs)
  --workers N          WORKERS (default: number of CPUs)
  --base-url URL       BASE_URL (default: from each request's Host)
  
logging: RUST_LOG (default info)";

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(command) = args.first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let outcome = match command.as_str() {
        "serve" => Config::from_env(&args[1..]).and_then(|config| serve(&config)),
        "migrate" => Config::from_env(&args[1..]).and_then(|config| migrate(&config)),
        "verify" => Config::from_env(&args[1..]).and_then(|config| verify(&config)),
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

fn connect(config: &Config) -> anyhow::Result<diesel::PgConnection> {
    use diesel::Connection;
    diesel::PgConnection::establish(&config.database_url)
        .context("cannot connect to the database (is DATABASE_URL right, is PostgreSQL up?)")
}

fn migrate(config: &Config) -> anyhow::Result<ExitCode> {
    let applied = db::run_migrations(&mut connect(config)?)?;
    if applied.is_empty() {
        println!("the database is up to date");
    }
    for version in applied {
        println!("applied {version}");
    }
    Ok(ExitCode::SUCCESS)
}

fn verify(config: &Config) -> anyhow::Result<ExitCode> {
    let mut conn = connect(config)?;
    let problems = audit_balances(&mut conn)
        .context("cannot read wallet_balance_audit (run `wallet-api migrate` first?)")?;
    if problems.is_empty() {
        println!(
            "ok: every wallet's balance equals the sum of its transactions, and none is negative"
        );
        return Ok(ExitCode::SUCCESS);
    }
    for problem in &problems {
        println!(
            "wallet {}: {} (stored balance {}, sum of transactions {})",
            problem.wallet_id,
            problem.problem,
            problem
                .stored_balance
                .as_ref()
                .map_or("none".to_string(), format_money),
            format_money(&problem.transactions_sum),
        );
    }
    println!("{} problem(s) found", problems.len());
    Ok(ExitCode::FAILURE)
}
