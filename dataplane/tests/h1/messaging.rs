//! Messages through the proxy: keep-alive, pipelining, bodies in each
//! framing, HEAD / 204 / 304, 100-continue, X-Forwarded-For.

use std::path::Path;

use crate::harness::start;
use crate::server::{config, next_http_log, ok, Answer, Client, Seen, Server};

fn echo_path(s: &Seen) -> Answer {
    ok(s.line.split(' ').nth(1).unwrap_or(""))
}

/// Two requests on one client connection: both answered, both reach the
/// server on one server connection, each logged with its status.
fn keep_alive(name: &str, program: &Path) {
    let srv = Server::start(echo_path);
    let p = start(name, program, &config(&[format!("s1 {}", srv.addr)], ""));
    let mut c = Client::connect(p.addr);
    c.send(b"GET /one HTTP/1.1\r\nHost: a\r\n\r\n");
    let r1 = c.response(false);
    c.send(b"GET /two HTTP/1.1\r\nHost: a\r\n\r\n");
    let r2 = c.response(false);
    assert_eq!(
        (r1.status, r1.body.as_slice()),
        (200, &b"/one"[..]),
        "{name}"
    );
    assert_eq!(
        (r2.status, r2.body.as_slice()),
        (200, &b"/two"[..]),
        "{name}"
    );
    let (s1, s2) = (srv.next(), srv.next());
    assert_eq!(s1.line, "GET /one HTTP/1.1", "{name}");
    assert_eq!(s2.line, "GET /two HTTP/1.1", "{name}");
    assert_eq!(s1.conn, s2.conn, "{name}: the server connection was kept");
    let (l1, l2) = (next_http_log(&p), next_http_log(&p));
    assert_eq!(
        (
            l1.status.as_str(),
            l1.termination.as_str(),
            l1.request.as_str()
        ),
        ("200", "----", "\"GET /one HTTP/1.1\""),
        "{name}"
    );
    assert_eq!(l2.request, "\"GET /two HTTP/1.1\"", "{name}");
    assert_eq!(l1.backend_server, "be/s1", "{name}");
}
on_both!(keep_alive, keep_alive_on_haproxy, keep_alive_on_ringlb);

/// Requests sent back to back before any answer are answered in order.
fn pipelining(name: &str, program: &Path) {
    let srv = Server::start(echo_path);
    let p = start(name, program, &config(&[format!("s1 {}", srv.addr)], ""));
    let mut c = Client::connect(p.addr);
    c.send(b"GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\nGET /c HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    for want in ["/a", "/b", "/c"] {
        let r = c.response(false);
        assert_eq!(r.body, want.as_bytes(), "{name}");
    }
    assert!(c.closed(), "{name}: closed after the request that asked");
}
on_both!(pipelining, pipelining_on_haproxy, pipelining_on_ringlb);

fn body_back(s: &Seen) -> Answer {
    let mut r = format!(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n",
        s.body.len()
    )
    .into_bytes();
    r.extend_from_slice(&s.body);
    r.extend_from_slice(b"\r\n0\r\n\r\n");
    Answer::Send(r)
}

/// A Content-Length body and a chunked body (extensions, trailers, split
/// in pieces) reach the server whole; a chunked response reaches the
/// client whole.
fn request_bodies(name: &str, program: &Path) {
    let srv = Server::start(body_back);
    let p = start(name, program, &config(&[format!("s1 {}", srv.addr)], ""));
    let mut c = Client::connect(p.addr);
    c.send(b"POST /cl HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world");
    assert_eq!(c.response(false).body, b"hello world", "{name}");
    assert_eq!(srv.next().body, b"hello world", "{name}");
    c.send(
        b"POST /ch HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n",
    );
    std::thread::sleep(std::time::Duration::from_millis(50));
    c.send(b"5\r\n worl\r\n1\r\nd\r\n0\r\nX-Trailer: t\r\n\r\n");
    let r = c.response(false);
    assert_eq!(r.body, b"hello world", "{name}");
    let seen = srv.next();
    assert_eq!(seen.body, b"hello world", "{name}");
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let mut req = format!(
        "POST /big HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n",
        big.len()
    )
    .into_bytes();
    req.extend_from_slice(&big);
    c.send(&req);
    assert_eq!(c.response(false).body, big, "{name}: 300 kB both ways");
}
on_both!(
    request_bodies,
    request_bodies_on_haproxy,
    request_bodies_on_ringlb
);

fn by_path(s: &Seen) -> Answer {
    match s.line.split(' ').nth(1).unwrap_or("") {
        "/204" => Answer::Send(b"HTTP/1.1 204 No Content\r\n\r\n".to_vec()),
        "/304" => Answer::Send(b"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n".to_vec()),
        "/close" => Answer::SendClose(b"HTTP/1.1 200 OK\r\n\r\nuntil the end".to_vec()),
        "/head" => Answer::Send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n".to_vec()),
        _ => ok("x"),
    }
}

