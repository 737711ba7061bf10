//! Limits: frontend, listener and global `maxconn`, `rate-limit sessions`,
//! and accepting clients under them (multishot accept: every client the
//! kernel accepted while a listener was pausing is served, a soft stop
//! while full still ends cleanly). Under a storm past global `maxconn`
//! every client waits in the kernel's accept queue and is served as slots
//! free, on any core, and service comes back at once after the storm.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use crate::harness::{
    self, config, limit_holds, round_trip, run_client, tcp_clients, Backend, HeldBackend, Outcome,
    Proxy, TcpLog, TempDir, DEADLINE,
};

/// A backend that answers each client `ok` after `delay` and counts how
/// many it held at once.
fn slow_backend(delay: Duration) -> (Backend, Arc<AtomicUsize>) {
    let current = Arc::new(AtomicUsize::new(0));
    let max = Arc::new(AtomicUsize::new(0));
    let m = Arc::clone(&max);
    let be = Backend::spawn_with(move |mut s| {
        let now = current.fetch_add(1, Ordering::SeqCst) + 1;
        m.fetch_max(now, Ordering::SeqCst);
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        let mut b = [0u8; 1];
        let _ = s.read(&mut b);
        std::thread::sleep(delay);
        current.fetch_sub(1, Ordering::SeqCst);
        let _ = s.write_all(b"ok");
        let _ = s.shutdown(Shutdown::Write);
    });
    (be, max)
}

fn exchange(addr: std::net::SocketAddr) -> Result<(), String> {
    let mut c = TcpStream::connect_timeout(&addr, DEADLINE).map_err(|e| e.to_string())?;
    c.set_read_timeout(Some(DEADLINE)).unwrap();
    c.write_all(b"x").map_err(|e| e.to_string())?;
    let mut got = Vec::new();
    c.read_to_end(&mut got).map_err(|e| e.to_string())?;
    if got == b"ok" {
        Ok(())
    } else {
        Err(format!("got {got:?}"))
    }
}

/// A storm of 200 clients past `maxconn 10` on two executors: each client
/// is served (haproxy serves them all from its accept queue), never more
/// than 10 at once reach the server, and a request after the storm is
/// served at once. Before the fix ringlb served 10 and parked the rest
/// for good: later clients were accepted, never served nor closed, and a
/// request after the storm timed out.
#[test]
fn a_storm_past_maxconn_is_served_and_service_recovers_at_once() {
    let mut programs = Vec::new();
    if let Some(h) = harness::haproxy("a_storm_past_maxconn_is_served_and_service_recovers_at_once")
    {
        programs.push(("haproxy", h));
    }
    programs.push(("ringlb", harness::ringlb()));
    for (name, program) in programs {
        let (be, max) = slow_backend(Duration::from_millis(20));
        let cfg = format!(
            "global\n    maxconn 10\n    nbthread 2\n\
             defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 30s\n    timeout server 30s\n\
             frontend fe\n    bind fd@3\n    default_backend be\n\
             backend be\n    server s1 {}\n",
            be.addr
        );
        let p = if name == "haproxy" {
            harness::start_haproxy(&program, &cfg)
        } else {
            Proxy::start(&cfg)
        };
        let addr = p.addr;
        let failures: Vec<String> = (0..200)
            .map(|_| std::thread::spawn(move || exchange(addr)))
            .collect::<Vec<_>>()
            .into_iter()
            .filter_map(|t| t.join().unwrap().err())
            .collect();
        assert!(
            failures.is_empty(),
            "{name}: {} of 200 clients failed: {:?}",
            failures.len(),
            &failures[..failures.len().min(5)]
        );
        assert!(
            max.load(Ordering::SeqCst) <= 10,
            "{name}: {} at the server at once",
            max.load(Ordering::SeqCst)
        );
        let t = Instant::now();
        exchange(addr).unwrap_or_else(|e| panic!("{name}: after the storm: {e}"));
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "{name}: a request after the storm took {:?}",
            t.elapsed()
        );
    }
}

/// With `maxconn 1` on two executors, a slot freed on one core lets the
/// client waiting on the other in at once (a message wakes it; nothing
/// polls): 40 clients in a row, each served well within the time the
/// old 10 ms polling would have cost them together.
#[test]
fn a_slot_freed_on_one_core_serves_a_client_waiting_on_the_other() {
    let (be, max) = slow_backend(Duration::ZERO);
    let cfg = format!(
        "global\n    maxconn 1\n    nbthread 2\n\
         defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 30s\n    timeout server 30s\n\
         frontend fe\n    bind fd@3\n    default_backend be\n\
         backend be\n    server s1 {}\n",
        be.addr
    );
    let p = Proxy::start(&cfg);
    let addr = p.addr;
    exchange(addr).unwrap();
    // Four clients at a time, so one always waits for the slot.
    let t = Instant::now();
    let failures: Vec<String> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                (0..10)
                    .filter_map(|_| exchange(addr).err())
                    .collect::<Vec<_>>()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(max.load(Ordering::SeqCst), 1);
    assert!(
        t.elapsed() < DEADLINE,
        "40 clients through one slot took {:?}",
        t.elapsed()
    );
}

