// What the binary embeds from the repository: the versioned migrations
// (diesel_migrations::embed_migrations!, which cannot tell cargo itself when one is added or
// changed), and the repeatable SQL files of sql/, listed here in name order as
// $OUT_DIR/sql_files.rs (`db::rules`).
use std::fmt::Write;

fn main() {
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
