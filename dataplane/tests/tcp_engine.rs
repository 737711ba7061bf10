//! The TCP-mode engine against HAProxy's rules: timeouts and their
//! termination codes, queues and connection limits under concurrent load,
//! soft and hard stop, balancing through the proxy, the tcplog line next
//! to haproxy's, and start-up failures.
//!
//! Where HAProxy is installed (Debian's 2.6), the scenarios whose expected
//! outcome is subtle run on it too, with the same assertions: the test then
//! checks our reading of the manual (HAProxy 3.2's configuration.txt,
//! sections 4.2 "timeout *", 8.4 timing events, 8.5 termination codes)
//! as much as ringlb.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod harness;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use harness::{
    limit_holds, ringlb, stalled, start_haproxy, tcp_clients, Backend, HeldBackend, Proxy, TcpLog,
    DEADLINE,
};

/// A timeout "fired" when it ended the stream no earlier than this share
/// of it and no later than [`LATE`].
const EARLY: f64 = 0.8;
const LATE: Duration = Duration::from_secs(5);

/// A config with one `fd@3` frontend `fe` and one backend `be`.
/// `global`, `defaults` and `backend` are whole lines, indented.
fn config(global: &str, defaults: &str, backend: &str) -> String {
    format!(
        "global\n    log stdout format raw local0\n{global}\
         defaults\n    mode tcp\n    log global\n    option tcplog\n{defaults}\
         frontend fe\n    bind fd@3\n    default_backend be\n\
         backend be\n{backend}"
    )
}

/// haproxy when it is installed (the reference goes first: a failure on
/// it means the test misreads HAProxy), then ringlb.
fn programs(test: &str) -> Vec<(&'static str, PathBuf)> {
    let mut v = Vec::new();
    if let Some(h) = harness::haproxy(test) {
        v.push(("haproxy", h));
    }
    v.push(("ringlb", ringlb()));
    v
}

fn start(name: &str, program: &Path, cfg: &str) -> Proxy {
    if name == "haproxy" {
        start_haproxy(program, cfg)
    } else {
        Proxy::start_with(program, cfg, &[])
    }
}

/// Read until the proxy closes (EOF or reset) within `within`; returns the
/// bytes and when the close was seen. Fails if the connection stays open.
fn read_until_closed(c: &mut TcpStream, within: Duration, what: &str) -> (Vec<u8>, Instant) {
    let end = Instant::now() + within;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = end.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "{what}: the connection is still open after {within:?} ({} bytes read)",
            got.len()
        );
        c.set_read_timeout(Some(left)).unwrap();
        match c.read(&mut buf) {
            Ok(0) => return (got, Instant::now()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return (got, Instant::now()),
        }
    }
}

/// Assert the connection stays open and silent for `idle` (a read with a
/// deadline that must time out).
fn stays_open(c: &mut TcpStream, idle: Duration, what: &str) {
    c.set_read_timeout(Some(idle)).unwrap();
    let mut b = [0u8; 16];
    match c.read(&mut b) {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        Ok(0) => panic!("{what}: closed by the proxy within {idle:?}"),
        Ok(n) => panic!("{what}: unexpected {n} bytes"),
        Err(e) => panic!("{what}: {e}"),
    }
    c.set_read_timeout(Some(DEADLINE)).unwrap();
}

/// The timeout `t` fired: `elapsed` is at least EARLY of it, and not late.
fn fired(what: &str, t: Duration, elapsed: Duration) {
    assert!(
        elapsed >= t.mul_f64(EARLY) && elapsed <= LATE,
        "{what}: the {t:?} timeout ended the stream after {elapsed:?}"
    );
}

// ---------------------------------------------------------------------------
// 1. Timeouts and their termination codes.
// ---------------------------------------------------------------------------

#[test]
fn timeout_connect_is_sc_after_the_retries() {
    let srv = stalled();
    let cfg = config(
        "",
        "    timeout connect 300ms\n    timeout client 10s\n    timeout server 10s\n",
        &format!("    retries 1\n    server s1 {}\n", srv.addr),
    );
    for (name, prog) in programs("timeout_connect_is_sc_after_the_retries") {
        let p = start(name, &prog, &cfg);
        let t0 = Instant::now();
        let mut c = p.connect();
        c.write_all(b"hello").unwrap();
        let (got, closed) = read_until_closed(&mut c, DEADLINE, name);
        assert!(got.is_empty(), "{name}: {got:?}");
        // Two attempts of 300 ms each (a connect timeout is retried at once).
        fired(name, Duration::from_millis(600), closed - t0);
        let log = p.next_tcplog();
        assert_eq!(log.termination, "sC", "{name}: {log:?}");
        assert_eq!(log.server, "s1", "{name}: {log:?}");
        assert_eq!(log.tc, "-1", "{name}: {log:?}");
        assert_eq!(log.retries, "1", "{name}: {log:?}");
        assert_eq!(log.bytes, "0", "{name}: {log:?}");
        assert!(TcpLog::ms(&log.tt) >= 480, "{name}: {log:?}");
    }
}

#[test]
fn timeout_queue_is_sq() {
    let held = Backend::silent();
    let cfg = config(
        "",
        "    timeout connect 1s\n    timeout queue 300ms\n    timeout client 10s\n    timeout server 10s\n",
        &format!("    server s1 {} maxconn 1\n", held.addr),
    );
    let mut lines = Vec::new();
    for (name, prog) in programs("timeout_queue_is_sq") {
        let p = start(name, &prog, &cfg);
        let mut first = p.connect();
        first.write_all(b"a").unwrap();
        assert!(
            held.next_accept(DEADLINE).is_some(),
            "{name}: the first client reaches the server"
        );
        let t0 = Instant::now();
        let mut second = p.connect();
        second.write_all(b"b").unwrap();
        let (got, closed) = read_until_closed(&mut second, DEADLINE, name);
        assert!(got.is_empty(), "{name}: {got:?}");
        fired(name, Duration::from_millis(300), closed - t0);
        let log = p.next_tcplog();
        assert_eq!(log.termination, "sQ", "{name}: {log:?}");
        assert!(TcpLog::ms(&log.tw) >= 240, "{name}: Tw in {log:?}");
        assert_eq!(log.tc, "-1", "{name}: {log:?}");
        // Queue positions: see tcplog_queue_positions_are_haproxy_s.
        lines.push(TcpLog {
            srv_queue: "Q".to_owned(),
            be_queue: "Q".to_owned(),
            ..without_counters(masked(&log, name))
        });
        assert!(
            held.next_accept(Duration::ZERO).is_none(),
            "{name}: the queued client never reached the server"
        );
        // The first client is still served.
        stays_open(&mut first, Duration::from_millis(50), name);
        drop(first);
        let log = p.next_tcplog();
        assert_eq!(log.server, "s1", "{name}: {log:?}");
    }
    if let [theirs, ours] = &lines[..] {
        assert_eq!(ours, theirs, "the sQ line differs from haproxy's");
    }
}

