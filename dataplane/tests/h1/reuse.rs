//! Server connections across clients: `http-reuse safe` (the default)
//! never hands a client's first request another client's idle
//! connection; `never` keeps a session's connection for its own next
//! request only; an idle connection the
//! server closed is not used.

use std::path::Path;
use std::time::Duration;

use crate::harness::start;
use crate::server::{config, ok, Answer, Client, Seen, Server};

fn conn_id(s: &Seen) -> Answer {
    ok(&s.conn.to_string())
}

/// Requests of two clients, one after the other: which server
/// connection each used.
fn two_clients(addr: std::net::SocketAddr) -> (String, String, String) {
    let mut a = Client::connect(addr);
    a.send(b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\n");
    let a1 = String::from_utf8(a.response(false).body).unwrap();
    let mut b = Client::connect(addr);
    b.send(b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\n");
    let b1 = String::from_utf8(b.response(false).body).unwrap();
    a.send(b"GET /2 HTTP/1.1\r\nHost: a\r\n\r\n");
    let a2 = String::from_utf8(a.response(false).body).unwrap();
    (a1, b1, a2)
}

fn reuse_safe(name: &str, program: &Path) {
    let srv = Server::start(conn_id);
    let p = start(name, program, &config(&[format!("s1 {}", srv.addr)], ""));
    let (a1, b1, a2) = two_clients(p.addr);
    assert_ne!(
        a1, b1,
        "{name}: a first request got another client's connection"
    );
    // a's second request may use any idle connection (its own or b's).
    assert!(a2 == a1 || a2 == b1, "{name}: {a1} {b1} {a2}");
}
on_both!(reuse_safe, reuse_safe_on_haproxy, reuse_safe_on_ringlb);

fn reuse_never(name: &str, program: &Path) {
    let srv = Server::start(conn_id);
    let p = start(
        name,
        program,
        &config(&[format!("s1 {}", srv.addr)], "http-reuse never"),
    );
    let (a1, b1, a2) = two_clients(p.addr);
    // Never shared between sessions, but a session keeps its own.
    assert!(a1 != b1 && a2 == a1, "{name}: {a1} {b1} {a2}");
    assert_eq!(srv.connections(), 2, "{name}: one connection per client");
}
on_both!(reuse_never, reuse_never_on_haproxy, reuse_never_on_ringlb);

fn close_after_first(s: &Seen) -> Answer {
    // The first connection's first answer says keep-alive, then the
    // server closes it while idle.
    if s.conn == 0 {
        Answer::SendClose(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n0".to_vec())
    } else {
        ok(&s.conn.to_string())
    }
}

/// The server closes an idle kept connection: the next request goes
/// over a new one and succeeds.
fn idle_closed_by_server(name: &str, program: &Path) {
    let srv = Server::start(close_after_first);
    let p = start(
        name,
        program,
        &config(&[format!("s1 {}", srv.addr)], "http-reuse always"),
    );
    let mut a = Client::connect(p.addr);
    a.send(b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(a.response(false).body, b"0", "{name}");
    std::thread::sleep(Duration::from_millis(100));
    let mut b = Client::connect(p.addr);
    b.send(b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\n");
    let r = b.response(false);
    assert_eq!((r.status, r.body.as_slice()), (200, &b"1"[..]), "{name}");
}
on_both!(
    idle_closed_by_server,
    idle_closed_by_server_on_haproxy,
    idle_closed_by_server_on_ringlb
);
