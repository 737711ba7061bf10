//! Frontend features around the exchange: header captures in the log,
//! `monitor-uri`, `errorfiles` from an `http-errors` section, `option
//! http-buffer-request`.

use std::path::Path;
use std::time::Duration;

use crate::harness::{refused_addr, start};
use crate::server::{config, ok, Answer, Client, Seen, Server};

fn with_server_header(_: &Seen) -> Answer {
    Answer::Send(
        b"HTTP/1.1 200 OK\r\nServer: test-origin/1.0\r\nContent-Length: 2\r\n\r\nok".to_vec(),
    )
}

/// `capture request header` / `response header`: the last occurrence,
/// cut to its length, between braces in `%hr` / `%hs`; an absent one
/// empty.
fn captures(name: &str, program: &Path) {
    let srv = Server::start(with_server_header);
    let cfg = config(&[format!("s1 {}", srv.addr)], "").replace(
        "frontend fe\n",
        "frontend fe\n    capture request header Host len 5\n    capture request header X-Missing len 9\n    capture request header User-Agent len 40\n    capture response header Server len 11\n",
    );
    let p = start(name, program, &cfg);
    let mut c = Client::connect(p.addr);
    c.send(b"GET / HTTP/1.1\r\nHost: example.org\r\nUser-Agent: first\r\nUser-Agent: second one\r\n\r\n");
    assert_eq!(c.response(false).status, 200, "{name}");
    let line = p.next_log();
    assert!(
        line.contains(" {examp||second one} {test-origin} \"GET / HTTP/1.1\""),
        "{name}: {line}"
    );
}
on_both!(captures, captures_on_haproxy, captures_on_ringlb);

