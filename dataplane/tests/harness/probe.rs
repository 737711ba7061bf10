//! Check targets for the runtime API tests: a listener on loopback that
//! the proxies' health checks and agents connect to. It counts the
//! connections it accepts, records what each sent within a moment,
//! answers its current reply (`pong`, or an agent's line) and closes;
//! `kill` closes the listener, so the port refuses from then on, and
//! [`Target::on`] can bring it back on the same address. An agent the
//! proxy sends nothing to answers at once ([`Target::agent`]), so that its
//! check is seldom seen under way.
// The target's thread shares its counters and its reply with the test
// behind locks: test code, not the data path the lint guards.
#![allow(clippy::disallowed_types)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::DEADLINE;

pub struct Target {
    pub addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    received: Arc<Mutex<Vec<Vec<u8>>>>,
    reply: Arc<Mutex<Vec<u8>>>,
    stop: Arc<AtomicBool>,
    reply_when: Answer,
    thread: Option<JoinHandle<()>>,
}

/// When a target answers.
#[derive(Clone, Copy)]
enum Answer {
    /// After reading what the proxy sent within a moment.
    AfterReading,
    /// As soon as it accepts, reading nothing.
    AtOnce,
}

impl Target {
    /// A target on a free loopback port answering `reply`.
    pub fn start(reply: &[u8]) -> Target {
        Target::on("127.0.0.1:0", reply)
    }

    /// A target bound to `addr` (a killed target's address brings it
    /// back) answering `reply`.
    pub fn on(addr: &str, reply: &[u8]) -> Target {
        Target::bind(addr, reply, Answer::AfterReading)
    }

    /// An agent on a free loopback port that answers `reply` as soon as it
    /// accepts, without waiting for what the proxy sends (it records
    /// nothing).
    pub fn agent(reply: &[u8]) -> Target {
        Target::bind("127.0.0.1:0", reply, Answer::AtOnce)
    }

    fn bind(addr: &str, reply: &[u8], reply_when: Answer) -> Target {
        let l = TcpListener::bind(addr).unwrap();
        // Polled, so that `kill` is seen within a moment; an agent waits in
        // `accept` to answer at once, and `kill` wakes it with a connection.
        l.set_nonblocking(matches!(reply_when, Answer::AfterReading))
            .unwrap();
        let addr = l.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let received = Arc::new(Mutex::new(Vec::new()));
        let reply = Arc::new(Mutex::new(reply.to_vec()));
        let stop = Arc::new(AtomicBool::new(false));
        let (a, r, rp, st) = (
            Arc::clone(&accepted),
            Arc::clone(&received),
            Arc::clone(&reply),
            Arc::clone(&stop),
        );
        let thread = thread::spawn(move || {
            while !st.load(Ordering::SeqCst) {
                let Ok((mut c, _)) = l.accept() else {
                    thread::sleep(Duration::from_millis(5));
                    continue;
                };
                if matches!(reply_when, Answer::AtOnce) && st.load(Ordering::SeqCst) {
                    break; // `kill`'s wake-up call.
                }
                a.fetch_add(1, Ordering::SeqCst);
                c.set_nonblocking(false).unwrap();
                if let Answer::AfterReading = reply_when {
                    c.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
                    let mut got = Vec::new();
                    let mut buf = [0u8; 256];
                    if let Ok(n) = c.read(&mut buf) {
                        got.extend_from_slice(&buf[..n]);
                    }
                    r.lock().unwrap().push(got);
                }
                let line = rp.lock().unwrap().clone();
                let _ = c.write_all(&line);
            }
            // The listener closes here: the port refuses from now on.
        });
        Target {
            addr,
            accepted,
            received,
            reply,
            stop,
            reply_when,
            thread: Some(thread),
        }
    }

    /// The connections accepted so far.
    pub fn count(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Answer `line` from the next connection on.
    pub fn answer(&self, line: &[u8]) {
        *self.reply.lock().unwrap() = line.to_vec();
    }

    /// What the last connection sent (empty when it sent nothing within
    /// the moment the target waits).
    pub fn last_received(&self) -> Option<Vec<u8>> {
        self.received.lock().unwrap().last().cloned()
    }

    pub fn kill(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            if let Answer::AtOnce = self.reply_when {
                let _ = TcpStream::connect(self.addr);
            }
            t.join().unwrap();
        }
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Wait until `f` holds, failing with `what` past the deadline.
pub fn until(what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + DEADLINE;
    while !f() {
        assert!(Instant::now() < end, "{what}");
        thread::sleep(Duration::from_millis(20));
    }
}

/// The named columns of server `sv`'s row in a `show stat` answer `csv`,
/// each as `name=value`.
pub fn stat_columns(csv: &str, sv: &str, names: &[&str]) -> Vec<String> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap()
        .trim_start_matches("# ")
        .split(',')
        .collect();
    let row: Vec<&str> = lines
        .find(|l| l.split(',').nth(1) == Some(sv))
        .unwrap_or_else(|| panic!("no row for {sv}: {csv}"))
        .split(',')
        .collect();
    names
        .iter()
        .map(|n| {
            let i = header.iter().position(|h| h == n).unwrap();
            format!("{n}={}", row.get(i).copied().unwrap_or(""))
        })
        .collect()
}
