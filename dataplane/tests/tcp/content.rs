//! TCP rule sets beyond the connection's (HAProxy's tcp_rules.c) and
//! content switching in TCP mode: `tcp-request session`, `tcp-request
//! content` with `tcp-request inspect-delay` (the client's first bytes
//! are read and kept while a rule needs more, then sent to the server
//! first), `use_backend` on what was read (SNI routing without
//! terminating TLS), `use-server`. Each scenario runs on haproxy first.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::harness::{self, Backend, Proxy, TcpLog, DEADLINE};

/// A real ClientHello: openssl s_client's first flight with
/// `-servername a.example` (TLS 1.3 offered, 315 bytes).
const OPENSSL_HELLO: &[u8] = include_bytes!("data/client_hello_openssl.bin");

/// A backend that reads until the client's FIN, then answers its `tag`
/// and what it read, and reports what it read.
fn recording(tag: &'static [u8]) -> (Backend, mpsc::Receiver<Vec<u8>>) {
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let be = Backend::spawn_with(move |mut s| {
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got);
        let _ = s.write_all(tag);
        let _ = s.write_all(&got);
        let _ = s.shutdown(Shutdown::Write);
        let _ = tx.lock().unwrap().send(got);
    });
    (be, rx)
}

fn global() -> &'static str {
    "global\n    nbthread 2\n    log stdout format raw local0\n\
     defaults\n    mode tcp\n    log global\n    option tcplog\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n"
}

/// Send `parts` (pausing `pause` between them), half-close, read all.
fn exchange(p: &Proxy, parts: &[&[u8]], pause: Duration) -> Vec<u8> {
    let mut c = p.connect();
    c.set_read_timeout(Some(DEADLINE)).unwrap();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(pause);
        }
        c.write_all(part).unwrap();
    }
    c.shutdown(Shutdown::Write).unwrap();
    let mut got = Vec::new();
    let _ = c.read_to_end(&mut got);
    got
}

fn with_tag(tag: &[u8], data: &[u8]) -> Vec<u8> {
    [tag, data].concat()
}

/// SNI routing without TLS termination: the ClientHello is waited for
/// (sent in two parts), `use_backend` picks by its server name, the
/// server gets the hello unchanged first, and the log names the backend.
fn sni_routing(name: &str, program: &std::path::Path) {
    let (a, a_got) = recording(b"A:");
    let (b, b_got) = recording(b"B:");
    let (d, d_got) = recording(b"D:");
    let cfg = format!(
        "{}frontend fe\n    bind fd@3\n    tcp-request inspect-delay 5s\n\
         \x20   tcp-request content accept if {{ req.ssl_hello_type 1 }}\n\
         \x20   use_backend be_a if {{ req.ssl_sni -i a.example }}\n\
         \x20   use_backend be_b if {{ req.ssl_sni -i b.example }}\n\
         \x20   default_backend be_d\n\
         backend be_a\n    server a {}\nbackend be_b\n    server b {}\nbackend be_d\n    server d {}\n",
        global(),
        a.addr,
        b.addr,
        d.addr
    );
    let p = harness::start(name, program, &cfg);
    // openssl's hello, in two parts 150 ms apart: the rules wait for it.
    let (h1, h2) = OPENSSL_HELLO.split_at(40);
    let got = exchange(&p, &[h1, h2], Duration::from_millis(150));
    assert_eq!(got, with_tag(b"A:", OPENSSL_HELLO), "{name}: openssl hello");
    assert_eq!(a_got.recv_timeout(DEADLINE).unwrap(), OPENSSL_HELLO);
    let l = p.next_tcplog();
    assert_eq!(
        (l.backend.as_str(), l.server.as_str()),
        ("be_a", "a"),
        "{name}"
    );
    assert_eq!(l.termination, "--", "{name}");
    assert_eq!(
        l.bytes,
        (OPENSSL_HELLO.len() + 2).to_string(),
        "{name}: bytes read"
    );
    // A hand-made hello naming b.example, then data after it.
    let hello = ringlb_proto::tls::client_hello(Some(b"B.Example"), 0);
    let got = exchange(&p, &[&hello, b"after"], Duration::from_millis(50));
    let sent = [&hello[..], b"after"].concat();
    assert_eq!(got, with_tag(b"B:", &sent), "{name}: hand-made hello");
    assert_eq!(b_got.recv_timeout(DEADLINE).unwrap(), sent);
    let l = p.next_tcplog();
    assert_eq!(
        (l.backend.as_str(), l.server.as_str()),
        ("be_b", "b"),
        "{name}"
    );
    // Not TLS: the rules see no hello; at the client's FIN the evaluation
    // is final and the default backend takes it at once.
    let t = Instant::now();
    let got = exchange(&p, &[b"GET / HTTP/1.0\r\n\r\n"], Duration::ZERO);
    assert_eq!(
        got,
        with_tag(b"D:", b"GET / HTTP/1.0\r\n\r\n"),
        "{name}: plain"
    );
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "{name}: waited {:?}",
        t.elapsed()
    );
    assert_eq!(
        d_got.recv_timeout(DEADLINE).unwrap(),
        b"GET / HTTP/1.0\r\n\r\n"
    );
    let l = p.next_tcplog();
    assert_eq!(
        (l.backend.as_str(), l.server.as_str()),
        ("be_d", "d"),
        "{name}"
    );
}
on_both!(sni_routing, sni_routing_on_haproxy, sni_routing_on_ringlb);

