//! Health checks: servers that die (listener closed), hang (SYN never
//! answered, or accepted and never answered), answer wrongly and recover;
//! the time to DOWN and to UP, the state-change lines (compared word for
//! word with haproxy's, durations masked), backup servers, and traffic
//! that stops going to a server once it is DOWN. Each scenario runs on
//! haproxy first.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::harness::{config, round_trip, stalled, start, Backend, Proxy, DEADLINE};

/// The defaults every scenario uses.
pub(crate) const DEFAULTS: &str =
    "    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n";

/// Slack for a loaded machine on timing bounds.
const SLACK: Duration = Duration::from_millis(600);

/// A server on a port of its own that can die (its listener closed:
/// connections are refused) and come back on the same port.
struct Switch {
    addr: SocketAddr,
    listener: Option<socket2::Socket>,
    behaviour: fn(TcpStream),
    accepted: Arc<std::sync::atomic::AtomicUsize>,
}

impl Switch {
    fn new(behaviour: fn(TcpStream)) -> Switch {
        let mut s = Switch {
            addr: "127.0.0.1:0".parse().unwrap(),
            listener: None,
            behaviour,
            accepted: Arc::default(),
        };
        s.up();
        s
    }

    fn up(&mut self) {
        let sock =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        sock.set_reuse_address(true).unwrap();
        sock.bind(&self.addr.into()).unwrap();
        sock.listen(64).unwrap();
        self.addr = sock.local_addr().unwrap().as_socket().unwrap();
        let l: std::net::TcpListener = sock.try_clone().unwrap().into();
        let behaviour = self.behaviour;
        let accepted = Arc::clone(&self.accepted);
        thread::spawn(move || {
            for s in l.incoming() {
                let Ok(s) = s else { break };
                accepted.fetch_add(1, Ordering::Relaxed);
                thread::spawn(move || behaviour(s));
            }
        });
        self.listener = Some(sock);
    }

    /// Close the listener: the accept thread ends, connections are refused.
    fn down(&mut self) {
        if let Some(l) = self.listener.take() {
            let _ = l.shutdown(Shutdown::Both);
        }
    }
}

fn echo(mut s: TcpStream) {
    crate::harness::echo_until_eof(&mut s);
    let _ = s.shutdown(Shutdown::Write);
}

/// An HTTP server answering every request with the status `status` holds
/// (and a body naming it).
fn http_server(status: Arc<AtomicU16>) -> Backend {
    Backend::spawn_with(move |mut s| {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        let code = status.load(Ordering::Relaxed);
        let (reason, body) = match code {
            200 => ("OK", "ready"),
            404 => ("Not Found", "gone"),
            _ => ("Service Unavailable", "maintenance"),
        };
        let _ = write!(
            s,
            "HTTP/1.1 {code} {reason}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
    })
}

/// A state-change or check line (not a stream's log line).
fn is_check_line(l: &str) -> bool {
    l.starts_with("Server ")
        || l.starts_with("Backup Server ")
        || l.starts_with("Health check ")
        || l.contains(" has no server available!")
}

/// The line with its durations masked (`check duration: Nms`).
pub(crate) fn mask(l: &str) -> String {
    let mut out = String::new();
    let mut rest = l;
    while let Some(i) = rest.find("check duration: ") {
        let after = &rest[i + "check duration: ".len()..];
        let digits = after.chars().take_while(char::is_ascii_digit).count();
        out.push_str(&rest[..i]);
        out.push_str("check duration: Nms");
        rest = &after[digits + "ms".len().min(after.len() - digits)..];
    }
    out.push_str(rest);
    out
}

/// The line with its "N sessions active" count masked.
fn without_sessions(l: &str) -> String {
    match l.find(" sessions active") {
        Some(end) => {
            let start = l[..end].rfind(' ').map_or(0, |i| i + 1);
            format!("{}N{}", &l[..start], &l[end..])
        }
        None => l.to_string(),
    }
}

/// The next check line within `within` (stream lines are skipped), masked,
/// with when it arrived.
pub(crate) fn next_check_line(p: &Proxy, within: Duration) -> (String, Instant) {
    let end = Instant::now() + within;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match p.stdout.recv_timeout(left) {
            Ok(l) if is_check_line(&l) => return (mask(&l), Instant::now()),
            Ok(_) => {}
            Err(_) => panic!("no check line within {within:?}"),
        }
    }
}

/// No check line for `d`.
fn no_check_line(p: &Proxy, d: Duration, what: &str) {
    let end = Instant::now() + d;
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        if let Ok(l) = p.stdout.recv_timeout(left) {
            assert!(!is_check_line(&l), "{what}: unexpected {l}");
        }
    }
}

pub(crate) fn down_line(server: &str, reason: &str, left: (u32, u32)) -> String {
    let backup = server.starts_with('b');
    format!(
        "{}Server be/{server} is DOWN, reason: {reason}, check duration: Nms. {} active and {} backup servers left.{} 0 sessions active, 0 requeued, 0 remaining in queue.",
        if backup { "Backup " } else { "" },
        left.0,
        left.1,
        if left.0 == 0 && left.1 > 0 { " Running on backup." } else { "" }
    )
}

pub(crate) fn up_line(server: &str, reason: &str, online: (u32, u32)) -> String {
    let backup = server.starts_with('b');
    format!(
        "{}Server be/{server} is UP, reason: {reason}, check duration: Nms. {} active and {} backup servers online.{} 0 sessions requeued, 0 total in queue.",
        if backup { "Backup " } else { "" },
        online.0,
        online.1,
        if online.0 == 0 && online.1 > 0 { " Running on backup." } else { "" }
    )
}

const REFUSED: &str = "Layer4 connection problem, info: \"Connection refused\"";

