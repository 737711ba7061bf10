//! Logs: the `option tcplog` line next to haproxy's (fields, timers, queue
//! positions, counters at log time), termination codes, UNIX clients, and
//! log lines for clients that go away early.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use crate::harness::{
    self, config, echo, exchange, log_config, logged_config, masked, programs, read_until_closed,
    start, stays_open, without_counters, Backend, HeldBackend, Proxy, TcpLog, DEADLINE,
};

/// A client that resets while it waits in the accept queue is logged with
/// its address, as accept(2) returned it (getpeername on a reset socket
/// fails, and the line used to say `unix:1`).
#[test]
fn a_client_that_resets_before_it_is_served_is_logged_with_its_address() {
    let be = HeldBackend::new();
    let p = Proxy::start(&format!(
        "global\n    maxconn 1\n    nbthread 1\n    log stdout format raw local0\n\
         defaults\n    mode tcp\n    log global\n    option tcplog\n\
         \x20   timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n\
         frontend fe\n    bind fd@3\n    default_backend be\n\
         backend be\n    server s1 {}\n",
        be.be.addr
    ));
    // The one slot is held.
    let mut first = p.connect();
    std::io::Write::write_all(&mut first, &[1]).unwrap();
    assert_eq!(be.arrived.recv_timeout(DEADLINE).unwrap(), 1);
    // The second client waits in the accept queue, then resets.
    let second = TcpStream::connect_timeout(&p.addr, DEADLINE).unwrap();
    let local = second.local_addr().unwrap();
    socket2::SockRef::from(&second)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(second);
    be.release.send(()).unwrap();
    first.shutdown(std::net::Shutdown::Write).unwrap();
    let mut got = Vec::new();
    std::io::Read::read_to_end(&mut first, &mut got).unwrap();
    assert_eq!(got, [b'k', 1]);
    let mut lines = vec![p.next_tcplog(), p.next_tcplog()];
    lines.sort_by_key(|l| l.client.clone());
    let reset = lines
        .iter()
        .find(|l| l.client != first.local_addr().unwrap().to_string())
        .unwrap_or_else(|| panic!("no line for the reset client: {lines:?}"));
    assert_eq!(reset.client, local.to_string(), "{lines:?}");
}