/// `tcp-request content reject` once the inspect delay ran out: the
/// client waits the delay, is closed without a byte, no server hears of
/// it, and the log says PR on the frontend; enough bytes in time are
/// accepted at once and reach the server first.
fn reject_after_the_delay(name: &str, program: &std::path::Path) {
    let (be, got_rx) = recording(b"S:");
    let cfg = format!(
        "{}frontend fe\n    bind fd@3\n    tcp-request inspect-delay 400ms\n\
         \x20   tcp-request content accept if {{ req.len ge 5 }}\n\
         \x20   tcp-request content reject\n    default_backend be\n\
         backend be\n    server s1 {}\n",
        global(),
        be.addr
    );
    let p = harness::start(name, program, &cfg);
    let mut c = p.connect();
    c.set_read_timeout(Some(DEADLINE)).unwrap();
    let t = Instant::now();
    c.write_all(b"ab").unwrap();
    let mut got = Vec::new();
    let _ = c.read_to_end(&mut got);
    let waited = t.elapsed();
    assert!(got.is_empty(), "{name}: the rejected client got {got:?}");
    assert!(
        waited >= Duration::from_millis(350) && waited < Duration::from_secs(3),
        "{name}: closed after {waited:?}"
    );
    let l = p.next_tcplog();
    assert_eq!(
        (
            l.backend.as_str(),
            l.server.as_str(),
            l.termination.as_str()
        ),
        ("fe", "<NOSRV>", "PR"),
        "{name}"
    );
    assert_eq!((l.tw.as_str(), l.tc.as_str()), ("-1", "-1"), "{name}");
    assert!(TcpLog::ms(&l.tt) >= 350, "{name}: Tt {}", l.tt);
    assert_eq!(be.count(), 0, "{name}: the server heard of it");
    // Five bytes in time: accepted at once.
    let t = Instant::now();
    let got = exchange(&p, &[b"hello world"], Duration::ZERO);
    assert_eq!(got, b"S:hello world", "{name}");
    assert!(
        t.elapsed() < Duration::from_millis(350),
        "{name}: {:?}",
        t.elapsed()
    );
    assert_eq!(got_rx.recv_timeout(DEADLINE).unwrap(), b"hello world");
    assert_eq!(p.next_tcplog().termination, "--", "{name}");
}
on_both!(
    reject_after_the_delay,
    reject_after_the_delay_on_haproxy,
    reject_after_the_delay_on_ringlb
);