/// `monitor-uri`: the proxy answers 200 itself, the server sees nothing,
/// nothing is logged.
fn monitor_uri(name: &str, program: &Path) {
    let srv = Server::start(|_| ok("origin"));
    let cfg = config(&[format!("s1 {}", srv.addr)], "")
        .replace("frontend fe\n", "frontend fe\n    monitor-uri /healthz\n");
    let p = start(name, program, &cfg);
    let mut c = Client::connect(p.addr);
    c.send(b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
    let r = c.response(false);
    assert_eq!(r.status, 200, "{name}");
    assert!(
        String::from_utf8_lossy(&r.body).contains("Service ready."),
        "{name}"
    );
    assert!(srv.nothing_within(Duration::from_millis(100)), "{name}");
    let mut c = Client::connect(p.addr);
    c.send(b"GET /other HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(c.response(false).body, b"origin", "{name}");
    let line = p.next_log();
    assert!(line.ends_with("\"GET /other HTTP/1.1\""), "{name}: {line}");
}
on_both!(monitor_uri, monitor_uri_on_haproxy, monitor_uri_on_ringlb);

/// `errorfiles <section>`: the section's page replaces HAProxy's.
fn errorfiles_section(name: &str, program: &Path) {
    let dir = crate::harness::TempDir::new("errorfiles");
    let page = dir.0.join("503.http");
    std::fs::write(
        &page,
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 14\r\nConnection: close\r\n\r\ncustom outage\n",
    )
    .unwrap();
    let cfg = format!(
        "http-errors site\n    errorfile 503 {}\n{}",
        page.display(),
        config(&[format!("s1 {}", refused_addr())], "retries 0")
    )
    .replace("\nbackend be\n", "\nbackend be\n    errorfiles site\n");
    let p = start(name, program, &cfg);
    let mut c = Client::connect(p.addr);
    c.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let r = c.response(false);
    assert_eq!(
        (r.status, r.body.as_slice()),
        (503, &b"custom outage\n"[..]),
        "{name}"
    );
}
on_both!(
    errorfiles_section,
    errorfiles_section_on_haproxy,
    errorfiles_section_on_ringlb
);

fn body_len(s: &Seen) -> Answer {
    ok(&s.body.len().to_string())
}

/// `option http-buffer-request`: no server connection until the body
/// has arrived.
fn buffer_request(name: &str, program: &Path) {
    let srv = Server::start(body_len);
    let p = start(
        name,
        program,
        &config(&[format!("s1 {}", srv.addr)], "option http-buffer-request"),
    );
    let mut c = Client::connect(p.addr);
    c.send(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n01234");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(srv.connections(), 0, "{name}: connected before the body");
    c.send(b"56789");
    assert_eq!(c.response(false).body, b"10", "{name}");
}
on_both!(
    buffer_request,
    buffer_request_on_haproxy,
    buffer_request_on_ringlb
);

/// Under `option http-buffer-request` the proxy itself answers a client
/// that waits for `100 Continue`, and the server sees no Expect header.
fn buffer_request_expect(name: &str, program: &Path) {
    let srv = Server::start(|s| ok(s.header("expect").unwrap_or("none")));
    let p = start(
        name,
        program,
        &config(&[format!("s1 {}", srv.addr)], "option http-buffer-request"),
    );
    let mut c = Client::connect(p.addr);
    c.send(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    assert_eq!(c.response(false).status, 100, "{name}");
    c.send(b"data");
    assert_eq!(c.response(false).body, b"none", "{name}");
}
on_both!(
    buffer_request_expect,
    buffer_request_expect_on_haproxy,
    buffer_request_expect_on_ringlb
);

/// The README's example (deploy/examples/quickstart.cfg) serves as it
/// says, its listener and app server moved to test sockets.
#[test]
fn the_quickstart_example_serves() {
    let app = Server::start(|s| ok(&format!("app saw {}", s.line)));
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/examples/quickstart.cfg"
    ))
    .unwrap();
    // The example's own addresses are rewritten away: the proxy gets its
    // listener as fd@3 (port 0) and the app server is the test's.
    let cfg = text
        .replace("bind 127.0.0.1:8080", "bind fd@3")
        .replace("127.0.0.1:8001", &app.addr.to_string());
    assert_ne!(cfg, text);
    let p = start("ringlb", &crate::harness::ringlb(), &cfg);
    let get = |path: &str| {
        let mut c = Client::connect(p.addr);
        c.send(format!("GET {path} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes());
        c.response(false)
    };
    let home = get("/");
    assert!(String::from_utf8_lossy(&home.body).contains("Hello from ringlb"));
    assert_eq!(get("/health").body, b"ok\n");
    assert_eq!(get("/app/page").body, b"app saw GET /page HTTP/1.1");
    let r = get("/old");
    assert_eq!((r.status, r.header("location")), (302, Some("/app/")));
    assert_eq!(get("/admin").status, 403);
}

/// `tcp-request connection`: the first rule whose condition holds decides
/// at accept time; a rejected client is closed before a byte is read and
/// the server never hears of it.
fn tcp_request_connection(name: &str, program: &Path) {
    let srv = Server::start(|_| ok("in"));
    let rejecting = config(&[format!("s1 {}", srv.addr)], "").replace(
        "frontend fe\n",
        "frontend fe\n    tcp-request connection reject if { src 127.0.0.0/8 }\n",
    );
    let p = start(name, program, &rejecting);
    let mut c = Client::connect(p.addr);
    let _ = std::io::Write::write_all(&mut c.w, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert!(
        c.try_response(false).is_none(),
        "{name}: a rejected client got an answer"
    );
    assert!(srv.nothing_within(Duration::from_millis(100)), "{name}");
    let accepting = config(&[format!("s1 {}", srv.addr)], "").replace(
        "frontend fe\n",
        "frontend fe\n    tcp-request connection accept if { src 127.0.0.1 }\n    tcp-request connection reject\n",
    );
    let p = start(name, program, &accepting);
    let mut c = Client::connect(p.addr);
    c.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(c.response(false).body, b"in", "{name}");
}
on_both!(
    tcp_request_connection,
    tcp_request_connection_on_haproxy,
    tcp_request_connection_on_ringlb
);

/// `http-send-name-header`: the server sees its own name in the header,
/// every occurrence the client sent removed, the new one last; with two
/// servers in round robin, each sees its own.
fn send_name_header(name: &str, program: &Path) {
    let (a, b) = (Server::start(|_| ok("a")), Server::start(|_| ok("b")));
    let cfg = config(
        &[format!("first {}", a.addr), format!("second {}", b.addr)],
        "",
    )
    .replace(
        "\nbackend be\n",
        "\nbackend be\n    http-send-name-header X-Srv\n",
    );
    let p = start(name, program, &cfg);
    let mut seen = Vec::new();
    for _ in 0..2 {
        let mut c = Client::connect(p.addr);
        c.send(
            b"GET / HTTP/1.1\r\nHost: h\r\nX-Srv: forged\r\nAccept: */*\r\nx-srv: again\r\n\r\n",
        );
        assert_eq!(c.response(false).status, 200, "{name}");
    }
    for s in [&a, &b] {
        let r = s.next();
        let h: Vec<String> = r
            .headers
            .iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case("x-forwarded-for"))
            .map(|(n, v)| format!("{}: {v}", n.to_ascii_lowercase()))
            .collect();
        seen.push(h.join(", "));
    }
    assert_eq!(
        seen,
        [
            "host: h, accept: */*, x-srv: first",
            "host: h, accept: */*, x-srv: second"
        ],
        "{name}"
    );
}
on_both!(
    send_name_header,
    send_name_header_on_haproxy,
    send_name_header_on_ringlb
);

/// `option http-restrict-req-hdr-names`: `delete` removes the headers
/// whose names have a character outside `[A-Za-z0-9-]` (after the
/// http-request rules, which still see them); `reject` answers 403, logged
/// `PR`, and the server sees nothing.
fn restrict_header_names(name: &str, program: &Path) {
    let srv = Server::start(|_| ok("x"));
    for (how, status) in [("delete", 200), ("reject", 403), ("preserve", 200)] {
        let cfg = config(&[format!("s1 {}", srv.addr)], "").replace(
            "frontend fe\n",
            &format!(
                "frontend fe\n    option http-restrict-req-hdr-names {how}\n    \
                 http-request set-header X-Seen %[req.hdr(x_under)]\n"
            ),
        );
        let p = start(name, program, &cfg);
        let mut c = Client::connect(p.addr);
        c.send(b"GET / HTTP/1.1\r\nHost: h\r\nX_Under: u\r\nGood-Name: g\r\nX.Dot: d\r\nAccept: a\r\n\r\n");
        let r = c.response(false);
        assert_eq!(r.status, status, "{name} {how}");
        let log = crate::server::next_http_log(&p);
        if status == 403 {
            assert!(log.termination.starts_with("PR"), "{name} {how}: {log:?}");
            assert!(
                srv.nothing_within(Duration::from_millis(200)),
                "{name} {how}"
            );
            continue;
        }
        let seen = srv.next();
        let names: Vec<String> = seen
            .headers
            .iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case("x-forwarded-for"))
            .map(|(n, v)| format!("{}={v}", n.to_ascii_lowercase()))
            .collect();
        let want: &[&str] = if how == "delete" {
            &["host=h", "good-name=g", "accept=a", "x-seen=u"]
        } else {
            &[
                "host=h",
                "x_under=u",
                "good-name=g",
                "x.dot=d",
                "accept=a",
                "x-seen=u",
            ]
        };
        assert_eq!(names, want, "{name} {how}");
    }
}
on_both!(
    restrict_header_names,
    restrict_header_names_on_haproxy,
    restrict_header_names_on_ringlb
);

/// `http-error`: the frontend's page for 503 (a string with a header) is
/// used when the backend has no server, and also when the backend resets
/// its own with `default-errorfiles`; a 403 from a deny gets the
/// frontend's; a backend's `http-error ... errorfiles <section>` takes the
/// section's page. Status, headers and body as haproxy sends them.
fn http_error_pages(name: &str, program: &Path) {
    let dir = crate::harness::TempDir::new("http-error");
    let file = dir.0.join("503.http");
    std::fs::write(
        &file,
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 8\r\n\r\nsection!",
    )
    .unwrap();
    let mut got = Vec::new();
    for backend_line in [
        "",
        "    http-error status 503 default-errorfiles\n",
        "    http-error status 503 errorfiles errs\n",
    ] {
        let cfg = config(&[], "")
            .replace(
                "frontend fe\n",
                &format!(
                    "http-errors errs\n    errorfile 503 {}\n\
                     frontend fe\n    http-error status 503 content-type text/plain string down hdr X-A b\n    \
                     http-error status 403 content-type text/plain string no%%entry\n    \
                     http-request deny if {{ path /deny }}\n",
                    file.display()
                ),
            )
            .replace("\nbackend be\n", &format!("\nbackend be\n{backend_line}"));
        let p = start(name, program, &cfg);
        for path in ["/", "/deny"] {
            let mut c = Client::connect(p.addr);
            c.send(format!("GET {path} HTTP/1.1\r\nHost: h\r\n\r\n").as_bytes());
            let r = c.response(false);
            let h: Vec<String> = r
                .headers
                .iter()
                .map(|(n, v)| format!("{}={v}", n.to_ascii_lowercase()))
                .collect();
            got.push(format!(
                "{path} {} {h:?} {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            ));
        }
    }
    assert_eq!(
        got,
        [
            "/ 503 [\"x-a=b\", \"content-length=4\", \"content-type=text/plain\"] down",
            "/deny 403 [\"content-length=9\", \"content-type=text/plain\"] no%%entry",
            "/ 503 [\"x-a=b\", \"content-length=4\", \"content-type=text/plain\"] down",
            "/deny 403 [\"content-length=9\", \"content-type=text/plain\"] no%%entry",
            "/ 503 [\"content-type=text/plain\", \"content-length=8\"] section!",
            "/deny 403 [\"content-length=9\", \"content-type=text/plain\"] no%%entry",
        ],
        "{name}"
    );
}
on_both!(
    http_error_pages,
    http_error_pages_on_haproxy,
    http_error_pages_on_ringlb
);

/// `srv_id` and `srv_name` in http-response rules: explicit ids, and
/// HAProxy's automatic ones (the first free number of a counter that
/// moves past every server: 2, 3, 1, 5 here).
fn server_id_fetch(name: &str, program: &Path) {
    let servers: Vec<Server> = (0..4).map(|_| Server::start(|_| ok("x"))).collect();
    let cfg = config(
        &[
            format!("first {} id 2", servers[0].addr),
            format!("second {}", servers[1].addr),
            format!("third {} id 1", servers[2].addr),
            format!("fourth {}", servers[3].addr),
        ],
        "",
    )
    .replace(
        "\nbackend be\n",
        "\nbackend be\n    http-response set-header X-Srv %[srv_id]/%[srv_name]\n",
    );
    let p = start(name, program, &cfg);
    let mut got = Vec::new();
    // Round robin on each core (ringlb keeps one balancer per core): ask
    // until every server answered once, 40 requests at most.
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..40 {
        let mut c = Client::connect(p.addr);
        c.send(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
        seen.insert(c.response(false).header("x-srv").unwrap_or("-").to_string());
        if seen.len() == 4 {
            break;
        }
    }
    got.extend(seen);
    assert_eq!(
        got,
        ["1/third", "2/first", "3/second", "5/fourth"],
        "{name}"
    );
}
on_both!(
    server_id_fetch,
    server_id_fetch_on_haproxy,
    server_id_fetch_on_ringlb
);

/// A reply's `errorfiles <section>`: the section's page for the status
/// (a deny's 403); a status the section lacks gets an empty reply (a
/// return's 404: haproxy 2.6 leaves the reply without a message).
fn reply_errorfiles(name: &str, program: &Path) {
    let dir = crate::harness::TempDir::new("reply-errorfiles");
    let file = dir.0.join("403.http");
    std::fs::write(
        &file,
        "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nX-From: section\r\nContent-Length: 7\r\n\r\nno way!",
    )
    .unwrap();
    let srv = Server::start(|_| ok("x"));
    let cfg = config(&[format!("s1 {}", srv.addr)], "").replace(
        "frontend fe\n",
        &format!(
            "http-errors errs\n    errorfile 403 {}\n\
             frontend fe\n    http-request deny deny_status 403 errorfiles errs if {{ path /d }}\n    \
             http-request return status 404 errorfiles errs if {{ path /r }}\n",
            file.display()
        ),
    );
    let p = start(name, program, &cfg);
    let mut got = Vec::new();
    for path in ["/d", "/r", "/"] {
        let mut c = Client::connect(p.addr);
        c.send(format!("GET {path} HTTP/1.1\r\nHost: h\r\n\r\n").as_bytes());
        let r = c.response(false);
        let h: Vec<String> = r
            .headers
            .iter()
            .map(|(n, v)| format!("{}={v}", n.to_ascii_lowercase()))
            .collect();
        got.push(format!(
            "{path} {} {h:?} {}",
            r.status,
            String::from_utf8_lossy(&r.body).trim_end()
        ));
    }
    assert_eq!(
        got,
        [
            "/d 403 [\"content-type=text/plain\", \"x-from=section\", \"content-length=7\"] no way!",
            "/r 404 [\"content-length=0\"] ",
            "/ 200 [\"content-length=1\"] x",
        ],
        "{name}"
    );
}
on_both!(
    reply_errorfiles,
    reply_errorfiles_on_haproxy,
    reply_errorfiles_on_ringlb
);

/// `tcp-request content` in HTTP mode runs per request, on its parsed
/// head, before the http-request rules (haproxy 2.6): a session variable
/// it counts grows request after request on one connection, a capture
/// shows in `%hr`, and a reject closes the connection and logs PR with
/// no request line (`<BADREQ>`) and no request time.
fn tcp_request_content_per_request(name: &str, program: &Path) {
    let srv = Server::start(|s: &Seen| {
        let n = s
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("x-n"))
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        ok(&format!("n={n}"))
    });
    let cfg = config(&[format!("s1 {}", srv.addr)], "").replace(
        "frontend fe\n",
        "frontend fe\n\
         \x20   tcp-request content set-var(sess.n) var(sess.n),add(1) if { var(sess.n) -m found }\n\
         \x20   tcp-request content set-var(sess.n) int(1) unless { var(sess.n) -m found }\n\
         \x20   tcp-request content capture path len 6\n\
         \x20   tcp-request content reject if { path /deny }\n\
         \x20   http-request set-header x-n %[var(sess.n)]\n",
    );
    let p = start(name, program, &cfg);
    let mut c = Client::connect(p.addr);
    for (path, want) in [("/a", "n=1"), ("/bcdefgh", "n=2")] {
        c.send(format!("GET {path} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes());
        assert_eq!(c.response(false).body, want.as_bytes(), "{name}: {path}");
    }
    let l = p.next_log();
    assert!(l.contains(" {/a} \"GET /a HTTP/1.1\""), "{name}: {l}");
    let l = p.next_log();
    assert!(
        l.contains(" {/bcdef} \"GET /bcdefgh HTTP/1.1\""),
        "{name}: {l}"
    );
    c.send(b"GET /deny HTTP/1.1\r\nHost: a\r\n\r\n");
    assert!(
        c.try_response(false).is_none(),
        "{name}: an answer after reject"
    );
    let line = p.next_log();
    let timers = line.split(' ').nth(4).unwrap_or_default();
    assert!(timers.starts_with("-1/-1/-1/-1/"), "{name}: {line}");
    let l = crate::server::HttpLog::parse(&line);
    assert_eq!(
        (
            l.backend_server.as_str(),
            l.status.as_str(),
            l.termination.as_str(),
            l.request.as_str()
        ),
        ("fe/<NOSRV>", "-1", "PR--", "{/deny} \"<BADREQ>\""),
        "{name}"
    );
}
on_both!(
    tcp_request_content_per_request,
    tcp_request_content_per_request_on_haproxy,
    tcp_request_content_per_request_on_ringlb
);

/// `use-server` in HTTP mode: per request, before balancing; a server of
/// weight 0 gets what its rule names, a disabled one is passed over for
/// the next rule.
fn use_server(name: &str, program: &Path) {
    let s1 = Server::start(|_| ok("s1"));
    let s2 = Server::start(|_| ok("s2"));
    let s3 = Server::start(|_| ok("s3"));
    let cfg = config(
        &[
            format!("s1 {}", s1.addr),
            format!("s2 {} weight 0", s2.addr),
            format!("s3 {} disabled", s3.addr),
        ],
        "",
    )
    .replace(
        "\nbackend be\n",
        "\nbackend be\n    use-server s3 if { path /three }\n    use-server s2 if { path /two } || { path /three }\n",
    );
    let p = start(name, program, &cfg);
    let mut c = Client::connect(p.addr);
    for (path, want) in [
        ("/two", "s2"),
        ("/one", "s1"),
        ("/three", "s2"),
        ("/two", "s2"),
    ] {
        c.send(format!("GET {path} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes());
        assert_eq!(c.response(false).body, want.as_bytes(), "{name}: {path}");
        let l = crate::server::HttpLog::parse(&p.next_log());
        assert_eq!(l.backend_server, format!("be/{want}"), "{name}: {path}");
    }
}
on_both!(use_server, use_server_on_haproxy, use_server_on_ringlb);

/// A backend's `tcp-request content` rules in HTTP mode run once the
/// stream switched to it, before its http-request rules (HAProxy's
/// AN_REQ_INSPECT_BE): a variable they set is seen by those rules, and a
/// reject closes the connection with nothing answered; the log line is
/// compared with haproxy's (timers masked).
fn backend_tcp_content(name: &str, program: &Path) {
    let srv = Server::start(|s: &Seen| ok(s.header("x-tag").unwrap_or("-")));
    let cfg = config(&[format!("s1 {}", srv.addr)], "").replace(
        "\nbackend be\n",
        "\nbackend be\n\
         \x20   tcp-request content set-var(txn.tag) str(be-content)\n\
         \x20   tcp-request content reject if { path /deny }\n\
         \x20   http-request set-header x-tag %[var(txn.tag)]\n",
    );
    let p = start(name, program, &cfg);
    let mut c = Client::connect(p.addr);
    c.send(b"GET /a HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(c.response(false).body, b"be-content", "{name}");
    let _ = p.next_log();
    c.send(b"GET /deny HTTP/1.1\r\nHost: a\r\n\r\n");
    assert!(
        c.try_response(false).is_none(),
        "{name}: an answer after reject"
    );
    let line = p.next_log();
    let l = crate::server::HttpLog::parse(&line);
    assert_eq!(
        (
            l.backend_server.as_str(),
            l.status.as_str(),
            l.termination.as_str(),
            l.request.as_str()
        ),
        ("be/<NOSRV>", "-1", "PR--", "\"GET /deny HTTP/1.1\""),
        "{name}: {line}"
    );
    assert!(srv.next().line.starts_with("GET /a "), "{name}");
    assert!(
        srv.nothing_within(Duration::from_millis(100)),
        "{name}: the server saw the rejected request"
    );
}
on_both!(
    backend_tcp_content,
    backend_tcp_content_on_haproxy,
    backend_tcp_content_on_ringlb
);

/// `tcp-response content` in HTTP mode runs once the server connection is
/// up, before the response is read (haproxy 2.6): a variable it sets is
/// seen by the http-response rules, and a reject (on a variable an
/// http-request rule set) kills both connections: the client gets
/// nothing, the log says PD with status -1, no response time and 0 bytes.
fn tcp_response_in_http(name: &str, program: &Path) {
    let srv = Server::start(|_| ok("hello"));
    let cfg = config(&[format!("s1 {}", srv.addr)], "").replace(
        "\nbackend be\n",
        "\nbackend be\n\
         \x20   tcp-response content set-var(txn.x) str(seen)\n\
         \x20   http-request set-var(txn.bad) int(1) if { path /bad }\n\
         \x20   tcp-response content reject if { var(txn.bad) -m found }\n\
         \x20   http-response set-header x-var %[var(txn.x)]\n",
    );
    let p = start(name, program, &cfg);
    let mut c = Client::connect(p.addr);
    c.send(b"GET /ok HTTP/1.1\r\nHost: a\r\n\r\n");
    let r = c.response(false);
    assert_eq!((r.status, r.header("x-var")), (200, Some("seen")), "{name}");
    let _ = p.next_log();
    let mut c = Client::connect(p.addr);
    c.send(b"GET /bad HTTP/1.1\r\nHost: a\r\n\r\n");
    assert!(
        c.try_response(false).is_none(),
        "{name}: an answer after reject"
    );
    let line = p.next_log();
    let l = crate::server::HttpLog::parse(&line);
    let timers = line.split(' ').nth(4).unwrap_or_default();
    let tr = timers.split('/').nth(3).unwrap_or_default();
    let bytes = line.split(' ').nth(6).unwrap_or_default();
    assert_eq!(
        (
            l.backend_server.as_str(),
            l.status.as_str(),
            l.termination.as_str(),
            tr,
            bytes
        ),
        ("be/s1", "-1", "PD--", "-1", "0"),
        "{name}: {line}"
    );
}
on_both!(
    tcp_response_in_http,
    tcp_response_in_http_on_haproxy,
    tcp_response_in_http_on_ringlb
);
