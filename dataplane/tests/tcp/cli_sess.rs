//! The streams at run time: `show sess` lists the live streams in
//! HAProxy's line (an idle keep-alive connection is no stream), `show sess
//! <id>` prints one in the long form, and `shutdown session <id>` kills
//! one: a TCP stream logs `K-`, an HTTP stream `KD` (its response cut) or
//! `KH` (a 502 before the response), both sides see the close, the other
//! streams live on. On ringlb the killed streams are taken on both cores
//! (the one the CLI does not run on is reached through the mesh). Each
//! scenario runs on haproxy first with the same assertions.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::harness::{
    cli_ask, held_port, read_until_closed, start, Proxy, TcpLog, TempDir, DEADLINE,
};

/// A TCP frontend and an HTTP one, each on a port of its own (bound per
/// core: the kernel spreads the clients over both cores).
fn cfg(dir: &TempDir, (tport, hport): (u16, u16), tcp: SocketAddr, http: SocketAddr) -> String {
    format!(
        "global\n    nbthread 2\n    log stdout format raw local0\n    stats socket {}/admin.sock level admin\n\
         defaults\n    log global\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n\
         frontend fe\n    mode tcp\n    option tcplog\n    bind 127.0.0.1:{tport}\n    default_backend be\n\
         backend be\n    mode tcp\n    server s1 {}\n\
         frontend feh\n    mode http\n    option httplog\n    bind 127.0.0.1:{hport}\n    default_backend beh\n\
         backend beh\n    mode http\n    server s1 {}\n",
        dir.0.display(),
        tcp,
        http
    )
}

/// A server: a thread per connection running `f` with the connection's
/// address as accepted (a connection reset early has no peer address to
/// ask for any more).
fn serve(f: impl Fn(TcpStream, SocketAddr) + Send + Sync + 'static) -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let f = std::sync::Arc::new(f);
    std::thread::spawn(move || {
        while let Ok((s, peer)) = l.accept() {
            let f = std::sync::Arc::clone(&f);
            std::thread::spawn(move || f(s, peer));
        }
    });
    addr
}

/// An echo server that reports the address of each connection it saw
/// closed.
fn echo_server(closed: mpsc::Sender<SocketAddr>) -> SocketAddr {
    serve(move |mut s, peer| {
        crate::harness::echo_until_eof(&mut s);
        let _ = closed.send(peer);
    })
}

/// An HTTP server: `/` is answered at once, `/slow` with its head and
/// part of its body, `/hang` not at all; it reports each connection it
/// saw closed.
fn http_server(closed: mpsc::Sender<SocketAddr>) -> SocketAddr {
    serve(move |s, peer| {
        let Ok(mut w) = s.try_clone() else {
            let _ = closed.send(peer);
            return;
        };
        let mut r = BufReader::new(s);
        let mut line = String::new();
        loop {
            line.clear();
            match r.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let path = line.split(' ').nth(1).unwrap_or("").to_string();
            // The rest of the head.
            loop {
                line.clear();
                match r.read_line(&mut line) {
                    Ok(0) | Err(_) => {
                        let _ = closed.send(peer);
                        return;
                    }
                    Ok(_) if line == "\r\n" => break,
                    Ok(_) => {}
                }
            }
            let answer: &[u8] = match path.as_str() {
                "/slow" => b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial",
                "/hang" => b"",
                _ => b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            };
            if w.write_all(answer).is_err() {
                break;
            }
        }
        let _ = closed.send(peer);
    })
}

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

/// One `show sess` line: (id, client port, core: the id's high half on
/// ringlb, 0 on haproxy).
#[derive(Debug, Clone)]
struct Sess {
    id: String,
    port: u16,
    core: u64,
}

