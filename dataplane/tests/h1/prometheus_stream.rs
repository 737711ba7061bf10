//! The Prometheus exporter answers in pieces, as HAProxy's applet does:
//! a chunked body of chunks about 16 kB each, to HTTP/1.0 clients too; a
//! client that reads slowly gets the same body as a fast one while the
//! proxy holds about one piece for it; many scrapes of a big config leave
//! the proxy's memory where one scrape left it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::harness::{start, DEADLINE};

/// `n` servers over `backends` backends (no checks, nobody listening:
/// nothing changes between scrapes), the exporter on every path.
fn big(n: usize, backends: usize, timeout_client: &str) -> String {
    let mut c = format!(
        "global\n    log stdout format raw local0\n\
         defaults\n    mode http\n    log global\n    option httplog\n    timeout connect 2s\n    timeout client {timeout_client}\n    timeout server 5s\n\
         frontend fe\n    bind fd@3\n    http-request use-service prometheus-exporter\n"
    );
    for b in 0..backends {
        c.push_str(&format!("backend be{b}\n"));
        for s in 0..n / backends {
            c.push_str(&format!("    server s{s} 127.0.0.1:{}\n", 1 + s % 60000));
        }
    }
    c
}

/// A response as it came: the head's lines, the chunks' sizes and the
/// body they make.
struct Raw {
    head: Vec<String>,
    chunks: Vec<usize>,
    body: Vec<u8>,
}

/// Send `req`, read the whole answer (the proxy closes), `pause` after
/// every `step` bytes read.
fn fetch(addr: SocketAddr, req: &str, step: usize, pause: Option<Duration>) -> Raw {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    s.write_all(req.as_bytes()).unwrap();
    let mut all = Vec::new();
    let mut buf = vec![0u8; step];
    loop {
        let n = s.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        all.extend_from_slice(&buf[..n]);
        if let Some(p) = pause {
            std::thread::sleep(p);
        }
    }
    decode(&all)
}

fn decode(all: &[u8]) -> Raw {
    let end = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head")
        + 4;
    let head: Vec<String> = String::from_utf8_lossy(&all[..end - 4])
        .split("\r\n")
        .map(str::to_string)
        .collect();
    let mut rest = &all[end..];
    let (mut chunks, mut body) = (Vec::new(), Vec::new());
    loop {
        let eol = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("a size line");
        let size = usize::from_str_radix(std::str::from_utf8(&rest[..eol]).unwrap(), 16).unwrap();
        rest = &rest[eol + 2..];
        if size == 0 {
            assert_eq!(rest, b"\r\n", "the last chunk ends the answer");
            break;
        }
        chunks.push(size);
        body.extend_from_slice(&rest[..size]);
        assert_eq!(&rest[size..size + 2], b"\r\n");
        rest = &rest[size + 2..];
    }
    Raw { head, chunks, body }
}

fn has(head: &[String], line: &str) -> bool {
    head.iter().any(|h| h.eq_ignore_ascii_case(line))
}

/// haproxy 2.6 and ringlb answer HTTP/1.0 and HTTP/1.1 scrapes alike: an
/// HTTP/1.1 chunked answer whose chunks hold at most a buffer's worth (a
/// little under 16 kB for haproxy; ringlb's piece, 16 kB, plus the rest
/// of the object it was at).
#[test]
fn a_scrape_is_sent_in_chunks_to_both_versions() {
    let config = big(300, 1, "5s");
    for (name, program) in crate::harness::programs("a_scrape_is_sent_in_chunks_to_both_versions") {
        let p = start(name, &program, &config);
        for (req, conn) in [
            (
                "GET /metrics HTTP/1.0\r\nHost: a\r\n\r\n",
                "connection: close",
            ),
            (
                "GET /metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
                "connection: close",
            ),
        ] {
            let r = fetch(p.addr, req, 64 * 1024, None);
            assert_eq!(r.head[0], "HTTP/1.1 200 OK", "{name}: {req:?}");
            for h in [
                "cache-control: no-cache",
                "content-type: text/plain; version=0.0.4",
                "transfer-encoding: chunked",
                conn,
            ] {
                assert!(has(&r.head, h), "{name}: {req:?}: {h}: {:?}", r.head);
            }
            assert!(r.body.len() > 1_000_000, "{name}: {}", r.body.len());
            assert!(r.chunks.len() > 30, "{name}: {:?}", r.chunks.len());
            let max = r.chunks.iter().max().copied().unwrap_or(0);
            assert!(max <= 32 * 1024, "{name}: a chunk of {max} bytes");
            assert!(r.body.ends_with(b"\n"), "{name}");
        }
    }
}

