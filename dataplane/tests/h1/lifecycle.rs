//! The process around HTTP sessions: a soft stop closes idle keep-alive
//! connections at once and lets an in-flight request finish (with
//! `Connection: close`), then the process exits; a storm of short
//! keep-alive clients leaves no connection behind.

use std::path::Path;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::harness::{start, vm_rss_kib, wait_signal_ready, DEADLINE};
use crate::server::{config, ok, Answer, Client, Seen, Server};

fn slow_ok(s: &Seen) -> Answer {
    if s.line.contains("/slow") {
        std::thread::sleep(Duration::from_millis(400));
    }
    ok("done")
}

fn soft_stop(name: &str, program: &Path) {
    let srv = Server::start(slow_ok);
    let mut p = start(name, program, &config(&[format!("s1 {}", srv.addr)], ""));
    wait_signal_ready(p.child.id(), Signal::SIGUSR1);
    // An idle keep-alive client and a client with a request in flight.
    let mut idle = Client::connect(p.addr);
    idle.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(idle.response(false).status, 200, "{name}");
    let mut busy = Client::connect(p.addr);
    busy.send(b"GET /slow HTTP/1.1\r\nHost: a\r\n\r\n");
    let _ = srv.next();
    let _ = srv.next();
    p.signal(Signal::SIGUSR1);
    let r = busy.response(false);
    assert_eq!((r.status, r.body.as_slice()), (200, &b"done"[..]), "{name}");
    assert!(
        r.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
            || busy.closed(),
        "{name}: the in-flight request's connection closes after it"
    );
    assert!(
        idle.closed(),
        "{name}: the idle keep-alive connection was closed"
    );
    let st = p.wait_exit(DEADLINE);
    assert!(st.is_some_and(|s| s.success()), "{name}: exit {st:?}");
}
on_both!(soft_stop, soft_stop_on_haproxy, soft_stop_on_ringlb);

/// Thousands of short keep-alive clients (two requests each, some
/// leaving mid-request): every finished one was answered, and the
/// process holds no more memory than after the first few hundred.
fn many_short_clients(name: &str, program: &Path) {
    let srv = Server::start(|_| ok("k"));
    let p = start(name, program, &config(&[format!("s1 {}", srv.addr)], ""));
    let run = |n: usize| {
        for i in 0..n {
            let mut c = Client::connect(p.addr);
            c.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
            assert_eq!(c.response(false).body, b"k", "{name}");
            if i % 7 == 0 {
                // Leaves in the middle of a head.
                c.send(b"GET / HTTP/1.1\r\nHo");
                continue;
            }
            c.send(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
            assert_eq!(c.response(false).body, b"k", "{name}");
        }
    };
    let fds = |pid: u32| {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .count()
    };
    run(300);
    let before = vm_rss_kib(p.child.id());
    let fds_before = fds(p.child.id());
    run(1500);
    let after = vm_rss_kib(p.child.id());
    let fds_after = fds(p.child.id());
    assert!(
        after < before + 4096,
        "{name}: RSS grew from {before} KiB to {after} KiB"
    );
    // Idle server connections kept for reuse may come and go; clients
    // leave nothing behind.
    assert!(
        fds_after <= fds_before + 8,
        "{name}: {fds_before} fds after 300 clients, {fds_after} after 1,800"
    );
}
on_both!(
    many_short_clients,
    many_short_clients_on_haproxy,
    many_short_clients_on_ringlb
);

/// A storm of 200 clients against `maxconn 20`: every one is answered
/// (the others wait in the accept queue), and after it a new client is
/// served at once: the limit is not wedged.
fn storm_past_maxconn(name: &str, program: &Path) {
    let srv = Server::start(|_| ok("s"));
    let cfg = config(&[format!("s1 {}", srv.addr)], "")
        .replace("frontend fe\n", "frontend fe\n    maxconn 20\n");
    let p = start(name, program, &cfg);
    let addr = p.addr;
    let clients: Vec<_> = (0..200)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = Client::connect(addr);
                c.send(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
                c.response(false).status
            })
        })
        .collect();
    let statuses: Vec<u16> = clients.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(statuses.iter().all(|s| *s == 200), "{name}: {statuses:?}");
    let started = std::time::Instant::now();
    let mut c = Client::connect(addr);
    c.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(c.response(false).status, 200, "{name}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{name}: the client after the storm waited {:?}",
        started.elapsed()
    );
}
on_both!(
    storm_past_maxconn,
    storm_past_maxconn_on_haproxy,
    storm_past_maxconn_on_ringlb
);

fn big(_: &Seen) -> Answer {
    let body = vec![b'x'; 64 << 20];
    let mut r = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    r.extend_from_slice(&body);
    Answer::Send(r)
}

/// A client that never reads its 64 MiB response (more than the
/// loopback socket buffers hold): `timeout client` ends
/// it (cD in the log) and frees it; the proxy serves the next client.
fn client_never_reads(name: &str, program: &Path) {
    let srv = Server::start(big);
    let p = start(
        name,
        program,
        &config(&[format!("s1 {}", srv.addr)], "timeout client 500ms"),
    );
    let mut c = Client::connect(p.addr);
    c.send(b"GET /big HTTP/1.1\r\nHost: a\r\n\r\n");
    let line = p.next_log();
    assert!(line.contains(" cD"), "{name}: {line}");
    drop(c);
    let mut d = Client::connect(p.addr);
    d.send(b"GET /small HTTP/1.1\r\nHost: a\r\n\r\n");
    let r = d.response(false);
    assert_eq!(r.body.len(), 64 << 20, "{name}");
}
on_both!(
    client_never_reads,
    client_never_reads_on_haproxy,
    client_never_reads_on_ringlb
);

fn hang(_: &Seen) -> Answer {
    Answer::Hang
}

/// `hard-stop-after` bounds a soft stop: a request waiting for its server
/// (timeout server 30 s) is cut when the hard stop comes, and the process
/// exits then, not at the server timeout.
fn hard_stop_after_with_a_request_in_flight(name: &str, program: &Path) {
    let srv = Server::start(hang);
    let cfg = config(&[format!("s1 {}", srv.addr)], "timeout server 30s").replacen(
        "global\n",
        "global\n    hard-stop-after 500ms\n",
        1,
    );
    let mut p = start(name, program, &cfg);
    wait_signal_ready(p.child.id(), Signal::SIGUSR1);
    let mut c = Client::connect(p.addr);
    c.send(b"GET /slow HTTP/1.1\r\nHost: a\r\n\r\n");
    let _ = srv.next();
    let t = std::time::Instant::now();
    p.signal(Signal::SIGUSR1);
    let st = p.wait_exit(Duration::from_secs(5));
    assert!(
        st.is_some(),
        "{name}: still running {:?} after the soft stop",
        t.elapsed()
    );
    assert!(
        c.try_response(false).is_none_or(|r| r.status >= 500),
        "{name}"
    );
}
on_both!(
    hard_stop_after_with_a_request_in_flight,
    hard_stop_after_with_a_request_in_flight_on_haproxy,
    hard_stop_after_with_a_request_in_flight_on_ringlb
);