/// A server refused at start goes DOWN at the first check; once it
/// listens it comes back UP after `rise` good checks, and when it dies
/// again it goes DOWN after `fall` failed ones, each within one `inter` of
/// its due time. A pure TCP check never reaches the server's application
/// (the handshake's last ACK is held back and the connection reset).
fn dies_and_recovers(name: &str, program: &Path) {
    let inter = Duration::from_millis(150);
    let (rise, fall) = (3u32, 2u32);
    let mut s = Switch::new(echo);
    s.down();
    let p = start(
        name,
        program,
        &config(
            "",
            DEFAULTS,
            &format!(
                "    server s1 {} check inter 150 rise {rise} fall {fall}\n",
                s.addr
            ),
        ),
    );
    let (line, _) = next_check_line(&p, DEADLINE);
    assert_eq!(line, down_line("s1", REFUSED, (0, 0)), "{name}");
    let (line, _) = next_check_line(&p, DEADLINE);
    assert_eq!(line, "backend be has no server available!", "{name}");
    s.up();
    let back = Instant::now();
    let (line, at) = next_check_line(&p, DEADLINE);
    assert_eq!(line, up_line("s1", "Layer4 check passed", (1, 0)), "{name}");
    let took = at - back;
    assert!(
        took >= inter * (rise - 1) && took <= inter * (rise + 1) + SLACK,
        "{name}: UP after {took:?} (rise {rise} x inter {inter:?})"
    );
    assert_eq!(
        s.accepted.load(Ordering::Relaxed),
        0,
        "{name}: the checks were seen"
    );
    assert_eq!(round_trip(&p, b"up"), b"up", "{name}");
    s.down();
    let died = Instant::now();
    let (line, at) = next_check_line(&p, DEADLINE);
    assert_eq!(line, down_line("s1", REFUSED, (0, 0)), "{name}");
    let took = at - died;
    assert!(
        took >= inter * (fall - 1) && took <= inter * (fall + 1) + SLACK,
        "{name}: DOWN after {took:?} (fall {fall} x inter {inter:?})"
    );
    let (line, _) = next_check_line(&p, DEADLINE);
    assert_eq!(line, "backend be has no server available!", "{name}");
}
on_both!(
    dies_and_recovers,
    dies_and_recovers_on_haproxy,
    dies_and_recovers_on_ringlb
);

/// Under a steady stream of requests, a server that dies stops getting
/// them once it is DOWN, and with retries and redispatch no client sees
/// an error.
fn traffic_leaves_a_dead_server(name: &str, program: &Path) {
    let mut a = Switch::new(echo);
    let b = Switch::new(echo);
    let p = start(
        name,
        program,
        &config(
            "",
            DEFAULTS,
            &format!(
                "    balance roundrobin\n    retries 3\n    option redispatch\n    server a {} check inter 100 fall 2\n    server b {} check inter 100 fall 2\n",
                a.addr, b.addr
            ),
        ),
    );
    let mut seen_down = false;
    let mut after_down = 0;
    let mut killed = false;
    let end = Instant::now() + DEADLINE;
    for i in 0u32.. {
        assert!(Instant::now() < end, "{name}: a never went DOWN");
        if i == 20 {
            a.down();
            killed = true;
        }
        let msg = format!("req {i}");
        assert_eq!(
            round_trip(&p, msg.as_bytes()),
            msg.as_bytes(),
            "{name}: request {i} failed"
        );
        // Lines so far: the state change, then stream lines.
        while let Ok(l) = p.stdout.try_recv() {
            if is_check_line(&l) {
                assert!(killed, "{name}: {l}");
                // Under load a request may be on its way to `a` (HAProxy
                // counts it in cur_sess): the count is not compared.
                assert_eq!(
                    without_sessions(&mask(&l)),
                    without_sessions(&down_line("a", REFUSED, (1, 0))),
                    "{name}"
                );
                seen_down = true;
            } else if seen_down && l.contains(" fe be/a ") {
                after_down += 1;
                // A request that was already on its way may end after the
                // line; one started after it must not pick a.
                assert!(after_down <= 1, "{name}: {l}");
            }
        }
        if seen_down && i > 20 {
            break;
        }
    }
    // Requests started now, after the DOWN line was read, all go to b.
    while p.stdout.try_recv().is_ok() {}
    for i in 0..10 {
        let msg = format!("after {i}");
        assert_eq!(round_trip(&p, msg.as_bytes()), msg.as_bytes(), "{name}");
        let l = p.next_tcplog();
        assert_eq!(l.server, "b", "{name}: {l:?}");
        assert_eq!(l.termination, "--", "{name}: {l:?}");
    }
}
on_both!(
    traffic_leaves_a_dead_server,
    traffic_leaves_a_dead_server_on_haproxy,
    traffic_leaves_a_dead_server_on_ringlb
);

/// A server whose SYNs are never answered: Layer4 timeout after `inter`
/// (no `timeout check`).
fn a_hanging_connect_times_out(name: &str, program: &Path) {
    let hang = stalled();
    let p = start(
        name,
        program,
        &config(
            "",
            DEFAULTS,
            &format!("    server s1 {} check inter 200 fall 1\n", hang.addr),
        ),
    );
    let (line, _) = next_check_line(&p, DEADLINE);
    assert_eq!(line, down_line("s1", "Layer4 timeout", (0, 0)), "{name}");
}
on_both!(
    a_hanging_connect_times_out,
    a_hanging_connect_times_out_on_haproxy,
    a_hanging_connect_times_out_on_ringlb
);

