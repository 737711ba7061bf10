//! Traffic-driven health (`observe layer4`, `on-error`, `error-limit`) and
//! what a server's state change does to live traffic: `on-marked-down
//! shutdown-sessions`, `on-marked-up shutdown-backup-sessions`, and the
//! streams queued on a server that goes DOWN (requeued) or that a server
//! coming UP takes from the backend queue. The checks go to a port of
//! their own (`port`), so traffic and checks can disagree. Each scenario
//! runs on haproxy first; the state-change lines are compared word for
//! word (durations masked).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::harness::{config, refused_addr, start, Backend, Proxy, TcpLog, DEADLINE};

const DEFAULTS: &str = "    timeout connect 1s\n    timeout client 10s\n    timeout server 10s\n    timeout queue 10s\n    retries 0\n";

/// A check port that can close (checks refused) and open again on the same
/// port. Plain TCP checks never reach the application; with `http` it
/// answers every request 200 and counts them.
struct CheckPort {
    addr: SocketAddr,
    listener: Option<socket2::Socket>,
    http: bool,
    hits: Arc<AtomicUsize>,
}

impl CheckPort {
    fn new(http: bool) -> CheckPort {
        let mut c = CheckPort {
            addr: "127.0.0.1:0".parse().unwrap(),
            listener: None,
            http,
            hits: Arc::default(),
        };
        c.up();
        c
    }

    fn up(&mut self) {
        let sock =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        sock.set_reuse_address(true).unwrap();
        sock.bind(&self.addr.into()).unwrap();
        sock.listen(64).unwrap();
        self.addr = sock.local_addr().unwrap().as_socket().unwrap();
        let l: std::net::TcpListener = sock.try_clone().unwrap().into();
        let (http, hits) = (self.http, Arc::clone(&self.hits));
        thread::spawn(move || {
            for s in l.incoming() {
                let Ok(mut s) = s else { break };
                if !http {
                    continue;
                }
                let hits = Arc::clone(&hits);
                thread::spawn(move || {
                    let mut got = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                        match s.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => got.extend_from_slice(&buf[..n]),
                        }
                    }
                    hits.fetch_add(1, Ordering::SeqCst);
                    let _ = s.write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                    );
                });
            }
        });
        self.listener = Some(sock);
    }

    fn down(&mut self) {
        if let Some(l) = self.listener.take() {
            let _ = l.shutdown(Shutdown::Both);
        }
    }
}

fn is_check_line(l: &str) -> bool {
    l.starts_with("Server ")
        || l.starts_with("Backup Server ")
        || l.starts_with("Health check ")
        || l.contains(" has no server available!")
}

/// `check duration: Nms` masked.
fn mask(l: &str) -> String {
    match l.find("check duration: ") {
        Some(i) => {
            let after = &l[i + "check duration: ".len()..];
            let digits = after.chars().take_while(char::is_ascii_digit).count();
            format!("{}check duration: N{}", &l[..i], &after[digits..])
        }
        None => l.to_string(),
    }
}

/// The proxy's lines as they come: check lines and stream lines apart, so
/// that waiting for one kind keeps the other.
struct Lines<'a> {
    p: &'a Proxy,
    checks: Vec<String>,
    streams: Vec<TcpLog>,
}

