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

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use harness::{
    limit_holds, run_client, tcp_clients, HeldBackend, Outcome, Proxy, TcpLog, TempDir, DEADLINE,
};

/// One `fd@3` frontend `fe` (plus `extra_bind` lines) and backend `be`.
/// The frontend's `backlog` is set: these tests are about admission, and
/// a listen backlog derived from a `maxconn` of 1 or 2 (HAProxy's rule)
/// would leave part of each burst in SYN retransmission.
fn config(global: &str, frontend: &str, be: &HeldBackend) -> String {
    format!(
        "global\n    log stdout format raw local0\n{global}\
         defaults\n    mode tcp\n    log global\n    option tcplog\n\
         \x20   timeout connect 1s\n    timeout client 10s\n    timeout server 10s\n\
         frontend fe\n    bind fd@3\n    backlog 64\n{frontend}    default_backend be\n\
         backend be\n    server s1 {}\n",
        be.be.addr
    )
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
        std::thread::yield_now();
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
        std::thread::yield_now();
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