/// A server that accepts and never answers an HTTP check: Layer7 timeout
/// once `timeout check` has passed since the connection (HAProxy 2.6 ends
/// the check at the later of that and the connect deadline, see checks/run.rs).
fn a_silent_server_fails_an_http_check(name: &str, program: &Path) {
    let silent = Backend::silent();
    let p = start(
        name,
        program,
        &config(
            "",
            &format!("{DEFAULTS}    timeout check 500ms\n"),
            &format!(
                "    option httpchk GET /health\n    server s1 {} check inter 200 fall 1\n",
                silent.addr
            ),
        ),
    );
    let t0 = Instant::now();
    let (line, at) = next_check_line(&p, DEADLINE);
    assert_eq!(line, down_line("s1", "Layer7 timeout", (0, 0)), "{name}");
    let took = at - t0;
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_millis(500) + SLACK,
        "{name}: timeout check, not inter: {took:?}"
    );
}
on_both!(
    a_silent_server_fails_an_http_check,
    a_silent_server_fails_an_http_check_on_haproxy,
    a_silent_server_fails_an_http_check_on_ringlb
);

/// Wrong answers and recovery: a 503 is a wrong status (with its reason
/// phrase), a 200 brings the server back; `http-check expect string`
/// looks in the body.
fn wrong_answers_then_recovery(name: &str, program: &Path) {
    let status = Arc::new(AtomicU16::new(503));
    let srv = http_server(Arc::clone(&status));
    let body = Arc::new(AtomicU16::new(200));
    let srv2 = http_server(Arc::clone(&body));
    let p = start(
        name,
        program,
        &config(
            "",
            DEFAULTS,
            &format!(
                "    option httpchk\n    http-check send meth GET uri /health ver HTTP/1.1 hdr Host example.com\n    server s1 {} check inter 100 rise 2 fall 1\n",
                srv.addr
            ),
        ),
    );
    let (line, _) = next_check_line(&p, DEADLINE);
    assert_eq!(
        line,
        down_line(
            "s1",
            "Layer7 wrong status, code: 503, info: \"Service Unavailable\"",
            (0, 0)
        ),
        "{name}"
    );
    let (line, _) = next_check_line(&p, DEADLINE);
    assert_eq!(line, "backend be has no server available!", "{name}");
    status.store(200, Ordering::Relaxed);
    let (line, _) = next_check_line(&p, DEADLINE);
    assert_eq!(
        line,
        up_line("s1", "Layer7 check passed, code: 200", (1, 0)),
        "{name}"
    );
    drop(p);

    // The body: a string that is not there, then a negated one that is.
    let p = start(
        name,
        program,
        &config(
            "",
            DEFAULTS,
            &format!(
                "    option httpchk GET /\n    http-check expect string maintenance\n    server s1 {} check inter 100 fall 1\n",
                srv2.addr
            ),
        ),
    );
    let (line, _) = next_check_line(&p, DEADLINE);
    assert_eq!(
        line,
        down_line(
            "s1",
            "Layer7 invalid response, info: \"HTTP content check did not match\"",
            (0, 0)
        ),
        "{name}"
    );
    drop(p);
    let p = start(
        name,
        program,
        &config(
            "",
            DEFAULTS,
            &format!(
                "    option httpchk GET /\n    http-check expect ! rstring re.dy\n    server s1 {} check inter 100 fall 1\n",
                srv2.addr
            ),
        ),
    );
    let (line, _) = next_check_line(&p, DEADLINE);
    assert_eq!(
        line,
        down_line(
            "s1",
            "Layer7 invalid response, info: \"HTTP check matched unwanted content\"",
            (0, 0)
        ),
        "{name}"
    );
}
on_both!(
    wrong_answers_then_recovery,
    wrong_answers_then_recovery_on_haproxy,
    wrong_answers_then_recovery_on_ringlb
);

/// `option log-health-checks`: every change of the counter is logged, and
/// the state-change lines lose their reason.
fn log_health_checks_lines(name: &str, program: &Path) {
    let mut s = Switch::new(echo);
    let p = start(
        name,
        program,
        &config(
            "",
            &format!("{DEFAULTS}    option log-health-checks\n"),
            &format!("    server s1 {} check inter 100 rise 2 fall 2\n", s.addr),
        ),
    );
    // At start the server is up but "going down" (health = rise): the
    // first success is logged as it fills the counter.
    let (line, _) = next_check_line(&p, DEADLINE);
    assert_eq!(
        line,
        "Health check for server be/s1 succeeded, reason: Layer4 check passed, check duration: Nms, status: 2/2 UP.",
        "{name}"
    );
    s.down();
    let want = [
        format!("Health check for server be/s1 failed, reason: {REFUSED}, check duration: Nms, status: 1/2 UP."),
        format!("Health check for server be/s1 failed, reason: {REFUSED}, check duration: Nms, status: 0/2 DOWN."),
        "Server be/s1 is DOWN. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.".to_string(),
        "backend be has no server available!".to_string(),
    ];
    for w in &want {
        assert_eq!(&next_check_line(&p, DEADLINE).0, w, "{name}");
    }
    s.up();
    let want = [
        "Health check for server be/s1 succeeded, reason: Layer4 check passed, check duration: Nms, status: 1/2 DOWN.",
        "Health check for server be/s1 succeeded, reason: Layer4 check passed, check duration: Nms, status: 2/2 UP.",
        "Server be/s1 is UP. 1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.",
    ];
    for w in want {
        assert_eq!(next_check_line(&p, DEADLINE).0, w, "{name}");
    }
    // Steady success: nothing more.
    no_check_line(&p, Duration::from_millis(400), name);
}
on_both!(
    log_health_checks_lines,
    log_health_checks_lines_on_haproxy,
    log_health_checks_lines_on_ringlb
);

