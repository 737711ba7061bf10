//! `retry-on` and `retries` in HTTP mode (HAProxy's L7 retries): two
//! servers under `balance first`, the first failing as the request's path
//! says (closing without an answer, answering junk, a 503, or nothing),
//! the second answering; what each server saw, what the client got, and
//! the httplog line (`%rc` with its `+` when redispatched, the
//! termination state), on haproxy first.

use std::path::Path;
use std::time::Duration;

use crate::harness::{refused_addr, start, Proxy, DEADLINE};
use crate::server::{config, ok, Answer, Client, HttpLog, Seen, Server};

/// The failing server: what it does depends on the request's path.
fn failing(s: &Seen) -> Answer {
    let path = s.line.split(' ').nth(1).unwrap_or("");
    match path.split('?').next().unwrap_or("") {
        p if p.starts_with("/close") => Answer::Close,
        "/junk" => Answer::SendClose(b"HTTP/1.1 abc Nope\r\n\r\n".to_vec()),
        "/503" => Answer::Send(
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy".to_vec(),
        ),
        "/hang" => Answer::Hang,
        _ => ok("first"),
    }
}

/// The server that answers, with the body it received.
fn answering(s: &Seen) -> Answer {
    let body = String::from_utf8_lossy(&s.body).into_owned();
    ok(&format!("second:{body}"))
}

/// The next httplog line, and its `%rc` (the last of the five counters).
fn next_log(p: &Proxy) -> (HttpLog, String) {
    let (l, rc, _) = next_log_timed(p);
    (l, rc)
}

/// The same, with `%TR/%Tw/%Tc/%Tr/%Ta`.
fn next_log_timed(p: &Proxy) -> (HttpLog, String, Vec<i64>) {
    let end = std::time::Instant::now() + DEADLINE;
    while std::time::Instant::now() < end {
        let l = p.next_log();
        if l.contains(" [") && l.contains('/') && l.ends_with('"') {
            let counters = l.split(' ').nth(10).unwrap_or("").to_string();
            let rc = counters.rsplit('/').next().unwrap_or("").to_string();
            let timers = l.split(' ').nth(4).unwrap_or("");
            let timers = timers.split('/').map(|t| t.parse().unwrap()).collect();
            return (HttpLog::parse(&l), rc, timers);
        }
    }
    panic!("no httplog line within {DEADLINE:?}");
}

fn two_servers(first: &Server, second: &Server) -> [String; 2] {
    [format!("s1 {}", first.addr), format!("s2 {}", second.addr)]
}

/// Each failure `retry-on` names is retried on the other server with
/// `option redispatch` (`balance first` is no hash: HAProxy redispatches
/// at once): the client gets the second server's answer, each server saw
/// the request once, the body too, and the log says `+1`.
fn failures_are_retried_elsewhere(name: &str, program: &Path) {
    let (s1, s2) = (Server::start(failing), Server::start(answering));
    let cfg = config(
        &two_servers(&s1, &s2),
        "balance first\nretries 2\noption redispatch\ntimeout server 300ms\n\
         retry-on empty-response junk-response response-timeout 503",
    );
    let p = start(name, program, &cfg);
    for path in ["/close", "/junk", "/503", "/hang"] {
        // Without a body, with one, chunked (and a pipelined request
        // after it, which must survive the retry).
        for (body, chunked) in [("", false), ("hello", false), ("hello", true)] {
            let mut c = Client::connect(p.addr);
            let method = if body.is_empty() { "GET" } else { "POST" };
            let framing = if chunked {
                format!("Transfer-Encoding: chunked\r\n\r\n5\r\n{body}\r\n0\r\n\r\n")
            } else {
                format!("Content-Length: {}\r\n\r\n{body}", body.len())
            };
            let next = if chunked {
                "GET /after HTTP/1.1\r\nHost: a\r\n\r\n"
            } else {
                ""
            };
            c.send(format!("{method} {path} HTTP/1.1\r\nHost: a\r\n{framing}{next}").as_bytes());
            let r = c.response(false);
            let what = format!("{name}: {method} {path} chunked={chunked}");
            assert_eq!(r.status, 200, "{what}");
            assert_eq!(r.body, format!("second:{body}").as_bytes(), "{what}");
            let (seen1, seen2) = (s1.next(), s2.next());
            assert!(
                seen1.line.starts_with(&format!("{method} {path} ")),
                "{what}"
            );
            assert_eq!(seen1.body, body.as_bytes(), "{what}");
            assert!(
                seen2.line.starts_with(&format!("{method} {path} ")),
                "{what}"
            );
            if chunked {
                // The pipelined request, served by the first server (not
                // the POST again).
                assert_eq!(c.response(false).body, b"first", "{what}");
                assert!(s1.next().line.starts_with("GET /after "), "{what}");
            }
            assert!(
                s1.nothing_within(Duration::from_millis(50)),
                "{what}: the first server saw it twice"
            );
            let (l, rc, t) = next_log_timed(&p);
            assert_eq!(
                (
                    l.backend_server.as_str(),
                    l.status.as_str(),
                    l.termination.as_str(),
                    rc.as_str()
                ),
                ("be/s2", "200", "----", "+1"),
                "{what}"
            );
            // A redispatch assigns a server anew: %Tw runs to it, past
            // the 300 ms the first server kept the request.
            if path == "/hang" {
                assert!(t[1] >= 250 && t[3] < 250, "{what}: {t:?}");
            }
            if chunked {
                let (l, rc) = next_log(&p);
                assert_eq!(
                    (l.backend_server.as_str(), rc.as_str()),
                    ("be/s1", "0"),
                    "{what}"
                );
            }
        }
    }
}
on_both!(
    failures_are_retried_elsewhere,
    failures_are_retried_elsewhere_on_haproxy,
    failures_are_retried_elsewhere_on_ringlb
);

