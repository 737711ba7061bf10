//! What the proxy answers itself, and how it logs it: a refused request
//! (400, the server sees nothing), a request that never completes (408),
//! a server that closes or answers garbage (502), one that is silent
//! (504), no server at all (503).

use std::path::Path;
use std::time::Duration;

use crate::harness::{refused_addr, start};
use crate::server::{config, next_http_log, ok, Answer, Client, Seen, Server};

fn by_path(s: &Seen) -> Answer {
    match s.line.split(' ').nth(1).unwrap_or("") {
        "/close" => Answer::Close,
        "/garbage" => Answer::SendClose(b"HTTP/1.1 abc Nope\r\n\r\n".to_vec()),
        "/hang" => Answer::Hang,
        _ => ok("fine"),
    }
}

fn refused_request(name: &str, program: &Path) {
    let srv = Server::start(by_path);
    let p = start(name, program, &config(&[format!("s1 {}", srv.addr)], ""));
    for bad in [
        &b"GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx",
        b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: +4\r\n\r\nabcd",
        b"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n",
    ] {
        let mut c = Client::connect(p.addr);
        c.send(bad);
        let r = c.response(false);
        assert_eq!(r.status, 400, "{name}: {:?}", String::from_utf8_lossy(bad));
        let l = next_http_log(&p);
        assert_eq!(
            (
                l.status.as_str(),
                l.termination.as_str(),
                l.request.as_str()
            ),
            ("400", "PR--", "\"<BADREQ>\""),
            "{name}"
        );
        assert_eq!(l.backend_server, "fe/<NOSRV>", "{name}");
    }
    assert!(
        srv.nothing_within(Duration::from_millis(200)),
        "{name}: the server saw a refused request"
    );
}
on_both!(
    refused_request,
    refused_request_on_haproxy,
    refused_request_on_ringlb
);