/// Backup servers take traffic only when no active server is up: the first
/// backup alone, or all of them under `option allbackups`; the active one
/// gets it back once UP again.
fn backups_only_when_no_active_server(name: &str, program: &Path) {
    for allbackups in [false, true] {
        let mut a = Switch::new(echo);
        let b1 = Switch::new(echo);
        let b2 = Switch::new(echo);
        let p = start(
            name,
            program,
            &config(
                "",
                DEFAULTS,
                &format!(
                    "    balance roundrobin\n{}    server a {} check inter 100 fall 1 rise 1\n    server b1 {} check inter 100 backup\n    server b2 {} check inter 100 backup\n",
                    if allbackups { "    option allbackups\n" } else { "" },
                    a.addr,
                    b1.addr,
                    b2.addr
                ),
            ),
        );
        let servers = |n: usize| -> Vec<String> {
            (0..n)
                .map(|i| {
                    let m = format!("m{i}");
                    assert_eq!(round_trip(&p, m.as_bytes()), m.as_bytes(), "{name}");
                    loop {
                        let l = p.next_log();
                        if !is_check_line(&l) {
                            return crate::harness::TcpLog::parse(&l).server;
                        }
                    }
                })
                .collect()
        };
        assert!(servers(4).iter().all(|s| s == "a"), "{name}");
        a.down();
        let (line, _) = next_check_line(&p, DEADLINE);
        assert_eq!(line, down_line("a", REFUSED, (0, 2)), "{name}");
        let got = servers(6);
        if allbackups {
            assert!(got.iter().any(|s| s == "b1"), "{name}: {got:?}");
            assert!(got.iter().any(|s| s == "b2"), "{name}: {got:?}");
        } else {
            assert!(got.iter().all(|s| s == "b1"), "{name}: {got:?}");
        }
        a.up();
        let (line, _) = next_check_line(&p, DEADLINE);
        assert_eq!(line, up_line("a", "Layer4 check passed", (1, 2)), "{name}");
        assert!(servers(4).iter().all(|s| s == "a"), "{name}");
    }
}
on_both!(
    backups_only_when_no_active_server,
    backups_only_when_no_active_server_on_haproxy,
    backups_only_when_no_active_server_on_ringlb
);

/// With every server down a TCP stream has nowhere to go: it ends SC on
/// <NOSRV>. A `disabled` server is never checked.
fn no_server_left(name: &str, program: &Path) {
    let mut s = Switch::new(echo);
    let off = Switch::new(echo);
    let p = start(
        name,
        program,
        &config(
            "",
            DEFAULTS,
            &format!(
                "    server s1 {} check inter 100 fall 1\n    server s2 {} check inter 100 disabled\n",
                s.addr, off.addr
            ),
        ),
    );
    s.down();
    let (line, _) = next_check_line(&p, DEADLINE);
    assert_eq!(line, down_line("s1", REFUSED, (0, 0)), "{name}");
    let mut c = p.connect();
    let mut b = [0u8; 16];
    let n = c.read(&mut b).unwrap_or(0);
    assert_eq!(n, 0, "{name}: the proxy closes the client");
    let l = loop {
        let l = p.next_log();
        if !is_check_line(&l) {
            break crate::harness::TcpLog::parse(&l);
        }
    };
    assert_eq!(
        (l.server.as_str(), l.termination.as_str()),
        ("<NOSRV>", "SC"),
        "{name}: {l:?}"
    );
    assert_eq!(
        off.accepted.load(Ordering::Relaxed),
        0,
        "{name}: a disabled server is not checked"
    );
}
on_both!(
    no_server_left,
    no_server_left_on_haproxy,
    no_server_left_on_ringlb
);