#[test]
fn a_frontend_without_backend_closes_like_haproxy() {
    // haproxy 2.6 logs "fe fe/<NOSRV> -1/-1/0 0 SC 1/1/0/0/0 0/0" and the
    // client sees a clean close.
    let p = Proxy::start(
        "global\n    log stdout format raw local0\n\
         defaults\n    mode tcp\n    log global\n    option tcplog\n    timeout connect 1s\n    timeout client 10s\n    timeout server 10s\n\
         frontend fe\n    bind fd@3\n",
    );
    let mut c = p.connect();
    c.write_all(b"hello").unwrap();
    let mut got = Vec::new();
    c.read_to_end(&mut got).expect("a clean close, not a reset");
    assert!(got.is_empty());
    let log = p.next_log();
    assert!(log.contains("] fe fe/<NOSRV> -1/-1/"), "{log}");
    assert!(log.ends_with(" 0 SC 1/1/0/0/0 0/0"), "{log}");
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
        // Timers of the same order on loopback (a loaded 2-core CI box
        // delays either run by tens of ms: 54 ms seen once).
        for (a, b, t) in [
            (&theirs.tw, &ours.tw, "Tw"),
            (&theirs.tc, &ours.tc, "Tc"),
            (&theirs.tt, &ours.tt, "Tt"),
        ] {
            assert!(
                (TcpLog::ms(a) - TcpLog::ms(b)).abs() <= 250,
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

/// %Tc is the connect time alone: a stream that waited a second in a
/// server's queue logs `1000/0/1000`, not `1000/1000/1000` (the connect
/// timer started before the queue).
fn queued_stream_logs_its_wait_in_tw_not_tc(name: &str, program: &Path) {
    let be = Backend::echo();
    let p = start(
        name,
        program,
        &logged_config(
            "    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n    timeout queue 10s\n",
            &format!("    server s1 {} maxconn 1\n", be.addr),
        ),
    );
    let mut holder = p.connect();
    holder.write_all(b"a").unwrap();
    let mut one = [0u8; 1];
    holder.read_exact(&mut one).unwrap();
    // The holder has the server's only slot: this one queues.
    let mut queued = p.connect();
    queued.write_all(b"b").unwrap();
    let hold = Duration::from_millis(1000);
    let held_since = Instant::now();
    let releaser = thread::spawn(move || {
        // The scenario itself: the slot is held for a second.
        thread::sleep(hold);
        drop(holder);
    });
    queued.read_exact(&mut one).unwrap();
    assert_eq!(&one, b"b");
    assert!(
        held_since.elapsed() >= hold,
        "{name}: served before the slot was free"
    );
    drop(queued);
    releaser.join().unwrap();
    let logs = [p.next_tcplog(), p.next_tcplog()];
    let l = logs.iter().max_by_key(|l| TcpLog::ms(&l.tw)).unwrap();
    let (tw, tc, tt) = (TcpLog::ms(&l.tw), TcpLog::ms(&l.tc), TcpLog::ms(&l.tt));
    assert!((900..3000).contains(&tw), "{name}: Tw in {l:?}");
    assert!((0..200).contains(&tc), "{name}: Tc in {l:?}");
    // Tw counts from the accept, plus one in TCP mode (no request date):
    // Tt may be a little under Tw + Tc.
    assert!(tt >= 900, "{name}: Tt in {l:?}");
    assert_eq!(l.termination, "--", "{name}: {l:?}");
}

on_both!(
    queued_stream_logs_its_wait_in_tw_not_tc,
    queue_wait_is_not_connect_time_on_haproxy,
    queue_wait_is_not_connect_time_on_ringlb
);

/// A server connection that lacks a local resource: a fixed `source`
/// address and port already taken (bind() fails with EADDRINUSE), or a
/// source port whose four-tuple to the server is already in use (connect()
/// fails with EADDRNOTAVAIL, HAProxy's "no free ports"). HAProxy's
/// tcp_connect_server returns SF_ERR_RESOURCE for both; the stream retries
/// at once, without the turn-around timer ("likely a source port allocation
/// problem"), and once out of retries ends as any failed connect: haproxy
/// 2.6 logs `be/s1 1/-1/0 0 SC ... 0/0/2` with `retries 2`, not RC.
#[test]
fn a_connect_that_lacks_a_source_port_is_retried_at_once_as_haproxy() {
    for case in ["bind", "connect"] {
        let be = Backend::echo();
        // Kept for the whole case: the source port the servers must use.
        let (_held, port) = match case {
            // Listening (std sets SO_REUSEADDR): no other socket may bind it.
            "bind" => {
                let l = std::net::TcpListener::bind("127.0.0.2:0").unwrap();
                let port = l.local_addr().unwrap().port();
                (Box::new(l) as Box<dyn std::any::Any>, port)
            }
            // Connected from 127.0.0.2:port to the server: the proxy may
            // bind the port (SO_REUSEADDR on both), not connect from it.
            _ => {
                let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
                    .unwrap();
                s.set_reuse_address(true).unwrap();
                s.bind(
                    &"127.0.0.2:0"
                        .parse::<std::net::SocketAddr>()
                        .unwrap()
                        .into(),
                )
                .unwrap();
                s.connect_timeout(&be.addr.into(), DEADLINE).unwrap();
                let port = s.local_addr().unwrap().as_socket().unwrap().port();
                (Box::new(s) as Box<dyn std::any::Any>, port)
            }
        };
        // timeout connect 200ms: two turn-arounds would add 400ms to %Tt.
        let cfg = log_config(&format!(
            "    retries 2\n    server s1 {} source 127.0.0.2:{port}\n",
            be.addr
        ));
        let mut lines = Vec::new();
        for (name, prog) in
            programs("a_connect_that_lacks_a_source_port_is_retried_at_once_as_haproxy")
        {
            let what = format!("{name} ({case})");
            let p = start(name, &prog, &cfg);
            let mut c = p.connect();
            c.write_all(b"hello").unwrap();
            let (got, _) = read_until_closed(&mut c, DEADLINE, &what);
            assert!(got.is_empty(), "{what}: {got:?}");
            let log = p.next_tcplog();
            let m = without_counters(masked(&log, &what));
            assert_eq!(
                (&*m.termination, &*m.server, &*m.retries, &*m.tc, &*m.bytes),
                ("SC", "s1", "2", "-1", "0"),
                "{what}: {log:?}"
            );
            assert!(
                TcpLog::ms(&log.tt) < 150,
                "{what}: the retries waited a turn-around: {log:?}"
            );
            lines.push((name, m));
        }
        if let [(_, theirs), (_, ours)] = &lines[..] {
            assert_eq!(ours, theirs, "{case}: ringlb's line differs from haproxy's");
        }
    }
}

/// `option dontlog-normal` drops the line of a stream that went well;
/// `option log-separate-errors` sends the others at level `err` (`<3>`
/// in the short format) where a normal one goes at `info`
/// (`<6>`), as haproxy does: a served exchange, then a client that
/// resets mid-stream (`CD`).
#[test]
fn dontlog_normal_and_log_separate_errors_are_haproxy_s() {
    let good = Backend::echo();
    for (name, prog) in programs("dontlog_normal_and_log_separate_errors_are_haproxy_s") {
        for dontlog in [false, true] {
            let cfg = format!(
                "global\n    log stdout format short local0\n\
                 defaults\n    mode tcp\n    log global\n    option tcplog\n\
                 \x20   option log-separate-errors\n{}\
                 \x20   timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n    retries 1\n\
                 frontend fe\n    bind fd@3\n    default_backend be\n\
                 backend be\n    server s1 {}\n",
                if dontlog { "    option dontlog-normal\n" } else { "" },
                good.addr
            );
            let p = start(name, &prog, &cfg);
            // A normal exchange.
            let mut c = p.connect();
            echo(&mut c, b"ping", name);
            c.shutdown(Shutdown::Write).unwrap();
            let (rest, _) = read_until_closed(&mut c, DEADLINE, name);
            assert!(rest.is_empty(), "{name}");
            if dontlog {
                // Nothing for it; the next line is the error's.
                assert!(
                    p.log_within(Duration::from_millis(300)).is_none(),
                    "{name}: a normal stream logged under dontlog-normal"
                );
            } else {
                let l = p.next_log();
                assert!(l.starts_with("<6>"), "{name}: {l}");
            }
            // A client that resets mid-stream: an error (`CD`).
            let mut c = p.connect();
            echo(&mut c, b"ping", name);
            socket2::SockRef::from(&c)
                .set_linger(Some(Duration::ZERO))
                .unwrap();
            drop(c);
            let l = p.next_log();
            assert!(l.starts_with("<3>"), "{name} (dontlog {dontlog}): {l}");
            assert!(l.contains(" CD "), "{name}: {l}");
        }
    }
}