/// The streams `show sess` lists for frontend `fe`, each line checked for
/// HAProxy 2.6's fields in HAProxy's order.
fn streams(name: &str, sock: &str, fe: &str) -> Vec<Sess> {
    let out = cli_ask(sock, "show sess");
    let mut v = Vec::new();
    for l in out.lines().filter(|l| !l.is_empty()) {
        let keys: Vec<&str> = l
            .split(' ')
            .skip(1)
            .map(|t| t.split(['=', '[']).next().unwrap())
            .collect();
        assert_eq!(
            keys,
            [
                "proto", "src", "fe", "be", "srv", "ts", "epoch", "age", "calls", "rate", "cpu",
                "lat", "rq", "rp", "scf", "scb", "exp", "rc", "c_exp"
            ],
            "{name}: {l}"
        );
        if !l.contains(&format!(" fe={fe} ")) {
            continue;
        }
        let id = l.split(':').next().unwrap().to_string();
        let src = l.split(" src=").nth(1).unwrap().split(' ').next().unwrap();
        let port = src.rsplit(':').next().unwrap().parse().unwrap();
        let hex = u64::from_str_radix(id.trim_start_matches("0x"), 16).unwrap();
        let core = if name == "ringlb" { hex >> 32 } else { 0 };
        v.push(Sess { id, port, core });
    }
    v
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

/// Wait until the server reports `addr` closed.
fn server_saw_close(closed: &mpsc::Receiver<SocketAddr>, addr: SocketAddr, what: &str) {
    let end = Instant::now() + DEADLINE;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match closed.recv_timeout(left) {
            Ok(a) if a == addr => return,
            Ok(_) => {}
            Err(_) => panic!("{what}: the server never saw {addr} closed"),
        }
    }
}

/// `show sess <id>`: the long form's head, frontend, backend and server
/// lines; the server connection's own address.
fn long_form(
    name: &str,
    sock: &str,
    s: &Sess,
    (fe, fe_id, mode, port): (&str, u32, &str, u16),
    (be, be_id, server): (&str, u32, SocketAddr),
) -> SocketAddr {
    let out = cli_ask(sock, &format!("show sess {}", s.id));
    let lines: Vec<&str> = out.lines().collect();
    let head = lines[0];
    assert!(
        head.starts_with(&format!("{}: [", s.id))
            && head.ends_with(&format!(" proto=tcpv4 source=127.0.0.1:{}", s.port))
            && head.contains("] id="),
        "{name}: {s:?}: {out}"
    );
    let line = |prefix: &str| {
        *lines
            .iter()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("{name}: no {prefix:?} in {out}"))
    };
    assert_eq!(
        line("  frontend="),
        format!(
            "  frontend={fe} (id={fe_id} mode={mode}), listener=? (id=1) addr=127.0.0.1:{port}"
        ),
        "{name}"
    );
    let back = line("  backend=");
    let prefix = format!("  backend={be} (id={be_id} mode={mode}) addr=");
    assert!(back.starts_with(&prefix), "{name}: {back}");
    assert_eq!(
        line("  server="),
        format!("  server=s1 (id=1) addr={server}"),
        "{name}"
    );
    back[prefix.len()..].parse().unwrap()
}

/// Open streams with `open` until two of them are on different cores
/// (ringlb; on haproxy the first two).
fn two_cores(
    name: &str,
    sock: &str,
    fe: &str,
    mut open: impl FnMut(usize) -> TcpStream,
) -> (Vec<(TcpStream, u16)>, [Sess; 2]) {
    let mut clients = Vec::new();
    for i in 0..64 {
        let c = open(i);
        let port = c.local_addr().unwrap().port();
        clients.push((c, port));
        // A request just sent may not be a stream yet.
        let end = Instant::now() + DEADLINE;
        let live = loop {
            let live = streams(name, sock, fe);
            if live.len() == clients.len() {
                break live;
            }
            assert!(Instant::now() < end, "{name}: {live:?}");
            std::thread::sleep(Duration::from_millis(10));
        };
        let cores: BTreeSet<u64> = live.iter().map(|s| s.core).collect();
        if name == "ringlb" {
            assert!(cores.iter().all(|c| [1, 2].contains(c)), "{name}: {live:?}");
        }
        let want = if name == "ringlb" { 2 } else { 1 };
        if live.len() >= 2 && cores.len() == want {
            let a = live[0].clone();
            let b = live
                .iter()
                .find(|s| s.core != a.core || want == 1 && s.id != a.id);
            return (clients, [a, b.unwrap().clone()]);
        }
    }
    panic!("{name}: 64 clients and no two streams on different cores");
}

