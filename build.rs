// What the binary embeds from the repository: the versioned migrations
// (diesel_migrations::embed_migrations!, which cannot tell cargo itself when one is added or
// changed), the repeatable SQL files of sql/, listed here in name order as
// $OUT_DIR/sql_files.rs (`db::rules`), and the commit it is built from, when built from a
// git checkout (WALLET_API_COMMIT: `version`).
use std::fmt::Write;
use std::process::Command;

/// The checkout's commit (12 hex digits), and the files whose change means another commit.
fn commit() -> Option<(String, Vec<String>)> {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|output| output.status.success())
            .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string())
    };
    let commit = git(&["rev-parse", "--short=12", "HEAD"])?;
    let watched = ["HEAD", "logs/HEAD"]
        .iter()
        .filter_map(|path| git(&["rev-parse", "--git-path", path]))
        .filter(|path| std::path::Path::new(path).exists())
        .collect();
    Some((commit, watched))
}

fn main() {
    if let Some((commit, watched)) = commit() {
        println!("cargo:rustc-env=WALLET_API_COMMIT={commit}");
        for path in watched {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=sql");
    let root = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let mut names: Vec<String> = std::fs::read_dir(format!("{root}/sql"))
        .expect("the sql/ directory")
        .map(|entry| {
            entry
                .expect("a readable entry")
                .file_name()
                .into_string()
                .expect("a UTF-8 name")
        })
        .filter(|name| name.ends_with(".sql"))
        .collect();
    names.sort();
    let mut listing = String::from("&[\n");
    for name in names {
        println!("cargo:rerun-if-changed=sql/{name}");
        writeln!(
            listing,
            "    ({name:?}, include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/sql/{name}\"))),"
        )
        .expect("writing to a string");
    }
    listing.push(']');
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    std::fs::write(format!("{out}/sql_files.rs"), listing).expect("writing OUT_DIR");
}