/// Responses without a body keep the connection usable; a response
/// delimited by the server's close reaches the client whole and closes
/// it.
fn bodiless_and_close_delimited(name: &str, program: &Path) {
    let srv = Server::start(by_path);
    let p = start(name, program, &config(&[format!("s1 {}", srv.addr)], ""));
    let mut c = Client::connect(p.addr);
    c.send(b"HEAD /head HTTP/1.1\r\nHost: a\r\n\r\n");
    let r = c.response(true);
    assert_eq!(
        (r.status, r.header("content-length")),
        (200, Some("1000")),
        "{name}"
    );
    c.send(b"GET /204 HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(c.response(false).status, 204, "{name}");
    c.send(b"GET /304 HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(c.response(false).status, 304, "{name}");
    c.send(b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(c.response(false).body, b"x", "{name}: still in step");
    c.send(b"GET /close HTTP/1.1\r\nHost: a\r\n\r\n");
    let r = c.response(false);
    assert_eq!(r.body, b"until the end", "{name}");
}
on_both!(
    bodiless_and_close_delimited,
    bodiless_and_close_delimited_on_haproxy,
    bodiless_and_close_delimited_on_ringlb
);

fn continue_then_ok(s: &Seen) -> Answer {
    ok(&String::from_utf8_lossy(&s.body))
}

/// `Expect: 100-continue`: the client waits for the interim response
/// before its body, as a real client does.
fn expect_continue(name: &str, program: &Path) {
    // The test server reads the body at once; HAProxy answers the 100
    // itself when the server does not (it forwards the Expect header).
    let srv = Server::start(continue_then_ok);
    let p = start(name, program, &config(&[format!("s1 {}", srv.addr)], ""));
    let mut c = Client::connect(p.addr);
    c.send(b"POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    // Whether the interim answer comes first or not, the body completes
    // the request.
    c.send(b"data");
    let mut r = c.response(false);
    if r.status == 100 {
        r = c.response(false);
    }
    assert_eq!((r.status, r.body.as_slice()), (200, &b"data"[..]), "{name}");
}
on_both!(
    expect_continue,
    expect_continue_on_haproxy,
    expect_continue_on_ringlb
);

fn headers_back(s: &Seen) -> Answer {
    let xff = s.header("x-forwarded-for").unwrap_or("none");
    let xot = s.header("x-original-to").unwrap_or("none");
    ok(&format!("{xff}|{xot}"))
}

/// `option forwardfor`: the client's address is added; `if-none` keeps
/// one the client sent. `option originalto`: the address the client
/// reached, unless in its `except` network.
fn forwardfor(name: &str, program: &Path) {
    let srv = Server::start(headers_back);
    let p = start(
        name,
        program,
        &config(
            &[format!("s1 {}", srv.addr)],
            "option forwardfor if-none\noption originalto",
        ),
    );
    let mut c = Client::connect(p.addr);
    c.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(c.response(false).body, b"127.0.0.1|127.0.0.1", "{name}");
    c.send(b"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 10.1.2.3\r\n\r\n");
    assert_eq!(c.response(false).body, b"10.1.2.3|127.0.0.1", "{name}");
    let p = start(
        name,
        program,
        &config(
            &[format!("s1 {}", srv.addr)],
            "option forwardfor except 127.0.0.0/8\noption originalto except 127.0.0.1",
        ),
    );
    let mut c = Client::connect(p.addr);
    c.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(c.response(false).body, b"none|none", "{name}: excepted");
}
on_both!(forwardfor, forwardfor_on_haproxy, forwardfor_on_ringlb);

fn big(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

/// A Content-Length body echoed with a Content-Length; `/close`: 4 MiB
/// delimited by the server's close.
fn length_back(s: &Seen) -> Answer {
    if s.line.starts_with("GET /close ") {
        let mut r = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
        r.extend_from_slice(&big(4 << 20));
        return Answer::SendClose(r);
    }
    let mut r = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
        s.body.len()
    )
    .into_bytes();
    r.extend_from_slice(&s.body);
    Answer::Send(r)
}

/// With `option splice-auto`, long bodies (a 4 MiB request and its 4 MiB
/// echo, both with Content-Length, then 4 MiB until the server's close)
/// arrive whole and exactly: the keep-alive connection stays in step
/// after the spliced ones. On ringlb, SIGQUIT's flush then finds the
/// pipes the bodies went through (kept for reuse).
fn spliced_bodies(name: &str, program: &Path) {
    let srv = Server::start(length_back);
    let p = start(
        name,
        program,
        &config(&[format!("s1 {}", srv.addr)], "option splice-auto"),
    );
    let mut c = Client::connect(p.addr);
    for size in [4 << 20, 3 * 1024 * 1024 + 17] {
        let body = big(size);
        let mut req =
            format!("POST /big HTTP/1.1\r\nHost: a\r\nContent-Length: {size}\r\n\r\n").into_bytes();
        req.extend_from_slice(&body);
        c.send(&req);
        let r = c.response(false);
        assert!(r.body == body, "{name}: {size} bytes back, intact");
        assert!(
            srv.next().body == body,
            "{name}: the server got {size} bytes"
        );
    }
    c.send(b"GET /small HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nok");
    assert_eq!(c.response(false).body, b"ok", "{name}: still in step");
    c.send(b"GET /close HTTP/1.1\r\nHost: a\r\n\r\n");
    let r = c.response(false);
    assert!(r.body == big(4 << 20), "{name}: 4 MiB until close, intact");
    if name == "ringlb" {
        p.signal(nix::sys::signal::Signal::SIGQUIT);
        let total = loop {
            let line = p.stderr.recv_timeout(crate::harness::DEADLINE).unwrap();
            if line.starts_with("Total:") {
                break line;
            }
        };
        let pipes: usize = total
            .split_whitespace()
            .rev()
            .nth(2)
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no pipe count in {total:?}"));
        assert!(pipes >= 1, "no body went through a pipe: {total}");
    }
}
on_both!(
    spliced_bodies,
    spliced_bodies_on_haproxy,
    spliced_bodies_on_ringlb
);
