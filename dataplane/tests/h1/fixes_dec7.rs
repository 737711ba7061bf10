//! Fixes of 7 December, each checked against haproxy with the same input:
//! typed variables (`bool(true)`, `int`) matched in http-response rules;
//! the bytes on the wire and the bytes counted for the proxy's own
//! answers (a denied request or response, a refused head, a 408, a
//! half-closed client).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::time::Instant;

use crate::harness::{read_until_closed, start, Proxy, TempDir, DEADLINE};
use crate::server::{Answer, Seen, Server};

/// The server's answer: head and body in one write, so both proxies read
/// the body with the head.
fn two_bytes(_: &Seen) -> Answer {
    Answer::Send(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".to_vec())
}

fn cfg(srv: &Server, sock: &str, rules: &str) -> String {
    let mut c = format!(
        "global\n    log stdout format raw local0\n    stats socket {sock} level admin\n\
         defaults\n    mode http\n    log global\n    log-format \"%ST %B %U %tsc %{{+Q}}r\"\n    \
         timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n    \
         timeout http-request 300ms\nfrontend fe\n    bind fd@3\n"
    );
    for l in rules.lines().filter(|l| !l.trim().is_empty()) {
        c.push_str("    ");
        c.push_str(l.trim());
        c.push('\n');
    }
    c.push_str(&format!(
        "    default_backend be\nbackend be\n    server s1 {}\n",
        srv.addr
    ));
    c
}

/// The next line of the test's log-format: (status, %B, %U, termination,
/// request).
fn next_line(p: &Proxy) -> (String, String, String, String, String) {
    let end = Instant::now() + DEADLINE;
    while Instant::now() < end {
        let l = p.next_log();
        let f: Vec<&str> = l.splitn(5, ' ').collect();
        if f.len() == 5 && f[0].len() == 3 && f[0].bytes().all(|b| b.is_ascii_digit()) {
            return (
                f[0].into(),
                f[1].into(),
                f[2].into(),
                f[3].into(),
                f[4].into(),
            );
        }
    }
    panic!("no log line within {DEADLINE:?}");
}

/// Send `req` on a new connection, read until the proxy closes.
fn raw(p: &Proxy, req: &[u8], half_close: bool) -> Vec<u8> {
    let mut c = TcpStream::connect_timeout(&p.addr, DEADLINE).unwrap();
    c.write_all(req).unwrap();
    if half_close {
        c.shutdown(Shutdown::Write).unwrap();
    }
    read_until_closed(&mut c, DEADLINE, "the proxy's answer").0
}

/// Send `req` (and the client's FIN after it when `half_close`): the
/// client reads `page`, whole, and the log line says `logged` (status, %B,
/// %U, termination).
fn answered(
    p: &Proxy,
    name: &str,
    req: &[u8],
    half_close: bool,
    page: &[u8],
    logged: (&str, &str, &str, &str),
) {
    let got = raw(p, req, half_close);
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(page),
        "{name}"
    );
    let l = next_line(p);
    assert_eq!((&*l.0, &*l.1, &*l.2, &*l.3), logged, "{name}");
}