/// A client that sends nothing: the rule needing bytes waits the delay,
/// then evaluates on nothing and lets it through (no reject rule); the
/// server connection comes after the delay, and what the client sends
/// then is forwarded.
fn a_silent_client_goes_through_after_the_delay(name: &str, program: &std::path::Path) {
    let (be, _got) = recording(b"S:");
    let cfg = format!(
        "{}frontend fe\n    bind fd@3\n    tcp-request inspect-delay 300ms\n\
         \x20   tcp-request content accept if {{ req.payload(0,4) -m bin 50494e47 }}\n\
         \x20   default_backend be\n\
         backend be\n    server s1 {}\n",
        global(),
        be.addr
    );
    let p = harness::start(name, program, &cfg);
    let mut c = p.connect();
    c.set_read_timeout(Some(DEADLINE)).unwrap();
    let t = Instant::now();
    be.accepted
        .recv_timeout(DEADLINE)
        .unwrap_or_else(|_| panic!("{name}: no server connection"));
    let at = t.elapsed();
    assert!(
        at >= Duration::from_millis(250) && at < Duration::from_secs(3),
        "{name}: the server connection came after {at:?}"
    );
    c.write_all(b"late").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut got = Vec::new();
    let _ = c.read_to_end(&mut got);
    assert_eq!(got, b"S:late", "{name}");
    let l = p.next_tcplog();
    assert_eq!(
        (l.server.as_str(), l.termination.as_str()),
        ("s1", "--"),
        "{name}"
    );
}
on_both!(
    a_silent_client_goes_through_after_the_delay,
    a_silent_client_goes_through_after_the_delay_on_haproxy,
    a_silent_client_goes_through_after_the_delay_on_ringlb
);

/// More bytes than the buffer holds while a rule waits for more: the
/// buffer full ends the wait at once (HAProxy's channel_full), and all
/// the bytes reach the server in order, the buffered ones first.
fn a_full_buffer_ends_the_wait(name: &str, program: &std::path::Path) {
    let (be, got_rx) = recording(b"S:");
    let cfg = format!(
        "global\n    nbthread 2\n    log stdout format raw local0\n    tune.bufsize 4096\n    tune.maxrewrite 1024\n\
         defaults\n    mode tcp\n    log global\n    option tcplog\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n\
         frontend fe\n    bind fd@3\n    tcp-request inspect-delay 5s\n\
         \x20   tcp-request content reject if {{ req.len gt 100000 }}\n\
         \x20   default_backend be\n\
         backend be\n    server s1 {}\n",
        be.addr
    );
    let p = harness::start(name, program, &cfg);
    let data = harness::pattern(200_000);
    let mut c = p.connect();
    c.set_read_timeout(Some(DEADLINE)).unwrap();
    let t = Instant::now();
    let mut w = c.try_clone().unwrap();
    let d = data.clone();
    let writer = std::thread::spawn(move || {
        w.write_all(&d).unwrap();
        w.shutdown(Shutdown::Write).unwrap();
    });
    let mut got = Vec::new();
    let _ = c.read_to_end(&mut got);
    writer.join().unwrap();
    assert!(
        t.elapsed() < Duration::from_secs(4),
        "{name}: took {:?}",
        t.elapsed()
    );
    assert!(
        got.len() == data.len() + 2 && got[2..] == data[..],
        "{name}: {} bytes back",
        got.len()
    );
    assert_eq!(got_rx.recv_timeout(DEADLINE).unwrap().len(), data.len());
    let l = p.next_tcplog();
    assert_eq!(l.termination, "--", "{name}");
}
on_both!(
    a_full_buffer_ends_the_wait,
    a_full_buffer_ends_the_wait_on_haproxy,
    a_full_buffer_ends_the_wait_on_ringlb
);