impl<'a> Lines<'a> {
    fn new(p: &'a Proxy) -> Lines<'a> {
        Lines {
            p,
            checks: Vec::new(),
            streams: Vec::new(),
        }
    }

    fn pull(&mut self, end: Instant, what: &str) {
        let left = end.saturating_duration_since(Instant::now());
        match self.p.stdout.recv_timeout(left) {
            Ok(l) if is_check_line(&l) => self.checks.push(mask(&l)),
            Ok(l) => {
                if let Some(t) = TcpLog::try_parse(&l) {
                    self.streams.push(t);
                }
            }
            Err(_) => panic!("{what}: nothing within {DEADLINE:?}"),
        }
    }

    /// The next check line (masked).
    fn check(&mut self, what: &str) -> String {
        let end = Instant::now() + DEADLINE;
        while self.checks.is_empty() {
            self.pull(end, what);
        }
        self.checks.remove(0)
    }

    /// The next stream line.
    fn stream(&mut self, what: &str) -> TcpLog {
        let end = Instant::now() + DEADLINE;
        while self.streams.is_empty() {
            self.pull(end, what);
        }
        self.streams.remove(0)
    }

    /// No check line for `d`.
    fn no_check(&mut self, d: Duration, what: &str) {
        let end = Instant::now() + d;
        while Instant::now() < end {
            assert!(self.checks.is_empty(), "{what}: {:?}", self.checks);
            if let Ok(l) = self.p.stdout.recv_timeout(end - Instant::now()) {
                if is_check_line(&l) {
                    panic!("{what}: unexpected {l}");
                }
                if let Some(t) = TcpLog::try_parse(&l) {
                    self.streams.push(t);
                }
            }
        }
    }
}

/// A client connection that echoes: it is live on its server.
fn live_client(p: &Proxy, what: &str) -> TcpStream {
    let mut c = p.connect();
    c.set_read_timeout(Some(DEADLINE)).unwrap();
    c.write_all(b"ping").unwrap();
    let mut got = [0u8; 4];
    c.read_exact(&mut got)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(&got, b"ping", "{what}");
    c
}

/// The proxy closes `c` within the deadline (FIN or reset).
fn closed_by_proxy(c: &mut TcpStream, what: &str) {
    c.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut buf = [0u8; 64];
    match c.read(&mut buf) {
        Ok(0) => {}
        Err(e)
            if e.kind() != std::io::ErrorKind::WouldBlock
                && e.kind() != std::io::ErrorKind::TimedOut => {}
        other => panic!("{what}: the stream is still open: {other:?}"),
    }
}

/// The first check was answered: a check that passes ends a run of
/// errors, so the traffic's errors are counted after it. Its result is
/// applied as soon as the answer is read, which nothing shows without
/// `option log-health-checks`: a short settle.
fn first_check_done(checks: &CheckPort, what: &str) {
    let end = Instant::now() + DEADLINE;
    while checks.hits.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < end, "{what}: no first check");
        thread::sleep(Duration::from_millis(10));
    }
    thread::sleep(Duration::from_millis(100));
}

/// A connection whose server refuses, served to its end (SC).
fn refused_client(p: &Proxy) {
    let mut c = p.connect();
    c.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut buf = Vec::new();
    let _ = c.read_to_end(&mut buf);
}

fn down_tail(left: (u32, u32), sessions: u32, requeued: u32, queue: u32) -> String {
    format!(
        ". {} active and {} backup servers left.{} {sessions} sessions active, {requeued} requeued, {queue} remaining in queue.",
        left.0,
        left.1,
        if left.0 == 0 && left.1 > 0 { " Running on backup." } else { "" }
    )
}

fn up_tail(online: (u32, u32), requeued: u32, queue: u32) -> String {
    format!(
        ". {} active and {} backup servers online.{} {requeued} sessions requeued, {queue} total in queue.",
        online.0,
        online.1,
        if online.0 == 0 && online.1 > 0 { " Running on backup." } else { "" }
    )
}

const REFUSED: &str =
    "reason: Layer4 connection problem, info: \"Connection refused\", check duration: Nms";
const L4OK: &str = "reason: Layer4 check passed, check duration: Nms";

fn hana(n: u32, last: &str) -> String {
    format!(
        "reason: Health analyze, info: \"Detected {n} consecutive errors, last one was: {last}\""
    )
}

/// `observe layer4 on-error mark-down`: the traffic's connects to a server
/// that refuses them take it DOWN after `error-limit` in a row, while its
/// checks (on another port) pass; its next check comes within
/// `fastinter`, and `rise` passed checks bring it back.
fn mark_down_after_the_error_limit(name: &str, program: &Path) {
    let checks = CheckPort::new(true);
    let traffic = refused_addr();
    let p = start(
        name,
        program,
        &config(
            "",
            DEFAULTS,
            &format!(
                "    option httpchk GET /\n    server s1 {traffic} check port {} inter 20s fastinter 200 rise 2 observe layer4 error-limit 3 on-error mark-down\n",
                checks.addr.port()
            ),
        ),
    );
    let mut lines = Lines::new(&p);
    first_check_done(&checks, name);
    for _ in 0..2 {
        refused_client(&p);
    }
    lines.no_check(Duration::from_millis(300), name);
    let third = Instant::now();
    refused_client(&p);
    assert_eq!(
        lines.check(name),
        format!(
            "Server be/s1 is DOWN, {}{}",
            hana(3, "L4 unsuccessful connection"),
            down_tail((0, 0), 1, 0, 0)
        ),
        "{name}"
    );
    assert_eq!(
        lines.check(name),
        "backend be has no server available!",
        "{name}"
    );
    // Back after two checks at fastinter (inter is 20s).
    assert_eq!(
        lines.check(name),
        format!(
            "Server be/s1 is UP, reason: Layer7 check passed, code: 200, check duration: Nms{}",
            up_tail((1, 0), 0, 0)
        ),
        "{name}"
    );
    let took = third.elapsed();
    assert!(took < Duration::from_secs(3), "{name}: UP after {took:?}");
    for _ in 0..3 {
        let l = lines.stream(name);
        assert_eq!(
            (l.server.as_str(), l.termination.as_str()),
            ("s1", "SC"),
            "{name}"
        );
    }
}
on_both!(
    mark_down_after_the_error_limit,
    mark_down_after_the_error_limit_on_haproxy,
    mark_down_after_the_error_limit_on_ringlb
);