/// A PING/PONG stub (a redis-like protocol): "+PONG" while `ok` holds,
/// "-ERR loading" otherwise, then close.
fn pong_server(ok: Arc<std::sync::atomic::AtomicBool>) -> Backend {
    Backend::spawn_with(move |mut s| {
        let mut got = Vec::new();
        let mut buf = [0u8; 256];
        while !got.ends_with(b"\r\n") {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        let answer: &[u8] = if ok.load(Ordering::Relaxed) {
            b"+PONG\r\n"
        } else {
            b"-ERR loading\r\n"
        };
        let _ = s.write_all(answer);
    })
}

/// `option tcp-check`: send, expect, the step numbers and comments in the
/// messages, a connect rule's port, a silent server.
fn tcp_check_rules(name: &str, program: &Path) {
    let ok = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let srv = pong_server(Arc::clone(&ok));
    let p = start(
        name,
        program,
        &config(
            "",
            DEFAULTS,
            &format!(
                "    option tcp-check\n    tcp-check send PING\\r\\n\n    tcp-check expect string +PONG comment \"want pong\"\n    server s1 {} check inter 100 rise 2 fall 1\n",
                srv.addr
            ),
        ),
    );
    let (line, _) = next_check_line(&p, DEADLINE);
    assert_eq!(
        line,
        down_line(
            "s1",
            "Layer7 invalid response, info: \"TCPCHK did not match content '+PONG' at step 2 comment: want pong\"",
            (0, 0)
        ),
        "{name}"
    );
    assert_eq!(
        next_check_line(&p, DEADLINE).0,
        "backend be has no server available!",
        "{name}"
    );
    ok.store(true, Ordering::Relaxed);
    let (line, _) = next_check_line(&p, DEADLINE);
    assert_eq!(
        line,
        up_line(
            "s1",
            "Layer7 check passed, code: 0, info: \"(tcp-check)\"",
            (1, 0)
        ),
        "{name}"
    );
    drop(p);

    // A connect rule with a port nothing listens on.
    let refused = crate::harness::refused_addr();
    let p = start(
        name,
        program,
        &config(
            "",
            DEFAULTS,
            &format!(
                "    option tcp-check\n    tcp-check connect port {}\n    tcp-check send PING\\r\\n\n    tcp-check expect string +PONG\n    server s1 {} check inter 100 fall 1\n",
                refused.port(),
                srv.addr
            ),
        ),
    );
    let (line, _) = next_check_line(&p, DEADLINE);
    assert_eq!(
        line,
        down_line(
            "s1",
            &format!(
                "Layer4 connection problem, info: \"Connection refused at step 1 of tcp-check (connect port {})\"",
                refused.port()
            ),
            (0, 0)
        ),
        "{name}"
    );
    drop(p);

    // A silent server: the expect rule times out.
    let silent = Backend::silent();
    let p = start(
        name,
        program,
        &config(
            "",
            DEFAULTS,
            &format!(
                "    option tcp-check\n    tcp-check send PING\\r\\n\n    tcp-check expect string +PONG comment \"want pong\"\n    server s1 {} check inter 200 fall 1\n",
                silent.addr
            ),
        ),
    );
    let (line, _) = next_check_line(&p, DEADLINE);
    assert_eq!(
        line,
        down_line(
            "s1",
            "Layer7 timeout, info: \" at step 2 of tcp-check (expect string '+PONG') comment: 'want pong'\"",
            (0, 0)
        ),
        "{name}"
    );
}
on_both!(
    tcp_check_rules,
    tcp_check_rules_on_haproxy,
    tcp_check_rules_on_ringlb
);

/// `track`: servers follow the state of the one they track (through a
/// chain), each with its own line "via" the one it tracks, right after it.
fn tracking_servers_follow(name: &str, program: &Path) {
    let mut s = Switch::new(echo);
    let other = Switch::new(echo);
    let p = start(
        name,
        program,
        &config(
            "",
            DEFAULTS,
            &format!(
                "    server s1 {} check inter 100 fall 1 rise 1\nbackend be2\n    server t1 {} track be/s1\nbackend be3\n    server t2 {} track be2/t1\n",
                s.addr, other.addr, other.addr
            ),
        ),
    );
    s.down();
    let via = |b: &str, srv: &str, down: bool, via: &str| {
        if down {
            format!("Server {b}/{srv} is DOWN via {via}. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.")
        } else {
            format!("Server {b}/{srv} is UP via {via}. 1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.")
        }
    };
    let want = [
        down_line("s1", REFUSED, (0, 0)),
        "backend be has no server available!".to_string(),
        via("be2", "t1", true, "be/s1"),
        "backend be2 has no server available!".to_string(),
        via("be3", "t2", true, "be2/t1"),
        "backend be3 has no server available!".to_string(),
    ];
    for w in &want {
        assert_eq!(&next_check_line(&p, DEADLINE).0, w, "{name}");
    }
    s.up();
    let want = [
        up_line("s1", "Layer4 check passed", (1, 0)),
        via("be2", "t1", false, "be/s1"),
        via("be3", "t2", false, "be2/t1"),
    ];
    for w in &want {
        assert_eq!(&next_check_line(&p, DEADLINE).0, w, "{name}");
    }
}
on_both!(
    tracking_servers_follow,
    tracking_servers_follow_on_haproxy,
    tracking_servers_follow_on_ringlb
);

/// One server s1, checked by `option` every 100 ms: the first check takes
/// it DOWN with `down` (the backend is left without a server); once `fix`
/// has run, the next brings it UP with `up`. The proxy, still running.
fn down_then_up(
    name: &str,
    program: &Path,
    option: &str,
    srv: SocketAddr,
    down: &str,
    fix: impl FnOnce(),
    up: &str,
) -> Proxy {
    let p = start(
        name,
        program,
        &config(
            "",
            DEFAULTS,
            &format!("    {option}\n    server s1 {srv} check inter 100 rise 1 fall 1\n"),
        ),
    );
    let (line, _) = next_check_line(&p, DEADLINE);
    assert_eq!(line, down_line("s1", down, (0, 0)), "{name}");
    assert_eq!(
        next_check_line(&p, DEADLINE).0,
        "backend be has no server available!",
        "{name}"
    );
    fix();
    let (line, _) = next_check_line(&p, DEADLINE);
    assert_eq!(line, up_line("s1", up, (1, 0)), "{name}");
    p
}

/// `option redis-check`: HAProxy's built-in PING / +PONG rules; the first
/// line of a wrong answer is the info of a wrong status.
fn redis_check(name: &str, program: &Path) {
    let ok = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let srv = pong_server(Arc::clone(&ok));
    down_then_up(
        name,
        program,
        "option redis-check",
        srv.addr,
        "Layer7 wrong status, code: 0, info: \"-ERR loading\"",
        || ok.store(true, Ordering::Relaxed),
        "Layer7 check passed, code: 0, info: \"Redis server is ok\"",
    );
}
on_both!(redis_check, redis_check_on_haproxy, redis_check_on_ringlb);

/// `init-state` (HAProxy 3.x; 2.6 does not know it, so ringlb only):
/// `down` starts DOWN (no traffic) and one good check brings it UP,
/// `fully-down` needs `rise` of them, `fully-up` needs `fall` failures to
/// go DOWN; a server tracking one that starts down starts down too.
#[test]
fn init_state_sets_the_first_health() {
    let name = "ringlb";
    let program = crate::harness::ringlb();
    let program = program.as_path();
    let mut s = Switch::new(echo);
    s.down();
    let other = Switch::new(echo);
    let p = start(
        name,
        program,
        &config(
            "",
            DEFAULTS,
            &format!(
                "    server s1 {} check inter 300 rise 3 init-state down\nbackend be2\n    server t1 {} track be/s1\n",
                s.addr, other.addr
            ),
        ),
    );
    // Down at start (and refusing, so no check brings it up): a request
    // finds no server at all, where an `up` server would be tried.
    let mut c = p.connect();
    let mut b = [0u8; 8];
    assert_eq!(c.read(&mut b).unwrap_or(0), 0, "no server at start");
    let l = loop {
        let l = p.next_log();
        if !is_check_line(&l) {
            break crate::harness::TcpLog::parse(&l);
        }
    };
    assert_eq!(
        (l.server.as_str(), l.termination.as_str()),
        ("<NOSRV>", "SC"),
        "{l:?}"
    );
    s.up();
    let want = [
        up_line("s1", "Layer4 check passed", (1, 0)),
        "Server be2/t1 is UP via be/s1. 1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.".to_string(),
    ];
    for w in &want {
        assert_eq!(&next_check_line(&p, DEADLINE).0, w);
    }
    drop(p);

    // Down but answering: the first good check brings it up.
    let p = start(
        name,
        program,
        &config(
            "",
            DEFAULTS,
            &format!(
                "    server s1 {} check inter 300 rise 3 init-state down\n",
                s.addr
            ),
        ),
    );
    let t0 = Instant::now();
    assert_eq!(
        next_check_line(&p, DEADLINE).0,
        up_line("s1", "Layer4 check passed", (1, 0))
    );
    assert!(
        t0.elapsed() < Duration::from_millis(300) + SLACK,
        "one check"
    );
    drop(p);

    let p = start(
        name,
        program,
        &config(
            "",
            DEFAULTS,
            &format!(
                "    server s1 {} check inter 100 rise 3 init-state fully-down\n",
                s.addr
            ),
        ),
    );
    let t0 = Instant::now();
    assert_eq!(
        next_check_line(&p, DEADLINE).0,
        up_line("s1", "Layer4 check passed", (1, 0))
    );
    assert!(
        t0.elapsed() >= Duration::from_millis(200),
        "three checks: {:?}",
        t0.elapsed()
    );
    drop(p);

    let p = start(
        name,
        program,
        &config(
            "",
            DEFAULTS,
            &format!(
                "    server s1 {} check inter 100 fall 3 init-state fully-up\n",
                s.addr
            ),
        ),
    );
    s.down();
    let t0 = Instant::now();
    assert_eq!(
        next_check_line(&p, DEADLINE).0,
        down_line("s1", REFUSED, (0, 0))
    );
    assert!(
        t0.elapsed() >= Duration::from_millis(200),
        "three failures: {:?}",
        t0.elapsed()
    );
}

/// A soft stop (SIGUSR1) ends a process whose checks are waiting, one in
/// the middle of an HTTP check a silent server never answers: the checks
/// stop with the proxies (haproxy lets the check under way end first).
fn a_soft_stop_ends_the_checks(name: &str, program: &Path) {
    let silent = Backend::silent();
    let live = http_server(Arc::new(AtomicU16::new(200)));
    let mut p = start(
        name,
        program,
        &config(
            "",
            DEFAULTS,
            &format!(
                "    option httpchk\n    server s1 {} check inter 5s backup\n    server s2 {} check inter 100\n",
                silent.addr, live.addr
            ),
        ),
    );
    // Serving, and the silent server's check under way.
    let mut c = p.connect();
    c.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let mut got = Vec::new();
    let _ = c.read_to_end(&mut got);
    assert!(got.starts_with(b"HTTP/1.1 200 OK"), "{name}: {got:?}");
    drop(c);
    silent
        .next_accept(DEADLINE)
        .unwrap_or_else(|| panic!("{name}: no check reached the silent server"));
    crate::harness::wait_signal_ready(p.child.id(), nix::sys::signal::Signal::SIGUSR1);
    p.signal(nix::sys::signal::Signal::SIGUSR1);
    let t0 = Instant::now();
    let st = p
        .wait_exit(DEADLINE)
        .unwrap_or_else(|| panic!("{name}: still running {DEADLINE:?} after SIGUSR1"));
    assert!(st.success(), "{name}: {st:?}");
    // ringlb does not wait for the silent server's check under way (inter
    // 5s); haproxy does (docs/differences.md).
    if name == "ringlb" {
        assert!(
            t0.elapsed() < Duration::from_secs(3),
            "{name}: {:?}",
            t0.elapsed()
        );
    }
}
on_both!(
    a_soft_stop_ends_the_checks,
    a_soft_stop_ends_the_checks_on_haproxy,
    a_soft_stop_ends_the_checks_on_ringlb
);

/// `option ssl-hello-chk`: HAProxy's SSLv3 CLIENT HELLO, then a handshake
/// or alert record is a Layer6 success, anything else a Layer6 invalid
/// response. (A stub: it answers a TLS record without speaking TLS.)
fn ssl_hello_check(name: &str, program: &Path) {
    let tls = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let hellos = Arc::new(std::sync::Mutex::new(Vec::<Vec<u8>>::new()));
    let srv = {
        let tls = Arc::clone(&tls);
        let hellos = Arc::clone(&hellos);
        Backend::spawn_with(move |mut s| {
            let mut got = vec![0u8; 126];
            if s.read_exact(&mut got).is_err() {
                return;
            }
            hellos.lock().unwrap().push(got);
            let answer: &[u8] = if tls.load(Ordering::Relaxed) {
                b"\x16\x03\x01\x00\x04\x0e\x00\x00\x00"
            } else {
                b"HTTP/1.0 400 Bad Request\r\n\r\n"
            };
            let _ = s.write_all(answer);
        })
    };
    down_then_up(
        name,
        program,
        "option ssl-hello-chk",
        srv.addr,
        "Layer6 invalid response",
        || tls.store(true, Ordering::Relaxed),
        "Layer6 check passed",
    );
    let hello = hellos.lock().unwrap()[0].clone();
    assert_eq!(
        &hello[..11],
        b"\x16\x03\x00\x00\x79\x01\x00\x00\x75\x03\x00",
        "{name}"
    );
    assert_eq!(&hello[15..43], b"HAPROXYSSLCHK\nHAPROXYSSLCHK\n", "{name}");
    assert_eq!(&hello[122..], b"\x00\x3a\x01\x00", "{name}");
}
on_both!(
    ssl_hello_check,
    ssl_hello_check_on_haproxy,
    ssl_hello_check_on_ringlb
);

/// `option smtpchk`: HAProxy's built-in SMTP dialogue (greeting, HELO or
/// EHLO, QUIT), the replies' codes and words in the lines. (A stub that
/// speaks enough SMTP for it.)
fn smtp_check(name: &str, program: &Path) {
    let ok = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let hellos = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let srv = {
        let ok = Arc::clone(&ok);
        let hellos = Arc::clone(&hellos);
        Backend::spawn_with(move |s| {
            let mut w = s.try_clone().unwrap();
            let mut r = std::io::BufReader::new(s);
            let mut line = String::new();
            if !ok.load(Ordering::Relaxed) {
                let _ = w.write_all(b"554 5.3.2 No service\r\n");
                let _ = std::io::BufRead::read_line(&mut r, &mut line);
                return;
            }
            let _ = w.write_all(b"220 mail.test ESMTP\r\n");
            if std::io::BufRead::read_line(&mut r, &mut line).unwrap_or(0) == 0 {
                return;
            }
            hellos.lock().unwrap().push(line.clone());
            let _ = w.write_all(b"250-mail.test\r\n250 PIPELINING\r\n");
            line.clear();
            if std::io::BufRead::read_line(&mut r, &mut line).unwrap_or(0) == 0 {
                return;
            }
            let _ = w.write_all(b"221 2.0.0 Bye\r\n");
        })
    };
    down_then_up(
        name,
        program,
        "option smtpchk EHLO example.org",
        srv.addr,
        "Layer7 wrong status, code: 554, info: \"5.3.2 No service\"",
        || ok.store(true, Ordering::Relaxed),
        "Layer7 check passed, code: 221, info: \"2.0.0 Bye\"",
    );
    assert_eq!(hellos.lock().unwrap()[0], "EHLO example.org\r\n", "{name}");
}
on_both!(smtp_check, smtp_check_on_haproxy, smtp_check_on_ringlb);

/// `option pgsql-check user <name>`: HAProxy's StartupMessage, then an
/// ErrorResponse is an invalid response (its severity as info) and an
/// AuthenticationOk a success. (A stub speaking the first message of the
/// protocol, to pin the bytes sent; checks_real.rs runs the check against
/// a real PostgreSQL.)
fn pgsql_check(name: &str, program: &Path) {
    let ok = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let startups = Arc::new(std::sync::Mutex::new(Vec::<Vec<u8>>::new()));
    let srv = {
        let ok = Arc::clone(&ok);
        let startups = Arc::clone(&startups);
        Backend::spawn_with(move |mut s| {
            let mut len = [0u8; 4];
            if s.read_exact(&mut len).is_err() {
                return;
            }
            let n = u32::from_be_bytes(len) as usize;
            let mut rest = vec![0u8; n.saturating_sub(4)];
            if s.read_exact(&mut rest).is_err() {
                return;
            }
            let mut all = len.to_vec();
            all.extend_from_slice(&rest);
            startups.lock().unwrap().push(all);
            let answer: &[u8] = if ok.load(Ordering::Relaxed) {
                b"R\x00\x00\x00\x08\x00\x00\x00\x00"
            } else {
                b"E\x00\x00\x00\x2eSFATAL\x00VFATAL\x00C28000\x00Mno such role\x00\x00"
            };
            let _ = s.write_all(answer);
        })
    };
    down_then_up(
        name,
        program,
        "option pgsql-check user ringlb",
        srv.addr,
        "Layer7 invalid response, info: \"FATAL\"",
        || ok.store(true, Ordering::Relaxed),
        "Layer7 check passed, code: 0, info: \"PostgreSQL server is ok\"",
    );
    assert_eq!(
        startups.lock().unwrap()[0],
        b"\x00\x00\x00\x15\x00\x03\x00\x00user\x00ringlb\x00\x00",
        "{name}"
    );
}
on_both!(pgsql_check, pgsql_check_on_haproxy, pgsql_check_on_ringlb);

/// `option ldap-check`: HAProxy's anonymous bind, then the bindResponse's
/// resultCode. (A stub answering a bind, to pin the bytes sent;
/// checks_real.rs runs the check against slapd.)
fn ldap_check(name: &str, program: &Path) {
    let result = Arc::new(AtomicU16::new(49));
    let binds = Arc::new(std::sync::Mutex::new(Vec::<Vec<u8>>::new()));
    let srv = {
        let result = Arc::clone(&result);
        let binds = Arc::clone(&binds);
        Backend::spawn_with(move |mut s| {
            let mut bind = [0u8; 14];
            if s.read_exact(&mut bind).is_err() {
                return;
            }
            binds.lock().unwrap().push(bind.to_vec());
            let code = u8::try_from(result.load(Ordering::Relaxed)).unwrap();
            let _ = s.write_all(&[
                0x30, 0x0c, 0x02, 0x01, 0x01, 0x61, 0x07, 0x0a, 0x01, code, 0x04, 0x00, 0x04, 0x00,
            ]);
        })
    };
    down_then_up(
        name,
        program,
        "option ldap-check",
        srv.addr,
        "Layer7 wrong status, code: 49, info: \"See RFC: http://tools.ietf.org/html/rfc4511#section-4.1.9\"",
        || result.store(0, Ordering::Relaxed),
        "Layer7 check passed, code: 0",
    );
    assert_eq!(
        binds.lock().unwrap()[0],
        b"\x30\x0c\x02\x01\x01\x60\x07\x02\x01\x03\x04\x00\x80\x00",
        "{name}"
    );
}
on_both!(ldap_check, ldap_check_on_haproxy, ldap_check_on_ringlb);

/// `option mysql-check user <name>`: HAProxy's client authentication and
/// COM_QUIT, then the server's handshake and the packet after it; an error
/// packet is a wrong status with its code and message. (A stub answering
/// like a MySQL server, to pin the bytes sent; checks_real.rs runs the
/// check against MariaDB.)
fn mysql_check(name: &str, program: &Path) {
    let ok = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let auths = Arc::new(std::sync::Mutex::new(Vec::<Vec<u8>>::new()));
    let packet = |seq: u8, payload: &[u8]| {
        let n = u32::try_from(payload.len()).unwrap().to_le_bytes();
        let mut v = vec![n[0], n[1], n[2], seq];
        v.extend_from_slice(payload);
        v
    };
    let srv = {
        let ok = Arc::clone(&ok);
        let auths = Arc::clone(&auths);
        Backend::spawn_with(move |mut s| {
            let mut hdr = [0u8; 4];
            if s.read_exact(&mut hdr).is_err() {
                return;
            }
            let n = usize::from(hdr[0]) | usize::from(hdr[1]) << 8;
            let mut body = vec![0u8; n];
            if s.read_exact(&mut body).is_err() {
                return;
            }
            let mut all = hdr.to_vec();
            all.extend_from_slice(&body);
            auths.lock().unwrap().push(all);
            let mut reply = packet(0, b"\x0a8.0.32-stub\x00\x01\x00\x00\x00abcdefgh\x00");
            if ok.load(Ordering::Relaxed) {
                reply.extend(packet(2, b"\x00\x00\x00\x02\x00\x00\x00"));
            } else {
                reply.extend(packet(
                    2,
                    b"\xff\x15\x04#28000Access denied for user 'haproxy'",
                ));
            }
            let _ = s.write_all(&reply);
        })
    };
    down_then_up(
        name,
        program,
        "option mysql-check user haproxy",
        srv.addr,
        "Layer7 wrong status, code: 1045, info: \"#28000Access denied for user 'haproxy'\"",
        || ok.store(true, Ordering::Relaxed),
        "Layer7 check passed, code: 0",
    );
    let auth = auths.lock().unwrap()[0].clone();
    assert_eq!(&auth[..4], &[41, 0, 0, 1], "{name}");
    assert_eq!(&auth[36..], b"haproxy\x00\x00", "{name}");
}
on_both!(mysql_check, mysql_check_on_haproxy, mysql_check_on_ringlb);

/// `http-check disable-on-404`: a 404 from a server that is up puts it in
/// NOLB ("is stopping", no new traffic), a 200 brings it back, anything
/// else is a failure as usual.
fn disable_on_404(name: &str, program: &Path) {
    let status = Arc::new(AtomicU16::new(200));
    let srv = http_server(Arc::clone(&status));
    let p = start(
        name,
        program,
        &config(
            "",
            DEFAULTS,
            &format!(
                "    option httpchk GET /health\n    http-check disable-on-404\n    server s1 {} check inter 100 rise 1 fall 1\n",
                srv.addr
            ),
        ),
    );
    status.store(404, Ordering::Relaxed);
    let want = [
        "Server be/s1 is stopping, reason: Layer7 check conditionally passed, code: 404, check duration: Nms. 0 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.".to_string(),
        "backend be has no server available!".to_string(),
    ];
    for w in &want {
        assert_eq!(&next_check_line(&p, DEADLINE).0, w, "{name}");
    }
    // NOLB: no new traffic.
    let mut c = p.connect();
    let mut b = [0u8; 8];
    assert_eq!(
        c.read(&mut b).unwrap_or(0),
        0,
        "{name}: no server while stopping"
    );
    status.store(200, Ordering::Relaxed);
    assert_eq!(
        next_check_line(&p, DEADLINE).0,
        up_line("s1", "Layer7 check passed, code: 200", (1, 0)),
        "{name}"
    );
    status.store(503, Ordering::Relaxed);
    assert_eq!(
        next_check_line(&p, DEADLINE).0,
        down_line(
            "s1",
            "Layer7 wrong status, code: 503, info: \"Service Unavailable\"",
            (0, 0)
        ),
        "{name}"
    );
    // Down, a 404 is a wrong status, not a way back.
    status.store(404, Ordering::Relaxed);
    assert_eq!(
        next_check_line(&p, DEADLINE).0,
        "backend be has no server available!",
        "{name}"
    );
    no_check_line(&p, Duration::from_millis(400), name);
}
on_both!(
    disable_on_404,
    disable_on_404_on_haproxy,
    disable_on_404_on_ringlb
);

/// `tcp-check comment` lines count as steps and name the rules after them.
fn tcp_check_comments(name: &str, program: &Path) {
    let ok = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let srv = pong_server(ok);
    let p = start(
        name,
        program,
        &config(
            "",
            DEFAULTS,
            &format!(
                "    option tcp-check\n    tcp-check comment \"say hi\"\n    tcp-check send PING\\r\\n\n    tcp-check comment \"want pong\"\n    tcp-check expect string -ERR\n    tcp-check expect string +PONG\n    server s1 {} check inter 100 fall 1\n",
                srv.addr
            ),
        ),
    );
    let (line, _) = next_check_line(&p, DEADLINE);
    assert_eq!(
        line,
        down_line(
            "s1",
            "Layer7 invalid response, info: \"TCPCHK did not match content '+PONG' at step 5 comment: want pong\"",
            (0, 0)
        ),
        "{name}"
    );
}
on_both!(
    tcp_check_comments,
    tcp_check_comments_on_haproxy,
    tcp_check_comments_on_ringlb
);

/// An `http-check expect` rule's comment follows the info of its failure.
fn http_check_comment(name: &str, program: &Path) {
    let srv = http_server(Arc::new(AtomicU16::new(503)));
    let p = start(
        name,
        program,
        &config(
            "",
            DEFAULTS,
            &format!(
                "    option httpchk\n    http-check expect status 200 comment \"need 200\"\n    server s1 {} check inter 100 fall 1\n",
                srv.addr
            ),
        ),
    );
    let (line, _) = next_check_line(&p, DEADLINE);
    assert_eq!(
        line,
        down_line(
            "s1",
            "Layer7 wrong status, code: 503, info: \"Service Unavailable comment: need 200\"",
            (0, 0)
        ),
        "{name}"
    );
}
on_both!(
    http_check_comment,
    http_check_comment_on_haproxy,
    http_check_comment_on_ringlb
);