/// Without `option redispatch` every retry goes to the same server: it
/// sees the request `retries + 1` times, then the client gets the last
/// failure as without retries (502 SH, 502 PH, 504 sH, or the server's
/// 503 forwarded), and the log counts the retries.
fn retries_on_the_same_server_run_out(name: &str, program: &Path) {
    let (s1, s2) = (Server::start(failing), Server::start(answering));
    let cfg = config(
        &two_servers(&s1, &s2),
        "balance first\nretries 2\ntimeout server 200ms\n\
         retry-on empty-response junk-response response-timeout 503",
    );
    let p = start(name, program, &cfg);
    for (path, status, term) in [
        ("/close", 502, "SH--"),
        ("/junk", 502, "PH--"),
        ("/503", 503, "----"),
        ("/hang", 504, "sH--"),
    ] {
        let mut c = Client::connect(p.addr);
        c.send(format!("GET {path} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes());
        let r = c.response(false);
        let what = format!("{name}: {path}");
        assert_eq!(r.status, status, "{what}");
        if status == 503 {
            assert_eq!(r.body, b"busy", "{what}: the server's own 503");
        }
        for _ in 0..3 {
            assert!(
                s1.next().line.starts_with(&format!("GET {path} ")),
                "{what}"
            );
        }
        assert!(
            s1.nothing_within(Duration::from_millis(50)),
            "{what}: more than retries + 1 attempts"
        );
        assert!(s2.nothing_within(Duration::from_millis(1)), "{what}");
        let (l, rc, t) = next_log_timed(&p);
        assert_eq!(
            (
                l.backend_server.as_str(),
                l.status.as_str(),
                l.termination.as_str(),
                rc.as_str()
            ),
            ("be/s1", status.to_string().as_str(), term, "2"),
            "{what}"
        );
        // Retries on the assigned server: %Tc runs to the last connection,
        // past the two 200 ms timeouts before it.
        if path == "/hang" {
            assert!(t[1] < 150 && t[2] >= 350, "{what}: {t:?}");
        }
    }
}
on_both!(
    retries_on_the_same_server_run_out,
    retries_on_the_same_server_run_out_on_haproxy,
    retries_on_the_same_server_run_out_on_ringlb
);

/// What is not in the list is not retried (the default `conn-failure`
/// retries nothing at layer 7), nor a request `disable-l7-retry` marks,
/// nor one whose body has not all come.
fn what_is_not_listed_is_not_retried(name: &str, program: &Path) {
    let (s1, s2) = (Server::start(failing), Server::start(answering));
    let cfg = config(
        &two_servers(&s1, &s2),
        "balance first\nretries 2\noption redispatch\nretry-on 503",
    );
    let cfg = cfg.replace(
        "backend be\n",
        "backend be\n    http-request disable-l7-retry if { path_beg /503 } { url_param(off) -m found }\n",
    );
    let p = start(name, program, &cfg);
    // Not listed: the server's close is a 502.
    let mut c = Client::connect(p.addr);
    c.send(b"GET /close HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(c.response(false).status, 502, "{name}");
    s1.next();
    let (l, rc) = next_log(&p);
    assert_eq!(
        (l.termination.as_str(), rc.as_str()),
        ("SH--", "0"),
        "{name}"
    );
    // disable-l7-retry: the 503 goes to the client.
    let mut c = Client::connect(p.addr);
    c.send(b"GET /503?off=1 HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(c.response(false).status, 503, "{name}");
    s1.next();
    let (l, rc) = next_log(&p);
    assert_eq!((l.status.as_str(), rc.as_str()), ("503", "0"), "{name}");
    // A body that was not all there when the request went: not kept, not
    // retried.
    let mut c = Client::connect(p.addr);
    c.send(b"POST /503 HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nhello");
    std::thread::sleep(Duration::from_millis(100));
    c.send(b"world");
    assert_eq!(c.response(false).status, 503, "{name}");
    assert_eq!(s1.next().body, b"helloworld", "{name}");
    let (l, rc) = next_log(&p);
    assert_eq!((l.status.as_str(), rc.as_str()), ("503", "0"), "{name}");
    assert!(s2.nothing_within(Duration::from_millis(50)), "{name}");
}
on_both!(
    what_is_not_listed_is_not_retried,
    what_is_not_listed_is_not_retried_on_haproxy,
    what_is_not_listed_is_not_retried_on_ringlb
);

/// A connection failure is retried only when `retry-on` lists
/// `conn-failure` (the default does): `retry-on 503` alone fails at once
/// (503 SC, no retry counted), the default counts its retries.
fn connection_failures_follow_retry_on(name: &str, program: &Path) {
    for (retry_on, rc) in [("", "2"), ("retry-on 503", "0"), ("retry-on none", "0")] {
        let cfg = config(
            &[format!("dead {}", refused_addr())],
            &format!("retries 2\ntimeout connect 100ms\n{retry_on}"),
        );
        let p = start(name, program, &cfg);
        let mut c = Client::connect(p.addr);
        c.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(c.response(false).status, 503, "{name}: {retry_on:?}");
        let (l, got) = next_log(&p);
        assert_eq!(
            (l.termination.as_str(), got.as_str()),
            ("SC--", rc),
            "{name}: {retry_on:?}"
        );
    }
}
on_both!(
    connection_failures_follow_retry_on,
    connection_failures_follow_retry_on_on_haproxy,
    connection_failures_follow_retry_on_on_ringlb
);

/// Under a hash algorithm the stream has a reason to stay: `option
/// redispatch` (interval -1) leaves the server on the last retry only.
/// With consistent hashing the failing server sees the request twice
/// (`retries 2`), then the other answers (`+2`); map-based hashing
/// ignores the server to avoid (HAProxy's map_get_server_hash), so the
/// last retry lands on the same server again: three attempts, the 502,
/// and no `+` (nothing changed server). A request the hash sends to the
/// answering server first is not retried at all.
fn a_hash_redispatches_on_the_last_retry(name: &str, program: &Path) {
    for hash_type in ["consistent", "map-based"] {
        let (s1, s2) = (Server::start(failing), Server::start(answering));
        let cfg = config(
            &two_servers(&s1, &s2),
            &format!(
                "balance uri whole\nhash-type {hash_type}\nretries 2\noption redispatch\n\
                 retry-on empty-response"
            ),
        );
        let p = start(name, program, &cfg);
        let mut hit_first = 0;
        for k in 0..12 {
            let what = format!("{name}: {hash_type}: k={k}");
            let mut c = Client::connect(p.addr);
            c.send(format!("GET /close?k={k} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes());
            let status = c.response(false).status;
            let (l, rc) = next_log(&p);
            if s1.nothing_within(Duration::from_millis(30)) {
                assert_eq!((status, rc.as_str()), (200, "0"), "{what}");
                assert!(s2.next().line.contains(&format!("k={k} ")), "{what}");
                continue;
            }
            hit_first += 1;
            s1.next();
            if hash_type == "consistent" {
                assert!(s1.nothing_within(Duration::from_millis(30)), "{what}");
                assert!(s2.next().line.contains(&format!("k={k} ")), "{what}");
                assert_eq!(
                    (status, l.backend_server.as_str(), rc.as_str()),
                    (200, "be/s2", "+2"),
                    "{what}"
                );
            } else {
                s1.next();
                assert!(s1.nothing_within(Duration::from_millis(30)), "{what}");
                assert!(s2.nothing_within(Duration::from_millis(1)), "{what}");
                assert_eq!(
                    (status, l.backend_server.as_str(), rc.as_str()),
                    (502, "be/s1", "2"),
                    "{what}"
                );
            }
        }
        assert!(
            hit_first > 0,
            "{name}: {hash_type}: no request hashed to the failing server"
        );
    }
}
on_both!(
    a_hash_redispatches_on_the_last_retry,
    a_hash_redispatches_on_the_last_retry_on_haproxy,
    a_hash_redispatches_on_the_last_retry_on_ringlb
);

/// `http-request set-retries` (HAProxy 3.x, not in haproxy 2.6) sets the
/// request's retries: 1 or 0 instead of the backend's 3.
#[test]
fn set_retries_changes_the_request_s_retries() {
    let (s1, s2) = (Server::start(failing), Server::start(answering));
    let cfg = config(
        &two_servers(&s1, &s2),
        "balance first\nretries 3\nretry-on empty-response",
    )
    .replace(
        "backend be\n",
        "backend be\n    http-request set-retries 1 if { path /close1 }\n    \
         http-request set-retries 0 if { path /close0 }\n",
    );
    let p = crate::harness::Proxy::start(&cfg);
    for (path, attempts, rc) in [("/close1", 2, "1"), ("/close0", 1, "0"), ("/close", 4, "3")] {
        let mut c = Client::connect(p.addr);
        c.send(format!("GET {path} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes());
        assert_eq!(c.response(false).status, 502, "{path}");
        for _ in 0..attempts {
            assert!(s1.next().line.starts_with(&format!("GET {path} ")));
        }
        assert!(
            s1.nothing_within(Duration::from_millis(50)),
            "{path}: {attempts} attempts"
        );
        let (l, got) = next_log(&p);
        assert_eq!(
            (l.termination.as_str(), got.as_str()),
            ("SH--", rc),
            "{path}"
        );
    }
    assert!(s2.nothing_within(Duration::from_millis(10)));
}

/// Connection failures and L7 failures count against the same
/// `retries`: a refused server, then a 503, then the refused one again
/// (each redispatch leaves the last server only), then the 503 server,
/// whose answer stands once the three retries are spent (`+3`).
fn connect_and_l7_retries_share_the_count(name: &str, program: &Path) {
    let (s2, s3) = (Server::start(failing), Server::start(answering));
    let cfg = config(
        &[
            format!("dead {}", refused_addr()),
            format!("s2 {}", s2.addr),
            format!("s3 {}", s3.addr),
        ],
        "balance first\nretries 3\noption redispatch\ntimeout connect 200ms\n\
         retry-on all-retryable-errors",
    );
    let p = start(name, program, &cfg);
    let mut c = Client::connect(p.addr);
    c.send(b"GET /503 HTTP/1.1\r\nHost: a\r\n\r\n");
    let r = c.response(false);
    assert_eq!((r.status, r.body.as_slice()), (503, &b"busy"[..]), "{name}");
    for _ in 0..2 {
        assert!(s2.next().line.starts_with("GET /503 "), "{name}");
    }
    assert!(s2.nothing_within(Duration::from_millis(50)), "{name}");
    assert!(s3.nothing_within(Duration::from_millis(1)), "{name}");
    let (l, rc) = next_log(&p);
    assert_eq!(
        (l.backend_server.as_str(), l.status.as_str(), rc.as_str()),
        ("be/s2", "503", "+3"),
        "{name}"
    );
}
on_both!(
    connect_and_l7_retries_share_the_count,
    connect_and_l7_retries_share_the_count_on_haproxy,
    connect_and_l7_retries_share_the_count_on_ringlb
);

/// A persistence cookie names the failing server: the stream is tied to
/// it (no immediate redispatch), so retries stay on it until `option
/// redispatch`'s last one breaks the persistence; the answering server
/// then sets its own cookie, and the log's cookie flags say the cookie's
/// server failed (`D`).
fn a_cookie_s_server_is_left_on_the_last_retry(name: &str, program: &Path) {
    let (s1, s2) = (Server::start(failing), Server::start(answering));
    let cfg = config(
        &[
            format!("s1 {} cookie one", s1.addr),
            format!("s2 {} cookie two", s2.addr),
        ],
        "balance roundrobin\nretries 2\noption redispatch\nretry-on 503\n\
         cookie SRV insert indirect nocache",
    );
    let p = start(name, program, &cfg);
    let mut c = Client::connect(p.addr);
    c.send(b"GET /503 HTTP/1.1\r\nHost: a\r\nCookie: SRV=one\r\n\r\n");
    let r = c.response(false);
    assert_eq!(r.status, 200, "{name}");
    let set = r.header("set-cookie").unwrap_or_default().to_string();
    for _ in 0..2 {
        assert!(s1.next().line.starts_with("GET /503 "), "{name}");
    }
    assert!(s1.nothing_within(Duration::from_millis(50)), "{name}");
    assert!(s2.next().line.starts_with("GET /503 "), "{name}");
    let line = loop {
        let l = p.next_log();
        if l.ends_with('"') {
            break l;
        }
    };
    let f: Vec<&str> = line.split(' ').collect();
    assert_eq!(
        (f[3], f[9], f[10], set.as_str()),
        ("be/s2", "--DI", "1/1/0/0/+2", "SRV=two; path=/"),
        "{name}: {line}"
    );
}
on_both!(
    a_cookie_s_server_is_left_on_the_last_retry,
    a_cookie_s_server_is_left_on_the_last_retry_on_haproxy,
    a_cookie_s_server_is_left_on_the_last_retry_on_ringlb
);