/// `http-request set-var(txn.x) bool(true)` then `http-response deny if {
/// var(txn.x) -m bool }`: the constant's argument is text (true/false,
/// 1/0), and each typed variable matches as haproxy matches it.
fn typed_vars(name: &str, program: &Path) {
    let srv = Server::start(two_bytes);
    let dir = TempDir::new("fixes");
    let sock = format!("{}/s.sock", dir.0.display());
    let p = start(
        name,
        program,
        &cfg(
            &srv,
            &sock,
            "http-request set-var(txn.rd) bool(true) if { path /bool }\n\
             http-request set-var(txn.rd) bool(false) if { path /false }\n\
             http-request set-var(txn.rd) bool(1) if { path /one }\n\
             http-request set-var(txn.ri) int(5) if { path /int }\n\
             http-request set-var(txn.ri) int(6) if { path /int6 }\n\
             http-request set-var(txn.rf) str(x) if { path /found }\n\
             http-request set-var(txn.p) path\n\
             http-response deny if { var(txn.rd) -m bool }\n\
             http-response deny if { var(txn.ri) -m int 5 }\n\
             http-response deny if { var(txn.rf) -m found }\n\
             http-response deny if { var(txn.p) -m str /str }",
        ),
    );
    for (path, status) in [
        ("/bool", 502),
        ("/false", 200),
        ("/one", 502),
        ("/int", 502),
        ("/int6", 200),
        ("/found", 502),
        ("/str", 502),
        ("/none", 200),
    ] {
        let got = raw(
            &p,
            format!("GET {path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").as_bytes(),
            false,
        );
        assert!(
            got.starts_with(format!("HTTP/1.1 {status} ").as_bytes()),
            "{name}: {path}: {:?}",
            String::from_utf8_lossy(&got)
        );
        assert_eq!(next_line(&p).0, status.to_string(), "{name}: {path}");
    }
}
on_both!(typed_vars, typed_vars_on_haproxy, typed_vars_on_ringlb);

const PAGE_403: &[u8] =
    b"HTTP/1.1 403 Forbidden\r\ncontent-length: 93\r\ncache-control: no-cache\r\n\
content-type: text/html\r\n\r\n<html><body><h1>403 Forbidden</h1>\n\
Request forbidden by administrative rules.\n</body></html>\n";
const PAGE_502: &[u8] =
    b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 107\r\ncache-control: no-cache\r\n\
content-type: text/html\r\n\r\n<html><body><h1>502 Bad Gateway</h1>\n\
The server returned an invalid or incomplete response.\n</body></html>\n";
/// The mux's own page (a refused head): sent raw, names as written.
const PAGE_400: &[u8] =
    b"HTTP/1.1 400 Bad request\r\nContent-length: 90\r\nCache-Control: no-cache\r\n\
Connection: close\r\nContent-Type: text/html\r\n\r\n<html><body><h1>400 Bad request</h1>\n\
Your browser sent an invalid request.\n</body></html>\n";

/// FRONTEND (bin, bout, ereq, req_tot) from `show stat`, once no stream
/// is current.
fn frontend(sock: &str, _name: &str) -> (u64, u64, u64, u64) {
    match crate::server::settled_stat(sock, "fe,FRONTEND", &["bin", "bout", "ereq", "req_tot"])[..]
    {
        [a, b, c, d] => (a, b, c, d),
        _ => unreachable!("four columns asked"),
    }
}

