//! Accepting clients (multishot accept) under HAProxy's limits: frontend
//! and global `maxconn` hold exactly under a burst of clients, on TCP and
//! UNIX listeners, every client the kernel accepted while the listener was
//! pausing is served (never reset, never lost), `rate-limit sessions`
//! spreads a burst, and a soft stop while full still ends cleanly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod harness;

use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use harness::{Backend, Proxy, TcpLog, TempDir, DEADLINE};

/// One `fd@3` frontend `fe` (plus `extra_bind` lines) and backend `be`.
fn config(global: &str, frontend: &str, be: &HeldBackend) -> String {
    format!(
        "global\n    log stdout format raw local0\n{global}\
         defaults\n    mode tcp\n    log global\n    option tcplog\n\
         \x20   timeout connect 1s\n    timeout client 10s\n    timeout server 10s\n\
         frontend fe\n    bind fd@3\n{frontend}    default_backend be\n\
         backend be\n    server s1 {}\n",
        be.be.addr
    )
}

/// A backend that holds each connection until told to release one: it
/// reads the client's id byte, reports it, waits, then answers `k<id>`
/// and closes. It records how many it held at once.
struct HeldBackend {
    be: Backend,
    arrived: mpsc::Receiver<u8>,
    release: mpsc::Sender<()>,
    max: Arc<AtomicUsize>,
}

impl HeldBackend {
    fn new() -> HeldBackend {
        let current = Arc::new(AtomicUsize::new(0));
        let max = Arc::new(AtomicUsize::new(0));
        let (arrived_tx, arrived) = mpsc::channel();
        let (release, release_rx) = mpsc::channel::<()>();
        let release_rx = Arc::new(Mutex::new(release_rx));
        let m = Arc::clone(&max);
        let be = Backend::spawn_with(move |mut s| {
            let now = current.fetch_add(1, Ordering::SeqCst) + 1;
            m.fetch_max(now, Ordering::SeqCst);
            s.set_read_timeout(Some(DEADLINE)).unwrap();
            let mut id = [0u8; 1];
            if s.read_exact(&mut id).is_err() {
                // A client that said nothing (a probe) is not held.
                current.fetch_sub(1, Ordering::SeqCst);
                return;
            }
            let _ = arrived_tx.send(id[0]);
            let go = release_rx.lock().unwrap().recv_timeout(DEADLINE).is_ok();
            // Counted out before the reply: the proxy can only reuse the
            // slot once it has the server's FIN.
            current.fetch_sub(1, Ordering::SeqCst);
            if go {
                let _ = s.write_all(&[b'k', id[0]]);
            }
            let _ = s.shutdown(Shutdown::Write);
            let mut rest = Vec::new();
            let _ = s.read_to_end(&mut rest);
        });
        HeldBackend {
            be,
            arrived,
            release,
            max,
        }
    }

    fn max(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }
}

/// What a client saw: its reply, and whether the proxy reset it.
type Outcome = (u8, Vec<u8>, bool);

/// Run one client: send its id, read until the proxy closes.
fn run_client(mut c: impl Read + Write, id: u8, tx: &mpsc::Sender<Outcome>) {
    let mut reset = c.write_all(&[id]).is_err();
    let mut got = Vec::new();
    if let Err(e) = c.read_to_end(&mut got) {
        reset |= e.kind() == ErrorKind::ConnectionReset;
    }
    let _ = tx.send((id, got, reset));
}

/// `n` TCP clients connected at once (all before the first is released).
fn tcp_clients(p: &Proxy, n: u8) -> mpsc::Receiver<Outcome> {
    let (tx, rx) = mpsc::channel();
    let conns: Vec<_> = (0..n).map(|_| p.connect()).collect();
    for (id, c) in (0..n).zip(conns) {
        let tx = tx.clone();
        std::thread::spawn(move || run_client(c, id, &tx));
    }
    rx
}

