//! Load for the fault tests: bookings sent one after another by many clients, each answer
//! kept with its status, code and timing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::client::{Answer, book, run_id};

/// `clients` clients booking 1 on `wallet` one after another, each txid `RUN-cN-I`, until
/// [`Load::stop`]; a client answered 503 waits `pause` before its next booking.
pub struct Load {
    pub started: Instant,
    stop: Arc<AtomicBool>,
    /// When the latest booking that succeeded was sent, in µs since the start (0: none yet).
    /// Read by [`Load::wait_for_success`], which only some of the binaries sharing this
    /// module call.
    #[allow(dead_code)]
    last_success: Arc<AtomicU64>,
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
        let last_success = Arc::new(AtomicU64::new(0));
        let clients = (0..clients)
            .map(|n| {
                let (client, base, wallet, stop, last_success) = (
                    client.clone(),
                    base.to_string(),
                    wallet.to_string(),
                    stop.clone(),
                    last_success.clone(),
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
                        if status == 201 {
                            last_success.fetch_max(sent.as_micros() as u64, Ordering::Relaxed);
                        }
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
            last_success,
            clients,
        }
    }

    /// Waits until a booking sent from now on has succeeded; false if none did `within`.
    #[allow(dead_code)]
    pub fn wait_for_success(&self, within: Duration) -> bool {
        let from = self.elapsed().as_micros() as u64;
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.last_success.load(Ordering::Relaxed) >= from {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
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