/// `use-server` on the bytes read: a server of weight 0 gets what its
/// rule names, balancing never picks it; a rule naming a server in
/// maintenance is passed over.
fn use_server(name: &str, program: &std::path::Path) {
    let (one, _) = recording(b"1:");
    let (two, _) = recording(b"2:");
    let (three, _) = recording(b"3:");
    let cfg = format!(
        "{}frontend fe\n    bind fd@3\n    tcp-request inspect-delay 2s\n\
         \x20   tcp-request content accept if {{ req.len ge 3 }}\n    default_backend be\n\
         backend be\n\
         \x20   use-server s3 if {{ req.payload(0,3) -m bin 746872 }}\n\
         \x20   use-server s2 if {{ req.payload(0,3) -m bin 74776f }}\n\
         \x20   use-server s2 if {{ req.payload(0,3) -m bin 746872 }}\n\
         \x20   server s1 {}\n    server s2 {} weight 0\n    server s3 {} disabled\n",
        global(),
        one.addr,
        two.addr,
        three.addr
    );
    let p = harness::start(name, program, &cfg);
    for (send, want, srv) in [
        (&b"two"[..], &b"2:two"[..], "s2"),
        (b"one", b"1:one", "s1"),
        (b"thr", b"2:thr", "s2"),
        (b"xyz", b"1:xyz", "s1"),
    ] {
        // In two parts: the accept rule waits for the third byte.
        let got = exchange(&p, &[&send[..1], &send[1..]], Duration::from_millis(50));
        assert_eq!(got, want, "{name}: {:?}", String::from_utf8_lossy(send));
        let l = p.next_tcplog();
        assert_eq!(l.server, srv, "{name}: {:?}", String::from_utf8_lossy(send));
    }
}
on_both!(use_server, use_server_on_haproxy, use_server_on_ringlb);

/// `tcp-request session` runs once after the connection rules: a
/// session variable set by a connection rule is seen by a session rule
/// and by the content rules; a session reject closes the client unlogged
/// before the server hears of it.
fn session_rules_and_variables(name: &str, program: &std::path::Path) {
    let (be, _) = recording(b"S:");
    let cfg = format!(
        "{}frontend fe\n    bind fd@3\n\
         \x20   tcp-request connection set-var(sess.port) dst_port\n\
         \x20   tcp-request session set-var(sess.seen) int(1) if {{ var(sess.port) -m found }}\n\
         \x20   tcp-request content reject unless {{ var(sess.seen) -m int 1 }}\n\
         \x20   default_backend be\n\
         backend be\n    server s1 {}\n",
        global(),
        be.addr
    );
    let p = harness::start(name, program, &cfg);
    assert_eq!(exchange(&p, &[b"hi"], Duration::ZERO), b"S:hi", "{name}");
    assert_eq!(p.next_tcplog().termination, "--", "{name}");
    let reject = format!(
        "{}frontend fe\n    bind fd@3\n\
         \x20   tcp-request connection set-var(sess.a) int(7)\n\
         \x20   tcp-request session reject if {{ var(sess.a) -m int 7 }}\n\
         \x20   default_backend be\n\
         backend be\n    server s1 {}\n",
        global(),
        be.addr
    );
    let p = harness::start(name, program, &reject);
    let mut c = p.connect();
    c.set_read_timeout(Some(DEADLINE)).unwrap();
    let _ = c.write_all(b"hi");
    let mut got = Vec::new();
    let _ = c.read_to_end(&mut got);
    assert!(got.is_empty(), "{name}: {got:?}");
    assert_eq!(
        be.count(),
        1,
        "{name}: only the first proxy's client reached it"
    );
    assert!(
        p.log_within(Duration::from_millis(300)).is_none(),
        "{name}: logged"
    );
}
on_both!(
    session_rules_and_variables,
    session_rules_and_variables_on_haproxy,
    session_rules_and_variables_on_ringlb
);

