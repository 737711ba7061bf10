//! `unique-id-format` / `unique-id-header`, the `unique-id` fetch and
//! `%ID` / `%rt` in the log: one id per request, made once and the same
//! wherever it is read, sent to the server in the header.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::harness::start;
use crate::server::{config, ok, Client, Seen, Server};

fn answer(_: &Seen) -> crate::server::Answer {
    ok("ok")
}

/// The manual's example format, `%{+X}o %ci:%cp_%fi:%fp_%Ts_%rt:%pid`,
/// with one thread so that `%rt` counts 0, 1, 2 on both proxies.
fn hex_format(name: &str, program: &Path) {
    let srv = Server::start(answer);
    let cfg = config(&[format!("s1 {}", srv.addr)], "")
        .replacen("global\n", "global\n    nbthread 1\n", 1)
        .replace("    option httplog\n", "")
        .replace(
            "frontend fe\n",
            "frontend fe\n    unique-id-format %{+X}o\\ %ci:%cp_%fi:%fp_%Ts_%rt:%pid\n    \
             unique-id-header X-Unique-ID\n    \
             log-format \"%ID|%rt|%{+Q}r\"\n    \
             http-request set-header X-Rule %[unique-id]\n    \
             http-response set-header X-ID %[unique-id]\n    \
             http-request deny if { path /deny }\n",
        );
    let p = start(name, program, &cfg);
    let pid = p.child.id();
    let mut clients = [Client::connect(p.addr), Client::connect(p.addr)];
    let mut ids = Vec::new();
    // Two requests on one connection, one on another.
    let mut since: [Option<u64>; 2] = [None, None];
    for (rt, (which, path)) in [(0, "/a"), (0, "/b"), (1, "/deny")].into_iter().enumerate() {
        let client = &mut clients[which];
        // %Ts of a keep-alive request is when the connection began to wait
        // for it (the end of the one before, as HAProxy's accept date of a
        // new transaction): the bound is the first request's start.
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let before = *since[which].get_or_insert(now);
        client.send(format!("GET {path} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes());
        let r = client.response(false);
        let after = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let local = client.w.local_addr().unwrap();
        let line = p.next_log();
        let (id, rest) = line.split_once('|').unwrap();
        // The id, field by field.
        let prefix = format!(
            "7F000001:{:04X}_7F000001:{:04X}_",
            local.port(),
            p.addr.port()
        );
        let ts = id
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("{name}: {id} does not start with {prefix}"));
        let (ts, tail) = ts.split_once('_').unwrap();
        let ts = u64::from_str_radix(ts, 16).unwrap();
        assert!((before..=after).contains(&ts), "{name}: %Ts {ts} in {id}");
        assert_eq!(tail, format!("{rt:04X}:{pid:04X}"), "{name}: {id}");
        assert_eq!(
            rest,
            format!("{rt}|\"GET {path} HTTP/1.1\""),
            "{name}: {line}"
        );
        if path == "/deny" {
            // Made for the log only: nothing reached the server.
            assert_eq!(r.status, 403, "{name}");
        } else {
            assert_eq!(r.status, 200, "{name}");
            let seen = srv.next();
            assert_eq!(seen.header("x-unique-id"), Some(id), "{name}: header");
            assert_eq!(seen.header("x-rule"), Some(id), "{name}: fetch");
            assert_eq!(r.header("x-id"), Some(id), "{name}: response fetch");
            // The header goes last, before none of the proxy's own.
            assert_eq!(
                seen.headers.last().map(|(n, _)| n.to_ascii_lowercase()),
                Some("x-unique-id".to_string()),
                "{name}: {:?}",
                seen.headers
            );
        }
        ids.push(id.to_string());
    }
    ids.dedup();
    assert_eq!(ids.len(), 3, "{name}: {ids:?}");
}
on_both!(hex_format, hex_format_on_haproxy, hex_format_on_ringlb);

/// A format over request samples, with `unique-id-header` but no fetch:
/// made once the request is processed (after the rules changed it), as
/// HAProxy's http_process_request does; a `%ID` inside its own format
/// prints nothing (HAProxy parses the format as a header value: no `-`).
fn sample_format(name: &str, program: &Path) {
    let srv = Server::start(answer);
    let cfg = config(&[format!("s1 {}", srv.addr)], "")
        .replace("    option httplog\n", "")
        .replace(
            "frontend fe\n",
            "frontend fe\n    unique-id-format %[req.hdr(x-tag)]-%[path]-%ID-%b\n    \
             unique-id-header X-Req-ID\n    \
             log-format \"[%ID] %ST\"\n    \
             http-request set-header X-Tag changed\n",
        );
    let p = start(name, program, &cfg);
    let mut c = Client::connect(p.addr);
    c.send(b"GET /p?q=1 HTTP/1.1\r\nHost: a\r\nX-Tag: first\r\n\r\n");
    assert_eq!(c.response(false).status, 200, "{name}");
    let seen = srv.next();
    assert_eq!(seen.header("x-req-id"), Some("changed-/p--be"), "{name}");
    assert_eq!(p.next_log(), "[changed-/p--be] 200", "{name}");
}
on_both!(
    sample_format,
    sample_format_on_haproxy,
    sample_format_on_ringlb
);

/// Without `unique-id-format`, the header is not sent, the fetch finds
/// nothing and `%ID` prints `-`.
fn no_format(name: &str, program: &Path) {
    let srv = Server::start(answer);
    let cfg = config(&[format!("s1 {}", srv.addr)], "")
        .replace("    option httplog\n", "")
        .replace(
            "frontend fe\n",
            "frontend fe\n    unique-id-header X-Req-ID\n    \
             log-format \"[%ID]\"\n    \
             http-request set-header X-Rule <%[unique-id]>\n",
        );
    let p = start(name, program, &cfg);
    let mut c = Client::connect(p.addr);
    c.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(c.response(false).status, 200, "{name}");
    let seen = srv.next();
    assert_eq!(seen.header("x-req-id"), None, "{name}");
    assert_eq!(seen.header("x-rule"), Some("<>"), "{name}");
    assert_eq!(p.next_log(), "[-]", "{name}");
}
on_both!(no_format, no_format_on_haproxy, no_format_on_ringlb);
