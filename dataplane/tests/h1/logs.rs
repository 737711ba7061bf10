//! What the rules and the log know about a stream's addresses and its
//! timing: `dst` / `src` in HTTP rules whatever the log prints, `option
//! logasap`.

use std::path::Path;

use crate::harness::start;
use crate::server::{config, Client};

/// `%[dst]` in a rule is the address the client reached even when the
/// log line prints neither `%fi` nor `%fp` (ringlb used to ask the socket
/// only for the log's sake, and the rule found nothing).
fn dst_in_rules(name: &str, program: &Path) {
    let cfg = config(&[], "").replace("    option httplog\n", "").replace(
        "frontend fe\n",
        "frontend fe\n    log-format %ST\n    \
         http-request return status 200 content-type text/plain lf-string \"%[dst]:%[dst_port] %[src]\"\n",
    );
    let p = start(name, program, &cfg);
    let mut c = Client::connect(p.addr);
    c.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let r = c.response(false);
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        format!("127.0.0.1:{} 127.0.0.1", p.addr.port()),
        "{name}"
    );
    assert_eq!(p.next_log(), "200", "{name}");
}
on_both!(
    dst_in_rules,
    dst_in_rules_on_haproxy,
    dst_in_rules_on_ringlb
);

/// A response head with half its body: the rest never comes.
fn half_body(_: &crate::server::Seen) -> crate::server::Answer {
    crate::server::Answer::Send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello".to_vec())
}

/// `option logasap`: the line comes as soon as the response head is
/// ready, with `+` before the end date and the bytes (what the response
/// held then: its head and the first body bytes), nothing from the client
/// counted yet, the termination state still `--`; the transaction's end
/// logs nothing more.
fn logasap_http(name: &str, program: &Path) {
    let srv = crate::server::Server::start(half_body);
    let cfg = config(&[format!("s1 {}", srv.addr)], "option logasap")
        .replace("    option httplog\n", "")
        .replace(
            "frontend fe\n",
            "frontend fe\n    log-format \"%ST %B %U %Tt %Ta %Tu %ts %tsc %{+Q}r\"\n",
        );
    let p = start(name, program, &cfg);
    let mut c = Client::connect(p.addr);
    let sent = std::time::Instant::now();
    c.send(b"GET /big HTTP/1.1\r\nHost: a\r\n\r\n");
    let line = p.next_log();
    assert!(
        sent.elapsed() < std::time::Duration::from_secs(3),
        "{name}: logged after {:?} (timeout server is 5s)",
        sent.elapsed()
    );
    // 20 + 8 + 3 + 2 (start line), 14 + 2 (Content-Length), 1, 5 of body.
    let f: Vec<&str> = line.splitn(9, ' ').collect();
    assert_eq!(
        (f[0], f[1], f[2], f[6], f[7], f[8]),
        ("200", "+55", "0", "--", "----", "\"GET /big HTTP/1.1\""),
        "{name}: {line}"
    );
    // %Tt, %Ta, %Tu: the response's date, marked partial.
    for t in &f[3..6] {
        let n = t
            .strip_prefix('+')
            .unwrap_or_else(|| panic!("{name}: {line}"));
        assert!(n.parse::<u32>().is_ok_and(|n| n < 3000), "{name}: {line}");
    }
    drop(c);
    assert!(
        p.stdout
            .recv_timeout(std::time::Duration::from_millis(300))
            .is_err(),
        "{name}: a second line"
    );
}
on_both!(
    logasap_http,
    logasap_http_on_haproxy,
    logasap_http_on_ringlb
);