/// What the client reads and what is counted (log %B/%U, the frontend's
/// bin/bout/ereq) for the proxy's answers, as haproxy 2.6 does it: the
/// pages of http-request deny and http-response deny go through HTX
/// (lower-case names, no Connection header) and count their HTX size,
/// the response deny adds what the server had sent with its head; a head
/// the mux refuses (400, 408) counts no byte in, and both count as
/// failed requests; a client that half-closes in its head still gets its
/// 400.
fn proxy_answers(name: &str, program: &Path) {
    let srv = Server::start(two_bytes);
    let dir = TempDir::new("fixes");
    let sock = format!("{}/s.sock", dir.0.display());
    let p = start(
        name,
        program,
        &cfg(
            &srv,
            &sock,
            "http-request deny if { path /reqdeny }\n\
             http-request set-var(txn.p) path\n\
             http-response deny if { var(txn.p) -m str /resdeny }",
        ),
    );
    let get = |path: &str| format!("GET {path} HTTP/1.1\r\nHost: a\r\n\r\n");

    answered(
        &p,
        name,
        get("/reqdeny").as_bytes(),
        false,
        PAGE_403,
        ("403", "192", "45", "PR--"),
    );

    // 209 (the page in HTX) + 49 (the server's head) + 2 (its body, read
    // with the head).
    answered(
        &p,
        name,
        get("/resdeny").as_bytes(),
        false,
        PAGE_502,
        ("502", "260", "45", "PH--"),
    );
    let (bin, bout, ereq, req_tot) = frontend(&sock, name);
    assert_eq!((bin, bout, ereq, req_tot), (90, 452, 0, 2), "{name}");

    answered(
        &p,
        name,
        b"GARBAGE\r\n\r\n",
        false,
        PAGE_400,
        ("400", "0", "0", "PR--"),
    );

    // Too big a head: a 400 too, nothing counted.
    let mut big = b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: ".to_vec();
    big.resize(big.len() + 20000, b'a');
    big.extend_from_slice(b"\r\n\r\n");
    let mut c = TcpStream::connect_timeout(&p.addr, DEADLINE).unwrap();
    let _ = c.write_all(&big);
    let mut got = Vec::new();
    c.set_read_timeout(Some(DEADLINE)).unwrap();
    let _ = c.read_to_end(&mut got);
    assert!(
        got.starts_with(b"HTTP/1.1 400 "),
        "{name}: {:?}",
        String::from_utf8_lossy(&got)
    );
    let l = next_line(&p);
    assert_eq!(
        (&*l.0, &*l.1, &*l.2, &*l.3),
        ("400", "0", "0", "PR--"),
        "{name}"
    );

    // Half a head, then the client's FIN: the 400 still goes out.
    answered(
        &p,
        name,
        b"GET / HTTP/1.1\r\nHost: a\r\n",
        true,
        PAGE_400,
        ("400", "0", "0", "CR--"),
    );

    // Nothing, then the client's FIN: a 400 too (h1_process on a read0).
    answered(&p, name, b"", true, PAGE_400, ("400", "0", "0", "CR--"));

    // Half a head, then silence: 408 at timeout http-request.
    let got = raw(&p, b"GET / HTTP/1.1\r\nHost: a\r\n", false);
    assert!(
        got.starts_with(b"HTTP/1.1 408 "),
        "{name}: {:?}",
        String::from_utf8_lossy(&got)
    );
    let l = next_line(&p);
    assert_eq!(
        (&*l.0, &*l.1, &*l.2, &*l.3),
        ("408", "0", "0", "cR--"),
        "{name}"
    );

    let (bin2, bout2, ereq, req_tot) = frontend(&sock, name);
    // The mux's pages are not counted either.
    assert_eq!(
        (bin2, bout2, ereq, req_tot),
        (bin, bout, 5, 7),
        "{name}: no byte of a refused head counted"
    );
}
on_both!(
    proxy_answers,
    proxy_answers_on_haproxy,
    proxy_answers_on_ringlb
);