/// `tcp-request content capture` fills a capture slot the log prints
/// (`%hr`), and `set-log-level silent` drops a stream's line.
fn captures_and_log_level(name: &str, program: &std::path::Path) {
    let (be, _) = recording(b"S:");
    let cfg = format!(
        "{}frontend fe\n    bind fd@3\n    log-format \"%ft %b/%s %ST %hr\"\n\
         \x20   tcp-request inspect-delay 2s\n\
         \x20   tcp-request content capture req.payload(0,6) len 4 if {{ req.len ge 6 }}\n\
         \x20   tcp-request content accept if {{ req.len ge 6 }} !{{ req.payload(0,4) -m bin 51554945 }}\n\
         \x20   tcp-request content set-log-level silent if {{ req.payload(0,4) -m bin 51554945 }}\n\
         \x20   default_backend be\n\
         backend be\n    server s1 {}\n",
        global(),
        be.addr
    );
    let p = harness::start(name, program, &cfg);
    assert_eq!(
        exchange(&p, &[b"abc", b"defgh"], Duration::from_millis(50)),
        b"S:abcdefgh"
    );
    // %ST is 0 in TCP mode.
    assert_eq!(p.next_log(), "fe be/s1 0 {abcd}", "{name}");
    // QUIET: not logged; the next stream is.
    assert_eq!(exchange(&p, &[b"QUIET!"], Duration::ZERO), b"S:QUIET!");
    assert_eq!(exchange(&p, &[b"second"], Duration::ZERO), b"S:second");
    assert_eq!(p.next_log(), "fe be/s1 0 {seco}", "{name}");
}
on_both!(
    captures_and_log_level,
    captures_and_log_level_on_haproxy,
    captures_and_log_level_on_ringlb
);

/// `silent-drop`: the client is told nothing (no FIN, no reset: its
/// connection stays as it was), and no server hears of it, in the
/// connection rules and the content rules alike.
fn silent_drop(name: &str, program: &std::path::Path) {
    let (be, _) = recording(b"S:");
    for rule in [
        "tcp-request connection silent-drop",
        "tcp-request inspect-delay 2s\n    tcp-request content silent-drop if { req.len gt 0 }",
    ] {
        let cfg = format!(
            "{}frontend fe\n    bind fd@3\n    {rule}\n    default_backend be\n\
             backend be\n    server s1 {}\n",
            global(),
            be.addr
        );
        let p = harness::start(name, program, &cfg);
        let mut c = p.connect();
        let _ = c.write_all(b"hello");
        c.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let mut buf = [0u8; 16];
        match c.read(&mut buf) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            other => panic!("{name}: {rule}: the client saw {other:?}"),
        }
        assert_eq!(be.count(), 0, "{name}: {rule}: the server heard of it");
    }
}
on_both!(silent_drop, silent_drop_on_haproxy, silent_drop_on_ringlb);

/// `tcp-response content` with `tcp-response inspect-delay`, a backend's:
/// the delay starts when the server connection is up; a rule whose fetch
/// may change waits (while the client's bytes still reach the server);
/// `reject` kills the server connection and closes the client with
/// nothing (PD, the bytes read from the server counted), `close` lets
/// what was read through then closes (--).
fn tcp_response_content(name: &str, program: &std::path::Path) {
    let be = Backend::echo();
    let cfg = format!(
        "{}frontend fe\n    bind fd@3\n    default_backend be\n\
         backend be\n    tcp-response inspect-delay 600ms\n\
         \x20   tcp-response content reject if {{ res.payload(0,3) -m bin 424144 }}\n\
         \x20   tcp-response content close if {{ res.payload(0,5) -m bin 434c4f5345 }}\n\
         \x20   tcp-response content accept if {{ res.len ge 4 }}\n\
         \x20   tcp-response content reject\n\
         \x20   server s1 {}\n",
        global(),
        be.addr
    );
    let p = harness::start(name, program, &cfg);
    // (parts sent 100 ms apart, what the client gets, waited the delay?,
    // termination, bytes)
    type Case<'a> = (&'a [&'a [u8]], &'a [u8], bool, &'a str, &'a str);
    let cases: [Case; 5] = [
        (&[b"BAD!"], b"", false, "PD", "4"),
        (&[b"CLOSE"], b"CLOSE", false, "--", "5"),
        (&[b"ab"], b"", true, "PD", "2"),
        (&[b"ab", b"cd"], b"abcd", true, "--", "4"),
        (&[], b"", true, "PD", "0"),
    ];
    for (parts, want, waits, term, bytes) in cases {
        let what = format!("{name}: {parts:?}");
        let mut c = p.connect();
        c.set_read_timeout(Some(DEADLINE)).unwrap();
        let t = Instant::now();
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                std::thread::sleep(Duration::from_millis(100));
            }
            c.write_all(part).unwrap();
        }
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        // Half-close once all came back (the echo server then closes).
        loop {
            match c.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
            if got.len() >= parts.iter().map(|p| p.len()).sum::<usize>() && got != b"CLOSE" {
                let _ = c.shutdown(Shutdown::Write);
            }
        }
        let took = t.elapsed();
        assert_eq!(got, want, "{what}");
        assert_eq!(
            took >= Duration::from_millis(550),
            waits,
            "{what}: took {took:?}"
        );
        assert!(took < Duration::from_secs(3), "{what}: took {took:?}");
        let l = p.next_tcplog();
        assert_eq!(
            (l.termination.as_str(), l.bytes.as_str()),
            (term, bytes),
            "{what}"
        );
    }
}
on_both!(
    tcp_response_content,
    tcp_response_content_on_haproxy,
    tcp_response_content_on_ringlb
);

