//! Named case tables. A test that checks a dozen refusals lists them by name; every case runs
//! even after one fails, and the test fails naming each case that did, so one run shows the
//! whole picture instead of the first broken row.

use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Runs `check` on every case, then fails listing the names of those whose check panicked.
pub fn each<T>(cases: impl IntoIterator<Item = (&'static str, T)>, check: impl Fn(T)) {
    let mut names = HashSet::new();
    let mut failed = Vec::new();
    for (name, case) in cases {
        assert!(names.insert(name), "two cases are named {name:?}");
        if catch_unwind(AssertUnwindSafe(|| check(case))).is_err() {
            eprintln!("case {name:?} failed");
            failed.push(name);
        }
    }
    assert!(
        !names.is_empty(),
        "a case table with no cases checks nothing"
    );
    assert!(failed.is_empty(), "failing cases: {failed:?}");
}
