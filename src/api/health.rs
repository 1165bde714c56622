//! `GET /health`: 200 when the database answers, 503 within `HEALTH_TIMEOUT` when it does
//! not; its `meta` says how loaded the instance is. `GET /health/live`: 200 while the
//! process serves HTTP at all.
//!
//! One probe of the database at a time, shared: a check that comes while a probe runs waits
//! for that probe's answer, one that comes when none runs starts one. The probe runs on a
//! thread of its own with a connection of its own (made once, never a thread per check), so
//! a check never waits behind the request queue or the pool, and never fails because another
//! check is running. `SELECT 1` takes no lock, so a locked table does not slow it.
//!
//! A saturated instance (one shedding most of its requests as `busy`) still answers 200
//! while its database answers, with `meta.status` `saturated`: taking it out of a balancer
//! would move its load to the others, which are likely just as full, and take them out in
//! turn. `docs/operations.md` says so.
//!
//! While the instance shuts down (SIGTERM or SIGINT: it takes no new connections and finishes
//! the requests it has), `/health` answers 503 `draining` on the connections still open.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::web;
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use serde_json::json;
use tokio::sync::watch;

use super::errors::DATABASE_UNAVAILABLE;
use super::routes::Doc;
use super::state::AppState;
use crate::jsonapi::ApiError;
use crate::jsonapi::document::{Reply, respond};
use crate::{codes, db, version};

codes! {
    pub DRAINING = (SERVICE_UNAVAILABLE, "draining", "Shutting down",
        "the instance is shutting down: it finishes the requests it has and takes no new connections");
}

/// The probe's answers, numbered: a check waits for one numbered past the last it saw.
#[derive(Debug, Clone, Copy, Default)]
struct Answer {
    number: u64,
    database_answers: bool,
}

/// The health check: its probe thread, and the answers it gives.
pub struct HealthCheck {
    timeout: Duration,
    /// Asks the probe thread for one probe.
    ask: Mutex<mpsc::Sender<()>>,
    /// Whether a probe is asked for or running.
    probing: std::sync::Arc<AtomicBool>,
    answers: watch::Receiver<Answer>,
}

impl HealthCheck {
    /// The check of the database at `url`, and its probe thread (which ends with it).
    pub fn new(url: &str, timeout: Duration) -> std::io::Result<HealthCheck> {
        let url = db::named(url, "wallet-api health");
        let (ask, asked) = mpsc::channel::<()>();
        let (answer, answers) = watch::channel(Answer::default());
        let probing = std::sync::Arc::new(AtomicBool::new(false));
        let running = probing.clone();
        std::thread::Builder::new()
            .name("health-probe".into())
            .spawn(move || {
                let mut connection: Option<PgConnection> = None;
                let mut number = 0;
                while asked.recv().is_ok() {
                    let database_answers = ping(&mut connection, &url, timeout);
                    number += 1;
                    // Cleared before the answer is out: a check that finds no probe running
                    // asks for one, and waits at most for this answer or the next.
                    running.store(false, Ordering::SeqCst);
                    if answer
                        .send(Answer {
                            number,
                            database_answers,
                        })
                        .is_err()
                    {
                        return;
                    }
                }
            })?;
        Ok(HealthCheck {
            timeout,
            ask: Mutex::new(ask),
            probing,
            answers,
        })
    }

    /// Whether the database answers `SELECT 1`: the answer of the probe running now, or of
    /// one started now; `false` once the timeout passes without one.
    pub async fn database_answers(&self) -> bool {
        let mut answers = self.answers.clone();
        let seen = answers.borrow_and_update().number;
        if self
            .probing
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
            && self.ask.lock().expect("health lock").send(()).is_err()
        {
            return false;
        }
        let answered = tokio::time::timeout(
            self.timeout,
            answers.wait_for(|answer| answer.number > seen),
        )
        .await;
        matches!(answered, Ok(Ok(answer)) if answer.database_answers)
    }
}

/// One `SELECT 1` on the probe's connection, opened first if need be (with the check's
/// timeout as its statement timeout); a connection that fails is dropped for the next.
fn ping(connection: &mut Option<PgConnection>, url: &str, timeout: Duration) -> bool {
    if connection.is_none() {
        let Ok(mut opened) = db::connect(url, "wallet-api health") else {
            return false;
        };
        let limit = format!("SET statement_timeout = {}", timeout.as_millis());
        if opened.batch_execute(&limit).is_err() {
            return false;
        }
        *connection = Some(opened);
    }
    let answers = connection
        .as_mut()
        .is_some_and(|conn| conn.batch_execute("SELECT 1").is_ok());
    if !answers {
        *connection = None;
    }
    answers
}

