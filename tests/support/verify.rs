//! `wallet-api verify` as a test's check.

use std::process::Command;

/// `wallet-api verify` on the database at `url` passes (`what` names it if not).
pub fn assert_verifies(url: &str, what: &str) {
    let verify = Command::new(env!("CARGO_BIN_EXE_wallet-api"))
        .arg("verify")
        .env("DATABASE_URL", url)
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "verify {what}: {}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
}