/// A proxy whose one server `s1` refuses the traffic while its checks
/// pass, under `option log-health-checks`; its first check has passed.
fn refusing_server(name: &str, program: &Path, opts: &str, checks: &CheckPort) -> Proxy {
    let traffic = refused_addr();
    let p = start(
        name,
        program,
        &config(
            "",
            DEFAULTS,
            &format!(
                "    option log-health-checks\n    server s1 {traffic} check port {} inter 20s rise 1 fall 3 observe layer4 {opts}\n",
                checks.addr.port()
            ),
        ),
    );
    let mut lines = Lines::new(&p);
    assert_eq!(
        lines.check(name),
        format!("Health check for server be/s1 succeeded, {L4OK}, status: 3/3 UP."),
        "{name}"
    );
    drop(lines);
    p
}

fn hana_failed(n: u32, status: &str) -> String {
    format!(
        "Health check for server be/s1 failed, {}, status: {status}.",
        hana(n, "L4 unsuccessful connection")
    )
}

/// `on-error fail-check` (the default) counts a run of `error-limit`
/// errors as one failed check (`option log-health-checks` shows the
/// counter); `fall` runs take the server DOWN.
fn fail_check_counts_a_run_as_one_failed_check(name: &str, program: &Path) {
    let checks = CheckPort::new(false);
    let p = refusing_server(name, program, "error-limit 2", &checks);
    let mut lines = Lines::new(&p);
    refused_client(&p);
    lines.no_check(Duration::from_millis(200), name);
    refused_client(&p);
    assert_eq!(lines.check(name), hana_failed(2, "2/3 UP"), "{name}");
    refused_client(&p);
    refused_client(&p);
    assert_eq!(lines.check(name), hana_failed(2, "1/3 UP"), "{name}");
    refused_client(&p);
    refused_client(&p);
    assert_eq!(lines.check(name), hana_failed(2, "0/1 DOWN"), "{name}");
    // The stream whose connect failed is still counted (HAProxy adjusts
    // the health before it releases the server).
    assert_eq!(
        lines.check(name),
        format!("Server be/s1 is DOWN{}", down_tail((0, 0), 1, 0, 0)),
        "{name}"
    );
    assert_eq!(
        lines.check(name),
        "backend be has no server available!",
        "{name}"
    );
}
on_both!(
    fail_check_counts_a_run_as_one_failed_check,
    fail_check_counts_a_run_as_one_failed_check_on_haproxy,
    fail_check_counts_a_run_as_one_failed_check_on_ringlb
);

/// `on-error sudden-death`: the first run leaves the server one failure
/// from DOWN, the next takes it there.
fn sudden_death_leaves_one_failure(name: &str, program: &Path) {
    let checks = CheckPort::new(false);
    let p = refusing_server(
        name,
        program,
        "error-limit 1 on-error sudden-death",
        &checks,
    );
    let mut lines = Lines::new(&p);
    refused_client(&p);
    assert_eq!(lines.check(name), hana_failed(1, "1/3 UP"), "{name}");
    refused_client(&p);
    assert_eq!(lines.check(name), hana_failed(1, "0/1 DOWN"), "{name}");
    assert_eq!(
        lines.check(name),
        format!("Server be/s1 is DOWN{}", down_tail((0, 0), 1, 0, 0)),
        "{name}"
    );
}
on_both!(
    sudden_death_leaves_one_failure,
    sudden_death_leaves_one_failure_on_haproxy,
    sudden_death_leaves_one_failure_on_ringlb
);

