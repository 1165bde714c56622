//! Which request a piece of work is for, and the log lines it writes.
//!
//! Every request gets an id (the client's `X-Request-Id` when it sends a well-formed one, else
//! a fresh one) and a `tracing` span named `request` that carries it, the method and path, the
//! API key's name once it is known, and, for a write run in a coalesced batch, the batch's
//! number. The id and the span travel with the request: through its async task (a task-local
//! value), and onto the blocking threads that run its database work ([`on_thread`]), so that
//! every line it logs, wherever, names it; a batch's lines name every request in it (the batch
//! span's `requests`). A server error's id is its request's id.
//!
//! Lines are written by `tracing-subscriber`: the human form by default, one JSON object per
//! line with `LOG_FORMAT=json` (each with its spans and their fields). `RUST_LOG` filters them
//! with the syntax `env_logger` reads (`info`, `wallet_api=debug,actix_web=warn`), and the
//! `log` records of the libraries are written through the same subscriber.

use std::cell::RefCell;
use std::future::Future;
use std::sync::Arc;

use tracing::Span;

/// A request's id and span.
#[derive(Clone, Debug)]
pub struct Request {
    pub id: Arc<str>,
    pub span: Span,
}

tokio::task_local! {
    static TASK: Request;
}

thread_local! {
    static THREAD: RefCell<Option<Request>> = const { RefCell::new(None) };
}

/// Runs `handling` as `request`'s (inside its span).
pub async fn scoped<F: Future>(request: Request, handling: F) -> F::Output {
    use tracing::Instrument;
    let span = request.span.clone();
    TASK.scope(request, handling.instrument(span)).await
}

/// The request the current task or thread works for, if any.
pub fn current() -> Option<Request> {
    TASK.try_with(Request::clone)
        .ok()
        .or_else(|| THREAD.with(|request| request.borrow().clone()))
}

/// The id of the request the current task or thread works for, if any.
pub fn current_id() -> Option<Arc<str>> {
    current().map(|request| request.id)
}

/// Runs `work` on this thread as `request`'s (inside its span), then restores what the thread
/// worked for before.
pub fn on_thread<T>(request: Option<&Request>, work: impl FnOnce() -> T) -> T {
    let Some(request) = request else {
        return work();
    };
    let before = THREAD.with(|current| current.replace(Some(request.clone())));
    let done = request.span.in_scope(work);
    THREAD.with(|current| *current.borrow_mut() = before);
    done
}

/// A request id a client may send: 1 to 128 characters of `A-Z a-z 0-9 - _ . :`. Anything
/// else is replaced, so that no log line carries what a client made up beyond that.
pub fn well_formed(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-_.:".contains(&byte))
}

/// A fresh request id: 16 random bytes, hexadecimal.
pub fn fresh_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system's randomness");
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut id = String::with_capacity(32);
    for byte in bytes {
        id.push(char::from(HEX[usize::from(byte >> 4)]));
        id.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    id
}

/// How log lines are written (`LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    /// From `LOG_FORMAT`: `json`, or anything else (the human form).
    pub fn from_env() -> LogFormat {
        match std::env::var("LOG_FORMAT").as_deref() {
            Ok("json") => LogFormat::Json,
            _ => LogFormat::Text,
        }
    }
}

/// Writes log lines to standard error in `format`, filtered by `RUST_LOG` (default `info`).
/// Once per process; a second call changes nothing.
pub fn init(format: LogFormat) {
    init_with(format, "info", false);
}

/// [`init`] for tests: lines go through the test harness (shown for a failing test), and
/// without `RUST_LOG` only errors are written.
pub fn init_for_tests() {
    init_with(LogFormat::from_env(), "error", true);
}

fn init_with(format: LogFormat, default: &str, test: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match (format, test) {
        (LogFormat::Json, false) => builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .with_writer(std::io::stderr)
            .try_init(),
        (LogFormat::Json, true) => builder.json().with_test_writer().try_init(),
        (LogFormat::Text, false) => builder.with_writer(std::io::stderr).try_init(),
        (LogFormat::Text, true) => builder.with_test_writer().try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_may_name_its_request_within_bounds() {
        assert!(well_formed("4d1b7e0c-9f2a-4b3e-8c1d-0a9b8c7d6e5f"));
        assert!(well_formed("job:42.retry_1"));
        for bad in ["", "a b", "x\ny", "é", &"a".repeat(129)] {
            assert!(!well_formed(bad), "{bad:?}");
        }
        let fresh = fresh_id();
        assert_eq!(fresh.len(), 32);
        assert!(well_formed(&fresh));
        assert_ne!(fresh, fresh_id());
    }

    #[test]
    fn a_thread_works_for_the_request_it_is_given_then_for_none() {
        let request = Request {
            id: Arc::from("r-1"),
            span: Span::none(),
        };
        assert!(current_id().is_none());
        let seen = on_thread(Some(&request), current_id);
        assert_eq!(seen.as_deref(), Some("r-1"));
        assert!(current_id().is_none());
    }
}
