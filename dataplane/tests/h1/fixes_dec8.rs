//! Fixes of 8 December, each checked against haproxy 2.6 with the same
//! input: a server that closes before answering a request that is not
//! its client connection's first (abort_keep_alive), a response body cut
//! short by the server's FIN or reset, and a denied chunked response
//! whose trailers came with its head.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::harness::{read_until_closed, start, Backend, Proxy, TempDir, DEADLINE};

/// A server that reads requests one by one and does what the path says:
/// `/ok` a 200 with a two-byte body, `/fin` closes without answering,
/// `/rst` resets without answering, `/cutfin` and `/cutrst` send a head
/// for 10 bytes and 3 of them then close or reset, `/trailers` a chunked
/// 200 with two trailer fields, head, body and trailers in one write.
fn by_path(s: TcpStream) {
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            if h == "\r\n" || h == "\n" {
                break;
            }
        }
        let path = line.split(' ').nth(1).unwrap_or("").to_string();
        let reset = |w: &TcpStream| {
            socket2::SockRef::from(w)
                .set_linger(Some(Duration::ZERO))
                .unwrap();
        };
        match path.as_str() {
            "/fin" => {
                let _ = w.shutdown(Shutdown::Both);
                return;
            }
            "/rst" => {
                reset(&w);
                return;
            }
            "/cutfin" | "/cutrst" => {
                let _ = w.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc");
                // The head and the 3 bytes reach the proxy first.
                std::thread::sleep(Duration::from_millis(100));
                if path == "/cutrst" {
                    reset(&w);
                } else {
                    let _ = w.shutdown(Shutdown::Both);
                }
                return;
            }
            "/okclose" => {
                let _ = w.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
                let _ = w.shutdown(Shutdown::Both);
                return;
            }
            "/chunkfin" | "/eofrst" => {
                if path == "/chunkfin" {
                    let _ = w
                        .write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nab");
                } else {
                    let _ = w.write_all(b"HTTP/1.1 200 OK\r\n\r\nabc");
                }
                std::thread::sleep(Duration::from_millis(100));
                if path == "/eofrst" {
                    reset(&w);
                } else {
                    let _ = w.shutdown(Shutdown::Both);
                }
                return;
            }
            "/trailers" => {
                let _ = w.write_all(
                    b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\
                      2\r\nok\r\n0\r\nx-t: abc\r\nX-Longer-Name:   v 1  \r\n\r\n",
                );
            }
            _ => {
                let _ = w.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
            }
        }
    }
}

fn cfg(be: &Backend, sock: &str, rules: &str, backend: &str) -> String {
    let mut c = format!(
        "global\n    nbthread 1\n    log stdout format raw local0\n    stats socket {sock} level admin\n\
         defaults\n    mode http\n    log global\n    \
         log-format \"%ST %B %U %tsc %rc %{{+Q}}r\"\n    \
         timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n\
         frontend fe\n    bind fd@3\n"
    );
    for l in rules.lines().filter(|l| !l.trim().is_empty()) {
        c.push_str("    ");
        c.push_str(l.trim());
        c.push('\n');
    }
    c.push_str("    default_backend be\nbackend be\n");
    for l in backend.lines().filter(|l| !l.trim().is_empty()) {
        c.push_str("    ");
        c.push_str(l.trim());
        c.push('\n');
    }
    c.push_str(&format!("    server s1 {}\n", be.addr));
    c
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: a\r\n\r\n").into_bytes()
}