/// `n` UNIX clients connected at once.
fn unix_clients(path: &PathBuf, n: u8) -> mpsc::Receiver<Outcome> {
    let (tx, rx) = mpsc::channel();
    let conns: Vec<_> = (0..n)
        .map(|_| {
            let c = std::os::unix::net::UnixStream::connect(path).unwrap();
            c.set_read_timeout(Some(DEADLINE)).unwrap();
            c
        })
        .collect();
    for (id, c) in (0..n).zip(conns) {
        let tx = tx.clone();
        std::thread::spawn(move || run_client(c, id, &tx));
    }
    rx
}

/// Drive `n` held clients through a proxy that must never let more than
/// `limit` reach the backend at once; every client must be served, none
/// reset.
fn limit_holds(be: &HeldBackend, done: &mpsc::Receiver<Outcome>, n: u8, limit: usize, what: &str) {
    let mut waiting = usize::from(n);
    let mut holding = 0usize;
    let mut served = Vec::new();
    while holding < limit {
        be.arrived
            .recv_timeout(DEADLINE)
            .unwrap_or_else(|_| panic!("{what}: only {holding} reached the backend"));
        holding += 1;
        waiting -= 1;
    }
    assert!(
        be.arrived.recv_timeout(Duration::from_millis(300)).is_err(),
        "{what}: a connection beyond the limit of {limit} reached the backend"
    );
    // Release one at a time: each release lets exactly one more through.
    while holding > 0 {
        be.release.send(()).unwrap();
        holding -= 1;
        let (id, got, reset) = done
            .recv_timeout(DEADLINE)
            .unwrap_or_else(|_| panic!("{what}: a released client got no reply"));
        assert!(!reset, "{what}: client {id} was reset");
        assert_eq!(got, [b'k', id], "{what}: client {id}");
        served.push(id);
        if waiting > 0 {
            be.arrived
                .recv_timeout(DEADLINE)
                .unwrap_or_else(|_| panic!("{what}: a waiting client never got a slot"));
            holding += 1;
            waiting -= 1;
        }
        assert!(be.max() <= limit, "{what}: {} at once", be.max());
    }
    served.sort_unstable();
    assert_eq!(served, (0..n).collect::<Vec<_>>(), "{what}");
    assert_eq!(
        be.max(),
        limit,
        "{what}: the backend held {} at most",
        be.max()
    );
}

/// Every stream of `n` ended normally, with the log's counters within
/// `limit` (no slot is held by a listener waiting for a client).
fn logs_within(p: &Proxy, n: u8, limit: i64, what: &str) {
    for _ in 0..n {
        let log = p.next_tcplog();
        assert_eq!(log.termination, "--", "{what}: {log:?}");
        assert!(
            (1..=limit).contains(&TcpLog::ms(&log.feconn)),
            "{what}: feconn in {log:?}"
        );
        assert!(
            (1..=limit).contains(&TcpLog::ms(&log.actconn)),
            "{what}: actconn in {log:?}"
        );
    }
}

#[test]
fn frontend_maxconn_holds_under_a_burst() {
    let be = HeldBackend::new();
    let p = Proxy::start(&config("    nbthread 2\n", "    maxconn 2\n", &be));
    let done = tcp_clients(&p, 20);
    limit_holds(&be, &done, 20, 2, "frontend maxconn 2");
    logs_within(&p, 20, 2, "frontend maxconn 2");
}

/// One slot for two executors sharing the listener: the multishot accept
/// pauses after every client, and the clients the kernel accepted before
/// the pause took effect wait for the slot (in order) instead of being
/// closed.
#[test]
fn global_maxconn_of_one_pauses_after_every_client() {
    let be = HeldBackend::new();
    let p = Proxy::start(&config("    nbthread 2\n    maxconn 1\n", "", &be));
    let done = tcp_clients(&p, 12);
    limit_holds(&be, &done, 12, 1, "global maxconn 1");
    logs_within(&p, 12, 1, "global maxconn 1");
}