#[test]
fn timeout_tunnel_supersedes_client_and_server() {
    let be = Backend::echo();
    let cfg = config(
        "",
        "    timeout connect 1s\n    timeout client 200ms\n    timeout server 200ms\n    timeout tunnel 1200ms\n",
        &format!("    server s1 {}\n", be.addr),
    );
    for (name, prog) in programs("timeout_tunnel_supersedes_client_and_server") {
        let p = start(name, &prog, &cfg);
        let mut c = p.connect();
        let mut b = [0u8; 1];
        c.write_all(b"a").unwrap();
        c.read_exact(&mut b).unwrap();
        // Three times the client and server timeouts: still open.
        stays_open(&mut c, Duration::from_millis(600), name);
        c.write_all(b"b").unwrap();
        c.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"b", "{name}");
        let last = Instant::now();
        let (got, closed) = read_until_closed(&mut c, DEADLINE, name);
        assert!(got.is_empty(), "{name}: {got:?}");
        fired(name, Duration::from_millis(1200), closed - last);
        let log = p.next_tcplog();
        // Any transfer refreshes both sides (HAProxy re-arms a side's read
        // timeout when data is written to it), so both sides expire
        // together; HAProxy's millisecond ticks make it a tie, which it
        // reports as cD. Either side's timeout is right here.
        assert!(
            log.termination == "cD" || log.termination == "sD",
            "{name}: {log:?}"
        );
        assert_eq!(log.bytes, "2", "{name}: {log:?}");
    }
}

/// `timeout client-fin` is the client side's timeout once the proxy has
/// shut its write side to the client (the server sent its FIN), as
/// HAProxy's half-closed timeout (`hcto`) works: the manual's "when the
/// client is expected to acknowledge or send data while one direction is
/// already shut down".
#[test]
fn timeout_client_fin_after_the_server_half_closes() {
    let (be, servers) = Backend::handing();
    let cfg = config(
        "",
        "    timeout connect 1s\n    timeout client 10s\n    timeout server 10s\n    timeout client-fin 300ms\n",
        &format!("    server s1 {}\n", be.addr),
    );
    for (name, prog) in programs("timeout_client_fin_after_the_server_half_closes") {
        let p = start(name, &prog, &cfg);
        let mut c = p.connect();
        c.write_all(b"x").unwrap();
        let mut s = servers.recv_timeout(DEADLINE).unwrap();
        let mut b = [0u8; 1];
        s.read_exact(&mut b).unwrap();
        s.write_all(b"hi").unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let (got, fin) = read_until_closed(&mut c, DEADLINE, name);
        assert_eq!(got, b"hi", "{name}");
        // The client says nothing more and keeps its side open: the proxy
        // gives up on it after client-fin and closes the server side.
        let (rest, closed) = read_until_closed(&mut s, LATE, name);
        assert!(rest.is_empty(), "{name}: {rest:?}");
        fired(name, Duration::from_millis(300), closed - fin);
        let log = p.next_tcplog();
        assert_eq!(log.termination, "cD", "{name}: {log:?}");
        assert_eq!(log.bytes, "2", "{name}: {log:?}");
    }
}

/// `timeout server-fin`, symmetric: the server side's timeout once the
/// client's FIN was passed on to the server. The client's own timeouts
/// (client-fin included) do not end this stream: the client has nothing
/// left to do but read.
#[test]
fn timeout_server_fin_after_the_client_half_closes() {
    let (be, servers) = Backend::handing();
    let cfg = config(
        "",
        "    timeout connect 1s\n    timeout client 10s\n    timeout server 10s\n    timeout server-fin 300ms\n",
        &format!("    server s1 {}\n", be.addr),
    );
    for (name, prog) in programs("timeout_server_fin_after_the_client_half_closes") {
        let p = start(name, &prog, &cfg);
        let mut c = p.connect();
        c.write_all(b"x").unwrap();
        let mut s = servers.recv_timeout(DEADLINE).unwrap();
        let mut b = [0u8; 1];
        s.read_exact(&mut b).unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let fin = Instant::now();
        // The server sees the FIN, then stays silent with its side open.
        assert_eq!(s.read(&mut b).unwrap(), 0, "{name}: FIN passed on");
        let (got, closed) = read_until_closed(&mut c, LATE, name);
        assert!(got.is_empty(), "{name}: {got:?}");
        fired(name, Duration::from_millis(300), closed - fin);
        let log = p.next_tcplog();
        assert_eq!(log.termination, "sD", "{name}: {log:?}");
        drop(s);
    }
}

// ---------------------------------------------------------------------------
// 2. Queues and connection limits under concurrent load (two executors).
// ---------------------------------------------------------------------------