/// How many requests an instance answered, and shed as `busy`, over the last
/// [`LOAD_WINDOW`] seconds (one slot a second).
#[derive(Default)]
pub struct Load {
    seconds: Mutex<VecDeque<Second>>,
    started: std::sync::OnceLock<Instant>,
}

#[derive(Debug, Clone, Copy)]
struct Second {
    at: u64,
    requests: u64,
    shed: u64,
}

/// The seconds the load is told over.
pub const LOAD_WINDOW: u64 = 10;

/// The share of requests shed at which an instance says it is saturated, and the fewest
/// requests that share is judged on.
const SATURATED_SHARE: f64 = 0.5;
const SATURATED_AFTER: u64 = 20;

impl Load {
    fn now(&self) -> u64 {
        self.started.get_or_init(Instant::now).elapsed().as_secs()
    }

    /// One request answered; `shed`: with a 503 `busy`.
    pub fn record(&self, shed: bool) {
        let now = self.now();
        let mut seconds = self.seconds.lock().expect("load lock");
        match seconds.back_mut() {
            Some(second) if second.at == now => {
                second.requests += 1;
                second.shed += u64::from(shed);
            }
            _ => {
                seconds.push_back(Second {
                    at: now,
                    requests: 1,
                    shed: u64::from(shed),
                });
                while seconds
                    .front()
                    .is_some_and(|second| second.at + LOAD_WINDOW <= now)
                {
                    seconds.pop_front();
                }
            }
        }
    }

    /// Requests and requests shed over the window.
    pub fn totals(&self) -> (u64, u64) {
        let now = self.now();
        let seconds = self.seconds.lock().expect("load lock");
        seconds
            .iter()
            .filter(|second| second.at + LOAD_WINDOW > now)
            .fold((0, 0), |(requests, shed), second| {
                (requests + second.requests, shed + second.shed)
            })
    }
}

pub const CHECK: Doc = Doc {
    summary: "Whether the service and its database answer (503 within HEALTH_TIMEOUT when the \
              database does not).",
    description: "Answered on a connection and a thread of its own: never queued behind \
                  requests.",
    errors: &[&DATABASE_UNAVAILABLE, &DRAINING],
    request: None,
    response: Some(concat!(
        r#"{"jsonapi": {"version": "1.1"}, "meta": {"status": "ok", "database": "ok",
        "version": ""#,
        env!("CARGO_PKG_VERSION"),
        r#"", "commit": "5f1c2e9a7b3d",
        "pool": {"open": 4, "idle": 3, "max": 4, "waiting": 0},
        "queue": {"waiting": 0, "max": 64},
        "load": {"seconds": 10, "requests": 5120, "shed": 0, "shedShare": 0.0}}}"#
    )),
};

pub const LIVE: Doc = Doc {
    summary: "Whether the process serves HTTP (never touches the database).",
    description: "Answered on a connection and a thread of its own: never queued behind \
                  requests.",
    errors: &[],
    request: None,
    response: Some(r#"{"jsonapi": {"version": "1.1"}, "meta": {"status": "ok"}}"#),
};

pub async fn check(state: web::Data<AppState>) -> Result<Reply, ApiError> {
    if state.draining.load(Ordering::SeqCst) {
        return Err(ApiError::new(
            &DRAINING,
            "this instance is shutting down: it finishes the requests it has and takes no new \
             connections; send requests to another",
        )
        .with_header("Retry-After", "1"));
    }
    if !state.health.database_answers().await {
        return Err(ApiError::from(db::DbError::Unavailable));
    }
    let pool = state.db.state();
    let (requests, shed) = state.load.totals();
    let share = if requests == 0 {
        0.0
    } else {
        shed as f64 / requests as f64
    };
    let saturated = requests >= SATURATED_AFTER && share >= SATURATED_SHARE;
    Ok(respond(
        StatusCode::OK,
        &json!({
            "meta": {
                "status": if saturated { "saturated" } else { "ok" },
                "database": "ok",
                "version": version::VERSION,
                "commit": version::COMMIT,
                "pool": {"open": pool.open, "idle": pool.idle, "max": pool.max, "waiting": pool.waiting},
                "queue": {"waiting": pool.waiting, "max": pool.max_waiting},
                "load": {
                    "seconds": LOAD_WINDOW,
                    "requests": requests,
                    "shed": shed,
                    "shedShare": (share * 1000.0).round() / 1000.0,
                },
            },
            "jsonapi": {"version": "1.1"},
        }),
    ))
}

pub async fn live() -> Reply {
    respond(
        StatusCode::OK,
        &json!({"meta": {"status": "ok"}, "jsonapi": {"version": "1.1"}}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_load_counts_requests_and_shed_ones_over_its_window() {
        let load = Load::default();
        for n in 0..30 {
            load.record(n % 3 != 0);
        }
        assert_eq!(load.totals(), (30, 20));
    }
}