/// `option logasap` with `option httplog`: the whole line as haproxy
/// prints it, and a denied request (never sent to a server) logged at its
/// end with the `+` all the same (the frontend's to_log).
fn logasap_httplog(name: &str, program: &Path) {
    let srv = crate::server::Server::start(|_| crate::server::ok("ok"));
    let cfg = config(&[format!("s1 {}", srv.addr)], "option logasap").replace(
        "frontend fe\n",
        "frontend fe\n    http-request deny if { path /deny }\n",
    );
    let p = start(name, program, &cfg);
    let mut c = Client::connect(p.addr);
    c.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(c.response(false).status, 200, "{name}");
    let line = p.next_log();
    let rest = line.split_once(" fe be/s1 ").unwrap().1;
    let (timers, rest) = rest.split_once(' ').unwrap();
    assert!(
        timers.split('/').count() == 5 && timers.rsplit('/').next().unwrap().starts_with('+'),
        "{name}: {line}"
    );
    assert_eq!(
        rest, "200 +51 - - ---- 1/1/1/1/0 0/0 \"GET / HTTP/1.1\"",
        "{name}: {line}"
    );
    c.send(b"GET /deny HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(c.response(false).status, 403, "{name}");
    let line = p.next_log();
    let rest = line.split_once(" fe fe/<NOSRV> ").unwrap().1;
    let (timers, rest) = rest.split_once(' ').unwrap();
    assert!(
        timers.ends_with("/-1/-1/-1/+0") || timers.contains("/-1/-1/-1/+"),
        "{name}: {line}"
    );
    assert!(rest.starts_with("403 +"), "{name}: {line}");
}
on_both!(
    logasap_httplog,
    logasap_httplog_on_haproxy,
    logasap_httplog_on_ringlb
);

/// `option logasap` in TCP mode: logged once connected, the end date the
/// connect's, `+0` bytes, termination `--`; nothing at the end.
fn logasap_tcp(name: &str, program: &Path) {
    let srv = crate::server::Server::start(|_| crate::server::ok("ok"));
    let cfg = format!(
        "global\n    log stdout format raw local0\n\
         defaults\n    mode tcp\n    log global\n    option tcplog\n    option logasap\n    \
         timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n\
         frontend fe\n    bind fd@3\n    default_backend be\n\
         backend be\n    server s1 {}\n",
        srv.addr
    );
    let p = start(name, program, &cfg);
    let mut c = Client::connect(p.addr);
    c.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(c.response(false).status, 200, "{name}");
    let line = p.next_log();
    let rest = line.split_once(" fe be/s1 ").unwrap().1;
    let (timers, rest) = rest.split_once(' ').unwrap();
    assert!(timers.contains("/+"), "{name}: {line}");
    assert_eq!(rest, "+0 -- 1/1/1/1/0 0/0", "{name}: {line}");
    drop(c);
    assert!(
        p.stdout
            .recv_timeout(std::time::Duration::from_millis(300))
            .is_err(),
        "{name}: a second line"
    );
}
on_both!(logasap_tcp, logasap_tcp_on_haproxy, logasap_tcp_on_ringlb);

/// `log-format-sd` under `format rfc5424`: the structured data after the
/// MSGID, spaces merged and the trailing ones dropped.
fn log_format_sd(name: &str, program: &Path) {
    let srv = crate::server::Server::start(|_| crate::server::ok("ok"));
    let cfg = config(&[format!("s1 {}", srv.addr)], "")
        .replace("format raw", "format rfc5424")
        .replace("    option httplog\n", "")
        .replace(
            "frontend fe\n",
            "frontend fe\n    log-format \"%ST %b\"\n    \
             log-format-sd \"[ringlb@1 be=\\\"%b\\\"   st=\\\"%ST\\\"] \"\n",
        );
    let p = start(name, program, &cfg);
    let mut c = Client::connect(p.addr);
    c.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(c.response(false).status, 200, "{name}");
    let line = p.next_log();
    let f: Vec<&str> = line.splitn(6, ' ').collect();
    assert_eq!(f[0], "<134>1", "{name}: {line}");
    assert_eq!(
        f[5], "- [ringlb@1 be=\"be\" st=\"200\"] 200 be",
        "{name}: {line}"
    );
}
on_both!(
    log_format_sd,
    log_format_sd_on_haproxy,
    log_format_sd_on_ringlb
);

/// `%rt` in TCP mode: each stream its number, 0, 1, 2 under one thread.
fn tcp_request_counter(name: &str, program: &Path) {
    let srv = crate::server::Server::start(|_| crate::server::ok("ok"));
    let cfg = format!(
        "global\n    nbthread 1\n    log stdout format raw local0\n\
         defaults\n    mode tcp\n    log global\n    \
         timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n\
         frontend fe\n    bind fd@3\n    log-format \"rt=%rt %{{+X}}rt\"\n    default_backend be\n\
         backend be\n    server s1 {}\n",
        srv.addr
    );
    let p = start(name, program, &cfg);
    for rt in 0..3 {
        let mut c = Client::connect(p.addr);
        c.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(c.response(false).status, 200, "{name}");
        drop(c);
        assert_eq!(p.next_log(), format!("rt={rt} {rt:04X}"), "{name}");
    }
}
on_both!(
    tcp_request_counter,
    tcp_request_counter_on_haproxy,
    tcp_request_counter_on_ringlb
);

/// `%[...]` in log-format, with what HAProxy allows at log time: the
/// transaction's variables (not the next request's), the connection, the
/// unique id, the status, captures, converters; `-` (or `""` quoted) for
/// nothing.
fn log_samples(name: &str, program: &Path) {
    let srv = crate::server::Server::start(|_| crate::server::ok("ok"));
    let cfg = config(&[format!("s1 {}", srv.addr)], "")
        .replacen("global\n", "global\n    nbthread 1\n", 1)
        .replace("    option httplog\n", "")
        .replace(
            "frontend fe\n",
            "frontend fe\n    capture request header Host len 20\n    \
             unique-id-format id%rt\n    \
             http-request set-var(txn.host) req.hdr(host) if { path /set }\n    \
             http-request deny if { path /deny }\n    \
             log-format \"%[var(txn.host)] %[src] %[unique-id] %[status] %[fe_name,upper] \
             %[capture.req.hdr(0)] %{+Q}[var(txn.none)] %[var(txn.none)]\"\n",
        );
    let p = start(name, program, &cfg);
    let mut c = Client::connect(p.addr);
    for (path, host, line) in [
        ("/set", "a.org", "a.org 127.0.0.1 id0 200 FE a.org \"\" -"),
        ("/other", "b.org", "- 127.0.0.1 id1 200 FE b.org \"\" -"),
        // A denied request: no response for `status` (haproxy 2.6).
        ("/deny", "c.org", "- 127.0.0.1 id2 - FE c.org \"\" -"),
    ] {
        c.send(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes());
        c.response(false);
        assert_eq!(p.next_log(), line, "{name}");
    }
}
on_both!(log_samples, log_samples_on_haproxy, log_samples_on_ringlb);

/// A transaction's variables end with it, also after a 503 the client
/// connection survives (the server refused the connection).
fn vars_end_after_a_503(name: &str, program: &Path) {
    let cfg = config(
        &[format!("s1 {}", crate::harness::refused_addr())],
        "retries 0",
    )
    .replace("    option httplog\n", "")
    .replace(
        "frontend fe\n",
        "frontend fe\n    log-format \"%ST %[var(txn.x)]\"\n    \
             http-request set-var(txn.x) str(set) if { path /set }\n",
    );
    let p = start(name, program, &cfg);
    let mut c = Client::connect(p.addr);
    for (path, line) in [("/set", "503 set"), ("/other", "503 -")] {
        c.send(format!("GET {path} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes());
        assert_eq!(c.response(false).status, 503, "{name}");
        assert_eq!(p.next_log(), line, "{name}");
    }
}
on_both!(
    vars_end_after_a_503,
    vars_end_after_a_503_on_haproxy,
    vars_end_after_a_503_on_ringlb
);