#[test]
fn unix_listener_maxconn_holds_under_a_burst() {
    let be = HeldBackend::new();
    let dir = TempDir::new("accept-unix");
    let path = dir.0.join("fe.sock");
    let bind = format!("    bind unix@{}\n    maxconn 2\n", path.display());
    let p = Proxy::start(&config("    nbthread 2\n", &bind, &be));
    // The listener is ready once a first client gets through.
    let end = Instant::now() + DEADLINE;
    let mut first = loop {
        match std::os::unix::net::UnixStream::connect(&path) {
            Ok(c) => break c,
            Err(e) => assert!(Instant::now() < end, "no UNIX listener: {e}"),
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    first.set_read_timeout(Some(DEADLINE)).unwrap();
    first.write_all(&[99]).unwrap();
    assert_eq!(be.arrived.recv_timeout(DEADLINE), Ok(99));
    be.release.send(()).unwrap();
    let mut got = Vec::new();
    first.read_to_end(&mut got).unwrap();
    assert_eq!(got, [b'k', 99]);
    drop(first);
    let _ = p.next_tcplog();
    let done = unix_clients(&path, 10);
    limit_holds(&be, &done, 10, 2, "UNIX bind, maxconn 2");
    logs_within(&p, 10, 2, "UNIX bind, maxconn 2");
}

/// `rate-limit sessions 5`: a burst of 10 is served over more than one
/// second, never more than 5 (plus one as a new second starts) at once.
#[test]
fn rate_limit_sessions_spreads_a_burst() {
    let be = HeldBackend::new();
    let p = Proxy::start(&config("", "    rate-limit sessions 5\n", &be));
    let t0 = Instant::now();
    let done = tcp_clients(&p, 10);
    let mut early = 0;
    while be.arrived.recv_timeout(Duration::from_millis(150)).is_ok() {
        early += 1;
    }
    assert!(
        (1..=6).contains(&early),
        "{early} sessions started at once under a limit of 5/s"
    );
    for _ in 0..10 {
        be.release.send(()).unwrap();
    }
    for _ in early..10 {
        be.arrived
            .recv_timeout(DEADLINE)
            .expect("a rate-limited client was never served");
    }
    for _ in 0..10 {
        let (id, got, reset) = done.recv_timeout(DEADLINE).unwrap();
        assert!(!reset, "client {id} was reset");
        assert_eq!(got, [b'k', id]);
    }
    assert!(
        t0.elapsed() > Duration::from_millis(400),
        "10 sessions in {:?} under a limit of 5/s",
        t0.elapsed()
    );
}

/// A soft stop while the listener is paused on `maxconn`: the live session
/// goes on, the listener closes, every waiting client ends (served if it
/// had been accepted, closed with the listener otherwise, never left
/// hanging) and the process exits once the last session ends.
#[test]
fn soft_stop_while_full_ends_every_client() {
    let be = HeldBackend::new();
    let mut p = Proxy::start(&config("    nbthread 2\n", "    maxconn 1\n", &be));
    let done = tcp_clients(&p, 4);
    let first = be.arrived.recv_timeout(DEADLINE).expect("a first client");
    assert!(
        be.arrived.recv_timeout(Duration::from_millis(200)).is_err(),
        "maxconn 1"
    );
    p.signal(nix::sys::signal::Signal::SIGUSR1);
    // The listener closes. Until it does, a probe may be taken by an
    // executor whose multishot accept was still armed (the slot was taken
    // on the other one): it says nothing and is closed, and is served
    // like any client accepted before the stop once a slot frees.
    let end = Instant::now() + DEADLINE;
    while std::net::TcpStream::connect_timeout(&p.addr, Duration::from_millis(200)).is_ok() {
        assert!(Instant::now() < end, "the listener never closed");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Release the live session and whoever reaches the backend after it.
    let mut ended = Vec::new();
    let mut released = 0;
    while ended.len() < 4 {
        if released < 4 {
            be.release.send(()).unwrap();
            released += 1;
        }
        let (id, got, reset) = done
            .recv_timeout(DEADLINE)
            .unwrap_or_else(|_| panic!("a waiting client hangs after the stop: {ended:?}"));
        if id == first || !got.is_empty() {
            assert!(!reset, "client {id} was reset after being served");
            assert_eq!(got, [b'k', id], "client {id}");
        }
        ended.push(id);
    }
    let st = p.wait_exit(DEADLINE);
    assert!(
        st.is_some_and(|s| s.success()),
        "exit after the last session: {st:?}; stderr {:?}",
        p.stderr_so_far()
    );
}
