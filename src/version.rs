//! What the running binary is: its version (Cargo.toml's, which CHANGELOG.md follows) and,
//! when it was built from a git checkout, the commit (`build.rs`). `/health` and
//! `wallet_api_build_info` in `/metrics` say both.

/// The release, as `wallet-api --version` prints it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The commit built (12 hex digits), when the build could ask git.
pub const COMMIT: Option<&str> = option_env!("WALLET_API_COMMIT");
