//! `wallet-api serve | migrate | verify | repair | keys`: the command line, declared once
//! (clap).

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use wallet_api::config::Config;
use wallet_api::db;
use wallet_api::domain::format_money;
use wallet_api::models::balance_change::repair;
use wallet_api::models::exchange::audit_exchanges;
use wallet_api::models::transfer::audit_transfers;
use wallet_api::models::wallet::audit_balances;
use wallet_api::startup::Application;

/// Wallets and their transactions behind a JSON:API interface, PostgreSQL keeping every
/// balance. Logging: RUST_LOG (default info); LOG_FORMAT=json for one JSON object per line.
#[derive(Parser)]
#[command(name = "wallet-api", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run pending migrations, then serve the JSON:API on HOST:PORT.
    Serve(Box<Config>),
    /// Apply pending migrations and exit.
    Migrate(Database),
    /// Compare every wallet's stored balance with the sum of its transactions and with its
    /// balance journal; print each wallet where they disagree; exit 1 if any.
    Verify(Database),
    /// For every wallet verify flags, show the balance its transactions add up to; with
    /// --apply, write it (with a 'repair' journal row), in one transaction.
    Repair {
        #[command(flatten)]
        database: Database,
        /// Write the repairs (without it: a dry run).
        #[arg(long)]
        apply: bool,
    },
    /// Create, list and revoke API keys.
    Keys {
        #[command(flatten)]
        database: Database,
        #[command(subcommand)]
        command: Keys,
    },
    /// Print the OpenAPI document of the API (what openapi.json holds).
    Openapi,
    /// Rewrite the parts of docs/ written from the code (make docs), from the repository's root.
    #[command(hide = true)]
    Docs,
}

#[derive(Subcommand)]
enum Keys {
    /// Create a key; its secret is printed once, alone on the last line.
    Create(wallet_api::keys::NewKey),
    /// Every key (never its secret): id, secret prefix, name, scopes, wallets, state.
    List,
    /// Revoke the key in use with this name: it stops working within a second.
    Revoke {
        /// The key's name.
        name: String,
    },
}

/// The database a maintenance command works on.
#[derive(clap::Args)]
struct Database {
    /// The PostgreSQL database (`make run` starts a project-local one and sets this).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true,
          value_parser = wallet_api::config::database_url)]
    database_url: String,
}

fn main() -> ExitCode {
    wallet_api::trace::init(wallet_api::trace::LogFormat::from_env());
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) if !error.use_stderr() => {
            // --help, --version
            let _ = error.print();
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            let _ = error.print();
            eprintln!("(the usage of every command: wallet-api help)");
            return ExitCode::from(2);
        }
    };
    let outcome = match cli.command {
        Command::Serve(config) => serve(&config),
        Command::Migrate(database) => migrate(&database.database_url),
        Command::Verify(database) => verify(&database.database_url),
        Command::Repair { database, apply } => repair_balances(&database.database_url, apply),
        Command::Keys { database, command } => keys(&database.database_url, &command),
        Command::Openapi => {
            print!("{}", wallet_api::api::openapi::text());
            Ok(ExitCode::SUCCESS)
        }
        Command::Docs => write_docs(),
    };
    outcome.unwrap_or_else(|error| {
        eprintln!("wallet-api: {error:#}");
        ExitCode::FAILURE
    })
}

/// Rewrites every generated section of the docs in place.
fn write_docs() -> anyhow::Result<ExitCode> {
    for section in wallet_api::docs::sections() {
        let text = std::fs::read_to_string(section.file).with_context(|| {
            format!(
                "cannot read {} (run from the repository's root)",
                section.file
            )
        })?;
        let spliced = wallet_api::docs::splice(&text, section.name, &section.text)
            .with_context(|| format!("{} has no {} section", section.file, section.name))?;
        std::fs::write(section.file, spliced)?;
        println!("wrote {} in {}", section.name, section.file);
    }
    Ok(ExitCode::SUCCESS)
}

fn serve(config: &Config) -> anyhow::Result<ExitCode> {
    actix_web::rt::System::new().block_on(async {
        let application = Application::build(config)?.stop_on_signals();
        tracing::info!(
            "wallet-api {}{} serving on http://{}:{} ({} workers, {} database connections)",
            wallet_api::version::VERSION,
            wallet_api::version::COMMIT.map_or(String::new(), |commit| format!(" ({commit})")),
            config.host,
            application.port(),
            config.workers(),
            config.pool_size()
        );
        application.run_until_stopped().await?;
        Ok(ExitCode::SUCCESS)
    })
}

fn keys(database_url: &str, command: &Keys) -> anyhow::Result<ExitCode> {
    let mut conn = db::connect(database_url, "wallet-api keys")?;
    let output = match command {
        Keys::Create(new) => wallet_api::keys::create(&mut conn, new)?,
        Keys::List => wallet_api::keys::list(&mut conn)?,
        Keys::Revoke { name } => wallet_api::keys::revoke_named(&mut conn, name)?,
    };
    println!("{output}");
    Ok(ExitCode::SUCCESS)
}

fn migrate(database_url: &str) -> anyhow::Result<ExitCode> {
    let applied = db::run_migrations(&mut db::connect(database_url, "wallet-api migrate")?)?;
    if applied.is_empty() {
        println!("the database is up to date");
    }
    for version in applied {
        println!("applied {version}");
    }
    Ok(ExitCode::SUCCESS)
}

fn verify(database_url: &str) -> anyhow::Result<ExitCode> {
    let mut conn = db::connect(database_url, "wallet-api verify")?;
    let problems = audit_balances(&mut conn)
        .context("cannot read wallet_balance_audit (run `wallet-api migrate` first?)")?;
    let transfers = audit_transfers(&mut conn)
        .context("cannot read transfer_audit (run `wallet-api migrate` first?)")?;
    let exchanges = audit_exchanges(&mut conn)
        .context("cannot read exchange_audit (run `wallet-api migrate` first?)")?;
    let events = wallet_api::models::event::audit_events(&mut conn)
        .context("cannot read event_audit (run `wallet-api migrate` first?)")?;
    let buckets = wallet_api::models::balance_bucket::audit(&mut conn)
        .context("cannot read balance_bucket_audit (run `wallet-api migrate` first?)")?;
    for wallet in &events {
        println!("wallet {wallet}: its events are not numbered 1, 2, ... without a gap");
    }

    for transfer in &transfers {
        println!("transfer {}: {}", transfer.transfer_id, transfer.problem);
    }
    for exchange in &exchanges {
        println!("exchange {}: {}", exchange.exchange_id, exchange.problem);
    }
    if problems.is_empty()
        && transfers.is_empty()
        && exchanges.is_empty()
        && events.is_empty()
        && buckets.is_empty()
    {
        println!(
            "ok: every wallet's balance equals the sum of its transactions and its journal, \
             none is below its credit limit, every transfer has its two legs, every \
             exchange its two transfers, every wallet's events are numbered without a gap, \
             and its balance history agrees with its journal"
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
    // Last: a wallet's balance problems come first in its lines.
    for (wallet, size, start) in &buckets {
        println!(
            "wallet {wallet}: its {size} balance-history bucket at {} disagrees with its \
             journal (wallet-api repair --apply folds it again)",
            wallet_api::domain::timestamp(start)
        );
    }
    println!(
        "{} problem(s) found",
        problems.len() + transfers.len() + exchanges.len() + events.len() + buckets.len()
    );
    Ok(ExitCode::FAILURE)
}

fn repair_balances(database_url: &str, apply: bool) -> anyhow::Result<ExitCode> {
    let mut conn = db::connect(database_url, "wallet-api repair")?;
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
