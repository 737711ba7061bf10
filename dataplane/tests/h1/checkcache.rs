//! `option checkcache`: a cacheable response carrying a Set-Cookie is
//! blocked (PH) with an alert; the others pass. The manual says the
//! client gets a 502; haproxy 2.6 sends its deny with the server's status
//! still set (its page for 200, "Service ready."), so the status is the
//! one thing this test expects differently (docs/differences.md).

use std::path::Path;

use crate::harness::start;
use crate::server::{config, next_http_log, Answer, Client, Seen, Server};

fn answer(s: &Seen) -> Answer {
    let path = s.line.split(' ').nth(1).unwrap_or("/");
    let extra = match path {
        "/blocked" | "/post" => "Set-Cookie: a=1\r\nCache-Control: max-age=60\r\n",
        "/private" => "Set-Cookie: a=1\r\nCache-Control: max-age=60, private\r\n",
        "/sc" => "Set-Cookie: a=1\r\nCache-Control: max-age=60, no-cache=\"set-cookie\"\r\n",
        "/nocookie" => "Cache-Control: max-age=60\r\n",
        "/etag" => "Set-Cookie: a=1\r\nETag: \"x\"\r\n",
        "/stale" => "Set-Cookie: a=1\r\n",
        _ => "",
    };
    Answer::Send(format!("HTTP/1.1 200 OK\r\n{extra}Content-Length: 2\r\n\r\nok").into_bytes())
}

fn checkcache(name: &str, program: &Path) {
    let srv = Server::start(answer);
    let cfg = config(&[format!("s1 {}", srv.addr)], "option checkcache");
    let p = start(name, program, &cfg);
    for (method, path, status) in [
        ("GET", "/nocookie", 200),
        ("GET", "/private", 200),
        ("GET", "/sc", 200),
        ("POST", "/post", 200),
        ("GET", "/stale", 200),
        ("GET", "/blocked", 502),
        ("GET", "/etag", 502),
    ] {
        let mut c = Client::connect(p.addr);
        let len = if method == "POST" {
            "Content-Length: 0\r\n"
        } else {
            ""
        };
        c.send(format!("{method} {path} HTTP/1.1\r\nHost: a\r\n{len}\r\n").as_bytes());
        let r = c.response(false);
        let status = match (status, name) {
            (502, "haproxy") => 200,
            _ => status,
        };
        assert_eq!(r.status, status, "{name}: {path}");
        let blocked = path == "/blocked" || path == "/etag";
        if blocked {
            assert!(
                String::from_utf8_lossy(&r.body).contains(if status == 502 {
                    "502 Bad Gateway"
                } else {
                    "Service ready."
                }),
                "{name}: {path}"
            );
            // The alert, in the log too (to the backend's targets), and
            // the transaction's line.
            let alert = p.next_log();
            assert!(
                alert
                    .contains("Blocking cacheable cookie in response from instance be, server s1."),
                "{name}: {alert}"
            );
            let line = next_http_log(&p);
            assert_eq!(
                (line.status, line.termination.as_str()),
                (status.to_string(), "PH--"),
                "{name}: {path}"
            );
        } else {
            let line = next_http_log(&p);
            assert_eq!(line.status, "200", "{name}: {path}");
        }
    }
}
on_both!(checkcache, checkcache_on_haproxy, checkcache_on_ringlb);