/// `timeout client` shorter than the inspect delay: a client that sends
/// nothing is cut by its own timeout while inspected; the rules then run
/// a last time (a reject: PR on the frontend), else the stream is
/// switched and ends cR with no server connection (haproxy 2.6).
fn client_timeout_while_inspected(name: &str, program: &std::path::Path) {
    let (be, _) = recording(b"S:");
    let cfg = format!(
        "global\n    nbthread 2\n    log stdout format raw local0\n\
         defaults\n    mode tcp\n    log global\n    option tcplog\n    timeout connect 2s\n    timeout client 300ms\n    timeout server 10s\n\
         frontend fe\n    bind fd@3\n    tcp-request inspect-delay 3s\n\
         \x20   tcp-request content accept if {{ req.len gt 0 }}\n    tcp-request content reject\n\
         \x20   default_backend be\n\
         backend be\n    server s1 {}\n",
        be.addr
    );
    for (cfg, want) in [
        (cfg.clone(), ("fe", "PR")),
        (
            cfg.replace("    tcp-request content reject\n", ""),
            ("be", "cR"),
        ),
    ] {
        let p = harness::start(name, program, &cfg);
        let mut c = p.connect();
        c.set_read_timeout(Some(DEADLINE)).unwrap();
        let t = Instant::now();
        let mut got = Vec::new();
        let _ = c.read_to_end(&mut got);
        let took = t.elapsed();
        let l = p.next_tcplog();
        assert!(got.is_empty(), "{name}: {got:?}");
        assert_eq!(
            (
                l.backend.as_str(),
                l.server.as_str(),
                l.termination.as_str()
            ),
            (want.0, "<NOSRV>", want.1),
            "{name}: after {took:?}"
        );
        assert!(took >= Duration::from_millis(250), "{name}: took {took:?}");
        assert!(took < Duration::from_secs(2), "{name}: took {took:?}");
        assert_eq!(be.count(), 0, "{name}");
    }
}
on_both!(
    client_timeout_while_inspected,
    client_timeout_while_inspected_on_haproxy,
    client_timeout_while_inspected_on_ringlb
);

