//! What an operator reads of a running instance: which build it is (`/health`'s
//! `meta.version` and `meta.commit`, `wallet_api_build_info`), and the process's own
//! figures in `/metrics`.

use crate::helpers::TestApp;

/// The commit the test binary was built from, as the service's build saw it (12 hex digits),
/// when the tree is a git checkout.
fn checkout_commit() -> Option<String> {
    let output = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

#[test]
fn health_and_metrics_say_which_build_serves() {
    let app = TestApp::spawn();
    let health = app.as_key(None).get("/health");
    health.expect(200);
    let meta = &health.body["meta"];
    assert_eq!(meta["version"], env!("CARGO_PKG_VERSION"));
    let commit = meta["commit"].as_str().map(str::to_string);
    assert_eq!(commit, checkout_commit(), "{meta}");
    let (status, _, metrics) = app.raw_get("/metrics");
    assert_eq!(status, 200);
    let info = metrics
        .lines()
        .find(|line| line.starts_with("wallet_api_build_info{"))
        .unwrap_or_else(|| panic!("no build info in {metrics}"));
    assert!(
        info.contains(&format!("version=\"{}\"", env!("CARGO_PKG_VERSION"))),
        "{info}"
    );
    assert!(
        info.contains(&format!(
            "commit=\"{}\"",
            commit.as_deref().unwrap_or("unknown")
        )),
        "{info}"
    );
    assert!(info.ends_with(" 1"), "{info}");
}

#[test]
fn metrics_carry_the_process_figures() {
    let app = TestApp::spawn();
    let (_, _, metrics) = app.raw_get("/metrics");
    for series in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_max_fds",
        "process_start_time_seconds",
    ] {
        let value: f64 = metrics
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{series} "))?.parse().ok())
            .unwrap_or_else(|| panic!("no {series} in /metrics"));
        assert!(value > 0.0, "{series} {value}");
    }
}
