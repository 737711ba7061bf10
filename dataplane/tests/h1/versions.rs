//! The request line's method and version as HAProxy's HTTP analyser takes
//! them: `PRI` (the HTTP/2 preface's method) is an invalid request, counted
//! in `ereq` and `req_tot` once, logged `<BADREQ>` with PR; a whole HTTP/2
//! preface on a clear-text bind gets the same 400 from ringlb (haproxy
//! would upgrade the connection to HTTP/2, docs/differences.md).

use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use crate::harness::{read_until_closed, start, TempDir, DEADLINE};
use crate::server::{Answer, Seen, Server};

fn ok(_: &Seen) -> Answer {
    Answer::Send(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".to_vec())
}

/// FRONTEND `(ereq, req_tot, hrsp_4xx)` once no stream is current.
fn counters(sock: &str) -> Vec<u64> {
    crate::server::settled_stat(sock, "fe,FRONTEND", &["ereq", "req_tot", "hrsp_4xx"])
}

fn pri_is_a_bad_request(name: &str, program: &Path) {
    let srv = Server::start(ok);
    let dir = TempDir::new("versions");
    let sock = format!("{}/s.sock", dir.0.display());
    let p = start(
        name,
        program,
        &format!(
            "global\n    log stdout format raw local0\n    stats socket {sock} level admin\n\
             defaults\n    mode http\n    log global\n    log-format \"%ST %Tr %tsc %{{+Q}}r\"\n    \
             timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n\
             frontend fe\n    bind fd@3\n    default_backend be\nbackend be\n    server s1 {}\n",
            srv.addr
        ),
    );
    // Read the log line of each request right after it (two cores may
    // log back-to-back streams out of order).
    let send = |req: &[u8]| {
        let mut c = TcpStream::connect_timeout(&p.addr, DEADLINE).unwrap();
        c.write_all(req).unwrap();
        let got = read_until_closed(&mut c, DEADLINE, "the proxy's answer").0;
        (String::from_utf8_lossy(&got).into_owned(), p.next_log())
    };
    let (got, log) = send(b"PRI / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert!(
        got.starts_with("HTTP/1.1 400 Bad request\r\n"),
        "{name}: {got:?}"
    );
    assert_eq!(log, "400 -1 PR-- \"<BADREQ>\"", "{name}");
    let (got, log) = send(b"pri * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    assert!(
        got.starts_with("HTTP/1.1 400 Bad request\r\n"),
        "{name}: {got:?}"
    );
    assert_eq!(log, "400 -1 PR-- \"<BADREQ>\"", "{name}");
    // A later version leaves as HTTP/1.1; the log keeps what came.
    let (got, log) = send(b"GET /v HTTP/2.0\r\nHost: a\r\nConnection: close\r\n\r\n");
    assert!(got.starts_with("HTTP/1.1 200 OK\r\n"), "{name}: {got:?}");
    assert!(log.ends_with(" ---- \"GET /v HTTP/2.0\""), "{name}: {log}");
    assert_eq!(srv.next().line, "GET /v HTTP/1.1", "{name}");
    assert_eq!(
        counters(&sock),
        [2, 3, 2],
        "{name}: ereq, req_tot, hrsp_4xx"
    );
    assert!(
        srv.nothing_within(Duration::from_millis(100)) && srv.connections() == 1,
        "{name}: only the GET reached the server"
    );
}

on_both!(
    pri_is_a_bad_request,
    pri_is_a_bad_request_on_haproxy,
    pri_is_a_bad_request_on_ringlb
);
