//! The parts of the docs written from the code (the settings, the error codes) are what the
//! code says: `make docs` rewrites them.

use wallet_api::docs::{sections, splice};

#[test]
fn the_generated_sections_of_the_docs_are_current() {
    for section in sections() {
        let path = format!("{}/{}", env!("CARGO_MANIFEST_DIR"), section.file);
        let text = std::fs::read_to_string(&path).unwrap();
        let current = splice(&text, section.name, &section.text)
            .unwrap_or_else(|| panic!("{} has no {} section", section.file, section.name));
        assert!(
            current == text,
            "the {} section of {} is stale: run `make docs`",
            section.name,
            section.file
        );
    }
}
