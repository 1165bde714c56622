//! Backups of a test's own cluster (`scripts/backup.sh`).

use crate::local::Local;

/// What a test may do with its cluster's backups.
pub trait Backups {
    /// `backup.sh ARGS`: its output.
    fn backup(&self, args: &[&str]) -> String;
}

impl Backups for Local {
    fn backup(&self, args: &[&str]) -> String {
        self.backed_up.set(true);
        self.run("backup.sh", args)
    }
}
