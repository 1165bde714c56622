//! The parts of the documentation written from the code, so that they cannot drift from it:
//! the settings table (from the declarations clap reads, `config`) and the table of error
//! codes (every code an operation of the OpenAPI document answers). Each stands in its file
//! between `<!-- NAME:start -->` and `<!-- NAME:end -->`; `make docs` rewrites them, and a test
//! fails while one differs.

/// A generated section: where it stands and what it holds.
pub struct Section {
    /// The file, from the repository's root.
    pub file: &'static str,
    pub name: &'static str,
    pub text: String,
}

/// Every generated section.
pub fn sections() -> Vec<Section> {
    vec![
        Section {
            file: "docs/operations.md",
            name: "config",
            text: crate::config::markdown_table(),
        },
        Section {
            file: "docs/api.md",
            name: "errors",
            text: crate::api::openapi::error_table(),
        },
    ]
}

/// `document` with section `name` holding `text`; `None` when it has no such section.
pub fn splice(document: &str, name: &str, text: &str) -> Option<String> {
    let start = format!("<!-- {name}:start -->\n");
    let end = format!("<!-- {name}:end -->");
    let from = document.find(&start)? + start.len();
    let to = from + document[from..].find(&end)?;
    Some(format!("{}{text}{}", &document[..from], &document[to..]))
}
