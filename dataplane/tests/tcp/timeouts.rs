//! Timeouts and their termination codes: `timeout connect`, `client`,
//! `server`, `tunnel`, `client-fin`/`server-fin` and `queue`.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::time::{Duration, Instant};

use crate::harness::{
    config, fired, masked, programs, read_until_closed, stalled, start, stays_open,
    without_counters, Backend, Proxy, TcpLog, DEADLINE, LATE,
};

#[test]
fn client_timeout_is_cd_and_server_timeout_is_sd() {
    let be = Backend::silent();
    let cfg = format!(
        "global\n    log stdout format raw local0\n\
         defaults\n    mode tcp\n    log global\n    option tcplog\n    timeout connect 2s\n\
         frontend fe\n    bind fd@3\n    timeout client 300ms\n    default_backend be\n\
         backend be\n    timeout server 10s\n    server s1 {}\n",
        be.addr
    );
    let p = Proxy::start(&cfg);
    let mut c = p.connect();
    let mut b = [0u8; 1];
    // A read timeout is an error here, not an EOF: the close must come.
    let n = c
        .read(&mut b)
        .unwrap_or_else(|e| panic!("the proxy must close the idle client: {e}"));
    assert_eq!(n, 0, "the proxy closes the idle client");
    let log = p.next_log();
    assert!(log.contains(" cD "), "client timeout: {log}");

    let cfg = format!(
        "global\n    log stdout format raw local0\n\
         defaults\n    mode tcp\n    log global\n    option tcplog\n    timeout connect 2s\n\
         frontend fe\n    bind fd@3\n    timeout client 10s\n    default_backend be\n\
         backend be\n    timeout server 300ms\n    server s1 {}\n",
        be.addr
    );
    let p = Proxy::start(&cfg);
    let mut c = p.connect();
    c.write_all(b"ping").unwrap();
    let n = c
        .read(&mut b)
        .unwrap_or_else(|e| panic!("the proxy must close the client on the server timeout: {e}"));
    assert_eq!(n, 0, "the proxy closes the client on the server timeout");
    let log = p.next_log();
    assert!(log.contains(" sD "), "server timeout: {log}");
}

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
    half_closed(
        "timeout_client_fin_after_the_server_half_closes",
        "client-fin",
    );
}

/// `timeout server-fin`, symmetric: the server side's timeout once the
/// client's FIN was passed on to the server. The client's own timeouts
/// (client-fin included) do not end this stream: the client has nothing
/// left to do but read.
#[test]
fn timeout_server_fin_after_the_client_half_closes() {
    half_closed(
        "timeout_server_fin_after_the_client_half_closes",
        "server-fin",
    );
}

/// One side sends its FIN (the server for `client-fin`, the client for
/// `server-fin`), the other stays silent with its side open: the proxy
/// gives up on the silent side after the `-fin` timeout, not the 10 s one.
fn half_closed(test: &str, timeout: &str) {
    let (be, servers) = Backend::handing();
    let cfg = config(
        "",
        &format!(
            "    timeout connect 1s\n    timeout client 10s\n    timeout server 10s\n    timeout {timeout} 300ms\n"
        ),
        &format!("    server s1 {}\n", be.addr),
    );
    for (name, prog) in programs(test) {
        let p = start(name, &prog, &cfg);
        let mut c = p.connect();
        c.write_all(b"x").unwrap();
        let mut s = servers.recv_timeout(DEADLINE).unwrap();
        let mut b = [0u8; 1];
        s.read_exact(&mut b).unwrap();
        let (rest, fin, closed, code) = if timeout == "client-fin" {
            s.write_all(b"hi").unwrap();
            s.shutdown(Shutdown::Write).unwrap();
            let (got, fin) = read_until_closed(&mut c, DEADLINE, name);
            assert_eq!(got, b"hi", "{name}");
            // The client says nothing more and keeps its side open.
            let (rest, closed) = read_until_closed(&mut s, LATE, name);
            (rest, fin, closed, "cD")
        } else {
            c.shutdown(Shutdown::Write).unwrap();
            let fin = Instant::now();
            // The server sees the FIN, then stays silent with its side open.
            assert_eq!(s.read(&mut b).unwrap(), 0, "{name}: FIN passed on");
            let (rest, closed) = read_until_closed(&mut c, LATE, name);
            (rest, fin, closed, "sD")
        };
        assert!(rest.is_empty(), "{name}: {rest:?}");
        fired(name, Duration::from_millis(300), closed - fin);
        let log = p.next_tcplog();
        assert_eq!(log.termination, code, "{name}: {log:?}");
        if code == "cD" {
            assert_eq!(log.bytes, "2", "{name}: {log:?}");
        }
    }
}