/// `balance rdp-cookie` behind `tcp-request content accept if
/// RDP_COOKIE`: the connection request is waited for (sent in two parts),
/// its `mstshash` cookie picks the server as haproxy's does (the same
/// server for the same user on both proxies), and the server gets the
/// request unchanged.
#[test]
fn rdp_cookie_balancing_agrees_with_haproxy() {
    let request = |user: &str| {
        let mut v = vec![3u8, 0, 0, 0, 0, 0xe0, 0, 0, 0, 0, 0];
        v.extend_from_slice(format!("Cookie: mstshash={user}\r\n").as_bytes());
        v.extend_from_slice(&[1, 0, 8, 0, 3, 0, 0, 0]);
        v
    };
    let mut picks = Vec::new();
    for (name, program) in harness::programs("rdp_cookie_balancing_agrees_with_haproxy") {
        let (s1, _) = recording(b"1:");
        let (s2, _) = recording(b"2:");
        let (s3, _) = recording(b"3:");
        let cfg = format!(
            "{}frontend fe\n    bind fd@3\n    tcp-request inspect-delay 2s\n\
             \x20   tcp-request content accept if RDP_COOKIE\n    default_backend be\n\
             backend be\n    balance rdp-cookie\n    server s1 {}\n    server s2 {}\n    server s3 {}\n",
            global(),
            s1.addr,
            s2.addr,
            s3.addr
        );
        let p = harness::start(name, &program, &cfg);
        let mut seen = Vec::new();
        for i in 0..12 {
            let user = format!("user{i}");
            let req = request(&user);
            let got = exchange(&p, &[&req[..20], &req[20..]], Duration::from_millis(30));
            assert_eq!(&got[2..], &req[..], "{name}: {user}");
            seen.push(got[0]);
            let l = p.next_tcplog();
            assert_eq!(l.server.as_bytes()[1], got[0], "{name}: {user}");
        }
        // The same user again: the same server.
        let again = exchange(&p, &[&request("user3")], Duration::ZERO);
        assert_eq!(again[0], seen[3], "{name}");
        assert!(
            seen.iter().collect::<std::collections::BTreeSet<_>>().len() > 1,
            "{name}: every user on one server: {seen:?}"
        );
        picks.push((name, seen));
    }
    if let [(_, a), (_, b)] = &picks[..] {
        assert_eq!(
            String::from_utf8_lossy(a),
            String::from_utf8_lossy(b),
            "haproxy's picks, then ringlb's"
        );
    }
}

/// `timeout server` shorter than the response inspect delay: the server's
/// silence ends the wait with a last evaluation (a reject: PD at the
/// timeout, haproxy 2.6), else the stream ends at the timeout.
fn server_timeout_while_the_response_is_inspected(name: &str, program: &std::path::Path) {
    let be = Backend::silent();
    let base = format!(
        "global\n    nbthread 2\n    log stdout format raw local0\n\
         defaults\n    mode tcp\n    log global\n    option tcplog\n    timeout connect 2s\n    timeout client 10s\n    timeout server 300ms\n\
         frontend fe\n    bind fd@3\n    default_backend be\n\
         backend be\n    tcp-response inspect-delay 3s\n\
         \x20   tcp-response content accept if {{ res.len gt 0 }}\n    tcp-response content reject\n\
         \x20   server s1 {}\n",
        be.addr
    );
    for (cfg, reject) in [
        (base.clone(), true),
        (base.replace("    tcp-response content reject\n", ""), false),
    ] {
        let p = harness::start(name, program, &cfg);
        let mut c = p.connect();
        c.set_read_timeout(Some(DEADLINE)).unwrap();
        c.write_all(b"hi").unwrap();
        let t = Instant::now();
        let mut got = Vec::new();
        let _ = c.read_to_end(&mut got);
        let took = t.elapsed();
        assert!(got.is_empty(), "{name}: {got:?}");
        assert!(
            took >= Duration::from_millis(250) && took < Duration::from_secs(2),
            "{name}: reject {reject}: closed after {took:?}"
        );
        if reject {
            let l = p.next_tcplog();
            assert_eq!(
                (l.server.as_str(), l.termination.as_str()),
                ("s1", "PD"),
                "{name}"
            );
        }
    }
}
on_both!(
    server_timeout_while_the_response_is_inspected,
    server_timeout_while_the_response_is_inspected_on_haproxy,
    server_timeout_while_the_response_is_inspected_on_ringlb
);