#[test]
fn server_maxconn_queues_the_excess() {
    let be = HeldBackend::new();
    let cfg = config(
        "    nbthread 2\n",
        "    timeout connect 1s\n    timeout queue 10s\n    timeout client 10s\n    timeout server 10s\n",
        &format!("    server s1 {} maxconn 2\n", be.be.addr),
    );
    let p = Proxy::start(&cfg);
    limit_holds(&be, &tcp_clients(&p, 20), 20, 2, "server maxconn 2");
    for _ in 0..20 {
        let log = p.next_tcplog();
        assert_eq!(log.termination, "--", "{log:?}");
        assert_eq!(log.server, "s1", "{log:?}");
    }
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

/// Queued clients are served in the order they arrived (HAProxy's queues
/// are FIFO within a priority class), whatever executor accepted them.
#[test]
fn the_queue_is_first_in_first_out() {
    let be = HeldBackend::new();
    let cfg = config(
        "    nbthread 2\n",
        "    timeout connect 1s\n    timeout queue 10s\n    timeout client 10s\n    timeout server 10s\n",
        &format!("    server s1 {} maxconn 1\n", be.be.addr),
    );
    for (name, prog) in programs("the_queue_is_first_in_first_out") {
        let p = start(name, &prog, &cfg);
        let (tx, done) = mpsc::channel();
        let mut queued = Vec::new();
        for id in 0..7u8 {
            let mut c = p.connect();
            c.write_all(&[id]).unwrap();
            if id == 0 {
                assert_eq!(be.arrived.recv_timeout(DEADLINE).ok(), Some(0), "{name}");
            } else {
                // Queued (not served) before the next one arrives.
                stays_open(&mut c, Duration::from_millis(100), name);
            }
            let tx = tx.clone();
            queued.push(std::thread::spawn(move || {
                let mut got = Vec::new();
                let _ = c.read_to_end(&mut got);
                let _ = tx.send((id, got));
            }));
        }
        let mut order = vec![0u8];
        for _ in 1..7 {
            be.release.send(()).unwrap();
            order.push(be.arrived.recv_timeout(DEADLINE).unwrap());
        }
        be.release.send(()).unwrap();
        for _ in 0..7 {
            let (id, got) = done.recv_timeout(DEADLINE).unwrap();
            assert_eq!(got, [b'k', id], "{name}");
        }
        assert_eq!(order, (0..7).collect::<Vec<_>>(), "{name}: service order");
        for _ in 0..7 {
            let log = p.next_tcplog();
            assert_eq!(log.termination, "--", "{name}: {log:?}");
        }
    }
}

// ---------------------------------------------------------------------------
// 3. Soft stop, hard stop, hard-stop-after.
// ---------------------------------------------------------------------------

fn stop_config(global: &str, be: &Backend) -> String {
    config(
        global,
        "    timeout connect 1s\n    timeout client 10s\n    timeout server 10s\n",
        &format!("    server s1 {}\n", be.addr),
    )
}

/// Send `chunk` and read its echo.
fn echo(c: &mut TcpStream, chunk: &[u8], what: &str) {
    c.write_all(chunk).unwrap();
    let mut back = vec![0u8; chunk.len()];
    c.read_exact(&mut back)
        .unwrap_or_else(|e| panic!("{what}: echo of {} bytes: {e}", chunk.len()));
    assert!(back == chunk, "{what}: the echo differs");
}

/// After a soft stop, connect probes until one is no longer served (the
/// proxy may take a moment to see the signal; a probe it still serves is
/// closed and another one tried). The unserved probe is returned, still
/// open, and the number of probes served before it.
fn unserved_probe(p: &Proxy, what: &str) -> (Option<TcpStream>, usize) {
    let end = Instant::now() + DEADLINE;
    let mut served = 0;
    while Instant::now() < end {
        let Ok(mut probe) = TcpStream::connect_timeout(&p.addr, DEADLINE) else {
            // The listener is closed: refused is "not served" too.
            return (None, served);
        };
        if probe.write_all(b"probe").is_err() {
            return (None, served);
        }
        probe
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut b = [0u8; 5];
        match probe.read(&mut b) {
            Ok(n) if n > 0 => served += 1,
            Ok(_) => return (None, served),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return (Some(probe), served)
            }
            Err(_) => return (None, served),
        }
    }
    panic!("{what}: new connections are still served {DEADLINE:?} after the soft stop");
}

#[test]
fn soft_stop_finishes_live_sessions_and_serves_no_new_ones() {
    let be = Backend::echo();
    let cfg = stop_config("", &be);
    for (name, prog) in programs("soft_stop_finishes_live_sessions_and_serves_no_new_ones") {
        let mut p = start(name, &prog, &cfg);
        let mut c = p.connect();
        let data = harness::pattern(6 * 1000);
        echo(&mut c, &data[..1000], name);
        assert!(be.next_accept(DEADLINE).is_some(), "{name}");
        p.signal(nix::sys::signal::Signal::SIGUSR1);
        let (probe, served) = unserved_probe(&p, name);
        // The live session goes on, slowly, and ends intact.
        for chunk in data[1000..].chunks(1000) {
            stays_open(&mut c, Duration::from_millis(100), name);
            echo(&mut c, chunk, name);
        }
        assert!(
            p.child.try_wait().unwrap().is_none(),
            "{name}: exited with a live session"
        );
        c.shutdown(Shutdown::Write).unwrap();
        let (rest, _) = read_until_closed(&mut c, DEADLINE, name);
        assert!(rest.is_empty(), "{name}: {rest:?}");
        let st = p.wait_exit(DEADLINE);
        assert!(
            st.is_some_and(|s| s.success()),
            "{name}: exit after the last session: {st:?}; stderr {:?}",
            p.stderr_so_far()
        );
        // The live session's line, among those of the probes served
        // before the stop.
        let logs: Vec<TcpLog> = (0..=served).map(|_| p.next_tcplog()).collect();
        let live: Vec<&TcpLog> = logs.iter().filter(|l| l.bytes == "6000").collect();
        assert_eq!(live.len(), 1, "{name}: {logs:?}");
        assert_eq!(live[0].termination, "--", "{name}: {logs:?}");
        // The probe was never served: closed (or reset) with the listener.
        if let Some(mut probe) = probe {
            let (got, _) = read_until_closed(&mut probe, DEADLINE, name);
            assert!(got.is_empty(), "{name}: the probe was served: {got:?}");
        }
        assert_eq!(
            be.count(),
            served,
            "{name}: only the probes seen before the stop reached the server"
        );
    }
}

#[test]
fn sigterm_closes_live_sessions_at_once() {
    let be = Backend::echo();
    let cfg = stop_config("", &be);
    for (name, prog) in programs("sigterm_closes_live_sessions_at_once") {
        let mut p = start(name, &prog, &cfg);
        let mut c = p.connect();
        echo(&mut c, b"live", name);
        let t0 = Instant::now();
        p.signal(nix::sys::signal::Signal::SIGTERM);
        let (got, closed) = read_until_closed(&mut c, DEADLINE, name);
        assert!(got.is_empty(), "{name}: {got:?}");
        assert!(
            closed - t0 < Duration::from_secs(2),
            "{name}: {:?}",
            closed - t0
        );
        let st = p.wait_exit(DEADLINE);
        // Both die of the signal, as HAProxy does.
        assert_eq!(
            st.and_then(|s| s.signal()),
            Some(15),
            "{name}: after SIGTERM: {st:?}"
        );
    }
}