fn server_failures(name: &str, program: &Path) {
    let srv = Server::start(by_path);
    let p = start(
        name,
        program,
        &config(&[format!("s1 {}", srv.addr)], "timeout server 300ms"),
    );
    for (path, status, term) in [
        ("/close", 502, "SH--"),
        ("/garbage", 502, "PH--"),
        ("/hang", 504, "sH--"),
    ] {
        let mut c = Client::connect(p.addr);
        c.send(format!("GET {path} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes());
        let r = c.response(false);
        assert_eq!(r.status, status, "{name}: {path}");
        let l = next_http_log(&p);
        assert_eq!(
            (l.status.as_str(), l.termination.as_str()),
            (status.to_string().as_str(), term),
            "{name}: {path}"
        );
    }
}
on_both!(
    server_failures,
    server_failures_on_haproxy,
    server_failures_on_ringlb
);

fn no_server(name: &str, program: &Path) {
    let p = start(
        name,
        program,
        &config(&[format!("s1 {}", refused_addr())], "retries 1"),
    );
    let mut c = Client::connect(p.addr);
    c.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(c.response(false).status, 503, "{name}");
    let l = next_http_log(&p);
    assert_eq!(
        (l.status.as_str(), l.termination.as_str()),
        ("503", "SC--"),
        "{name}"
    );
}
on_both!(no_server, no_server_on_haproxy, no_server_on_ringlb);

/// A request whose head never completes gets a 408 at `timeout
/// http-request`, and the connection closes.
fn slow_request(name: &str, program: &Path) {
    let srv = Server::start(by_path);
    let p = start(
        name,
        program,
        &config(&[format!("s1 {}", srv.addr)], "timeout http-request 300ms"),
    );
    let mut c = Client::connect(p.addr);
    c.send(b"GET / HTTP/1.1\r\nHost: a\r\n");
    let r = c.response(false);
    assert_eq!(r.status, 408, "{name}");
    let l = next_http_log(&p);
    assert_eq!(
        (l.status.as_str(), l.termination.as_str()),
        ("408", "cR--"),
        "{name}"
    );
}
on_both!(
    slow_request,
    slow_request_on_haproxy,
    slow_request_on_ringlb
);

/// After a 503 (no server) or a 502 the proxy generated, the client's
/// keep-alive connection goes on: the next request is answered on it.
fn keep_alive_after_errors(name: &str, program: &Path) {
    let p = start(
        name,
        program,
        &config(&[format!("s1 {}", refused_addr())], "retries 0"),
    );
    let mut c = Client::connect(p.addr);
    c.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(c.response(false).status, 503, "{name}");
    c.send(b"GET /again HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(
        c.response(false).status,
        503,
        "{name}: the connection went on"
    );
    let srv = Server::start(by_path);
    let p = start(name, program, &config(&[format!("s1 {}", srv.addr)], ""));
    let mut c = Client::connect(p.addr);
    c.send(b"GET /close HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(c.response(false).status, 502, "{name}");
    c.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(c.response(false).body, b"fine", "{name}: after the 502");
}
on_both!(
    keep_alive_after_errors,
    keep_alive_after_errors_on_haproxy,
    keep_alive_after_errors_on_ringlb
);

/// `option abortonclose`: a request waiting in the queue is dropped when
/// its client closes (CQ), and the server never sees it.
fn abortonclose(name: &str, program: &Path) {
    let srv = Server::start(by_path);
    let p = start(
        name,
        program,
        &config(
            &[format!("s1 {} maxconn 1", srv.addr)],
            "option abortonclose\ntimeout queue 5s",
        ),
    );
    let mut busy = Client::connect(p.addr);
    busy.send(b"GET /hang HTTP/1.1\r\nHost: a\r\n\r\n");
    let _ = srv.next();
    let mut queued = Client::connect(p.addr);
    queued.send(b"GET /queued HTTP/1.1\r\nHost: a\r\n\r\n");
    std::thread::sleep(Duration::from_millis(300));
    queued.w.shutdown(std::net::Shutdown::Write).unwrap();
    let line = p.next_log();
    let l = crate::server::HttpLog::parse(&line);
    assert_eq!(
        (l.status.as_str(), l.termination.as_str()),
        ("-1", "CQ--"),
        "{name}: {line}"
    );
    let tw: i64 = line
        .split(' ')
        .nth(4)
        .unwrap()
        .split('/')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    // The client closed 300 ms after its request: about that long queued
    // (a -1 or 0 would say the queue time was not taken; 50 leaves room
    // for a loaded machine that saw the request late).
    assert!(tw >= 50, "{name}: the time queued: {line}");
    assert!(
        srv.nothing_within(Duration::from_millis(100)),
        "{name}: the server saw the aborted request"
    );
}
on_both!(
    abortonclose,
    abortonclose_on_haproxy,
    abortonclose_on_ringlb
);

/// Empty connections: logged as CR (closed) and cR with a 408 (timed
/// out) by default; `dontlognull` logs neither (the 408 is still sent);
/// `http-ignore-probes` neither sends the 408 nor logs.
fn empty_connections(name: &str, program: &Path) {
    for (opt, logged, answered) in [
        ("", true, true),
        ("option dontlognull", false, true),
        ("option http-ignore-probes", false, false),
    ] {
        let srv = Server::start(by_path);
        let extra = format!("timeout http-request 300ms\n{opt}");
        let p = start(
            name,
            program,
            &config(&[format!("s1 {}", srv.addr)], &extra),
        );
        drop(Client::connect(p.addr));
        let mut idle = Client::connect(p.addr);
        let got_408 = idle.try_response(false).is_some_and(|r| r.status == 408);
        assert_eq!(got_408, answered, "{name} {opt:?}: the 408");
        let mut c = Client::connect(p.addr);
        c.send(b"GET /ok HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(c.response(false).status, 200, "{name} {opt:?}");
        let mut lines = Vec::new();
        loop {
            let l = p.next_log();
            let done = l.contains("GET /ok");
            lines.push(l);
            if done {
                break;
            }
        }
        let empties = lines.iter().filter(|l| l.contains("<BADREQ>")).count();
        assert_eq!(
            empties,
            if logged { 2 } else { 0 },
            "{name} {opt:?}: {lines:#?}"
        );
    }
}
on_both!(
    empty_connections,
    empty_connections_on_haproxy,
    empty_connections_on_ringlb
);