fn tcp_streams_are_killed_by_id(name: &str, program: &Path) {
    let (closed_tx, closed) = mpsc::channel();
    let (srv_tx, _) = mpsc::channel();
    let tcp = echo_server(closed_tx);
    let http = http_server(srv_tx);
    let dir = TempDir::new("cli-sess");
    let (_ht, tport) = held_port();
    let (_hh, hport) = held_port();
    let p = start(name, program, &cfg(&dir, (tport, hport), tcp, http));
    let sock = format!("{}/admin.sock", dir.0.display());
    let (mut clients, pair) = two_cores(name, &sock, "fe", |_| {
        let mut c = connect(tport);
        c.write_all(b"ping").unwrap();
        let mut got = [0u8; 4];
        c.read_exact(&mut got).unwrap();
        c
    });
    // `show sess all`: every stream in the long form.
    let all = cli_ask(&sock, "show sess all");
    for s in &pair {
        assert!(all.contains(&format!("{}: [", s.id)), "{name}: {all}");
    }
    for s in &pair {
        let back = long_form(name, &sock, s, ("fe", 2, "tcp", tport), ("be", 3, tcp));
        assert_eq!(
            cli_ask(&sock, &format!("shutdown session {}", s.id)),
            "\n",
            "{name}"
        );
        let at = clients.iter().position(|(_, p)| *p == s.port).unwrap();
        let (mut c, port) = clients.remove(at);
        let what = format!("{name}: stream {}", s.id);
        read_until_closed(&mut c, DEADLINE, &what);
        server_saw_close(&closed, back, &what);
        let l = log_line(&p, name, |l| {
            TcpLog::try_parse(l).is_some_and(|t| t.client == format!("127.0.0.1:{port}"))
        });
        let l = TcpLog::parse(&l);
        assert_eq!(
            (l.server.as_str(), l.termination.as_str(), l.bytes.as_str()),
            ("s1", "K-", "4"),
            "{what}: {l:?}"
        );
        // Gone: HAProxy's answers (on ringlb only, on the core the CLI
        // does not run on: haproxy may have given the stream's memory, its
        // id, to the CLI's own stream, and ringlb its slot on core 0).
        if name == "haproxy" || s.core == 1 {
            continue;
        }
        assert_eq!(
            cli_ask(&sock, &format!("shutdown session {}", s.id)),
            "No such session (use 'show sess').\n\n",
            "{name}"
        );
        assert_eq!(
            cli_ask(&sock, &format!("show sess {}", s.id)),
            "Session not found.\n\n",
            "{name}"
        );
    }
    // No abort counted, as HAProxy's.
    let stat = cli_ask(&sock, "show stat");
    for (px, sv) in [("be", "BACKEND"), ("be", "s1")] {
        assert_eq!(
            ["cli_abrt", "srv_abrt", "eresp"].map(|f| stat_field(&stat, px, sv, f)),
            ["0", "0", "0"],
            "{name}: {px}/{sv}"
        );
    }
    // The others live on.
    for (c, _) in &mut clients {
        c.write_all(b"pong").unwrap();
        let mut got = [0u8; 4];
        c.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"pong", "{name}");
    }
    assert_eq!(streams(name, &sock, "fe").len(), clients.len(), "{name}");
    // No id, an id that does not parse, an unknown one.
    for (ask, answer) in [
        (
            "shutdown session",
            "Session pointer expected (use 'show sess').\n\n",
        ),
        (
            "shutdown session zz",
            "Session pointer expected (use 'show sess').\n\n",
        ),
        (
            "shutdown session 0x12",
            "No such session (use 'show sess').\n\n",
        ),
        ("show sess 0x12", "Session not found.\n\n"),
    ] {
        assert_eq!(cli_ask(&sock, ask), answer, "{name}: {ask}");
    }
}
on_both!(
    tcp_streams_are_killed_by_id,
    tcp_streams_are_killed_by_id_on_haproxy,
    tcp_streams_are_killed_by_id_on_ringlb
);

/// Field `field` of the `show stat` row of `px`/`sv`.
pub(crate) fn stat_field(csv: &str, px: &str, sv: &str, field: &str) -> String {
    let header: Vec<&str> = csv
        .lines()
        .next()
        .unwrap()
        .trim_start_matches("# ")
        .split(',')
        .collect();
    let col = header.iter().position(|h| *h == field).unwrap();
    let row = csv
        .lines()
        .find(|l| l.starts_with(&format!("{px},{sv},")))
        .unwrap_or_else(|| panic!("no {px}/{sv} row in {csv}"));
    row.split(',').nth(col).unwrap_or("").to_string()
}