#[test]
fn hard_stop_after_bounds_the_soft_stop() {
    let be = Backend::echo();
    let cfg = stop_config("    hard-stop-after 500ms\n", &be);
    for (name, prog) in programs("hard_stop_after_bounds_the_soft_stop") {
        let mut p = start(name, &prog, &cfg);
        let mut c = p.connect();
        echo(&mut c, b"live", name);
        let t0 = Instant::now();
        p.signal(nix::sys::signal::Signal::SIGUSR1);
        let (got, closed) = read_until_closed(&mut c, DEADLINE, name);
        assert!(got.is_empty(), "{name}: {got:?}");
        fired(name, Duration::from_millis(500), closed - t0);
        let st = p.wait_exit(DEADLINE);
        assert!(
            st.is_some_and(|s| s.success()),
            "{name}: after hard-stop-after: {st:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// 4. Balancing through the proxy.
// ---------------------------------------------------------------------------

/// Which of `servers` accepts the next connection (within the deadline).
fn which(servers: &[&Backend], what: &str) -> usize {
    let end = Instant::now() + DEADLINE;
    while Instant::now() < end {
        for (i, s) in servers.iter().enumerate() {
            if s.next_accept(Duration::from_millis(5)).is_some() {
                return i;
            }
        }
    }
    panic!("{what}: no server got the connection");
}

/// One short exchange through the proxy, then its log line (the proxy has
/// released the server by the time it logs).
fn exchange(p: &Proxy, what: &str) -> TcpLog {
    let mut c = p.connect();
    echo(&mut c, b"ping", what);
    c.shutdown(Shutdown::Write).unwrap();
    let (rest, _) = read_until_closed(&mut c, DEADLINE, what);
    assert!(rest.is_empty(), "{what}: {rest:?}");
    let log = p.next_tcplog();
    assert_eq!(log.termination, "--", "{what}: {log:?}");
    log
}

fn balance_config(balance: &str, servers: &str) -> String {
    config(
        "    nbthread 2\n",
        "    timeout connect 1s\n    timeout queue 5s\n    timeout client 10s\n    timeout server 10s\n",
        &format!("    balance {balance}\n{servers}"),
    )
}

#[test]
fn balance_first_fills_the_first_server_up_to_its_maxconn() {
    let (a, b) = (Backend::echo(), Backend::echo());
    let cfg = balance_config(
        "first",
        &format!(
            "    server s1 {} maxconn 2\n    server s2 {} maxconn 2\n",
            a.addr, b.addr
        ),
    );
    for (name, prog) in programs("balance_first_fills_the_first_server_up_to_its_maxconn") {
        let p = start(name, &prog, &cfg);
        let mut held = Vec::new();
        let mut went = Vec::new();
        for _ in 0..4 {
            let mut c = p.connect();
            echo(&mut c, b"hold", name);
            went.push(which(&[&a, &b], name));
            held.push(c);
        }
        assert_eq!(went, [0, 0, 1, 1], "{name}");
        // A slot frees on s1: the next connection takes it.
        drop(held.remove(0));
        assert_eq!(p.next_tcplog().server, "s1", "{name}");
        let mut c = p.connect();
        echo(&mut c, b"next", name);
        assert_eq!(which(&[&a, &b], name), 0, "{name}: s1 has room again");
        held.push(c);
    }
}

#[test]
fn balance_source_keeps_a_client_address_on_one_server() {
    let (a, b) = (Backend::echo(), Backend::echo());
    let cfg = balance_config(
        "source",
        &format!("    server s1 {}\n    server s2 {}\n", a.addr, b.addr),
    );
    let mut picked = Vec::new();
    for (name, prog) in programs("balance_source_keeps_a_client_address_on_one_server") {
        let p = start(name, &prog, &cfg);
        let servers: Vec<String> = (0..6).map(|_| exchange(&p, name).server).collect();
        let (na, nb) = (a.count(), b.count());
        // Every client is 127.0.0.1: one server gets them all.
        assert!(
            (na, nb) == (6, 0) || (na, nb) == (0, 6),
            "{name}: s1 got {na}, s2 got {nb}"
        );
        assert!(
            servers.iter().all(|s| *s == servers[0]),
            "{name}: {servers:?}"
        );
        picked.push((name, servers[0].clone()));
    }
    // The same address hashes to the same server as in HAProxy (map-based
    // hash of the address over the servers' weights).
    if let [(_, theirs), (_, ours)] = &picked[..] {
        assert_eq!(ours, theirs, "haproxy and ringlb pick different servers");
    }
}

#[test]
fn balance_leastconn_avoids_the_busy_server() {
    let (a, b) = (Backend::echo(), Backend::echo());
    let cfg = balance_config(
        "leastconn",
        &format!("    server s1 {}\n    server s2 {}\n", a.addr, b.addr),
    );
    for (name, prog) in programs("balance_leastconn_avoids_the_busy_server") {
        let p = start(name, &prog, &cfg);
        let mut long = p.connect();
        echo(&mut long, b"long", name);
        let busy = which(&[&a, &b], name);
        let busy_name = ["s1", "s2"][busy];
        for i in 0..4 {
            let log = exchange(&p, name);
            assert_ne!(log.server, busy_name, "{name}: exchange {i}: {log:?}");
        }
        assert_eq!([&a, &b][busy].count(), 0, "{name}");
        assert_eq!([&a, &b][1 - busy].count(), 4, "{name}");
        drop(long);
    }
}

#[test]
fn backup_servers_serve_only_when_every_active_is_down() {
    let (s1, b1, b2) = (Backend::echo(), Backend::echo(), Backend::echo());
    let servers = |s1_opts: &str| {
        format!(
            "    server s1 {}{s1_opts}\n    server b1 {} backup\n    server b2 {} backup\n",
            s1.addr, b1.addr, b2.addr
        )
    };
    let all_up = balance_config("roundrobin", &servers(""));
    let s1_down = balance_config("roundrobin", &servers(" disabled"));
    for (name, prog) in programs("backup_servers_serve_only_when_every_active_is_down") {
        let p = start(name, &prog, &all_up);
        for _ in 0..4 {
            assert_eq!(exchange(&p, name).server, "s1", "{name}");
        }
        drop(p);
        let p = start(name, &prog, &s1_down);
        for _ in 0..4 {
            // Only the first backup, without `option allbackups`.
            assert_eq!(exchange(&p, name).server, "b1", "{name}");
        }
        assert_eq!(
            (s1.count(), b1.count(), b2.count()),
            (4, 4, 0),
            "{name}: connections per server"
        );
    }
}

// ---------------------------------------------------------------------------
// 5. The tcplog line, next to haproxy's.
// ---------------------------------------------------------------------------

/// A log line with what legitimately differs between two runs masked: the
/// client port, the date (its shape is checked), the timers (integers, -1
/// only where the phase never ended; their values are compared loosely by
/// the callers).
fn masked(l: &TcpLog, what: &str) -> TcpLog {
    let (ip, port) = l.client.rsplit_once(':').unwrap();
    assert!(port.parse::<u16>().is_ok(), "{what}: client port in {l:?}");
    let d = l.date.trim_start_matches('[').trim_end_matches(']');
    let shape: String = d
        .chars()
        .map(|c| if c.is_ascii_digit() { '9' } else { c })
        .collect();
    let month = d.get(3..6).unwrap_or("");
    assert!(
        shape.len() == 24
            && shape.starts_with("99/")
            && shape.ends_with("/9999:99:99:99.999")
            && month.chars().all(|c| c.is_ascii_alphabetic()),
        "{what}: date shape {:?} in {l:?}",
        l.date
    );
    let timer = |t: &str| {
        let v = TcpLog::ms(t);
        assert!(v >= -1, "{what}: timer {t} in {l:?}");
        if v < 0 {
            "-1".to_owned()
        } else {
            "N".to_owned()
        }
    };
    TcpLog {
        client: format!("{ip}:PORT"),
        date: "[DATE]".to_owned(),
        tw: timer(&l.tw),
        tc: timer(&l.tc),
        tt: timer(&l.tt),
        ..l.clone()
    }
}

fn log_config(backend: &str) -> String {
    config(
        "    nbthread 2\n",
        "    timeout connect 200ms\n    timeout client 10s\n    timeout server 10s\n",
        backend,
    )
}

/// The connection counters (`%ac/%fc/%bc/%sc`) are compared by
/// [`tcplog_counters_are_the_ones_at_log_time`]; the other tests mask them.
fn without_counters(l: TcpLog) -> TcpLog {
    TcpLog {
        actconn: "A".to_owned(),
        feconn: "F".to_owned(),
        beconn: "B".to_owned(),
        srv_conn: "S".to_owned(),
        ..l
    }
}

#[test]
fn tcplog_line_matches_haproxy_for_an_echo_exchange() {
    let be = Backend::echo();
    let cfg = log_config(&format!("    server s1 {}\n", be.addr));
    let data = harness::pattern(10_000);
    let mut lines = Vec::new();
    for (name, prog) in programs("tcplog_line_matches_haproxy_for_an_echo_exchange") {
        let p = start(name, &prog, &cfg);
        let mut c = p.connect();
        c.write_all(&data).unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let (got, _) = read_until_closed(&mut c, DEADLINE, name);
        assert!(got == data, "{name}: {} bytes back", got.len());
        let log = p.next_tcplog();
        let m = without_counters(masked(&log, name));
        let expected = TcpLog {
            client: "127.0.0.1:PORT".to_owned(),
            date: "[DATE]".to_owned(),
            frontend: "fe".to_owned(),
            backend: "be".to_owned(),
            server: "s1".to_owned(),
            tw: "N".to_owned(),
            tc: "N".to_owned(),
            tt: "N".to_owned(),
            bytes: "10000".to_owned(),
            termination: "--".to_owned(),
            retries: "0".to_owned(),
            srv_queue: "0".to_owned(),
            be_queue: "0".to_owned(),
            ..without_counters(log.clone())
        };
        assert_eq!(m, expected, "{name}: {log:?}");
        lines.push((name, log));
    }
    if let [(_, theirs), (_, ours)] = &lines[..] {
        // Timers within a few ms of each other on loopback.
        for (a, b, t) in [
            (&theirs.tw, &ours.tw, "Tw"),
            (&theirs.tc, &ours.tc, "Tc"),
            (&theirs.tt, &ours.tt, "Tt"),
        ] {
            assert!(
                (TcpLog::ms(a) - TcpLog::ms(b)).abs() <= 50,
                "{t}: haproxy {theirs:?}, ringlb {ours:?}"
            );
        }
    }
}

#[test]
fn tcplog_line_matches_haproxy_for_a_refused_server() {
    let dead = harness::refused_addr();
    let cfg = log_config(&format!("    retries 2\n    server s1 {dead}\n"));
    let mut lines = Vec::new();
    for (name, prog) in programs("tcplog_line_matches_haproxy_for_a_refused_server") {
        let p = start(name, &prog, &cfg);
        let mut c = p.connect();
        c.write_all(b"hello").unwrap();
        let (got, _) = read_until_closed(&mut c, DEADLINE, name);
        assert!(got.is_empty(), "{name}: {got:?}");
        let log = p.next_tcplog();
        let m = without_counters(masked(&log, name));
        assert_eq!(
            (&*m.termination, &*m.server, &*m.retries, &*m.tc, &*m.bytes),
            ("SC", "s1", "2", "-1", "0"),
            "{name}: {log:?}"
        );
        lines.push((name, m));
    }
    if let [(_, theirs), (_, ours)] = &lines[..] {
        assert_eq!(ours, theirs, "ringlb's line differs from haproxy's");
    }
}

/// "retries": "a turn-around timer of min("timeout connect", one second) is
/// applied before a retry occurs on the same server" (HAProxy 3.2 manual,
/// 4.2 "retries").
#[test]
fn a_refused_connect_is_retried_after_the_turn_around_timer() {
    let dead = harness::refused_addr();
    let cfg = log_config(&format!("    retries 2\n    server s1 {dead}\n"));
    for (name, prog) in programs("a_refused_connect_is_retried_after_the_turn_around_timer") {
        let p = start(name, &prog, &cfg);
        let t0 = Instant::now();
        let mut c = p.connect();
        let (got, closed) = read_until_closed(&mut c, DEADLINE, name);
        assert!(got.is_empty(), "{name}: {got:?}");
        // Two retries, each after min(200ms, 1s).
        fired(name, Duration::from_millis(400), closed - t0);
        let log = p.next_tcplog();
        assert!(TcpLog::ms(&log.tt) >= 320, "{name}: Tt in {log:?}");
    }
}

/// `%ac/%fc/%bc/%sc` are the counts "when the session was logged" (manual
/// 8.2.2): HAProxy logs a TCP stream once its server connection is
/// released, so a lone stream logs 1/1/0/0, and one that ends while
/// another is established logs 2/2/1/1. The executors' accept loops must
/// not show in them.
#[test]
fn tcplog_counters_are_the_ones_at_log_time() {
    let be = Backend::echo();
    // One thread: with two, haproxy itself may log the held stream on one
    // thread before the other thread has freed the stream it just logged
    // (seen 3 times in 22 loaded runs, on the haproxy reference run).
    let cfg = config(
        "    nbthread 1\n",
        "    timeout connect 200ms\n    timeout client 10s\n    timeout server 10s\n",
        &format!("    server s1 {}\n", be.addr),
    );
    for (name, prog) in programs("tcplog_counters_are_the_ones_at_log_time") {
        let p = start(name, &prog, &cfg);
        let counters = |l: &TcpLog| {
            format!(
                "{}/{}/{}/{}/{}",
                l.actconn, l.feconn, l.beconn, l.srv_conn, l.retries
            )
        };
        let log = exchange(&p, name);
        assert_eq!(counters(&log), "1/1/0/0/0", "{name}: alone: {log:?}");
        let mut other = p.connect();
        echo(&mut other, b"held", name);
        let log = exchange(&p, name);
        assert_eq!(
            counters(&log),
            "2/2/1/1/0",
            "{name}: beside another: {log:?}"
        );
        drop(other);
        let log = p.next_tcplog();
        assert_eq!(
            counters(&log),
            "1/1/0/0/0",
            "{name}: the other one: {log:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// 6. Start-up failures: exit 1 before serving, with a clear message.
// ---------------------------------------------------------------------------

#[test]
fn an_fd_that_is_not_a_socket_stops_the_start() {
    let be = Backend::echo();
    let cfg = stop_config("", &be);
    let dir = harness::TempDir::new("notsock");
    for (name, prog) in programs("an_fd_that_is_not_a_socket_stops_the_start") {
        let file = std::fs::File::create(dir.0.join(format!("{name}.txt"))).unwrap();
        let args: &[&str] = if name == "haproxy" { &["-db"] } else { &[] };
        let (st, out, err) = harness::run_with_fd3(&prog, &cfg, Some(file.into()), args);
        assert_eq!(st.and_then(|s| s.code()), Some(1), "{name}: {st:?}\n{err}");
        assert!(out.is_empty(), "{name}: stdout {out:?}");
        if name == "ringlb" {
            assert!(
                err.contains("fd@3") && err.contains("not a socket"),
                "{name}: {err}"
            );
            assert!(err.contains("frontend fe"), "{name}: {err}");
        }
    }
}

#[test]
fn a_server_name_that_does_not_resolve_stops_the_start() {
    let cfg = config(
        "",
        "    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n",
        "    server s1 nosuch.invalid:80\n",
    );
    for (name, prog) in programs("a_server_name_that_does_not_resolve_stops_the_start") {
        // A client already waits in the listener's queue: it must get
        // nothing from a proxy that does not start.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut waiting = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        waiting.write_all(b"hello").unwrap();
        let args: &[&str] = if name == "haproxy" { &["-db"] } else { &[] };
        let (st, out, err) = harness::run_with_fd3(&prog, &cfg, Some(listener.into()), args);
        assert_eq!(st.and_then(|s| s.code()), Some(1), "{name}: {st:?}\n{err}");
        assert!(out.is_empty(), "{name}: stdout {out:?}");
        assert!(err.contains("nosuch.invalid"), "{name}: {err}");
        assert!(err.contains("could not resolve"), "{name}: {err}");
        let (got, _) = read_until_closed(&mut waiting, DEADLINE, name);
        assert!(got.is_empty(), "{name}: {got:?}");
    }
}

/// A setting the engine cannot honour is refused by `-c` and by a start,
/// before any socket is bound: the address below is held by the test, so
/// a bind would fail with a different message.
#[test]
fn a_setting_not_supported_yet_is_refused_before_binding() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = holder.local_addr().unwrap();
    let be = Backend::echo();
    let cfg = format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n\
         frontend fe\n    bind {addr}\n    default_backend be\n\
         backend be\n    server s1 {}\n",
        be.addr
    );
    for args in [&["-c"][..], &[][..]] {
        let (st, out, err) = harness::run_with_fd3(&ringlb(), &cfg, None, args);
        let what = format!("ringlb {args:?}");
        assert_eq!(st.and_then(|s| s.code()), Some(1), "{what}: {st:?}\n{err}");
        assert!(
            err.contains("mode http is not supported yet"),
            "{what}: {err}"
        );
        assert!(
            !err.contains("bind"),
            "{what}: got as far as binding: {err}"
        );
        assert!(!out.contains("valid"), "{what}: {out}");
    }
    assert_eq!(be.count(), 0);
}

/// `%sq/%bq`: "the total number of requests which were processed before
/// this one in the server queue / the backend's global queue" (8.2.2).
/// What haproxy prints for a stream served after waiting behind a busy
/// server, and for one that timed out in the queue.
#[test]
fn tcplog_queue_positions_are_haproxy_s() {
    let be = HeldBackend::new();
    let cfg = config(
        "",
        "    timeout connect 1s\n    timeout queue 1s\n    timeout client 10s\n    timeout server 10s\n",
        &format!("    server s1 {} maxconn 1\n", be.be.addr),
    );
    for (name, prog) in programs("tcplog_queue_positions_are_haproxy_s") {
        let p = start(name, &prog, &cfg);
        let mut first = p.connect();
        first.write_all(&[1]).unwrap();
        assert_eq!(be.arrived.recv_timeout(DEADLINE).ok(), Some(1), "{name}");
        // Times out in the queue.
        let mut late = p.connect();
        late.write_all(&[2]).unwrap();
        let (got, _) = read_until_closed(&mut late, DEADLINE, name);
        assert!(got.is_empty(), "{name}: {got:?}");
        let log = p.next_tcplog();
        assert_eq!(log.termination, "sQ", "{name}: {log:?}");
        let queues = |l: &TcpLog| format!("{}/{}", l.srv_queue, l.be_queue);
        assert_eq!(queues(&log), "0/1", "{name}: timed out: {log:?}");
        // Waits behind the first one, then is served.
        let mut queued = p.connect();
        queued.write_all(&[3]).unwrap();
        stays_open(&mut queued, Duration::from_millis(100), name);
        be.release.send(()).unwrap();
        let mut got = Vec::new();
        first.read_to_end(&mut got).unwrap();
        drop(first);
        assert_eq!(be.arrived.recv_timeout(DEADLINE).ok(), Some(3), "{name}");
        be.release.send(()).unwrap();
        queued.read_to_end(&mut got).unwrap();
        drop(queued);
        assert_eq!(got, [b'k', 1, b'k', 3], "{name}");
        let mut logs = [p.next_tcplog(), p.next_tcplog()];
        logs.sort_by(|a, b| a.tw.len().cmp(&b.tw.len()).then(a.tw.cmp(&b.tw)));
        assert_eq!(queues(&logs[0]), "0/0", "{name}: not queued: {logs:?}");
        assert_eq!(queues(&logs[1]), "0/1", "{name}: queued: {logs:?}");
    }
}

// ---------------------------------------------------------------------------
// Server-side source: full transparent proxy (usesrc) and interface.
// ---------------------------------------------------------------------------

/// A client connecting from `from` (port 0: any), with SO_REUSEADDR so a
/// proxy presenting its exact address and port (`usesrc client`) may bind
/// it too.
fn connect_from(p: &Proxy, from: std::net::SocketAddr) -> TcpStream {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.set_reuse_address(true).unwrap();
    s.bind(&from.into()).unwrap();
    s.connect_timeout(&p.addr.into(), DEADLINE).unwrap();
    let c: TcpStream = s.into();
    c.set_read_timeout(Some(DEADLINE)).unwrap();
    c
}

/// `usesrc` presents another address to the server (IP_TRANSPARENT, so
/// root or CAP_NET_ADMIN): `clientip` the client's address, `client` its
/// address and port, `<addr>` a fixed one. Loopback addresses are local,
/// so no TPROXY routing is needed to see it.
#[test]
fn usesrc_presents_the_client_address_to_the_server() {
    if !nix::unistd::geteuid().is_root() {
        assert!(
            std::env::var_os("CI").is_none(),
            "usesrc needs root (IP_TRANSPARENT); CI runs as root"
        );
        eprintln!("skipped: usesrc needs root");
        return;
    }
    let be = Backend::spawn(|mut s| {
        let peer = s.peer_addr().unwrap().to_string();
        let _ = s.write_all(peer.as_bytes());
        let _ = s.shutdown(Shutdown::Write);
    });
    for (usesrc, from, expect) in [
        ("clientip", "127.0.0.3:0", None),
        ("client", "127.0.0.4:0", None),
        ("127.0.0.9", "127.0.0.5:0", Some("127.0.0.9")),
    ] {
        let cfg = config(
            "",
            "    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n",
            &format!("    server s1 {} source 0.0.0.0 usesrc {usesrc}\n", be.addr),
        );
        for (name, prog) in programs("usesrc") {
            let p = start(name, &prog, &cfg);
            let mut c = connect_from(&p, from.parse().unwrap());
            c.shutdown(Shutdown::Write).unwrap();
            let me = c.local_addr().unwrap();
            let mut seen = String::new();
            c.read_to_string(&mut seen).unwrap();
            let seen: std::net::SocketAddr = seen
                .parse()
                .unwrap_or_else(|e| panic!("{name} usesrc {usesrc}: {seen:?}: {e}"));
            match (usesrc, expect) {
                ("clientip", _) => {
                    assert_eq!(seen.ip(), me.ip(), "{name} usesrc {usesrc}");
                    assert_ne!(seen.port(), me.port(), "{name}: clientip picks a port");
                }
                ("client", _) => assert_eq!(seen, me, "{name} usesrc {usesrc}"),
                (_, Some(ip)) => assert_eq!(seen.ip().to_string(), ip, "{name} usesrc {usesrc}"),
                _ => unreachable!(),
            }
            let log = p.next_tcplog();
            assert_eq!(log.termination, "--", "{name} usesrc {usesrc}: {log:?}");
        }
    }
}

/// `source ... interface <name>` binds server connections to a device
/// (SO_BINDTODEVICE): through `lo` they reach a loopback server, through
/// another device they cannot (the connect times out: sC). HAProxy ignores
/// a failing SO_BINDTODEVICE (a device that does not exist), so ringlb
/// does too.
#[test]
fn source_interface_binds_the_server_connection_to_a_device() {
    if !nix::unistd::geteuid().is_root() {
        assert!(
            std::env::var_os("CI").is_none(),
            "interface needs root; CI runs as root"
        );
        eprintln!("skipped: interface needs root");
        return;
    }
    let other = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n != "lo")
        .min();
    let be = Backend::echo();
    let mut cases = vec![("lo", "--"), ("nosuchdev0", "--")];
    if let Some(dev) = &other {
        cases.push((dev.as_str(), "sC"));
    }
    for (dev, termination) in cases {
        let cfg = config(
            "",
            "    timeout connect 300ms
    retries 0
    timeout client 10s
    timeout server 10s
",
            &format!("    server s1 {} source 0.0.0.0 interface {dev}\n", be.addr),
        );
        for (name, prog) in programs("interface") {
            let p = start(name, &prog, &cfg);
            let mut c = p.connect();
            let _ = c.write_all(b"ping");
            let _ = c.shutdown(Shutdown::Write);
            let mut got = Vec::new();
            let _ = c.read_to_end(&mut got);
            let log = p.next_tcplog();
            assert_eq!(log.termination, termination, "{name} via {dev}: {log:?}");
            let expect: &[u8] = if termination == "--" { b"ping" } else { b"" };
            assert_eq!(got, expect, "{name} via {dev}");
        }
    }
}

/// A client on a UNIX listener is logged as `unix:<listener id>`, the id
/// counting the frontend's bind addresses in order (here the second).
#[test]
fn a_unix_client_is_logged_with_its_listener_id() {
    let be = Backend::echo();
    for (name, prog) in programs("unix-luid") {
        let dir = harness::TempDir::new("unix-luid");
        let path = dir.0.join("fe.sock");
        let cfg = format!(
            "global\n    log stdout format raw local0\n\
             defaults\n    mode tcp\n    log global\n    option tcplog\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n\
             frontend fe\n    bind fd@3\n    bind unix@{}\n    default_backend be\nbackend be\n    server s1 {}\n",
            path.display(),
            be.addr
        );
        let p = start(name, &prog, &cfg);
        let end = Instant::now() + DEADLINE;
        let mut c = loop {
            match std::os::unix::net::UnixStream::connect(&path) {
                Ok(c) => break c,
                Err(e) => assert!(Instant::now() < end, "{name}: no UNIX listener: {e}"),
            }
            std::thread::yield_now();
        };
        c.set_read_timeout(Some(DEADLINE)).unwrap();
        c.write_all(b"ping").unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let mut got = Vec::new();
        c.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"ping", "{name}");
        let log = p.next_tcplog();
        assert_eq!(log.client, "unix:2", "{name}: {log:?}");
        assert_eq!(log.termination, "--", "{name}: {log:?}");
    }
}

/// Queued streams are handed only to servers that may take them: never
/// to a disabled server, nor to a backup while an active server is up,
/// even though those have free slots (HAProxy's process_srv_queue). The
/// oldest waiter timing out is what hands the free slots on.
#[test]
fn queued_streams_never_go_to_a_disabled_or_backup_server() {
    let be = HeldBackend::new();
    let off = Backend::echo();
    let backup = Backend::echo();
    let cfg = config(
        "",
        "    timeout connect 1s\n    timeout queue 600ms\n    timeout client 10s\n    timeout server 10s\n",
        &format!(
            "    server s1 {} maxconn 1\n    server off {} disabled\n    server bk {} backup\n",
            be.be.addr, off.addr, backup.addr
        ),
    );
    for (name, prog) in programs("queue-usable") {
        let p = start(name, &prog, &cfg);
        // The first client holds s1's only slot.
        let mut first = p.connect();
        first.write_all(&[0]).unwrap();
        assert_eq!(be.arrived.recv_timeout(DEADLINE).ok(), Some(0), "{name}");
        // Two waiters, 300 ms apart: the first one's timeout leaves the
        // second at the head while free slots exist on `off` and `bk`.
        let mut waiters = Vec::new();
        for id in 1..=2u8 {
            let mut c = p.connect();
            c.write_all(&[id]).unwrap();
            waiters.push(c);
            if id == 1 {
                stays_open(&mut waiters[0], Duration::from_millis(300), name);
            }
        }
        for (i, c) in waiters.iter_mut().enumerate() {
            let (got, _) = read_until_closed(c, DEADLINE, name);
            assert!(
                got.is_empty(),
                "{name}: waiter {} was served: {got:?}",
                i + 1
            );
        }
        for _ in 0..2 {
            let log = p.next_tcplog();
            assert_eq!(log.termination, "sQ", "{name}: {log:?}");
        }
        assert_eq!(off.count(), 0, "{name}: the disabled server got a client");
        assert_eq!(backup.count(), 0, "{name}: the backup server got a client");
        be.release.send(()).unwrap();
        let (got, _) = read_until_closed(&mut first, DEADLINE, name);
        assert_eq!(got, [b'k', 0], "{name}");
    }
}

/// Many clients on two executors against a tight limit, some giving up
/// while queued, some timing out in the queue, servers coming and going:
/// the engine neither panics nor loses a slot, and serves normally after.
#[test]
fn queues_survive_a_storm_of_clients() {
    let fast = Backend::echo();
    let slow = Backend::echo();
    let cfg = config(
        "    nbthread 2\n",
        "    timeout connect 1s\n    timeout queue 150ms\n    timeout client 5s\n    timeout server 5s\n",
        &format!(
            "    balance leastconn\n    server a {} maxconn 2\n    server b {} maxconn 1\n    server c {} maxconn 1 backup\n",
            slow.addr, slow.addr, fast.addr
        ),
    );
    let p = Proxy::start(&cfg);
    let addr = p.addr;
    // Two clients hold two of the three slots through the storm, so most
    // of it queues, and much of it times out there (sQ).
    let holders: Vec<_> = (0..2)
        .map(|_| {
            let mut c = p.connect();
            echo(&mut c, b"hold", "holder");
            c
        })
        .collect();
    let workers: Vec<_> = (0..8)
        .map(|w| {
            std::thread::spawn(move || {
                for i in 0..25u32 {
                    let Ok(mut c) = TcpStream::connect_timeout(&addr, DEADLINE) else {
                        continue;
                    };
                    let _ = c.set_read_timeout(Some(DEADLINE));
                    if (i + w) % 5 == 0 {
                        // Gives up at once, maybe while queued.
                        drop(c);
                        continue;
                    }
                    let _ = c.write_all(b"storm");
                    let mut b = [0u8; 5];
                    let _ = c.read_exact(&mut b);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    drop(holders);
    // Every slot came back: a burst as large as the limit is served at once.
    let served: Vec<_> = (0..3)
        .map(|_| {
            let mut c = p.connect();
            c.write_all(b"after").unwrap();
            c
        })
        .collect();
    for mut c in served {
        let mut b = [0u8; 5];
        c.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"after");
    }
    assert!(
        !p.stderr_so_far().iter().any(|l| l.contains("panicked")),
        "{:?}",
        p.stderr_so_far()
    );
}

/// `balance source` places each client address on the server HAProxy
/// picks, map-based and consistent (whose default function is sdbm with
/// avalanche), with weights: 24 client addresses from 127.0.0.0/8, the
/// log naming the server, the same on haproxy and ringlb.
#[test]
fn source_hashing_places_addresses_as_haproxy() {
    let be = Backend::echo();
    for hash_type in [
        "",
        "    hash-type consistent\n",
        "    hash-type map-based djb2\n",
    ] {
        let servers = format!(
            "{hash_type}    server s1 {a} weight 1\n    server s2 {a} weight 3\n    server s3 {a} weight 2\n    server s4 {a} weight 1\n",
            a = be.addr
        );
        let cfg = balance_config("source", &servers);
        let mut placements = Vec::new();
        for (name, prog) in programs("source-placement") {
            let p = start(name, &prog, &cfg);
            let mut picked = Vec::new();
            for i in 0..24u8 {
                let from: std::net::SocketAddr =
                    format!("127.0.{}.{}:0", i / 8, 10 + i * 7).parse().unwrap();
                let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
                    .unwrap();
                s.bind(&from.into()).unwrap();
                s.connect_timeout(&p.addr.into(), DEADLINE).unwrap();
                let mut c: TcpStream = s.into();
                c.set_read_timeout(Some(DEADLINE)).unwrap();
                c.write_all(b"h").unwrap();
                c.shutdown(Shutdown::Write).unwrap();
                let mut got = Vec::new();
                c.read_to_end(&mut got).unwrap();
                let log = p.next_tcplog();
                picked.push(log.server);
            }
            placements.push((name, picked));
        }
        if let [(_, theirs), (_, ours)] = &placements[..] {
            assert_eq!(
                ours, theirs,
                "{hash_type:?}: haproxy and ringlb place clients differently"
            );
        }
    }
}