/// Read one response with a Content-Length from `c` (head and body).
fn response(c: &mut TcpStream) -> Vec<u8> {
    let end = Instant::now() + DEADLINE;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(h) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..h]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            if got.len() >= h + 4 + len {
                return got;
            }
        }
        assert!(Instant::now() < end, "no whole response: {got:?}");
        c.set_read_timeout(Some(DEADLINE)).unwrap();
        match c.read(&mut buf) {
            Ok(0) | Err(_) => panic!("closed in a response: {:?}", String::from_utf8_lossy(&got)),
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// The next log line of the test's format (the proxy's start-up lines
/// skipped).
fn next_line(p: &Proxy) -> String {
    let end = Instant::now() + DEADLINE;
    while Instant::now() < end {
        let l = p.next_log();
        if l.split(' ')
            .next()
            .is_some_and(|s| s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()))
        {
            return l;
        }
    }
    panic!("no log line within {DEADLINE:?}");
}

/// A new client connection.
fn client(p: &Proxy) -> TcpStream {
    TcpStream::connect_timeout(&p.addr, DEADLINE).unwrap()
}

/// The proxy closes `c` and sends nothing first.
fn closed_silently(c: &mut TcpStream, what: &str) {
    let (got, _) = read_until_closed(c, DEADLINE, what);
    assert_eq!(String::from_utf8_lossy(&got), "", "{what}");
}

const PAGE_502: &str =
    "HTTP/1.1 502 Bad Gateway\r\ncontent-length: 107\r\ncache-control: no-cache\r\n\
content-type: text/html\r\n\r\n<html><body><h1>502 Bad Gateway</h1>\n\
The server returned an invalid or incomplete response.\n</body></html>\n";

/// The server closes or resets before any response to a request that is
/// not its client connection's first: haproxy's abort_keep_alive closes
/// the client without a word, logs nothing and counts no response; a
/// reset still counts in eresp and srv_abrt (stream.c's server error), a
/// close does not. To a first request it answers 502 (SH), eresp counted
/// once for a close and twice for a reset. The request is never sent
/// again (default `retry-on`), even over a reused connection; an idle
/// connection the server closed is not used.
fn keep_alive_abort(name: &str, program: &Path) {
    let be = Backend::spawn(by_path);
    let dir = TempDir::new("fixes8");
    let sock = format!("{}/s.sock", dir.0.display());
    let p = start(name, program, &cfg(&be, &sock, "", "http-reuse always"));
    let ok = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";

    // A second request on a client connection, over the server connection
    // the first used: the server closes, then another that it resets.
    for path in ["/fin", "/rst"] {
        let mut c = client(&p);
        c.write_all(&get("/ok")).unwrap();
        assert_eq!(String::from_utf8_lossy(&response(&mut c)), ok, "{name}");
        assert_eq!(
            next_line(&p),
            "200 51 40 ---- 0 \"GET /ok HTTP/1.1\"",
            "{name}"
        );
        c.write_all(&get(path)).unwrap();
        closed_silently(&mut c, &format!("{name}: {path}"));
        assert_eq!(
            be.accepted.try_iter().count(),
            1,
            "{name}: {path} sent once"
        );
    }
    // A first request over a reused connection (`http-reuse always`):
    // a 502, not sent again.
    let mut c = client(&p);
    c.write_all(&get("/ok")).unwrap();
    response(&mut c);
    assert_eq!(
        next_line(&p),
        "200 51 40 ---- 0 \"GET /ok HTTP/1.1\"",
        "{name}"
    );
    drop(c);
    let mut c = client(&p);
    c.write_all(&get("/fin")).unwrap();
    // The page keeps the connection (no `connection: close`).
    assert_eq!(
        String::from_utf8_lossy(&response(&mut c)),
        PAGE_502,
        "{name}"
    );
    assert_eq!(
        next_line(&p),
        "502 209 41 SH-- 0 \"GET /fin HTTP/1.1\"",
        "{name}"
    );
    assert_eq!(
        be.accepted.try_iter().count(),
        1,
        "{name}: reused, not sent again"
    );
    drop(c);
    // A first request the server resets: a 502 too.
    let mut c = client(&p);
    c.write_all(&get("/rst")).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&response(&mut c)),
        PAGE_502,
        "{name}"
    );
    drop(c);
    assert_eq!(
        next_line(&p),
        "502 209 41 SH-- 0 \"GET /rst HTTP/1.1\"",
        "{name}"
    );
    assert_eq!(
        be.accepted.try_iter().count(),
        1,
        "{name}: a new connection"
    );

    let cols = [
        "eresp", "srv_abrt", "hrsp_2xx", "hrsp_5xx", "req_tot", "bin", "bout",
    ];
    // eresp: the second request's reset (1), the first requests' close
    // (1) and reset (2); the silent ones count no response.
    assert_eq!(
        crate::server::settled_stat(&sock, "be,BACKEND", &cols),
        [4, 1, 3, 2, 5, 284, 571],
        "{name}: backend"
    );
    assert_eq!(
        crate::server::settled_stat(&sock, "be,s1", &cols[..2]),
        [4, 1],
        "{name}: server"
    );
    let fe = ["srv_abrt", "hrsp_2xx", "hrsp_5xx", "hrsp_other", "req_tot"];
    assert_eq!(
        crate::server::settled_stat(&sock, "fe,FRONTEND", &fe),
        [0, 3, 2, 0, 7],
        "{name}: frontend"
    );

    // The server closes its idle connection after answering: the
    // client's next request goes over a new one.
    let mut c = client(&p);
    c.write_all(&get("/okclose")).unwrap();
    response(&mut c);
    assert_eq!(
        next_line(&p),
        "200 51 45 ---- 0 \"GET /okclose HTTP/1.1\"",
        "{name}"
    );
    // The server's FIN reaches the proxy (its idle connection is
    // watched); nothing to wait on from here but time.
    std::thread::sleep(Duration::from_millis(100));
    c.write_all(&get("/ok")).unwrap();
    assert_eq!(String::from_utf8_lossy(&response(&mut c)), ok, "{name}");
    assert_eq!(
        next_line(&p),
        "200 51 40 ---- 0 \"GET /ok HTTP/1.1\"",
        "{name}"
    );
}
on_both!(
    keep_alive_abort,
    keep_alive_abort_on_haproxy,
    keep_alive_abort_on_ringlb
);