/// `on-error fastinter`: the server stays up, and its next check comes
/// within `fastinter` instead of `inter`.
fn fastinter_brings_the_next_check_forward(name: &str, program: &Path) {
    let checks = CheckPort::new(true);
    let traffic = refused_addr();
    let p = start(
        name,
        program,
        &config(
            "",
            DEFAULTS,
            &format!(
                "    option httpchk GET /\n    server s1 {traffic} check port {} inter 30s fastinter 100 observe layer4 error-limit 2 on-error fastinter\n",
                checks.addr.port()
            ),
        ),
    );
    let mut lines = Lines::new(&p);
    first_check_done(&checks, name);
    refused_client(&p);
    lines.no_check(Duration::from_millis(300), name);
    assert_eq!(
        checks.hits.load(Ordering::SeqCst),
        1,
        "{name}: one error is below the limit"
    );
    refused_client(&p);
    let end = Instant::now() + Duration::from_secs(3);
    while checks.hits.load(Ordering::SeqCst) < 2 {
        assert!(
            Instant::now() < end,
            "{name}: the check did not come sooner"
        );
        thread::sleep(Duration::from_millis(10));
    }
    lines.no_check(Duration::from_millis(300), name);
}
on_both!(
    fastinter_brings_the_next_check_forward,
    fastinter_brings_the_next_check_forward_on_haproxy,
    fastinter_brings_the_next_check_forward_on_ringlb
);

/// `on-marked-down shutdown-sessions`: the streams on a server are killed
/// when it goes DOWN (`D-`).
fn shutdown_sessions_when_marked_down(name: &str, program: &Path) {
    let mut checks = CheckPort::new(false);
    let be = Backend::echo();
    let p = start(
        name,
        program,
        &config(
            "",
            DEFAULTS,
            &format!(
                "    server s1 {} check port {} inter 100 fall 1 on-marked-down shutdown-sessions\n",
                be.addr,
                checks.addr.port()
            ),
        ),
    );
    let mut lines = Lines::new(&p);
    let mut a = live_client(&p, name);
    let mut b = live_client(&p, name);
    checks.down();
    // haproxy runs a thread per core and kills the streams before it
    // writes the line: a stream of another thread may be gone by then, so
    // its count is 1 or 2 (ringlb counts before the kill: 2).
    let l = lines.check(name);
    let ok = [1, 2].map(|n| {
        format!(
            "Server be/s1 is DOWN, {REFUSED}{}",
            down_tail((0, 0), n, 0, 0)
        )
    });
    assert!(ok.contains(&l), "{name}: {l}");
    closed_by_proxy(&mut a, name);
    closed_by_proxy(&mut b, name);
    for _ in 0..2 {
        let l = lines.stream(name);
        assert_eq!(
            (l.server.as_str(), l.termination.as_str()),
            ("s1", "D-"),
            "{name}: {l:?}"
        );
    }
}
on_both!(
    shutdown_sessions_when_marked_down,
    shutdown_sessions_when_marked_down_on_haproxy,
    shutdown_sessions_when_marked_down_on_ringlb
);

/// Without `on-marked-down`, the streams of a server marked DOWN go on.
fn streams_survive_without_shutdown_sessions(name: &str, program: &Path) {
    let mut checks = CheckPort::new(false);
    let be = Backend::echo();
    let p = start(
        name,
        program,
        &config(
            "",
            DEFAULTS,
            &format!(
                "    server s1 {} check port {} inter 100 fall 1\n",
                be.addr,
                checks.addr.port()
            ),
        ),
    );
    let mut lines = Lines::new(&p);
    let mut a = live_client(&p, name);
    checks.down();
    assert_eq!(
        lines.check(name),
        format!(
            "Server be/s1 is DOWN, {REFUSED}{}",
            down_tail((0, 0), 1, 0, 0)
        ),
        "{name}"
    );
    a.write_all(b"pong").unwrap();
    let mut got = [0u8; 4];
    a.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"pong", "{name}");
}
on_both!(
    streams_survive_without_shutdown_sessions,
    streams_survive_without_shutdown_sessions_on_haproxy,
    streams_survive_without_shutdown_sessions_on_ringlb
);