#[test]
fn rate_limit_sessions_spaces_new_sessions() {
    let be = Backend::echo();
    let cfg = format!(
        "global\n    nbthread 1\n    log stdout format raw local0\n\
         defaults\n    mode tcp\n    log global\n    option tcplog\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n\
         frontend fe\n    bind fd@3\n    rate-limit sessions 10\n    default_backend be\n\
         backend be\n    server s1 {}\n",
        be.addr
    );
    let p = Proxy::start(&cfg);
    let start = std::time::Instant::now();
    for _ in 0..25 {
        assert_eq!(round_trip(&p, b"x"), b"x");
    }
    // 10 per second: 25 sessions need well over one second.
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(1400),
        "25 sessions at 10/s took only {took:?}"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[test]
fn global_maxconn_bounds_the_accepted_connections() {
    let be = HeldBackend::new();
    let cfg = config(
        "    nbthread 2\n    maxconn 3\n",
        "    timeout connect 1s\n    timeout client 10s\n    timeout server 10s\n",
        &format!("    server s1 {}\n", be.be.addr),
    );
    let p = Proxy::start(&cfg);
    limit_holds(&be, &tcp_clients(&p, 10), 10, 3, "global maxconn 3");
    for _ in 0..10 {
        let log = p.next_tcplog();
        assert_eq!(log.termination, "--", "{log:?}");
        // Nobody waited in a queue: the excess waited in the kernel.
        assert_eq!((&*log.srv_queue, &*log.be_queue), ("0", "0"), "{log:?}");
        assert!(TcpLog::ms(&log.tw) < 50, "Tw in {log:?}");
        assert!(TcpLog::ms(&log.actconn) <= 3, "actconn in {log:?}");
    }
}

/// One `fd@3` frontend `fe` (plus `extra_bind` lines) and backend `be`.
/// The frontend's `backlog` is set: these tests are about admission, and
/// a listen backlog derived from a `maxconn` of 1 or 2 (HAProxy's rule)
/// would leave part of each burst in SYN retransmission.
fn accept_config(global: &str, frontend: &str, be: &HeldBackend) -> String {
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
    let p = Proxy::start(&accept_config("    nbthread 2\n", "    maxconn 2\n", &be));
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
    let p = Proxy::start(&accept_config("    nbthread 2\n    maxconn 1\n", "", &be));
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
    let p = Proxy::start(&accept_config("    nbthread 2\n", &bind, &be));
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
    let p = Proxy::start(&accept_config("", "    rate-limit sessions 5\n", &be));
    let t0 = Instant::now();
    let done = tcp_clients(&p, 10);
    let mut early = 0;
    while be.arrived.recv_timeout(Duration::from_millis(150)).is_ok() {
        early += 1;
    }
    // 5, plus one or two the sliding window lets through when the burst
    // straddles a second boundary (HAProxy's freq_ctr weighs the last
    // second), which a loaded machine can bring within 150 ms of the rest;
    // never the whole burst.
    assert!(
        (1..=7).contains(&early),
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
    let mut p = Proxy::start(&accept_config("    nbthread 2\n", "    maxconn 1\n", &be));
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

/// `tcp-request connection` in TCP mode: a rejected client is closed at
/// once and the server never connected; an accepted one is forwarded.
fn tcp_request_connection_rules(name: &str, program: &std::path::Path) {
    let be = Backend::echo();
    let servers = format!("    server s1 {}\n", be.addr);
    let reject = harness::tcp_config(&servers, "").replace(
        "frontend fe\n",
        "frontend fe\n    tcp-request connection reject if { src 127.0.0.0/8 }\n",
    );
    let p = harness::start(name, program, &reject);
    let mut c = p.connect();
    let _ = c.write_all(b"hello");
    let mut got = Vec::new();
    let _ = c.read_to_end(&mut got);
    assert!(got.is_empty(), "{name}: a rejected client got {got:?}");
    assert_eq!(be.count(), 0, "{name}: the server heard of it");
    let accept = harness::tcp_config(&servers, "").replace(
        "frontend fe\n",
        "frontend fe\n    tcp-request connection accept if { src 127.0.0.1 }\n    tcp-request connection reject\n",
    );
    let p = harness::start(name, program, &accept);
    assert_eq!(round_trip(&p, b"hello"), b"hello", "{name}");
}
on_both!(
    tcp_request_connection_rules,
    tcp_request_connection_rules_on_haproxy,
    tcp_request_connection_rules_on_ringlb
);