/// The proxy's resident memory (kB).
fn rss(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

/// The lines of a scrape that do not move with time while nothing runs
/// (the seconds since each server's last change do).
fn stable(body: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(body)
        .lines()
        .filter(|l| !l.starts_with("haproxy_server_check_last_change_seconds{"))
        .filter(|l| !l.starts_with("haproxy_backend_check_last_change_seconds{"))
        .map(str::to_string)
        .collect()
}

const SCOPE: &str =
    "GET /metrics?scope=backend&scope=server HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";

/// A client that reads 4 kB at a time with a pause gets the same body as
/// one that reads at once, and the proxy does not buffer the rest of the
/// answer for it: its memory while the slow client reads grows by no more
/// than a few pieces and the section's numbers (2,000 servers x 62 metrics
/// x 16 bytes: 2 MB), far below the 27 MB body.
#[test]
fn a_slow_reader_gets_the_same_body_and_costs_a_piece() {
    let p = start("ringlb", &crate::harness::ringlb(), &big(2000, 4, "10s"));
    let pid = p.child.id();
    let fast = fetch(p.addr, SCOPE, 1 << 20, None);
    assert!(fast.body.len() > 20_000_000, "{}", fast.body.len());
    let before = rss(pid);
    let (tx, rx) = std::sync::mpsc::channel();
    let addr = p.addr;
    let slow = std::thread::spawn(move || {
        let r = fetch(addr, SCOPE, 256 * 1024, Some(Duration::from_millis(20)));
        tx.send(()).unwrap();
        r
    });
    let mut peak = before;
    let end = Instant::now() + DEADLINE * 4;
    while rx.try_recv().is_err() {
        assert!(Instant::now() < end, "the slow scrape did not end");
        peak = peak.max(rss(pid));
        std::thread::sleep(Duration::from_millis(5));
    }
    let slow = slow.join().unwrap();
    assert_eq!(stable(&slow.body), stable(&fast.body));
    let grew = peak.saturating_sub(before);
    assert!(
        grew < 12 * 1024,
        "the proxy grew by {grew} kB while a client read slowly"
    );
}

/// Twenty scrapes of 2,000 servers leave the proxy's memory within a
/// bound of where small requests left it (a connection's first buffers
/// on each core): each scrape holds one piece (16 kB, plus the object it
/// was at) and one section's numbers (2,000 servers x 62 metrics x 16
/// bytes: 2 MB) at a time, on whichever core took it, about 5 MB over two
/// cores; the bound (12 MB) leaves the allocator room and is far below
/// one whole 27 MB answer, which a proxy that printed the answer before
/// sending it would keep at least once (84 MB over 20 scrapes before).
#[test]
fn many_scrapes_leave_memory_bounded() {
    let p = start("ringlb", &crate::harness::ringlb(), &big(2000, 1, "5s"));
    let pid = p.child.id();
    let get = |path: &str| {
        let req = format!("GET {path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
        fetch(p.addr, &req, 1 << 20, None)
    };
    for _ in 0..8 {
        assert!(!get("/metrics?scope=global").body.is_empty());
    }
    let start_rss = rss(pid);
    let mut sizes = std::collections::BTreeSet::new();
    for _ in 0..20 {
        let r = get("/metrics");
        assert!(r.body.len() > 20_000_000);
        sizes.insert(r.body.len() / 1_000_000);
    }
    let after = rss(pid);
    let grew = after.saturating_sub(start_rss);
    assert!(grew < 12 * 1024, "20 scrapes: {start_rss} kB -> {after} kB");
    assert!(sizes.len() <= 2, "{sizes:?}");
}

/// A client that stops reading holds the answer where it stopped: the
/// proxy closes it at `timeout client` (the log keeps `LR--`, as haproxy
/// 2.6 logs its applet's stream, with the time it waited) and serves the
/// next scrape.
#[test]
fn a_client_that_stops_reading_times_out() {
    let config = big(2000, 1, "1s");
    for (name, program) in crate::harness::programs("a_client_that_stops_reading_times_out") {
        let p = start(name, &program, &config);
        let mut s = TcpStream::connect(p.addr).unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n")
            .unwrap();
        let mut first = [0u8; 1024];
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        assert!(s.read(&mut first).unwrap() > 0, "{name}");
        let line = p.next_log();
        let l = crate::server::HttpLog::parse(&line);
        assert_eq!(l.status, "200", "{name}: {line}");
        assert_eq!(l.termination, "LR--", "{name}: {line}");
        let tt: u64 = line
            .split(' ')
            .nth(4)
            .unwrap()
            .split('/')
            .nth(4)
            .unwrap()
            .parse()
            .unwrap();
        assert!((1000..4000).contains(&tt), "{name}: {line}");
        let r = fetch(p.addr, SCOPE, 1 << 20, None);
        assert!(r.body.len() > 1_000_000, "{name}");
        drop(s);
    }
}
