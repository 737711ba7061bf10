//! `show sess` and `shutdown session` beyond the proxies' established
//! streams: the CLI's own connections (streams of the GLOBAL proxy, listed
//! and killable as HAProxy's), and streams killed while they wait for a
//! server: haproxy 2.6 only marks them, so a queued one stays queued and
//! ends once it leaves the queue (`K-` after its connect, `KQ` at `timeout
//! queue`), a connecting one after its connect attempts (`KC`). The queue
//! counters (`qcur`, `qmax`) are compared on the way. Each scenario runs on
//! haproxy first with the same assertions.

use crate::cli_sess::stat_field;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::harness::{cli_ask, held_port, start, Proxy, TcpLog, TempDir, DEADLINE};

/// The `show sess` lines of `out` that contain `what`.
fn lines_with<'a>(out: &'a str, what: &str) -> Vec<&'a str> {
    out.lines().filter(|l| l.contains(what)).collect()
}

/// The next log line that `pred` accepts, within the deadline.
fn log_line(p: &Proxy, name: &str, pred: impl Fn(&str) -> bool) -> String {
    let end = Instant::now() + DEADLINE;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        let l = p
            .log_within(left)
            .unwrap_or_else(|| panic!("{name}: no such log line"));
        if pred(&l) {
            return l;
        }
    }
}

/// A CLI connection kept open in interactive mode (`prompt`).
fn interactive(sock: &str) -> UnixStream {
    let end = Instant::now() + DEADLINE;
    let mut c = loop {
        match UnixStream::connect(sock) {
            Ok(c) => break c,
            Err(e) => assert!(Instant::now() < end, "{sock}: {e}"),
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    c.set_read_timeout(Some(DEADLINE)).unwrap();
    c.write_all(b"prompt\n").unwrap();
    let mut got = [0u8; 3];
    c.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"\n> ");
    c
}

fn cli_connections_are_streams_of_global(name: &str, program: &Path) {
    let dir = TempDir::new("cli-sess-global");
    let (_h, port) = held_port();
    let (_hc, cport) = held_port();
    let cfg = format!(
        "global\n    stats socket {}/admin.sock level admin\n    stats socket ipv4@127.0.0.1:{cport} level admin\n\
         defaults\n    timeout client 10s\n\
         frontend fe\n    mode tcp\n    bind 127.0.0.1:{port}\n",
        dir.0.display()
    );
    let _p = start(name, program, &cfg);
    let sock = format!("{}/admin.sock", dir.0.display());
    let mut held = interactive(&sock);
    let mut tcp = connect(cport);
    tcp.write_all(b"prompt\n").unwrap();
    let mut got = [0u8; 3];
    tcp.read_exact(&mut got).unwrap();
    let tcp_src = tcp.local_addr().unwrap();
    let out = cli_ask(&sock, "show sess");
    // The interactive one, the one asking (both on stats socket 1) and the
    // TCP one (stats socket 2, named by its client's address).
    let unix = lines_with(
        &out,
        " proto=unix_stream src=unix:1 fe=GLOBAL be=<NONE> srv=<none> ",
    );
    assert_eq!(unix.len(), 2, "{name}: {out}");
    let by_tcp = lines_with(
        &out,
        &format!(" proto=tcpv4 src={tcp_src} fe=GLOBAL be=<NONE> srv=<none> "),
    );
    assert_eq!(by_tcp.len(), 1, "{name}: {out}");
    assert_eq!(
        out.lines().filter(|l| !l.is_empty()).count(),
        3,
        "{name}: {out}"
    );
    for l in unix.iter().chain(&by_tcp) {
        // Its back side is the CLI applet: established, no socket.
        assert!(
            l.contains(" scb=[8,") && l.contains(",fd=-1] "),
            "{name}: {l}"
        );
    }
    // The long form: the GLOBAL proxy (id 0), the stats socket's number
    // and address.
    let id = by_tcp[0].split(':').next().unwrap();
    let long = cli_ask(&sock, &format!("show sess {id}"));
    let want =
        format!("  frontend=GLOBAL (id=0 mode=tcp), listener=? (id=2) addr=127.0.0.1:{cport}");
    assert!(long.lines().any(|l| l == want), "{name}: {long}");
    assert!(
        long.contains("\n  backend=<NONE> (id=-1 mode=-)\n  server=<NONE> (id=-1)\n"),
        "{name}: {long}"
    );
    // `shutdown session` closes a CLI connection as any stream. Which of
    // the two UNIX lines is the held one: the older (ringlb's ids grow
    // with the slots, haproxy lists the older first).
    let held_id = unix[0].split(':').next().unwrap();
    assert_eq!(
        cli_ask(&sock, &format!("shutdown session {held_id}")),
        "\n",
        "{name}"
    );
    let mut rest = Vec::new();
    assert_eq!(
        held.read_to_end(&mut rest).ok(),
        Some(0),
        "{name}: {rest:?}"
    );
    let out = cli_ask(&sock, "show sess");
    // The one asking now (it may have the killed one's id: the memory, the
    // slot, is reused) and the TCP one.
    assert_eq!(lines_with(&out, " fe=GLOBAL ").len(), 2, "{name}: {out}");
}
on_both!(
    cli_connections_are_streams_of_global,
    cli_connections_are_streams_of_global_on_haproxy,
    cli_connections_are_streams_of_global_on_ringlb
);

/// An echo server.
fn echo_server() -> std::net::SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        while let Ok((mut s, _)) = l.accept() {
            std::thread::spawn(move || crate::harness::echo_until_eof(&mut s));
        }
    });
    addr
}

