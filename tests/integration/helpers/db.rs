//! A database of its own for each test: copied from a template migrated once per set of
//! migrations, audited and dropped when the test ends.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use diesel::prelude::*;
use diesel::sql_query;
use wallet_api::db;
use wallet_api::models::wallet::audit_balances;

/// `url` with its database name replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("DATABASE_URL is a URL");
    let (before_query, query) = match rest.split_once('?') {
        Some((before, query)) => (before, Some(query)),
        None => (rest, None),
    };
    let authority = before_query.split('/').next().unwrap_or_default();
    let mut out = format!("{scheme}://{authority}/{name}");
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// `url` logging in as `user` with `password` instead of its own user.
pub fn with_user(url: &str, user: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("DATABASE_URL is a URL");
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    format!("{scheme}://{user}:{password}@{host}{tail}")
}

fn base_url() -> String {
    std::env::var("DATABASE_URL").expect("DATABASE_URL must be set: run the tests with `make test`")
}

fn admin_connection() -> PgConnection {
    let url = with_database(&base_url(), "postgres");
    PgConnection::establish(&url).unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"))
}

/// The name of the template for the current migrations and SQL rules: a change of any
/// migration or file of `sql/` makes a new one.
fn template_name() -> String {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut files: Vec<std::path::PathBuf> = ["migrations", "sql"]
        .iter()
        .flat_map(|dir| walk(&std::path::Path::new(root).join(dir)))
        .collect();
    files.sort();
    let mut hasher = DefaultHasher::new();
    for file in files {
        file.strip_prefix(root).unwrap().hash(&mut hasher);
        std::fs::read(&file).unwrap().hash(&mut hasher);
    }
    format!("wallet_api_tpl_{:016x}", hasher.finish())
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// Creates the migrated template once; test processes running at once agree through an
/// advisory lock.
fn template() -> &'static str {
    static TEMPLATE: OnceLock<String> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let name = template_name();
        let mut admin = admin_connection();
        sql_query("SELECT pg_advisory_lock(727001)")
            .execute(&mut admin)
            .unwrap();
        let found: i64 = sql_query(format!(
            "SELECT count(*) AS n FROM pg_database WHERE datname = '{name}'"
        ))
        .get_result::<Count>(&mut admin)
        .unwrap()
        .n;
        if found == 0 {
            // Templates of earlier migrations are of no more use.
            let stale: Vec<Name> = sql_query(format!(
                "SELECT datname::text AS name FROM pg_database \
                 WHERE datname LIKE 'wallet\\_api\\_tpl\\_%' AND datname <> '{name}'"
            ))
            .load(&mut admin)
            .unwrap();
            for old in stale {
                let _ =
                    sql_query(format!("DROP DATABASE IF EXISTS {}", old.name)).execute(&mut admin);
            }
            let building = format!("{name}_building");
            sql_query(format!("DROP DATABASE IF EXISTS {building}"))
                .execute(&mut admin)
                .unwrap();
            sql_query(format!("CREATE DATABASE {building}"))
                .execute(&mut admin)
                .unwrap();
            {
                let mut conn =
                    PgConnection::establish(&with_database(&base_url(), &building)).unwrap();
                db::run_migrations(&mut conn).unwrap();
            }
            sql_query(format!("ALTER DATABASE {building} RENAME TO {name}"))
                .execute(&mut admin)
                .unwrap();
        }
        // The service's login role (roles belong to the cluster): a member of wallet_service,
        // which the migrations create, as docs/operations.md has operators make it.
        sql_query(format!(
            "DO $$ BEGIN CREATE ROLE {SERVICE_ROLE} LOGIN IN ROLE wallet_service; \
             EXCEPTION WHEN duplicate_object THEN NULL; END $$"
        ))
        .execute(&mut admin)
        .unwrap();
        sql_query("SELECT pg_advisory_unlock(727001)")
            .execute(&mut admin)
            .unwrap();
        name
    })
}

/// The login role the tests' service connects as: neither a superuser nor the tables' owner.
pub const SERVICE_ROLE: &str = "wallet_api_test_service";

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::Int8)]
    n: i64,
}

/// A database of its own for one test, migrated, dropped when the test ends.
pub struct TestDb {
    pub name: String,
    /// As the tables' owner (the migrations' role).
    pub url: String,
    /// As the service's role, [`SERVICE_ROLE`].
    pub service_url: String,
    verify_at_end: bool,
}

impl TestDb {
    /// A database migrated to the current schema.
    pub fn new() -> TestDb {
        TestDb::create(Some(template()))
    }

    /// A database with nothing in it, not even the schema.
    pub fn empty() -> TestDb {
        let mut db = TestDb::create(None);
        db.verify_at_end = false;
        db
    }

    fn create(template: Option<&str>) -> TestDb {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "wallet_api_test_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let mut admin = admin_connection();
        let template = template.map_or(String::new(), |t| format!(" TEMPLATE {t}"));
        sql_query(format!("CREATE DATABASE {name}{template}"))
            .execute(&mut admin)
            .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
        let url = with_database(&base_url(), &name);
        TestDb {
            service_url: with_user(&url, SERVICE_ROLE, "unused"),
            url,
            name,
            verify_at_end: true,
        }
    }

    pub fn connect(&self) -> PgConnection {
        PgConnection::establish(&self.url).unwrap()
    }

    /// For tests that corrupt balances on purpose.
    pub fn skip_final_verify(&mut self) {
        self.verify_at_end = false;
    }

    /// The same database, for a second server on it: dropping this one does nothing.
    pub fn sharing(&self) -> TestDb {
        TestDb {
            name: String::new(),
            url: self.url.clone(),
            service_url: self.service_url.clone(),
            verify_at_end: false,
        }
    }

    /// Stands in for a database moved elsewhere: dropping it does nothing.
    pub(super) fn placeholder() -> TestDb {
        TestDb {
            name: String::new(),
            url: String::new(),
            service_url: String::new(),
            verify_at_end: false,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if self.name.is_empty() {
            return;
        }
        if self.verify_at_end && !std::thread::panicking() {
            let mut conn = self.connect();
            let problems = audit_balances(&mut conn).unwrap();
            assert!(
                problems.is_empty(),
                "wallet_balance_audit is not empty at the end of the test: {problems:?}"
            );
            let broken = wallet_api::models::transfer::audit_transfers(&mut conn).unwrap();
            assert!(
                broken.is_empty(),
                "transfer_audit is not empty at the end of the test: {broken:?}"
            );
            let broken = wallet_api::models::exchange::audit_exchanges(&mut conn).unwrap();
            assert!(
                broken.is_empty(),
                "exchange_audit is not empty at the end of the test: {broken:?}"
            );
            let gaps = wallet_api::models::event::audit_events(&mut conn).unwrap();
            assert!(
                gaps.is_empty(),
                "event_audit is not empty at the end of the test: {gaps:?}"
            );
            let buckets = wallet_api::models::balance_bucket::audit(&mut conn).unwrap();
            assert!(
                buckets.is_empty(),
                "balance_bucket_audit is not empty at the end of the test: {buckets:?}"
            );
        }
        let _ = sql_query(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut admin_connection());
    }
}