/// A response body cut short by the server, by a close or a reset, with
/// a Content-Length, chunked, or until the close: SD, and one failed
/// response (eresp) and one server abort each, whether it closed or
/// reset (haproxy 2.6 counts both alike).
fn body_cut(name: &str, program: &Path) {
    let be = Backend::spawn(by_path);
    let dir = TempDir::new("fixes8");
    let sock = format!("{}/s.sock", dir.0.display());
    let p = start(name, program, &cfg(&be, &sock, "", ""));
    let cases = [
        (
            "/cutfin",
            "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc",
            "53 44",
        ),
        (
            "/cutrst",
            "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc",
            "53 44",
        ),
        (
            "/chunkfin",
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nab\r\n",
            "60 46",
        ),
        (
            "/eofrst",
            "http/1.1 200 ok\r\nconnection: close\r\n\r\nabc",
            "37 44",
        ),
    ];
    for (n, (path, seen, bytes)) in cases.into_iter().enumerate() {
        let mut c = client(&p);
        c.write_all(&get(path)).unwrap();
        let (got, _) = read_until_closed(&mut c, DEADLINE, path);
        // Header names as each proxy writes them (haproxy's lower case).
        assert_eq!(
            String::from_utf8_lossy(&got).to_ascii_lowercase(),
            seen.to_ascii_lowercase(),
            "{name}: {path}"
        );
        assert_eq!(
            next_line(&p),
            format!("200 {bytes} SD-- 0 \"GET {path} HTTP/1.1\""),
            "{name}"
        );
        let k = n as u64 + 1;
        assert_eq!(
            crate::server::settled_stat(&sock, "be,s1", &["eresp", "srv_abrt", "hrsp_2xx"]),
            [k, k, k],
            "{name}: {path}"
        );
    }
}
on_both!(body_cut, body_cut_on_haproxy, body_cut_on_ringlb);

