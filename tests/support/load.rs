//! Load for the fault tests: bookings sent one after another by many clients, each answer
//! kept with its status, code and timing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::client::{Answer, book, run_id};

/// `clients` clients booking 1 on `wallet` one after another, each txid `RUN-cN-I`, until
/// [`Load::stop`]; a client answered 503 waits `pause` before its next booking.
pub struct Load {
    pub started: Instant,
    stop: Arc<AtomicBool>,
    clients: Vec<JoinHandle<Vec<Answer>>>,
}

impl Load {
    pub fn start(
        client: &reqwest::blocking::Client,
        base: &str,
        wallet: &str,
        clients: usize,
        pause: Duration,
    ) -> Load {
        // txids unique to this run: the clusters are kept between runs.
        let run = run_id();
        let started = Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        let clients = (0..clients)
            .map(|n| {
                let (client, base, wallet, stop) = (
                    client.clone(),
                    base.to_string(),
                    wallet.to_string(),
                    stop.clone(),
                );
                std::thread::spawn(move || {
                    let mut answers = Vec::new();
                    for i in 0.. {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let txid = format!("{run}-c{n}-{i}");
                        let sent = started.elapsed();
                        let (status, code) = book(&client, &base, &wallet, &txid);
                        answers.push(Answer {
                            txid,
                            status,
                            code,
                            took: started.elapsed() - sent,
                            sent,
                        });
                        if status == 503 {
                            std::thread::sleep(pause);
                        }
                    }
                    answers
                })
            })
            .collect();
        Load {
            started,
            stop,
            clients,
        }
    }

    /// Time since the load started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Stops every client: all their answers.
    pub fn stop(self) -> Vec<Answer> {
        self.stop.store(true, Ordering::Relaxed);
        self.clients
            .into_iter()
            .flat_map(|client| client.join().unwrap())
            .collect()
    }
}
