//! The money rules as repeatable SQL: every file of `sql/` (functions, triggers, views,
//! policies and grants, each `CREATE OR REPLACE` or dropped first), applied by `migrate` after
//! the versioned migrations, in the same transaction, as Flyway applies its repeatable
//! migrations. A rule is changed by editing its file; the versioned migrations keep what
//! changes tables and data.
//!
//! What was applied is recorded in `__sql_files` (each file's name and SHA-256): when any
//! file differs from what the database holds, every file is applied again, in name order (a
//! file may depend on one before it), so the database holds exactly this version's rules.
//! `serve` reads the record, creating nothing, to tell whether the rules are current.

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use sha2::{Digest, Sha256};

/// The files of `sql/`, in name order: (name, text).
pub const FILES: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/sql_files.rs"));

/// The record of what was applied, created by the first `migrate` that applies the files.
const RECORD: &str = "CREATE TABLE IF NOT EXISTS __sql_files (\
     name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL)";

fn checksum(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[derive(QueryableByName)]
struct Applied {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    checksum: String,
}

#[derive(QueryableByName)]
struct Present {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    present: bool,
}

/// The files whose text the database does not hold (all of them before the first apply).
pub fn stale(conn: &mut PgConnection) -> QueryResult<Vec<&'static str>> {
    let present: Present =
        diesel::sql_query("SELECT to_regclass('__sql_files') IS NOT NULL AS present")
            .get_result(conn)?;
    let applied: Vec<Applied> = if present.present {
        diesel::sql_query("SELECT name, checksum FROM __sql_files").load(conn)?
    } else {
        Vec::new()
    };
    Ok(FILES
        .iter()
        .filter(|(name, text)| {
            !applied
                .iter()
                .any(|row| row.name == *name && row.checksum == checksum(text))
        })
        .map(|(name, _)| *name)
        .collect())
}

/// Applies every file when any is stale, or when `migrated` (a versioned migration just ran,
/// and may have dropped what the files define: a table, a view they made), in the caller's
/// transaction; the names applied.
pub fn apply(conn: &mut PgConnection, migrated: bool) -> QueryResult<Vec<&'static str>> {
    if !migrated && stale(conn)?.is_empty() {
        return Ok(Vec::new());
    }
    conn.batch_execute(RECORD)?;
    conn.batch_execute("GRANT SELECT ON __sql_files TO wallet_service")?;
    let mut applied = Vec::new();
    for (name, text) in FILES {
        conn.batch_execute(text)
            .map_err(|error| in_file(name, error))?;
        diesel::sql_query(
            "INSERT INTO __sql_files (name, checksum, applied_at) VALUES ($1, $2, now()) \
             ON CONFLICT (name) DO UPDATE SET checksum = EXCLUDED.checksum, \
             applied_at = EXCLUDED.applied_at",
        )
        .bind::<diesel::sql_types::Text, _>(name)
        .bind::<diesel::sql_types::Text, _>(checksum(text))
        .execute(conn)?;
        applied.push(*name);
    }
    // A file removed from sql/ is no longer a rule of this version.
    diesel::sql_query("DELETE FROM __sql_files WHERE name <> ALL ($1)")
        .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(
            FILES.iter().map(|(name, _)| *name).collect::<Vec<_>>(),
        )
        .execute(conn)?;
    Ok(applied)
}

/// An error of a file, naming it.
fn in_file(name: &str, error: diesel::result::Error) -> diesel::result::Error {
    match error {
        diesel::result::Error::DatabaseError(kind, info) => diesel::result::Error::DatabaseError(
            kind,
            Box::new(format!("sql/{name}: {}", info.message())),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_files_are_embedded_in_name_order() {
        assert!(FILES.len() >= 5, "{}", FILES.len());
        let names: Vec<&str> = FILES.iter().map(|(name, _)| *name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
        assert!(FILES.iter().all(|(_, text)| !text.trim().is_empty()));
    }
}
