//! The HTTP/1 head parser against HAProxy: each request below goes through
//! a real haproxy (`mode http`, one backend recording what it receives)
//! and through ringlb-proto's parser. They must agree on accepting it, and
//! for an accepted one, on the head the server gets (the request line and
//! the fields in order; names compared case-insensitively, as HAProxy
//! sends them in lower case and ringlb keeps the client's case). A refused
//! request gets HAProxy's 400 page, the one `errors::raw(400)` renders.
//!
//! Needs Debian's haproxy; under CI (CI set) a missing haproxy fails the
//! test instead of skipping it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use command_fds::{CommandFdExt, FdMapping};
use ringlb_proto::h1::{emit, head::HeadParser, head::Kind, head::Options, head::Progress};
use ringlb_proto::msg::Head;

/// Requests HAProxy accepts or refuses for a reason the parser models.
const CASES: &[&[u8]] = &[
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET / HTTP/1.1 \r\nHost: a\r\n\r\n",
    b"GET  /x \t HTTP/1.1\r\nHost: a\r\n\r\n",
    b"\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nX-F: a\r\n  b\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\n\tX: 1\r\n\r\n",
    b"GET / HTTP/1.1\r\n x: 1\r\nHost: a\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nX Y: 1\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nX : 1\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\n: 1\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nX:   spaced   \r\n\r\n",
    b"GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET / HTTP/1.1\nHost: a\n\n",
    b"GET / HTTP/1\r\nHost: a\r\n\r\n",
    b"GET / HTTP/1.10\r\nHost: a\r\n\r\n",
    b"GET / http/1.1\r\nHost: a\r\n\r\n",
    b"GET / HTTP/1.0\r\n\r\n",
    b"GET /\r\n\r\n",
    b"GET / \r\n\r\n",
    b"G(T / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\nx",
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx",
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\nx",
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 1\r\n\r\nx",
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"GET http://b/ HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET http://a:80/ HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET http://a/ HTTP/1.1\r\nHost: a:80\r\n\r\n",
    b"GET http://u@a/ HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET http://a::/ HTTP/1.1\r\nHost: a::\r\n\r\n",
    b"GET http://a:80/x HTTP/1.1\r\nHost: a:80\r\n\r\n",
    b"GET https://a:443/x HTTP/1.1\r\nHost: a\r\n\r\n",
    b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n",
    b"CONNECT a HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nhost: A\r\n\r\n",
];

const DEADLINE: Duration = Duration::from_secs(5);

struct Haproxy {
    child: Child,
    port: u16,
    seen: mpsc::Receiver<Vec<u8>>,
    dir: std::path::PathBuf,
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn haproxy_binary() -> Option<&'static str> {
    ["/usr/sbin/haproxy", "/usr/local/sbin/haproxy"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
}

/// haproxy in front of a server that records each request head.
fn start_haproxy(bin: &str) -> Haproxy {
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let server_addr = server.local_addr().unwrap();
    let (tx, seen) = mpsc::channel();
    std::thread::spawn(move || {
        for mut c in server.incoming().flatten() {
            c.set_read_timeout(Some(Duration::from_millis(300)))
                .unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                match c.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
            let _ = tx.send(got);
            let _ =
                c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    // haproxy inherits its listener as fd@3: no port is probed.
    let front = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = front.local_addr().unwrap().port();
    let dir = std::env::temp_dir().join(format!("ringlb-proto-diff-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("h.cfg");
    std::fs::write(
        &cfg,
        format!(
            "defaults\n    mode http\n    timeout connect 1s\n    timeout client 2s\n    timeout server 2s\n\
             frontend fe\n    bind fd@3\n    default_backend be\n\
             backend be\n    server s {server_addr}\n"
        ),
    )
    .unwrap();
    let mut cmd = Command::new(bin);
    cmd.args(["-db", "-f"])
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd.fd_mappings(vec![FdMapping {
        parent_fd: front.into(),
        child_fd: 3,
    }])
    .unwrap();
    let child = cmd.spawn().unwrap();
    let deadline = Instant::now() + DEADLINE;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "haproxy did not listen");
        std::thread::yield_now();
    }
    Haproxy {
        child,
        port,
        seen,
        dir,
    }
}

/// What haproxy made of `raw`: the head its server received, or None
/// when it refused the request.
fn through_haproxy(h: &Haproxy, raw: &[u8]) -> Option<Vec<u8>> {
    while h.seen.try_recv().is_ok() {}
    let mut c = TcpStream::connect(("127.0.0.1", h.port)).unwrap();
    c.set_read_timeout(Some(DEADLINE)).unwrap();
    c.write_all(raw).unwrap();
    let _ = c.shutdown(Shutdown::Write);
    let mut resp = Vec::new();
    let _ = c.read_to_end(&mut resp);
    let status = resp.get(9..12).map(<[u8]>::to_vec).unwrap_or_default();
    if status == b"200" {
        let got = h.seen.recv_timeout(DEADLINE).expect("the server saw it");
        let end = got
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(got.len(), |p| p + 4);
        Some(got[..end].to_vec())
    } else {
        assert_eq!(
            status,
            b"400",
            "{:?}: {:?}",
            String::from_utf8_lossy(raw),
            String::from_utf8_lossy(&resp)
        );
        None
    }
}

/// What the parser makes of `raw`: the head it would send, or None.
fn through_parser(raw: &[u8]) -> Option<Vec<u8>> {
    let mut buf = raw.to_vec();
    let mut head = Head::new();
    let mut p = HeadParser::new(Kind::Request, Options::default());
    match p.parse(&mut buf, &mut head) {
        Ok(Progress::Done(_)) => {
            let mut out = Vec::new();
            emit::head(&head, &mut out);
            Some(out)
        }
        Ok(Progress::Partial) | Err(_) => None,
    }
}

/// Header names in lower case (HAProxy's HTX lower-cases them), and no
/// Connection header: the connection mode (`option http-keep-alive`,
/// HAProxy adds `connection: keep-alive` to an HTTP/1.0 request) is the
/// stream's business, tested with the engine, not the parser's.
fn lower_names(head: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, line) in head.split(|c| *c == b'\n').enumerate() {
        match line.iter().position(|c| *c == b':') {
            Some(colon) if i > 0 => {
                let name: Vec<u8> = line[..colon].iter().map(u8::to_ascii_lowercase).collect();
                if name == b"connection" {
                    continue;
                }
                out.extend(name);
                out.extend_from_slice(&line[colon..]);
            }
            _ => out.extend_from_slice(line),
        }
        out.push(b'\n');
    }
    out
}

#[test]
fn the_parser_agrees_with_haproxy() {
    let Some(bin) = haproxy_binary() else {
        assert!(std::env::var_os("CI").is_none(), "haproxy is missing (CI)");
        eprintln!("haproxy is missing: skipped outside CI");
        return;
    };
    let h = start_haproxy(bin);
    let mut disagree = Vec::new();
    for raw in CASES {
        let want = through_haproxy(&h, raw).map(|v| lower_names(&v));
        let got = through_parser(raw).map(|v| lower_names(&v));
        if want != got {
            disagree.push(format!(
                "{:?}\n  haproxy: {:?}\n  ringlb:  {:?}",
                String::from_utf8_lossy(raw),
                want.map(|v| String::from_utf8_lossy(&v).into_owned()),
                got.map(|v| String::from_utf8_lossy(&v).into_owned()),
            ));
        }
    }
    assert!(disagree.is_empty(), "{}", disagree.join("\n"));
}
