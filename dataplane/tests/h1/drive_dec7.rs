//! Found driving ringlb as an edge node beside haproxy (7 December): a
//! reload (`-sf`, SIGUSR1) while the server is still answering a
//! keep-alive client's request.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::harness::{start, wait_signal_ready, DEADLINE};
use crate::server::{config, Client};

/// A keep-alive server that tells `heard` of each request head as it
/// arrives and answers it only when `go` says so.
fn held_server(heard: mpsc::Sender<String>, go: mpsc::Receiver<()>) -> std::net::SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut w = s;
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let first = line.trim_end().to_string();
            while line.trim_end() != "" {
                line.clear();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
            }
            let _ = heard.send(first);
            if go.recv_timeout(DEADLINE).is_err() {
                return;
            }
            let _ = w.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone");
        }
    });
    addr
}

/// The soft stop comes after the request has left for the server and
/// before its answer: the response must say `Connection: close`, as
/// haproxy's does. Without it a keep-alive client (wrk under a reload
/// loop) sends its next request on the connection and the stopping
/// process closes it under that request: an empty reply, no log line.
fn soft_stop_while_the_server_answers(name: &str, program: &Path) {
    let (heard_tx, heard) = mpsc::channel();
    let (go, go_rx) = mpsc::channel();
    let srv = held_server(heard_tx, go_rx);
    let mut p = start(name, program, &config(&[format!("s1 {srv}")], ""));
    wait_signal_ready(p.child.id(), Signal::SIGUSR1);
    let mut c = Client::connect(p.addr);
    c.send(b"GET /first HTTP/1.1\r\nHost: a\r\n\r\n");
    assert!(heard
        .recv_timeout(DEADLINE)
        .unwrap()
        .starts_with("GET /first"));
    go.send(()).unwrap();
    let r = c.response(false);
    assert_eq!(r.status, 200, "{name}");
    assert!(r.header("connection").is_none(), "{name}: {:?}", r.headers);
    c.send(b"GET /held HTTP/1.1\r\nHost: a\r\n\r\n");
    assert!(heard
        .recv_timeout(DEADLINE)
        .unwrap()
        .starts_with("GET /held"));
    // The request waits at the server: stop, give the signal time to
    // reach every thread, then let the server answer.
    p.signal(Signal::SIGUSR1);
    std::thread::sleep(Duration::from_millis(300));
    go.send(()).unwrap();
    let r = c.response(false);
    assert_eq!((r.status, r.body.as_slice()), (200, &b"done"[..]), "{name}");
    assert_eq!(
        r.header("connection")
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("close"),
        "{name}: the answer finished after the soft stop does not say close: {:?}",
        r.headers
    );
    assert!(c.closed(), "{name}: the connection closes after it");
    assert!(
        p.wait_exit(Duration::from_secs(5)).is_some(),
        "{name}: the stopping process did not exit"
    );
}
on_both!(
    soft_stop_while_the_server_answers,
    soft_stop_while_the_server_answers_on_haproxy,
    soft_stop_while_the_server_answers_on_ringlb
);