/// `on-marked-up shutdown-backup-sessions`: when the active server comes
/// back, the streams on the backup server are killed (`UD`).
fn backup_sessions_killed_when_the_primary_returns(name: &str, program: &Path) {
    let mut checks = CheckPort::new(false);
    checks.down();
    let primary = Backend::echo();
    let backup = Backend::echo();
    let p = start(
        name,
        program,
        &config(
            "",
            DEFAULTS,
            &format!(
                "    server s1 {} check port {} inter 100 rise 2 fall 1 on-marked-up shutdown-backup-sessions\n    server b1 {} backup\n",
                primary.addr,
                checks.addr.port(),
                backup.addr
            ),
        ),
    );
    let mut lines = Lines::new(&p);
    assert_eq!(
        lines.check(name),
        format!(
            "Server be/s1 is DOWN, {REFUSED}{}",
            down_tail((0, 1), 0, 0, 0)
        ),
        "{name}"
    );
    let mut a = live_client(&p, name);
    assert_eq!(backup.count(), 1, "{name}: on the backup");
    checks.up();
    assert_eq!(
        lines.check(name),
        format!("Server be/s1 is UP, {L4OK}{}", up_tail((1, 1), 0, 0)),
        "{name}"
    );
    closed_by_proxy(&mut a, name);
    let l = lines.stream(name);
    assert_eq!(
        (l.server.as_str(), l.termination.as_str()),
        ("b1", "U-"),
        "{name}: {l:?}"
    );
    // New streams go to the primary.
    let _c = live_client(&p, name);
    assert_eq!(primary.count(), 1, "{name}");
}
on_both!(
    backup_sessions_killed_when_the_primary_returns,
    backup_sessions_killed_when_the_primary_returns_on_haproxy,
    backup_sessions_killed_when_the_primary_returns_on_ringlb
);

/// Give the proxy a moment to queue the clients that just connected: a
/// queued stream shows nowhere a test can read it.
fn let_them_queue() {
    thread::sleep(Duration::from_millis(200));
}

/// A `maxconn 1` server with streams in its own queue (use-server: they
/// wait for it) goes DOWN: under `option redispatch` they choose again
/// ("2 requeued") and the other server serves them.
fn queued_streams_are_requeued_when_their_server_goes_down(name: &str, program: &Path) {
    let mut checks = CheckPort::new(false);
    let a = Backend::echo();
    let b = Backend::echo();
    let p = start(
        name,
        program,
        &config(
            "",
            DEFAULTS,
            &format!(
                "    option redispatch\n    use-server a if {{ always_true }}\n    server a {} maxconn 1 check port {} inter 100 fall 1\n    server b {}\n",
                a.addr,
                checks.addr.port(),
                b.addr
            ),
        ),
    );
    let mut lines = Lines::new(&p);
    let _first = live_client(&p, name);
    let mut queued: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut c = p.connect();
            c.write_all(b"late").unwrap();
            c
        })
        .collect();
    let_them_queue();
    assert_eq!(b.count(), 0, "{name}: they wait for a");
    checks.down();
    assert_eq!(
        lines.check(name),
        format!(
            "Server be/a is DOWN, {REFUSED}{}",
            down_tail((1, 0), 1, 2, 0)
        ),
        "{name}"
    );
    for c in &mut queued {
        c.set_read_timeout(Some(DEADLINE)).unwrap();
        let mut got = [0u8; 4];
        c.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"late", "{name}");
    }
    assert_eq!(b.count(), 2, "{name}: served by b");
}
on_both!(
    queued_streams_are_requeued_when_their_server_goes_down,
    queued_streams_are_requeued_when_their_server_goes_down_on_haproxy,
    queued_streams_are_requeued_when_their_server_goes_down_on_ringlb
);

/// A server that comes UP takes the streams of the backend queue ("2
/// sessions requeued") and serves them.
fn a_server_coming_up_takes_the_backend_queue(name: &str, program: &Path) {
    let mut checks = CheckPort::new(false);
    checks.down();
    let a = Backend::echo();
    let b = Backend::echo();
    let p = start(
        name,
        program,
        &config(
            "",
            DEFAULTS,
            &format!(
                "    server a {} maxconn 1\n    server b {} check port {} inter 100 rise 1 fall 1\n",
                a.addr,
                b.addr,
                checks.addr.port()
            ),
        ),
    );
    let mut lines = Lines::new(&p);
    assert_eq!(
        lines.check(name),
        format!(
            "Server be/b is DOWN, {REFUSED}{}",
            down_tail((1, 0), 0, 0, 0)
        ),
        "{name}"
    );
    let _first = live_client(&p, name);
    let mut queued: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut c = p.connect();
            c.write_all(b"late").unwrap();
            c
        })
        .collect();
    let_them_queue();
    checks.up();
    assert_eq!(
        lines.check(name),
        format!("Server be/b is UP, {L4OK}{}", up_tail((2, 0), 2, 0)),
        "{name}"
    );
    for c in &mut queued {
        c.set_read_timeout(Some(DEADLINE)).unwrap();
        let mut got = [0u8; 4];
        c.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"late", "{name}");
    }
    assert_eq!(b.count(), 2, "{name}: served by b");
}
on_both!(
    a_server_coming_up_takes_the_backend_queue,
    a_server_coming_up_takes_the_backend_queue_on_haproxy,
    a_server_coming_up_takes_the_backend_queue_on_ringlb
);
