//! The tcp-check rules and options beyond send/expect string: send-lf and
//! send-binary-lf over check variables and sample fetches, a connect's
//! port from a variable, its send-proxy, `check-send-proxy`, expect
//! rbinary and its negation, error/ok/tout-status, on-error/on-success
//! log-format words, status-code. Each scenario runs on haproxy first;
//! the state-change lines are compared word for word, and what the stub
//! server received is checked byte for byte.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::checks::{down_line, next_check_line, up_line, DEFAULTS};
use crate::harness::{config, start, Backend, DEADLINE};

/// A stub that records what each connection sent until a line ended, then
/// answers `good` while `ok` holds, `bad` otherwise, and closes.
struct Stub {
    backend: Backend,
    ok: Arc<AtomicBool>,
    got: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Stub {
    fn new(good: &'static [u8], bad: &'static [u8]) -> Stub {
        let ok = Arc::new(AtomicBool::new(false));
        let got: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
        let (o, g) = (Arc::clone(&ok), Arc::clone(&got));
        let backend = Backend::spawn_with(move |mut s| {
            let mut seen = Vec::new();
            let mut buf = [0u8; 512];
            // A PROXY header ends with its own CRLF: wait for a second
            // line after it.
            let done = |v: &[u8]| {
                let lines = v.windows(2).filter(|w| w == b"\r\n").count();
                lines >= if v.starts_with(b"PROXY ") { 2 } else { 1 }
            };
            while !done(&seen) {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
            g.lock().unwrap().push(seen);
            let _ = s.write_all(if o.load(Ordering::Relaxed) { good } else { bad });
        });
        Stub { backend, ok, got }
    }

    /// The first connection's bytes, waiting for one.
    fn first(&self) -> Vec<u8> {
        let end = std::time::Instant::now() + DEADLINE;
        while std::time::Instant::now() < end {
            if let Some(v) = self.got.lock().unwrap().first() {
                return v.clone();
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("the stub saw no connection");
    }
}

/// send-lf with a check variable and %[srv_name], a connect with
/// send-proxy (on a check, HAProxy's PROXY line names the check's own
/// connection), expect rstring with
/// error-status, status-code, on-error and on-success log-format words and
/// a comment.
fn send_lf_and_expect_options(name: &str, program: &Path) {
    let stub = Stub::new(b"OK ready\r\n", b"NO busy\r\n");
    let p = start(
        name,
        program,
        &config(
            "",
            DEFAULTS,
            &format!(
                "    option tcp-check\n    tcp-check set-var(check.who) str(probe)\n    tcp-check connect send-proxy\n    tcp-check send-lf \"HELLO %[srv_name] %[var(check.who)]\\r\\n\"\n    tcp-check expect rstring ^OK error-status L7STS status-code int(42) on-error \"said %[res.payload(0,2)] to %[var(check.who)]\" on-success \"fine %[res.payload(3,5)]\" comment \"want ok\"\n    server s1 {} check inter 100 rise 1 fall 1\n",
                stub.backend.addr
            ),
        ),
    );
    let (line, _) = next_check_line(&p, DEADLINE);
    assert_eq!(
        line,
        down_line(
            "s1",
            "Layer7 wrong status, code: 42, info: \"said NO to probe comment: want ok\"",
            (0, 0)
        ),
        "{name}"
    );
    // HAProxy's PROXY line on a check describes the check's connection.
    let first = stub.first();
    let want = "PROXY TCP4 127.0.0.1 127.0.0.1 ";
    assert!(first.starts_with(want.as_bytes()), "{name}: {first:?}");
    let line = String::from_utf8_lossy(&first);
    let ports: Vec<&str> = line.lines().next().unwrap().split(' ').skip(4).collect();
    assert_eq!(ports[1], stub.backend.addr.port().to_string(), "{name}");
    assert!(ports[0].parse::<u16>().is_ok(), "{name}: {line}");
    assert!(line.ends_with("\r\nHELLO s1 probe\r\n"), "{name}: {line:?}");
    assert_eq!(
        next_check_line(&p, DEADLINE).0,
        "backend be has no server available!",
        "{name}"
    );
    stub.ok.store(true, Ordering::Relaxed);
    let (line, _) = next_check_line(&p, DEADLINE);
    assert_eq!(
        line,
        up_line(
            "s1",
            "Layer7 check passed, code: 42, info: \"fine ready\"",
            (1, 0)
        ),
        "{name}"
    );
}
on_both!(
    send_lf_and_expect_options,
    send_lf_and_expect_options_on_haproxy,
    send_lf_and_expect_options_on_ringlb
);

/// A connect whose port comes from a variable (the server's own address
/// refuses), send-binary-lf, a negated rbinary and the generic words of
/// its failure, then ok-status.
fn binary_rules_and_port_from_a_variable(name: &str, program: &Path) {
    let stub = Stub::new(b"+PONG\r\n", b"-ERR loading\r\n");
    let refused = crate::harness::refused_addr();
    let p = start(
        name,
        program,
        &config(
            "",
            DEFAULTS,
            &format!(
                "    option tcp-check\n    tcp-check set-var(check.port) int({})\n    tcp-check set-var(check.tail) str(0d0a)\n    tcp-check connect port var(check.port) linger\n    tcp-check send-binary-lf \"50494e47%[var(check.tail)]\"\n    tcp-check expect ! rbinary ^2D\n    tcp-check expect min-recv 5 rbinary ^2B504F4E47 ok-status L6OK\n    server s1 {refused} check inter 100 rise 1 fall 1\n",
                stub.backend.addr.port()
            ),
        ),
    );
    let (line, _) = next_check_line(&p, DEADLINE);
    assert_eq!(
        line,
        down_line(
            "s1",
            "Layer7 invalid response, info: \"TCPCHK matched unwanted content (binary regex) at step 5\"",
            (0, 0)
        ),
        "{name}"
    );
    assert_eq!(stub.first(), b"PING\r\n", "{name}");
    next_check_line(&p, DEADLINE);
    stub.ok.store(true, Ordering::Relaxed);
    let (line, _) = next_check_line(&p, DEADLINE);
    assert_eq!(
        line,
        up_line("s1", "Layer6 check passed, info: \"(tcp-check)\"", (1, 0)),
        "{name}"
    );
}
on_both!(
    binary_rules_and_port_from_a_variable,
    binary_rules_and_port_from_a_variable_on_haproxy,
    binary_rules_and_port_from_a_variable_on_ringlb
);

/// tout-status on an expect rule that waits for a silent server.
fn tout_status(name: &str, program: &Path) {
    let silent = Backend::silent();
    let p = start(
        name,
        program,
        &config(
            "",
            DEFAULTS,
            &format!(
                "    option tcp-check\n    tcp-check send PING\\r\\n\n    tcp-check expect string +PONG tout-status L6TOUT\n    server s1 {} check inter 200 fall 1\n",
                silent.addr
            ),
        ),
    );
    let (line, _) = next_check_line(&p, DEADLINE);
    assert_eq!(
        line,
        down_line(
            "s1",
            "Layer6 timeout, info: \" at step 2 of tcp-check (expect string '+PONG')\"",
            (0, 0)
        ),
        "{name}"
    );
}
on_both!(tout_status, tout_status_on_haproxy, tout_status_on_ringlb);

/// `check-send-proxy` on a plain TCP check: the server gets a PROXY line
/// naming the check's connection (a check has no client).
fn check_send_proxy(name: &str, program: &Path) {
    // Its own accept loop: the check's connection is reset right after
    // the header, possibly before it is accepted (the harness's backend
    // wants a peer address).
    let got: Arc<Mutex<Vec<u8>>> = Arc::default();
    let g = Arc::clone(&got);
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut buf = [0u8; 256];
            while let Ok(n) = s.read(&mut buf) {
                if n == 0 {
                    break;
                }
                g.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        }
    });
    let p = start(
        name,
        program,
        &config(
            "",
            DEFAULTS,
            &format!("    server s1 {addr} check inter 100 rise 1 fall 1 check-send-proxy\n"),
        ),
    );
    let end = std::time::Instant::now() + DEADLINE;
    while got.lock().unwrap().len() < 15 && std::time::Instant::now() < end {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let seen = got.lock().unwrap().clone();
    let want = "PROXY TCP4 127.0.0.1 127.0.0.1 ";
    assert!(seen.starts_with(want.as_bytes()), "{name}: {seen:?}");
    let text = String::from_utf8_lossy(&seen);
    assert!(
        text.lines()
            .next()
            .unwrap()
            .ends_with(&format!(" {}", addr.port())),
        "{name}: {text:?}"
    );
    drop(p);
}
on_both!(
    check_send_proxy,
    check_send_proxy_on_haproxy,
    check_send_proxy_on_ringlb
);