fn get(c: &mut TcpStream, path: &str) {
    c.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .unwrap();
}

/// Read until `what` came.
fn read_to(c: &mut TcpStream, what: &[u8], name: &str) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.windows(what.len()).any(|w| w == what) {
        let n = c.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "{name}: closed after {:?}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
    got
}

fn http_streams_are_killed_by_id(name: &str, program: &Path) {
    let (srv_tx, _) = mpsc::channel();
    let (closed_tx, closed) = mpsc::channel();
    let tcp = echo_server(srv_tx);
    let http = http_server(closed_tx);
    let dir = TempDir::new("cli-sess");
    let (_ht, tport) = held_port();
    let (_hh, hport) = held_port();
    let p = start(name, program, &cfg(&dir, (tport, hport), tcp, http));
    let sock = format!("{}/admin.sock", dir.0.display());
    // A keep-alive connection between two requests is no stream.
    let mut idle = connect(hport);
    get(&mut idle, "/");
    read_to(&mut idle, b"ok", name);
    let end = Instant::now() + DEADLINE;
    while !streams(name, &sock, "feh").is_empty() {
        assert!(Instant::now() < end, "{name}: an idle connection is listed");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Clients waiting on a response: the even ones served once, then
    // given a response head and part of its body; the odd ones nothing
    // for their first request.
    let (mut clients, pair) = two_cores(name, &sock, "feh", |i| {
        let mut c = connect(hport);
        if i % 2 == 0 {
            get(&mut c, "/");
            read_to(&mut c, b"ok", name);
            get(&mut c, "/slow");
            read_to(&mut c, b"partial", name);
        } else {
            get(&mut c, "/hang");
        }
        c
    });
    // Kill them all, both cores' (which path each asked is known by its
    // place among the clients).
    let cores: BTreeSet<u64> = pair.iter().map(|s| s.core).collect();
    let all = streams(name, &sock, "feh");
    assert_eq!(all.len(), clients.len(), "{name}");
    assert!(
        cores.iter().all(|c| all.iter().any(|s| s.core == *c)),
        "{name}"
    );
    for s in &all {
        let at = clients.iter().position(|(_, p)| *p == s.port).unwrap();
        let back = long_form(name, &sock, s, ("feh", 4, "http", hport), ("beh", 5, http));
        let slow = at % 2 == 0;
        assert_eq!(
            cli_ask(&sock, &format!("shutdown session {}", s.id)),
            "\n",
            "{name}"
        );
        let what = format!("{name}: stream {} (slow: {slow})", s.id);
        let c = &mut clients[at].0;
        if slow {
            // The response cut: KD, its status 200; the connection closed.
            let (got, _) = read_until_closed(c, DEADLINE, &what);
            assert!(got.is_empty(), "{what}: {got:?}");
            server_saw_close(&closed, back, &what);
            let l = log_line(&p, name, |l| {
                l.starts_with(&format!("127.0.0.1:{} ", s.port))
                    && !l.ends_with("\"GET / HTTP/1.1\"")
            });
            assert!(
                l.contains(" 200 ")
                    && l.contains(" KD-- ")
                    && l.ends_with("\"GET /slow HTTP/1.1\""),
                "{what}: {l}"
            );
        } else {
            // No response yet: a 502, KH; the client connection goes on.
            let got = read_to(c, b"</html>\n", name);
            let text = String::from_utf8_lossy(&got);
            assert!(text.starts_with("HTTP/1.1 502 "), "{what}: {text}");
            server_saw_close(&closed, back, &what);
            let l = log_line(&p, name, |l| {
                l.starts_with(&format!("127.0.0.1:{} ", s.port))
                    && !l.ends_with("\"GET / HTTP/1.1\"")
            });
            assert!(
                l.contains(" 502 ")
                    && l.contains(" KH-- ")
                    && l.ends_with("\"GET /hang HTTP/1.1\""),
                "{what}: {l}"
            );
            get(c, "/");
            read_to(c, b"ok", name);
        }
    }
    // The counters as HAProxy's: a KH response failed (eresp), a KD one
    // cut by the server (srv_abrt).
    let hangs = all
        .iter()
        .filter(|s| clients.iter().position(|(_, p)| *p == s.port).unwrap() % 2 == 1)
        .count();
    let stat = cli_ask(&sock, "show stat");
    for (px, sv) in [("beh", "BACKEND"), ("beh", "s1")] {
        assert_eq!(
            ["eresp", "cli_abrt", "srv_abrt"].map(|f| stat_field(&stat, px, sv, f)),
            [
                hangs.to_string(),
                "0".into(),
                (all.len() - hangs).to_string()
            ],
            "{name}: {px}/{sv}"
        );
    }
    assert_eq!(
        stat_field(&stat, "feh", "FRONTEND", "hrsp_5xx"),
        hangs.to_string(),
        "{name}"
    );
    // The idle connection lived on. A request that is not its
    // connection's first, killed before its response: HAProxy's
    // abort_keep_alive closes the client without a word or a log line.
    get(&mut idle, "/");
    read_to(&mut idle, b"ok", name);
    let port = idle.local_addr().unwrap().port();
    get(&mut idle, "/hang");
    let end = Instant::now() + DEADLINE;
    let s = loop {
        if let Some(s) = streams(name, &sock, "feh")
            .into_iter()
            .find(|s| s.port == port)
        {
            break s;
        }
        assert!(Instant::now() < end, "{name}: no stream from {port}");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(
        cli_ask(&sock, &format!("shutdown session {}", s.id)),
        "\n",
        "{name}"
    );
    let (got, _) = read_until_closed(&mut idle, DEADLINE, name);
    assert!(
        got.is_empty(),
        "{name}: {:?}",
        String::from_utf8_lossy(&got)
    );
    // The next line is another client's.
    let mut other = connect(hport);
    get(&mut other, "/");
    read_to(&mut other, b"ok", name);
    let mark = format!("127.0.0.1:{} ", other.local_addr().unwrap().port());
    let idle_at = format!("127.0.0.1:{port} ");
    let l = log_line(&p, name, |l| {
        l.starts_with(&mark) || l.starts_with(&idle_at) && !l.ends_with("\"GET / HTTP/1.1\"")
    });
    assert!(l.starts_with(&mark), "{name}: {l}");
}
on_both!(
    http_streams_are_killed_by_id,
    http_streams_are_killed_by_id_on_haproxy,
    http_streams_are_killed_by_id_on_ringlb
);

/// A stream killed while `tcp-request content` rules wait for its bytes
/// is closed at once, never connected, and logs `KR` (ringlb only:
/// haproxy 2.6 leaves such a stream open until a timeout,
/// docs/differences.md).
#[test]
fn a_stream_killed_in_its_content_rules_is_closed() {
    let (tx, _) = mpsc::channel();
    let srv = echo_server(tx);
    let dir = TempDir::new("cli-sess");
    let cfg = format!(
        "global\n    log stdout format raw local0\n    stats socket {}/admin.sock level admin\n\
         defaults\n    mode tcp\n    log global\n    option tcplog\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n\
         frontend fe\n    bind fd@3\n    tcp-request inspect-delay 10s\n    tcp-request content accept if {{ req.len gt 10 }}\n    default_backend be\n\
         backend be\n    server s1 {srv}\n",
        dir.0.display()
    );
    let p = start("ringlb", &crate::harness::ringlb(), &cfg);
    let sock = format!("{}/admin.sock", dir.0.display());
    let mut c = p.connect();
    c.write_all(b"hi").unwrap();
    let port = c.local_addr().unwrap().port();
    let end = Instant::now() + DEADLINE;
    let s = loop {
        if let Some(s) = streams("ringlb", &sock, "fe")
            .into_iter()
            .find(|s| s.port == port)
        {
            break s;
        }
        assert!(Instant::now() < end, "no stream from {port}");
        std::thread::sleep(Duration::from_millis(10));
    };
    // No backend before the switching rules.
    let line = cli_ask(&sock, "show sess");
    assert!(line.contains(" be=<NONE> srv=<none> "), "{line}");
    let t = Instant::now();
    assert_eq!(cli_ask(&sock, &format!("shutdown session {}", s.id)), "\n");
    read_until_closed(&mut c, DEADLINE, "killed in its rules");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    let l = TcpLog::parse(&log_line(&p, "ringlb", |l| TcpLog::try_parse(l).is_some()));
    assert_eq!(
        (l.server.as_str(), l.termination.as_str(), l.tc.as_str()),
        ("<NOSRV>", "KR", "-1"),
        "{l:?}"
    );
}