/// `http-response deny` on a chunked response whose body and trailers
/// came with its head: %B and the frontend's bout count the page (209),
/// the head (58), the data (2), the trailers as HTX holds them (x-t abc:
/// 6; X-Longer-Name and `v 1` without its blanks: 16) and the end (1).
fn trailers_denied(name: &str, program: &Path) {
    let be = Backend::spawn(by_path);
    let dir = TempDir::new("fixes8");
    let sock = format!("{}/s.sock", dir.0.display());
    let p = start(
        name,
        program,
        &cfg(
            &be,
            &sock,
            "http-request set-var(txn.p) path\n\
             http-response deny if { var(txn.p) -m beg /trailers }",
            "",
        ),
    );
    let mut c = client(&p);
    c.write_all(&get("/trailers")).unwrap();
    let got = response(&mut c);
    assert_eq!(String::from_utf8_lossy(&got), PAGE_502, "{name}");
    // What follows a response deny on a kept connection differs (see
    // docs/differences.md): this client leaves.
    drop(c);
    assert_eq!(
        next_line(&p),
        "502 292 46 PH-- 0 \"GET /trailers HTTP/1.1\"",
        "{name}"
    );
    assert_eq!(
        crate::server::settled_stat(&sock, "fe,FRONTEND", &["bout"]),
        [292],
        "{name}"
    );
}
on_both!(
    trailers_denied,
    trailers_denied_on_haproxy,
    trailers_denied_on_ringlb
);

/// After `http-request deny`, `http-request tarpit` and `http-response
/// deny` the client's connection goes on, as after any page without
/// `connection: close`: haproxy 2.6 answers the next request on it (a
/// denied request's body, when whole, is read and dropped).
fn deny_keeps_alive(name: &str, program: &Path) {
    let be = Backend::spawn(by_path);
    let dir = TempDir::new("fixes8");
    let sock = format!("{}/s.sock", dir.0.display());
    let p = start(
        name,
        program,
        &cfg(
            &be,
            &sock,
            "timeout tarpit 50ms\n\
             http-request deny if { path /reqdeny }\n\
             http-request tarpit if { path /tarpit }\n\
             http-request set-var(txn.p) path\n\
             http-response deny if { var(txn.p) -m beg /trailers }",
            "",
        ),
    );
    let ok = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
    for (path, status) in [
        ("/reqdeny", "403"),
        ("/tarpit", "500"),
        ("/trailers-cl", "502"),
        ("/trailers", "502"),
    ] {
        let mut c = client(&p);
        c.write_all(&get(path)).unwrap();
        let got = response(&mut c);
        assert!(
            got.starts_with(format!("HTTP/1.1 {status} ").as_bytes()),
            "{name}: {path}: {:?}",
            String::from_utf8_lossy(&got)
        );
        let l = next_line(&p);
        assert!(l.starts_with(status), "{name}: {path}: {l}");
        c.write_all(&get("/ok")).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&response(&mut c)),
            ok,
            "{name}: after {path}"
        );
        assert_eq!(
            next_line(&p),
            "200 51 40 ---- 0 \"GET /ok HTTP/1.1\"",
            "{name}: after {path}"
        );
    }
    // A denied POST whose body came whole: read, counted (%U 61 + 5),
    // and the connection goes on.
    let mut c = client(&p);
    c.write_all(b"POST /reqdeny HTTP/1.1\r\nHost: a\r\ncontent-length: 5\r\n\r\nhello")
        .unwrap();
    let got = response(&mut c);
    assert!(got.starts_with(b"HTTP/1.1 403 "), "{name}");
    assert_eq!(
        next_line(&p),
        "403 192 66 PR-- 0 \"POST /reqdeny HTTP/1.1\"",
        "{name}"
    );
    c.write_all(&get("/ok")).unwrap();
    assert_eq!(String::from_utf8_lossy(&response(&mut c)), ok, "{name}");
    assert_eq!(
        next_line(&p),
        "200 51 40 ---- 0 \"GET /ok HTTP/1.1\"",
        "{name}: after the POST"
    );
}
on_both!(
    deny_keeps_alive,
    deny_keeps_alive_on_haproxy,
    deny_keeps_alive_on_ringlb
);

