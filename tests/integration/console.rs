//! `GET /console`: the operator console's files, served without a key and under a policy that
//! lets the browser load nothing from elsewhere and run nothing inline. What the page does in a
//! browser is tested in headless Chromium (tests/console/, run by scripts/e2e.sh).

use crate::helpers::*;

const FILES: [(&str, &str); 3] = [
    ("/console", "text/html; charset=utf-8"),
    ("/console/console.js", "text/javascript; charset=utf-8"),
    ("/console/console.css", "text/css; charset=utf-8"),
];

#[test]
fn the_console_is_served_to_anyone_with_a_strict_policy() {
    let app = TestApp::spawn();
    for (path, media_type) in FILES {
        // No key: the page asks for one, and its calls carry it.
        let response = reqwest::blocking::get(app.url(path)).unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|value| value.to_str().unwrap().to_string())
                .unwrap_or_else(|| panic!("{path} has no {name}"))
        };
        assert_eq!(header("content-type"), media_type, "{path}");
        let policy = header("content-security-policy");
        for directive in [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "connect-src 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "object-src 'none'",
        ] {
            assert!(policy.contains(directive), "{path}: {policy}");
        }
        assert!(!policy.contains("unsafe"), "{path}: {policy}");
        assert_eq!(header("x-content-type-options"), "nosniff");
        assert_eq!(header("x-frame-options"), "DENY");
        assert_eq!(header("referrer-policy"), "no-referrer");
        assert!(!response.text().unwrap().is_empty());
        // HEAD as GET, without the body.
        let head = app.as_key(None).send("HEAD", path, &[], None);
        assert_eq!(head.status, 200, "{path}");
        assert!(head.text.is_empty());
    }
    // The console's own URLs only: another path under it is not found, as anywhere (and, as
    // anywhere, asks a caller without a key for one first); the files are only read.
    app.get("/console/other.js").expect(404);
    app.as_key(None).get("/console/other.js").expect(401);
    let post = app.send("POST", "/console", &[], None);
    assert_eq!(post.status, 405);
}

/// What the page is made of keeps to the policy, and inserts values as text: no inline script,
/// style or handler in the page, nothing that parses a string as markup or code in the script,
/// no URL of another origin anywhere.
#[test]
fn the_console_inserts_nothing_as_markup_and_loads_nothing_from_elsewhere() {
    let page = include_str!("../../console/index.html");
    let script = include_str!("../../console/console.js");
    let style = include_str!("../../console/console.css");
    let lower = page.to_lowercase();
    assert_eq!(
        lower.matches("<script").count(),
        lower.matches("<script src=\"/console/").count(),
        "every script is a file of the console"
    );
    for inline in [" style=", " onclick", " onload", " onerror", "javascript:"] {
        assert!(!lower.contains(inline), "the page holds {inline}");
    }
    for sink in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
        "setTimeout(\"",
        "localStorage",
    ] {
        assert!(!script.contains(sink), "console.js uses {sink}");
    }
    for file in [page, script, style] {
        for other in ["http://", "https://", "//cdn", "@import"] {
            let found: Vec<&str> = file
                .lines()
                .filter(|line| line.contains(other) && !line.contains("http://www.w3.org/2000/svg"))
                .collect();
            assert!(found.is_empty(), "{other} in the console: {found:?}");
        }
    }
    // The key is kept for the tab only and sent as the bearer header, never in a URL.
    assert!(script.contains("sessionStorage"));
    assert!(script.contains("Authorization: \"Bearer \""));
}