/// A client, once the proxy listens.
fn connect(port: u16) -> TcpStream {
    let end = Instant::now() + DEADLINE;
    loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(c) => {
                c.set_read_timeout(Some(DEADLINE)).unwrap();
                return c;
            }
            Err(e) => {
                assert!(Instant::now() < end, "127.0.0.1:{port}: {e}");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// A stream killed in the queue: haproxy 2.6 marks it and leaves it
/// queued (`qcur` stays, `show sess` still lists it); once the slot frees
/// it connects and is closed at once, logging `K-` with the server and its
/// queue time. ringlb's log and counters are the same; its client is closed
/// at the kill (haproxy's when the stream ends: docs/differences.md), so
/// the client's side is checked once the stream ended.
fn a_stream_killed_in_the_queue_ends_when_it_leaves_it(name: &str, program: &Path) {
    let dir = TempDir::new("cli-sess-queue");
    let (_h, port) = held_port();
    let srv = echo_server();
    let cfg = format!(
        "global\n    nbthread 2\n    log stdout format raw local0\n    stats socket {}/admin.sock level admin\n\
         defaults\n    log global\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n    timeout queue 10s\n\
         frontend fe\n    mode tcp\n    option tcplog\n    bind 127.0.0.1:{port}\n    default_backend be\n\
         backend be\n    mode tcp\n    server s1 {srv} maxconn 1\n",
        dir.0.display()
    );
    let p = start(name, program, &cfg);
    let sock = format!("{}/admin.sock", dir.0.display());
    let mut holder = connect(port);
    holder.write_all(b"a").unwrap();
    let mut got = [0u8; 1];
    holder.read_exact(&mut got).unwrap();
    let mut queued = connect(port);
    queued.write_all(b"b").unwrap();
    let qport = queued.local_addr().unwrap().port();
    let want = format!(" src=127.0.0.1:{qport} fe=fe be=be srv=<none> ");
    let end = Instant::now() + DEADLINE;
    let id = loop {
        let out = cli_ask(&sock, "show sess");
        if let Some(l) = lines_with(&out, &want).first() {
            break l.split(':').next().unwrap().to_string();
        }
        assert!(Instant::now() < end, "{name}: {out}");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(
        stat_field(&cli_ask(&sock, "show stat"), "be", "BACKEND", "qcur"),
        "1"
    );
    assert_eq!(
        cli_ask(&sock, &format!("shutdown session {id}")),
        "\n",
        "{name}"
    );
    // Still queued, still listed.
    let stat = cli_ask(&sock, "show stat");
    assert_eq!(stat_field(&stat, "be", "BACKEND", "qcur"), "1", "{name}");
    // Its peak: it waited in the backend's queue, not in s1's.
    assert_eq!(stat_field(&stat, "be", "BACKEND", "qmax"), "1", "{name}");
    assert_eq!(stat_field(&stat, "be", "s1", "qmax"), "0", "{name}");
    let out = cli_ask(&sock, "show sess");
    assert_eq!(lines_with(&out, &want).len(), 1, "{name}: {out}");
    // The slot frees: the killed stream takes it, connects and ends.
    drop(holder);
    let l = log_line(&p, name, |l| l.contains(&format!(":{qport} ")));
    let t = TcpLog::parse(&l);
    assert_eq!(
        (t.frontend.as_str(), t.backend.as_str(), t.server.as_str()),
        ("fe", "be", "s1"),
        "{name}: {l}"
    );
    assert_eq!(t.termination, "K-", "{name}: {l}");
    // It was connected (%Tc), after its time in the queue (%Tw).
    assert!(t.tc != "-1" && t.tw != "-1", "{name}: {l}");
    let mut rest = Vec::new();
    assert!(
        matches!(queued.read_to_end(&mut rest), Ok(0)) || rest.is_empty(),
        "{name}: {rest:?}"
    );
    let end = Instant::now() + DEADLINE;
    loop {
        let stat = cli_ask(&sock, "show stat");
        if stat_field(&stat, "be", "BACKEND", "qcur") == "0" {
            break;
        }
        assert!(Instant::now() < end, "{name}: {stat}");
        std::thread::sleep(Duration::from_millis(10));
    }
}
on_both!(
    a_stream_killed_in_the_queue_ends_when_it_leaves_it,
    a_stream_killed_in_the_queue_ends_when_it_leaves_it_on_haproxy,
    a_stream_killed_in_the_queue_ends_when_it_leaves_it_on_ringlb
);

/// `qcur` and `qmax` as haproxy 2.6 shows them: a stream designated to a
/// full server (`balance source`) waits in that server's queue and counts
/// in its row only, not in the backend's (whose row is its own queue).
fn a_server_queue_has_its_own_peak(name: &str, program: &Path) {
    let dir = TempDir::new("cli-sess-qmax");
    let (_h, port) = held_port();
    let srv = echo_server();
    let cfg = format!(
        "global\n    stats socket {}/admin.sock level admin\n\
         defaults\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n    timeout queue 10s\n\
         frontend fe\n    mode tcp\n    bind 127.0.0.1:{port}\n    default_backend be\n\
         backend be\n    mode tcp\n    balance source\n    server s1 {srv} maxconn 1\n",
        dir.0.display()
    );
    let _p = start(name, program, &cfg);
    let sock = format!("{}/admin.sock", dir.0.display());
    let mut holder = connect(port);
    holder.write_all(b"a").unwrap();
    let mut got = [0u8; 1];
    holder.read_exact(&mut got).unwrap();
    let mut queued = connect(port);
    queued.write_all(b"b").unwrap();
    let end = Instant::now() + DEADLINE;
    let stat = loop {
        let stat = cli_ask(&sock, "show stat");
        if stat_field(&stat, "be", "s1", "qcur") == "1" {
            break stat;
        }
        assert!(Instant::now() < end, "{name}: {stat}");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(stat_field(&stat, "be", "BACKEND", "qcur"), "0", "{name}");
    assert_eq!(stat_field(&stat, "be", "s1", "qmax"), "1", "{name}");
    assert_eq!(stat_field(&stat, "be", "BACKEND", "qmax"), "0", "{name}");
    drop(holder);
    queued.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"b", "{name}");
}
on_both!(
    a_server_queue_has_its_own_peak,
    a_server_queue_has_its_own_peak_on_haproxy,
    a_server_queue_has_its_own_peak_on_ringlb
);

/// A server whose accept queue is full: its SYNs go unanswered, so a
/// connection to it stays connecting until `timeout connect`. (The filler
/// connection holds the queue of `listen(0)`; both are kept.)
fn unanswering_server() -> (std::net::SocketAddr, socket2::Socket, TcpStream) {
    let l = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    l.bind(
        &"127.0.0.1:0"
            .parse::<std::net::SocketAddr>()
            .unwrap()
            .into(),
    )
    .unwrap();
    l.listen(0).unwrap();
    let addr = l.local_addr().unwrap().as_socket().unwrap();
    let filler = TcpStream::connect(addr).unwrap();
    (addr, l, filler)
}

/// A stream killed while connecting: haproxy 2.6 marks it and lets its
/// connect attempts run out (no turn-around after a connect timeout),
/// then logs `KC` with its retries and no %Tc. ringlb logs the same line
/// after the same time; its client is closed at the kill (haproxy's at the
/// end: docs/differences.md).
fn a_stream_killed_while_connecting_logs_kc(name: &str, program: &Path) {
    let dir = TempDir::new("cli-sess-connect");
    let (_h, port) = held_port();
    let (srv, _l, _filler) = unanswering_server();
    let cfg = format!(
        "global\n    log stdout format raw local0\n    stats socket {}/admin.sock level admin\n\
         defaults\n    log global\n    retries 2\n    timeout connect 300ms\n    timeout client 10s\n    timeout server 10s\n\
         frontend fe\n    mode tcp\n    option tcplog\n    bind 127.0.0.1:{port}\n    default_backend be\n\
         backend be\n    mode tcp\n    server s1 {srv}\n",
        dir.0.display()
    );
    let p = start(name, program, &cfg);
    let sock = format!("{}/admin.sock", dir.0.display());
    let mut c = connect(port);
    c.write_all(b"hi").unwrap();
    let cport = c.local_addr().unwrap().port();
    let want = format!(" src=127.0.0.1:{cport} fe=fe be=be ");
    let end = Instant::now() + DEADLINE;
    let id = loop {
        let out = cli_ask(&sock, "show sess");
        if let Some(l) = lines_with(&out, &want).first() {
            break l.split(':').next().unwrap().to_string();
        }
        assert!(Instant::now() < end, "{name}: {out}");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(
        cli_ask(&sock, &format!("shutdown session {id}")),
        "\n",
        "{name}"
    );
    let l = log_line(&p, name, |l| l.contains(&format!(":{cport} ")));
    let t = TcpLog::parse(&l);
    assert_eq!(
        (
            t.server.as_str(),
            t.tc.as_str(),
            t.termination.as_str(),
            t.retries.as_str()
        ),
        ("s1", "-1", "KC", "2"),
        "{name}: {l}"
    );
    // Three attempts of 300ms each, no turn-around between them.
    let tt: u64 = t.tt.trim_start_matches('+').parse().unwrap();
    assert!((850..1400).contains(&tt), "{name}: {l}");
    let mut rest = Vec::new();
    assert!(
        matches!(c.read_to_end(&mut rest), Ok(0)),
        "{name}: {rest:?}"
    );
}
on_both!(
    a_stream_killed_while_connecting_logs_kc,
    a_stream_killed_while_connecting_logs_kc_on_haproxy,
    a_stream_killed_while_connecting_logs_kc_on_ringlb
);

/// A stream killed in the queue whose `timeout queue` comes first: both
/// log `KQ` without a server (the kill's `K` before the timeout's `s`).
fn a_stream_killed_in_the_queue_times_out_as_kq(name: &str, program: &Path) {
    let dir = TempDir::new("cli-sess-kq");
    let (_h, port) = held_port();
    let srv = echo_server();
    let cfg = format!(
        "global\n    log stdout format raw local0\n    stats socket {}/admin.sock level admin\n\
         defaults\n    log global\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n    timeout queue 400ms\n\
         frontend fe\n    mode tcp\n    option tcplog\n    bind 127.0.0.1:{port}\n    default_backend be\n\
         backend be\n    mode tcp\n    server s1 {srv} maxconn 1\n",
        dir.0.display()
    );
    let p = start(name, program, &cfg);
    let sock = format!("{}/admin.sock", dir.0.display());
    let mut holder = connect(port);
    holder.write_all(b"a").unwrap();
    let mut got = [0u8; 1];
    holder.read_exact(&mut got).unwrap();
    let mut queued = connect(port);
    queued.write_all(b"b").unwrap();
    let qport = queued.local_addr().unwrap().port();
    let want = format!(" src=127.0.0.1:{qport} fe=fe be=be srv=<none> ");
    let end = Instant::now() + DEADLINE;
    let id = loop {
        let out = cli_ask(&sock, "show sess");
        if let Some(l) = lines_with(&out, &want).first() {
            break l.split(':').next().unwrap().to_string();
        }
        assert!(Instant::now() < end, "{name}: {out}");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(
        cli_ask(&sock, &format!("shutdown session {id}")),
        "\n",
        "{name}"
    );
    let l = log_line(&p, name, |l| l.contains(&format!(":{qport} ")));
    let t = TcpLog::parse(&l);
    assert_eq!(
        (t.server.as_str(), t.tc.as_str(), t.termination.as_str()),
        ("<NOSRV>", "-1", "KQ"),
        "{name}: {l}"
    );
    let tw: u64 = t.tw.parse().unwrap();
    assert!((390..1000).contains(&tw), "{name}: {l}");
    let mut rest = Vec::new();
    assert!(
        matches!(queued.read_to_end(&mut rest), Ok(0)),
        "{name}: {rest:?}"
    );
    assert_eq!(
        stat_field(&cli_ask(&sock, "show stat"), "be", "BACKEND", "qcur"),
        "0",
        "{name}"
    );
    // The holder was served all along.
    holder.write_all(b"c").unwrap();
    holder.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"c", "{name}");
}
on_both!(
    a_stream_killed_in_the_queue_times_out_as_kq,
    a_stream_killed_in_the_queue_times_out_as_kq_on_haproxy,
    a_stream_killed_in_the_queue_times_out_as_kq_on_ringlb
);

/// An HTTP server: `/hold` is answered after 600ms, the rest at once.
fn slow_http_server() -> std::net::SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        while let Ok((s, _)) = l.accept() {
            std::thread::spawn(move || {
                use std::io::BufRead;
                let mut w = s.try_clone().unwrap();
                let mut r = std::io::BufReader::new(s);
                let mut line = String::new();
                loop {
                    line.clear();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let hold = line.contains("/hold");
                    while line != "\r\n" {
                        line.clear();
                        if r.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                    }
                    if hold {
                        std::thread::sleep(Duration::from_millis(600));
                    }
                    let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                    if w.write_all(ok).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// An HTTP transaction killed in the queue: on both it stays queued, takes
/// the slot once the holder's response came, and logs a 502 `KH--` with
/// the server and its queue time. haproxy 2.6 sends the 502 to the client
/// then; ringlb closed the client's connection at the kill, and its log
/// counts no bytes (docs/differences.md).
fn an_http_stream_killed_in_the_queue_logs_kh(name: &str, program: &Path) {
    let dir = TempDir::new("cli-sess-http-queue");
    let (_h, port) = held_port();
    let srv = slow_http_server();
    let cfg = format!(
        "global\n    log stdout format raw local0\n    stats socket {}/admin.sock level admin\n\
         defaults\n    log global\n    mode http\n    option httplog\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n    timeout queue 10s\n\
         frontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\n\
         backend be\n    server s1 {srv} maxconn 1\n",
        dir.0.display()
    );
    let p = start(name, program, &cfg);
    let sock = format!("{}/admin.sock", dir.0.display());
    let mut holder = connect(port);
    holder
        .write_all(b"GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let hport = holder.local_addr().unwrap().port();
    let end = Instant::now() + DEADLINE;
    while lines_with(
        &cli_ask(&sock, "show sess"),
        &format!(":{hport} fe=fe be=be srv=s1 "),
    )
    .is_empty()
    {
        assert!(Instant::now() < end, "{name}: the holder never reached s1");
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut queued = connect(port);
    queued
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let qport = queued.local_addr().unwrap().port();
    let want = format!(" src=127.0.0.1:{qport} fe=fe be=be srv=<none> ");
    let id = loop {
        let out = cli_ask(&sock, "show sess");
        if let Some(l) = lines_with(&out, &want).first() {
            break l.split(':').next().unwrap().to_string();
        }
        assert!(Instant::now() < end, "{name}: {out}");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(
        cli_ask(&sock, &format!("shutdown session {id}")),
        "\n",
        "{name}"
    );
    // Up to the close, or the end of haproxy's 502 page (the connection
    // stays open after it).
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    while !got.ends_with(b"</html>\n") {
        match queued.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    let got = String::from_utf8_lossy(&got);
    if name == "haproxy" {
        assert!(got.starts_with("HTTP/1.1 502 "), "{name}: {got}");
    } else {
        assert_eq!(got, "", "{name}");
    }
    let l = log_line(&p, name, |l| l.contains(&format!(":{qport} ")));
    let f: Vec<&str> = l.split(' ').collect();
    assert_eq!(f[2..4], ["fe", "be/s1"], "{name}: {l}");
    assert_eq!((f[5], f[9]), ("502", "KH--"), "{name}: {l}");
    let tw: u64 = f[4].split('/').nth(1).unwrap().parse().unwrap();
    assert!(tw >= 300, "{name}: {l}");
    let mut answer = [0u8; 40];
    let n = holder.read(&mut answer).unwrap();
    assert!(answer[..n].starts_with(b"HTTP/1.1 200 OK"), "{name}");
}
on_both!(
    an_http_stream_killed_in_the_queue_logs_kh,
    an_http_stream_killed_in_the_queue_logs_kh_on_haproxy,
    an_http_stream_killed_in_the_queue_logs_kh_on_ringlb
);