/// `http-request set-log-level silent` takes the log line away, not the
/// counting: haproxy 2.6 counts the silent transactions' responses,
/// requests and bytes like any other.
fn silent_is_counted(name: &str, program: &Path) {
    let be = Backend::spawn(by_path);
    let dir = TempDir::new("fixes8");
    let sock = format!("{}/s.sock", dir.0.display());
    let p = start(
        name,
        program,
        &cfg(
            &be,
            &sock,
            "http-request set-log-level silent if { path /quiet }",
            "",
        ),
    );
    for path in ["/quiet", "/quiet", "/ok"] {
        let mut c = client(&p);
        c.write_all(&get(path)).unwrap();
        response(&mut c);
    }
    assert_eq!(
        next_line(&p),
        "200 51 40 ---- 0 \"GET /ok HTTP/1.1\"",
        "{name}: the silent ones not logged"
    );
    let cols = ["hrsp_2xx", "req_tot", "bin", "bout"];
    for row in ["fe,FRONTEND", "be,BACKEND", "be,s1"] {
        assert_eq!(
            crate::server::settled_stat(&sock, row, &cols),
            [3, 3, 126, 153],
            "{name}: {row}"
        );
    }
}
on_both!(
    silent_is_counted,
    silent_is_counted_on_haproxy,
    silent_is_counted_on_ringlb
);

/// `observe layer7` does not hear of a close before the answer to a
/// request that is not its connection's first (abort_keep_alive comes
/// before health_adjust): three of them leave the server up; two closes
/// before first requests' answers take it down (error-limit 2).
fn keep_alive_abort_is_no_server_error(name: &str, program: &Path) {
    let be = Backend::spawn(by_path);
    let dir = TempDir::new("fixes8");
    let sock = format!("{}/s.sock", dir.0.display());
    let p = start(
        name,
        program,
        &cfg(&be, &sock, "", "option httpchk GET /health\nretries 0").replace(
            &format!("server s1 {}", be.addr),
            &format!(
                "server s1 {} check inter 20s observe layer7 error-limit 2 on-error mark-down",
                be.addr
            ),
        ),
    );
    // The first check went: its connection came (the backend's first)
    // and its result is applied just after.
    be.accepted.recv_timeout(DEADLINE).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let is_check = |l: &str| l.starts_with("Server ") || l.contains("has no server");
    for _ in 0..3 {
        let mut c = client(&p);
        c.write_all(&get("/ok")).unwrap();
        response(&mut c);
        c.write_all(&get("/fin")).unwrap();
        closed_silently(&mut c, name);
    }
    let end = Instant::now() + Duration::from_millis(300);
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        if let Some(l) = p.log_within(left) {
            assert!(!is_check(&l), "{name}: {l}");
        }
    }
    for _ in 0..2 {
        let mut c = client(&p);
        c.write_all(&get("/fin")).unwrap();
        assert!(response(&mut c).starts_with(b"HTTP/1.1 502 "), "{name}");
    }
    let end = Instant::now() + DEADLINE;
    loop {
        let l = p.next_log();
        if is_check(&l) {
            assert!(
                l.starts_with("Server be/s1 is DOWN, reason: Health analyze")
                    && l.contains("last one was: Close from server (http)"),
                "{name}: {l}"
            );
            break;
        }
        assert!(Instant::now() < end, "{name}: no DOWN line");
    }
}
on_both!(
    keep_alive_abort_is_no_server_error,
    keep_alive_abort_is_no_server_error_on_haproxy,
    keep_alive_abort_is_no_server_error_on_ringlb
);