/// The Connection header HAProxy's H1 mux adds to the proxy's answers
/// (from the client's request: `close` to HTTP/1.0 or to a request that
/// asked for it, `keep-alive` to an HTTP/1.0 keep-alive one, whether or
/// not the proxy then closes), and an errorfile's names lower-cased as
/// HTX carries them, for deny pages and for the 503 of a dead server.
fn answers_connection_header(name: &str, program: &Path) {
    let srv = Server::start(two_bytes);
    let dir = TempDir::new("fixes");
    let sock = format!("{}/s.sock", dir.0.display());
    let ef = dir.0.join("503.http");
    std::fs::write(
        &ef,
        "HTTP/1.1 503 Service Unavailable\r\nCache-Control: no-cache\r\n\
         Content-Type: text/plain\r\nX-Custom: Yes\r\n\r\nsorry\n",
    )
    .unwrap();
    let mut c = cfg(
        &srv,
        &sock,
        &format!(
            "errorfile 503 {}\n\
             http-request set-var(txn.p) path\n\
             http-response deny if {{ var(txn.p) -m str /resdeny }}\n\
             http-request deny if {{ path /reqdeny }}\n\
             use_backend dead if {{ path /dead }}",
            ef.display()
        ),
    );
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_addr = dead.local_addr().unwrap();
    drop(dead);
    c.push_str(&format!(
        "backend dead\n    retries 0\n    server d1 {dead_addr}\n"
    ));
    let p = start(name, program, &c);
    // Each answer's log line is read before the next request: lines of
    // streams on two cores may come in either order.
    let logged = std::cell::RefCell::new(Vec::new());
    let head_of = |req: &str| {
        let got = raw(&p, req.as_bytes(), false);
        let end = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let l = next_line(&p);
        logged.borrow_mut().push((l.0, l.1));
        String::from_utf8_lossy(&got[..end]).into_owned()
    };
    let page = "content-length: 93\r\ncache-control: no-cache\r\ncontent-type: text/html";
    assert_eq!(
        head_of("GET /reqdeny HTTP/1.0\r\n\r\n"),
        format!("HTTP/1.1 403 Forbidden\r\n{page}\r\nconnection: close"),
        "{name}"
    );
    assert_eq!(
        head_of("GET /reqdeny HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"),
        format!("HTTP/1.1 403 Forbidden\r\n{page}\r\nconnection: close"),
        "{name}"
    );
    assert_eq!(
        head_of("GET /reqdeny HTTP/1.1\r\nHost: a\r\n\r\n"),
        format!("HTTP/1.1 403 Forbidden\r\n{page}"),
        "{name}"
    );
    assert_eq!(
        head_of("GET /resdeny HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
        "HTTP/1.1 502 Bad Gateway\r\ncontent-length: 107\r\ncache-control: no-cache\r\n\
         content-type: text/html\r\nconnection: keep-alive",
        "{name}"
    );
    let custom = "HTTP/1.1 503 Service Unavailable\r\ncache-control: no-cache\r\n\
                  content-type: text/plain\r\nx-custom: Yes\r\nconnection: close";
    assert_eq!(
        head_of("GET /dead HTTP/1.1\r\nHost: a\r\n\r\n"),
        custom,
        "{name}"
    );
    assert_eq!(
        head_of("GET /dead HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
        custom,
        "{name}"
    );
    let want = [
        ("403", "192"),
        ("403", "192"),
        ("403", "192"),
        ("502", "260"),
        ("503", "111"),
        ("503", "111"),
    ];
    let logged = logged.into_inner();
    let logged: Vec<(&str, &str)> = logged.iter().map(|(a, b)| (&**a, &**b)).collect();
    assert_eq!(logged, want, "{name}: status and %B");
}
on_both!(
    answers_connection_header,
    answers_connection_header_on_haproxy,
    answers_connection_header_on_ringlb
);

fn framed(s: &Seen) -> Answer {
    let path = s.line.split(' ').nth(1).unwrap_or("");
    Answer::Send(match path {
        "/resdeny/chunked" => {
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n"
                .to_vec()
        }
        "/resdeny/partial" => {
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n".to_vec()
        }
        _ => b"HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\nabcdefg".to_vec(),
    })
}

/// http-response deny: %B counts the page (209 in HTX) and what the
/// server sent with its head, as HAProxy's channel held it: the head
/// (its HTX size), a Content-Length body, a chunked body's data without
/// framing and one byte for its end.
fn response_deny_counts_what_came(name: &str, program: &Path) {
    let srv = Server::start(framed);
    let dir = TempDir::new("fixes");
    let sock = format!("{}/s.sock", dir.0.display());
    let p = start(
        name,
        program,
        &cfg(
            &srv,
            &sock,
            "http-request set-var(txn.p) path\n\
             http-response deny if { var(txn.p) -m beg /resdeny }",
        ),
    );
    for (path, bytes) in [
        ("/resdeny/chunked", "276"),
        ("/resdeny/partial", "272"),
        ("/resdeny/length", "265"),
    ] {
        let got = raw(
            &p,
            format!("GET {path} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes(),
            false,
        );
        assert!(got.starts_with(b"HTTP/1.1 502 "), "{name}: {path}");
        let l = next_line(&p);
        assert_eq!((&*l.0, &*l.1), ("502", bytes), "{name}: {path}");
    }
}
on_both!(
    response_deny_counts_what_came,
    response_deny_counts_what_came_on_haproxy,
    response_deny_counts_what_came_on_ringlb
);
