//! `schema.sql` is the schema the migrations build, so that a DBA reads every table, trigger
//! and function in its current shape in one file: it must equal a dump of a freshly migrated
//! database (`make schema` rewrites it).

use std::process::Command;

use crate::helpers::TestDb;

#[test]
fn schema_sql_is_what_the_migrations_build() {
    let db = TestDb::new();
    let root = env!("CARGO_MANIFEST_DIR");
    let dump = Command::new(format!("{root}/scripts/schema.sh"))
        .arg(&db.url)
        .output()
        .unwrap();
    assert!(dump.status.success(), "{dump:?}");
    let built = String::from_utf8(dump.stdout).unwrap();
    let checked_in = std::fs::read_to_string(format!("{root}/schema.sql")).unwrap_or_default();
    assert!(
        built == checked_in,
        "schema.sql differs from what the migrations build: run `make schema`"
    );
}
