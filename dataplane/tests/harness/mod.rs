//! The engine test harness: a ringlb process started on a configuration
//! whose listener is an inherited socket (`bind fd@3`, which haproxy accepts
//! too), small real backends on loopback port 0, and clients with
//! deadlines. Everything is torn down on drop.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use command_fds::{CommandFdExt, FdMapping};

/// One scenario as two tests: on haproxy (skipped, loudly, when it is not
/// installed; a failure under CI) and on ringlb. For the test binaries
/// that declare the harness with `#[macro_use]`.
#[allow(unused_macros)]
macro_rules! on_both {
    ($scenario:ident, $on_haproxy:ident, $on_ringlb:ident) => {
        #[test]
        fn $on_haproxy() {
            if let Some(h) = $crate::harness::haproxy(stringify!($on_haproxy)) {
                $scenario("haproxy", &h);
            }
        }

        #[test]
        fn $on_ringlb() {
            $scenario("ringlb", &$crate::harness::ringlb());
        }
    };
}

pub mod http;
pub mod probe;

/// How long any single wait in a test may take before it fails.
pub const DEADLINE: Duration = Duration::from_secs(10);

pub fn ringlb() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ringlb"))
}

/// A running proxy (ringlb or haproxy) listening on an inherited socket.
pub struct Proxy {
    pub child: Child,
    pub addr: SocketAddr,
    /// Lines the proxy wrote to stdout (logs with `log stdout`).
    pub stdout: mpsc::Receiver<String>,
    pub stderr: mpsc::Receiver<String>,
    _dir: TempDir,
}

pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let d = std::env::temp_dir().join(format!(
            "ringlb-test-{tag}-{}-{}",
            std::process::id(),
            unique()
        ));
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// The lines `r` gives, as they come. A line that is not UTF-8 (a log
/// line with raw bytes) is kept, lossily: `BufRead::lines` would end the
/// reader there, and every later line would look lost.
fn lines(r: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    lines_into(r, tx, None);
    rx
}

/// As [`lines`], into `tx`; `eof` is raised once `r` ended.
fn lines_into(
    r: impl Read + Send + 'static,
    tx: mpsc::Sender<String>,
    eof: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
) {
    thread::spawn(move || {
        let mut r = BufReader::new(r);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match r.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if tx.send(String::from_utf8_lossy(line).into_owned()).is_err() {
                break;
            }
        }
        if let Some(eof) = eof {
            eof.store(true, std::sync::atomic::Ordering::Release);
        }
    });
}

/// haproxy's `log stdout` drops a line when two of its threads log at
/// the same moment (fd_write_frag_line gives up after 200 attempts at the
/// fd's lock rather than block), which made differential tests miss a
/// reference line now and then. Its logs go to a UNIX datagram socket
/// instead (one message per datagram, nothing shared between threads but
/// the socket), read here into the same channel stdout feeds: the tests
/// see the same lines. The config's `log stdout` words become the socket's
/// path. Once the process's stdout ends (it exited: `exited`), the reader
/// takes what is left in the socket and ends, so the channel ends at the
/// exit as it did with stdout alone.
fn haproxy_log_socket(
    dir: &Path,
    config: &str,
    tx: mpsc::Sender<String>,
    exited: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> String {
    let path = dir.join("log.sock");
    let sock = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    thread::spawn(move || {
        let mut buf = vec![0u8; 65536];
        let mut draining = false;
        loop {
            let n = match sock.recv(&mut buf) {
                Ok(n) => n,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    if draining {
                        break;
                    }
                    if exited.load(std::sync::atomic::Ordering::Acquire) {
                        // Everything the process sent is queued by now.
                        draining = sock.set_nonblocking(true).is_ok();
                        if !draining {
                            break;
                        }
                    }
                    continue;
                }
                Err(_) => break,
            };
            let msg = &buf[..n];
            let msg = msg.strip_suffix(b"\n").unwrap_or(msg);
            if tx.send(String::from_utf8_lossy(msg).into_owned()).is_err() {
                break;
            }
        }
    });
    config.replace("log stdout ", &format!("log {} ", path.display()))
}

impl Proxy {
    /// Start `program` (ringlb or haproxy) on `config`, where the frontend
    /// binds `fd@3`. Extra listeners: `{FD4}` ... are not supported; one
    /// frontend listener per proxy is enough for these tests.
    pub fn start_with(program: &std::path::Path, config: &str, extra_args: &[&str]) -> Proxy {
        let dir = TempDir::new("proxy");
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let cfg_path = dir.0.join("test.cfg");
        let (log_tx, stdout) = mpsc::channel();
        let is_haproxy = program
            .file_name()
            .is_some_and(|n| n.to_string_lossy().contains("haproxy"));
        let exited = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let config = if is_haproxy {
            haproxy_log_socket(&dir.0, config, log_tx.clone(), exited.clone())
        } else {
            config.to_owned()
        };
        std::fs::write(&cfg_path, config).unwrap();
        let fd: OwnedFd = listener.into();
        let mut cmd = Command::new(program);
        cmd.arg("-f")
            .arg(&cfg_path)
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd.fd_mappings(vec![FdMapping {
            parent_fd: fd,
            child_fd: 3,
        }])
        .unwrap();
        let mut child = cmd.spawn().unwrap();
        lines_into(child.stdout.take().unwrap(), log_tx, Some(exited));
        let stderr = lines(child.stderr.take().unwrap());
        Proxy {
            child,
            addr,
            stdout,
            stderr,
            _dir: dir,
        }
    }

    pub fn start(config: &str) -> Proxy {
        Proxy::start_with(&ringlb(), config, &[])
    }

    pub fn connect(&self) -> TcpStream {
        let s = TcpStream::connect_timeout(&self.addr, DEADLINE).unwrap();
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        s.set_write_timeout(Some(DEADLINE)).unwrap();
        s
    }

    /// The next stdout line, within the deadline.
    pub fn next_log(&self) -> String {
        match self.stdout.recv_timeout(DEADLINE) {
            Ok(l) => l,
            Err(_) => {
                let err: Vec<String> = self.stderr.try_iter().collect();
                panic!("no log line within {DEADLINE:?}; stderr: {err:#?}");
            }
        }
    }

    /// Wait for the process to exit, within `within`.
    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let end = Instant::now() + within;
        while Instant::now() < end {
            if let Some(st) = self.child.try_wait().unwrap() {
                return Some(st);
            }
            thread::yield_now();
            let _ = self.stderr.recv_timeout(Duration::from_millis(20));
        }
        None
    }

    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).unwrap());
        nix::sys::signal::kill(pid, sig).unwrap();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The connections `l` accepts, with their peer's address, for as long
/// as the listener lives. A connection the client reset before it was
/// accepted (no peer address any more) and a failed accept (ECONNABORTED,
/// or EMFILE for a moment) are skipped: one hasty client must not stop
/// a test server from accepting the next.
pub fn accepted(l: &TcpListener) -> impl Iterator<Item = (TcpStream, SocketAddr)> + '_ {
    l.incoming().filter_map(|s| match s {
        Ok(s) => s.peer_addr().ok().map(|peer| (s, peer)),
        Err(e) => {
            if !matches!(
                e.kind(),
                ErrorKind::ConnectionAborted | ErrorKind::Interrupted
            ) {
                // Not the client's doing (out of fds): do not spin.
                thread::sleep(Duration::from_millis(10));
            }
            None
        }
    })
}

/// A backend: a listener on 127.0.0.1:0 and a thread per connection
/// running `behaviour`.
pub struct Backend {
    pub addr: SocketAddr,
    pub accepted: mpsc::Receiver<SocketAddr>,
}

impl Backend {
    pub fn spawn(behaviour: fn(TcpStream)) -> Backend {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for (s, peer) in accepted(&l) {
                let _ = tx.send(peer);
                thread::spawn(move || behaviour(s));
            }
        });
        Backend { addr, accepted: rx }
    }

    /// Echo everything back, then close after the client's FIN.
    pub fn echo() -> Backend {
        Backend::spawn(|mut s| {
            echo_until_eof(&mut s);
            let _ = s.shutdown(Shutdown::Write);
        })
    }

    /// Accept and never say anything (for timeout tests).
    pub fn silent() -> Backend {
        Backend::spawn(|mut s| {
            let mut buf = [0u8; 1024];
            while let Ok(n) = s.read(&mut buf) {
                if n == 0 {
                    break;
                }
            }
        })
    }

    /// Connections accepted so far.
    pub fn count(&self) -> usize {
        self.accepted.try_iter().count()
    }
}

/// Write back everything read from `s` until its EOF or an error (the
/// caller closes its side as its transport allows).
pub fn echo_until_eof(s: &mut (impl Read + Write)) {
    let mut buf = vec![0u8; 65536];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if s.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
}

/// An address nothing listens on (connection refused). The port stays
/// bound, not listening, for the rest of the test process, so no other
/// test can start listening on it meanwhile (a port found free and let go
/// could be taken by a parallel test).
pub fn refused_addr() -> SocketAddr {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    let addr = s.local_addr().unwrap().as_socket().unwrap();
    // Kept open on purpose (one descriptor per call, a handful per run).
    std::mem::forget(s);
    addr
}

/// Deterministic test data.
pub fn pattern(n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| (i.wrapping_mul(31) ^ (i >> 8)) as u8)
        .collect()
}

impl Proxy {
    /// The next stream log line (`option tcplog`), skipping the proxy's
    /// own messages (haproxy logs "Proxy fe stopped ..." on a soft stop).
    pub fn next_tcplog(&self) -> TcpLog {
        loop {
            let line = self.next_log();
            if let Some(l) = TcpLog::try_parse(&line) {
                return l;
            }
        }
    }

    /// The next stdout line if one comes within `within`.
    pub fn log_within(&self, within: Duration) -> Option<String> {
        self.stdout.recv_timeout(within).ok()
    }

    /// Everything the proxy wrote to stderr so far.
    pub fn stderr_so_far(&self) -> Vec<String> {
        self.stderr.try_iter().collect()
    }
}

impl Backend {
    /// Like [`Backend::spawn`], with a behaviour that may capture state
    /// (counters, channels).
    pub fn spawn_with<F>(behaviour: F) -> Backend
    where
        F: Fn(TcpStream) + Send + Sync + 'static,
    {
        let behaviour = std::sync::Arc::new(behaviour);
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for (s, peer) in accepted(&l) {
                let _ = tx.send(peer);
                let b = std::sync::Arc::clone(&behaviour);
                thread::spawn(move || b(s));
            }
        });
        Backend { addr, accepted: rx }
    }

    /// Wait for the next accepted connection, within `within`.
    pub fn next_accept(&self, within: Duration) -> Option<SocketAddr> {
        self.accepted.recv_timeout(within).ok()
    }
}

/// A server address whose connections hang in SYN_SENT without leaving
/// loopback: a listener with a backlog of 0 whose accept queue is filled
/// first, so Linux drops every further SYN.
pub struct Stalled {
    pub addr: SocketAddr,
    _listener: TcpListener,
    _queued: Vec<TcpStream>,
}

pub fn stalled() -> Stalled {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    nix::sys::socket::listen(&listener, nix::sys::socket::Backlog::new(0).unwrap()).unwrap();
    let mut queued = Vec::new();
    loop {
        assert!(
            queued.len() < 64,
            "the accept queue of {addr} never filled up"
        );
        match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(s) => queued.push(s),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => break,
            Err(e) => panic!("filling the accept queue of {addr}: {e}"),
        }
    }
    Stalled {
        addr,
        _listener: listener,
        _queued: queued,
    }
}

pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// HAProxy for differential runs: $HAPROXY, else `haproxy` on PATH, else
/// /usr/sbin/haproxy. Without it: a failure under CI, a loud note (and
/// None) elsewhere.
pub fn haproxy(test: &str) -> Option<PathBuf> {
    let found = std::env::var_os("HAPROXY")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("PATH").and_then(|p| {
                std::env::split_paths(&p)
                    .map(|d| d.join("haproxy"))
                    .find(|p| p.is_file())
            })
        })
        .or_else(|| Some(PathBuf::from("/usr/sbin/haproxy")))
        .filter(|p| p.is_file());
    if found.is_none() {
        if ci() {
            panic!("{test}: haproxy is not on PATH: CI must install it (Debian package 'haproxy') to run differential tests");
        }
        // Written to the stderr handle, not with eprintln!: the test harness
        // captures the print macros of passing tests, and this must be seen.
        let _ = writeln!(
            std::io::stderr().lock(),
            "\n## NOTE: haproxy is not on PATH: the HAProxy half of {test} did NOT run. ##\n"
        );
    }
    found
}

/// Start haproxy in the foreground on `config` (same `bind fd@3` contract).
pub fn start_haproxy(program: &std::path::Path, config: &str) -> Proxy {
    Proxy::start_with(program, config, &["-db"])
}

/// One `option tcplog` line, split into HAProxy's fields:
/// `%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpLog {
    pub client: String,
    pub date: String,
    pub frontend: String,
    pub backend: String,
    pub server: String,
    pub tw: String,
    pub tc: String,
    pub tt: String,
    pub bytes: String,
    pub termination: String,
    pub actconn: String,
    pub feconn: String,
    pub beconn: String,
    pub srv_conn: String,
    pub retries: String,
    pub srv_queue: String,
    pub be_queue: String,
}

impl TcpLog {
    pub fn parse(line: &str) -> TcpLog {
        TcpLog::try_parse(line).unwrap_or_else(|| panic!("not a tcplog line: {line:?}"))
    }

    pub fn try_parse(line: &str) -> Option<TcpLog> {
        let f: Vec<&str> = line.split(' ').collect();
        if f.len() != 9 || !f[1].starts_with('[') || !f[1].ends_with(']') {
            return None;
        }
        let split = |s: &str, sep: char, n: usize| -> Option<Vec<String>> {
            let v: Vec<String> = s.split(sep).map(str::to_owned).collect();
            (v.len() == n).then_some(v)
        };
        let bs = split(f[3], '/', 2)?;
        let t = split(f[4], '/', 3)?;
        let c = split(f[7], '/', 5)?;
        let q = split(f[8], '/', 2)?;
        Some(TcpLog {
            client: f[0].to_owned(),
            date: f[1].to_owned(),
            frontend: f[2].to_owned(),
            backend: bs[0].clone(),
            server: bs[1].clone(),
            tw: t[0].clone(),
            tc: t[1].clone(),
            tt: t[2].clone(),
            bytes: f[5].to_owned(),
            termination: f[6].to_owned(),
            actconn: c[0].clone(),
            feconn: c[1].clone(),
            beconn: c[2].clone(),
            srv_conn: c[3].clone(),
            retries: c[4].clone(),
            srv_queue: q[0].clone(),
            be_queue: q[1].clone(),
        })
    }

    /// A timer field as milliseconds (-1 when the phase never ended).
    pub fn ms(field: &str) -> i64 {
        field
            .trim_start_matches('+')
            .parse()
            .unwrap_or_else(|_| panic!("timer {field:?} is not an integer"))
    }
}

/// Run `program -f <config> args` with `fd3` as its file descriptor 3 and
/// wait for it to exit (killed after the deadline). Returns the exit
/// status, stdout and stderr.
pub fn run_with_fd3(
    program: &std::path::Path,
    config: &str,
    fd3: Option<OwnedFd>,
    args: &[&str],
) -> (Option<std::process::ExitStatus>, String, String) {
    let dir = TempDir::new("run");
    let cfg_path = dir.0.join("test.cfg");
    std::fs::write(&cfg_path, config).unwrap();
    let mut cmd = Command::new(program);
    cmd.args(args)
        .arg("-f")
        .arg(&cfg_path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(fd) = fd3 {
        cmd.fd_mappings(vec![FdMapping {
            parent_fd: fd,
            child_fd: 3,
        }])
        .unwrap();
    }
    let mut child = cmd.spawn().unwrap();
    let out = lines(child.stdout.take().unwrap());
    let err = lines(child.stderr.take().unwrap());
    let (mut stdout, mut stderr) = (String::new(), String::new());
    let end = Instant::now() + DEADLINE;
    let mut status = None;
    while Instant::now() < end {
        if let Some(st) = child.try_wait().unwrap() {
            status = Some(st);
            break;
        }
        // Wait for output (or 20 ms) before polling the child again.
        if let Ok(l) = err.recv_timeout(Duration::from_millis(20)) {
            stderr.push_str(&l);
            stderr.push('\n');
        }
    }
    if status.is_none() {
        let _ = child.kill();
    }
    // Reaps the killed child; an exited one keeps its status.
    let waited = child.wait().unwrap();
    let status = status.map(|_| waited);
    // The readers end with the pipes; collect everything they hold.
    let collect = |rx: mpsc::Receiver<String>, s: &mut String| {
        while let Ok(l) = rx.recv_timeout(Duration::from_secs(2)) {
            s.push_str(&l);
            s.push('\n');
        }
    };
    collect(out, &mut stdout);
    collect(err, &mut stderr);
    (status, stdout, stderr)
}

impl Backend {
    /// A backend that hands every accepted connection to the test, which
    /// then plays the server by hand.
    pub fn handing() -> (Backend, mpsc::Receiver<TcpStream>) {
        let (tx, rx) = mpsc::channel();
        let be = Backend::spawn_with(move |s| {
            s.set_read_timeout(Some(DEADLINE)).unwrap();
            s.set_write_timeout(Some(DEADLINE)).unwrap();
            let _ = tx.send(s);
        });
        (be, rx)
    }
}

// ---------------------------------------------------------------------------
// Held backends: limits (maxconn, queues) seen from the server side.
// ---------------------------------------------------------------------------

/// A backend that holds each connection until told to release one: it
/// reads the client's id byte, reports it, waits, then answers `k<id>`
/// and closes. It records how many it held at once.
pub struct HeldBackend {
    pub be: Backend,
    pub arrived: mpsc::Receiver<u8>,
    pub release: mpsc::Sender<()>,
    max: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl HeldBackend {
    pub fn new() -> HeldBackend {
        let current = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let max = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (arrived_tx, arrived) = mpsc::channel();
        let (release, release_rx) = mpsc::channel::<()>();
        let release_rx = std::sync::Arc::new(std::sync::Mutex::new(release_rx));
        let m = std::sync::Arc::clone(&max);
        let be = Backend::spawn_with(move |mut s| {
            let now = current.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            m.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
            s.set_read_timeout(Some(DEADLINE)).unwrap();
            let mut id = [0u8; 1];
            if s.read_exact(&mut id).is_err() {
                // A client that said nothing (a probe) is not held.
                current.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                return;
            }
            let _ = arrived_tx.send(id[0]);
            let go = release_rx.lock().unwrap().recv_timeout(DEADLINE).is_ok();
            // Counted out before the reply: the proxy can only reuse the
            // slot once it has the server's FIN.
            current.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            if go {
                let _ = s.write_all(&[b'k', id[0]]);
            }
            let _ = s.shutdown(Shutdown::Write);
            let mut rest = Vec::new();
            let _ = s.read_to_end(&mut rest);
        });
        HeldBackend {
            be,
            arrived,
            release,
            max,
        }
    }

    pub fn max(&self) -> usize {
        self.max.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// What a client saw: its reply, and whether the proxy reset it.
pub type Outcome = (u8, Vec<u8>, bool);

/// Run one client: send its id, read until the proxy closes.
pub fn run_client(mut c: impl Read + Write, id: u8, tx: &mpsc::Sender<Outcome>) {
    let mut reset = c.write_all(&[id]).is_err();
    let mut got = Vec::new();
    if let Err(e) = c.read_to_end(&mut got) {
        reset |= e.kind() == std::io::ErrorKind::ConnectionReset;
    }
    let _ = tx.send((id, got, reset));
}

/// `n` TCP clients connected at once (all before the first is released).
pub fn tcp_clients(p: &Proxy, n: u8) -> mpsc::Receiver<Outcome> {
    let (tx, rx) = mpsc::channel();
    let conns: Vec<_> = (0..n).map(|_| p.connect()).collect();
    for (id, c) in (0..n).zip(conns) {
        let tx = tx.clone();
        std::thread::spawn(move || run_client(c, id, &tx));
    }
    rx
}

/// Drive `n` held clients through a proxy that must never let more than
/// `limit` reach the backend at once; every client must be served, none
/// reset.
pub fn limit_holds(
    be: &HeldBackend,
    done: &mpsc::Receiver<Outcome>,
    n: u8,
    limit: usize,
    what: &str,
) {
    let mut waiting = usize::from(n);
    let mut holding = 0usize;
    let mut served = Vec::new();
    while holding < limit {
        be.arrived
            .recv_timeout(DEADLINE)
            .unwrap_or_else(|_| panic!("{what}: only {holding} reached the backend"));
        holding += 1;
        waiting -= 1;
    }
    assert!(
        be.arrived.recv_timeout(Duration::from_millis(300)).is_err(),
        "{what}: a connection beyond the limit of {limit} reached the backend"
    );
    // Release one at a time: each release lets exactly one more through.
    while holding > 0 {
        be.release.send(()).unwrap();
        holding -= 1;
        let (id, got, reset) = done
            .recv_timeout(DEADLINE)
            .unwrap_or_else(|_| panic!("{what}: a released client got no reply"));
        assert!(!reset, "{what}: client {id} was reset");
        assert_eq!(got, [b'k', id], "{what}: client {id}");
        served.push(id);
        if waiting > 0 {
            be.arrived
                .recv_timeout(DEADLINE)
                .unwrap_or_else(|_| panic!("{what}: a waiting client never got a slot"));
            holding += 1;
            waiting -= 1;
        }
        assert!(be.max() <= limit, "{what}: {} at once", be.max());
    }
    served.sort_unstable();
    assert_eq!(served, (0..n).collect::<Vec<_>>(), "{what}");
    assert_eq!(
        be.max(),
        limit,
        "{what}: the backend held {} at most",
        be.max()
    );
}

// ---------------------------------------------------------------------------
// Helpers shared by several modules of the `tcp` test binary.
// ---------------------------------------------------------------------------

pub fn tcp_config(servers: &str, extra_defaults: &str) -> String {
    format!(
        "global\n    nbthread 2\n    log stdout format raw local0\n\
         defaults\n    mode tcp\n    log global\n    option tcplog\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n{extra_defaults}\
         frontend fe\n    bind fd@3\n    default_backend be\n\
         backend be\n{servers}"
    )
}

/// `ringlb -f cfg <extra>`, for the tests that need an address of their
/// own (same-port reloads, UNIX, IPv6, port ranges) rather than fd@3.
pub fn run_ringlb(
    cfg: &std::path::Path,
    extra: &[String],
    stdout: Stdio,
    stderr: Stdio,
) -> std::process::Child {
    std::process::Command::new(ringlb())
        .arg("-f")
        .arg(cfg)
        .args(extra)
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .unwrap()
}

/// The resident memory of process `pid`, in KiB.
pub fn vm_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Send `data`, half-close, read everything back.
pub fn round_trip(p: &Proxy, data: &[u8]) -> Vec<u8> {
    let mut c = p.connect();
    let mut w = c.try_clone().unwrap();
    let data = data.to_vec();
    let writer = thread::spawn(move || {
        w.write_all(&data).unwrap();
        w.shutdown(Shutdown::Write).unwrap();
    });
    let mut got = Vec::new();
    c.read_to_end(&mut got).unwrap();
    writer.join().unwrap();
    got
}

/// A logging TCP proxy on 127.0.0.1 at a port held for the caller (see
/// [`held_port`]), in front of `be`, with `global` lines added: its
/// directory (removed on drop), the configuration file, the port and the
/// socket that holds it (keep it for the test's duration).
pub fn config_on_a_free_port(
    tag: &str,
    global: &str,
    be: &Backend,
) -> (TempDir, std::path::PathBuf, u16, socket2::Socket) {
    let (hold, port) = held_port();
    let dir = TempDir::new(tag);
    let cfg = dir.0.join("p.cfg");
    std::fs::write(
        &cfg,
        format!(
            "global\n    log stdout format raw local0\n{global}\
             defaults\n    mode tcp\n    log global\n    option tcplog\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n\
             frontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\nbackend be\n    server s1 {}\n",
            be.addr
        ),
    )
    .unwrap();
    (dir, cfg, port, hold)
}

/// A timeout "fired" when it ended the stream no earlier than this share
/// of it and no later than [`LATE`].
pub const EARLY: f64 = 0.8;

pub const LATE: Duration = Duration::from_secs(5);

/// A config with one `fd@3` frontend `fe` and one backend `be`.
/// `global`, `defaults` and `backend` are whole lines, indented.
pub fn config(global: &str, defaults: &str, backend: &str) -> String {
    format!(
        "global\n    log stdout format raw local0\n{global}\
         defaults\n    mode tcp\n    log global\n    option tcplog\n{defaults}\
         frontend fe\n    bind fd@3\n    default_backend be\n\
         backend be\n{backend}"
    )
}

/// haproxy when it is installed (the reference goes first: a failure on
/// it means the test misreads HAProxy), then ringlb.
pub fn programs(test: &str) -> Vec<(&'static str, PathBuf)> {
    let mut v = Vec::new();
    if let Some(h) = haproxy(test) {
        v.push(("haproxy", h));
    }
    v.push(("ringlb", ringlb()));
    v
}

pub fn start(name: &str, program: &Path, cfg: &str) -> Proxy {
    if name == "haproxy" {
        start_haproxy(program, cfg)
    } else {
        Proxy::start_with(program, cfg, &[])
    }
}

/// Read until the proxy closes (EOF or reset) within `within`; returns the
/// bytes and when the close was seen. Fails if the connection stays open.
pub fn read_until_closed(c: &mut TcpStream, within: Duration, what: &str) -> (Vec<u8>, Instant) {
    let end = Instant::now() + within;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = end.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "{what}: the connection is still open after {within:?} ({} bytes read)",
            got.len()
        );
        c.set_read_timeout(Some(left)).unwrap();
        match c.read(&mut buf) {
            Ok(0) => return (got, Instant::now()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return (got, Instant::now()),
        }
    }
}

/// Assert the connection stays open and silent for `idle` (a read with a
/// deadline that must time out).
pub fn stays_open(c: &mut TcpStream, idle: Duration, what: &str) {
    c.set_read_timeout(Some(idle)).unwrap();
    let mut b = [0u8; 16];
    match c.read(&mut b) {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        Ok(0) => panic!("{what}: closed by the proxy within {idle:?}"),
        Ok(n) => panic!("{what}: unexpected {n} bytes"),
        Err(e) => panic!("{what}: {e}"),
    }
    c.set_read_timeout(Some(DEADLINE)).unwrap();
}

/// The timeout `t` fired: `elapsed` is at least EARLY of it, and not late.
pub fn fired(what: &str, t: Duration, elapsed: Duration) {
    assert!(
        elapsed >= t.mul_f64(EARLY) && elapsed <= LATE,
        "{what}: the {t:?} timeout ended the stream after {elapsed:?}"
    );
}

pub fn stop_config(global: &str, be: &Backend) -> String {
    config(
        global,
        "    timeout connect 1s\n    timeout client 10s\n    timeout server 10s\n",
        &format!("    server s1 {}\n", be.addr),
    )
}

/// Send `chunk` and read its echo.
pub fn echo(c: &mut TcpStream, chunk: &[u8], what: &str) {
    c.write_all(chunk).unwrap();
    let mut back = vec![0u8; chunk.len()];
    c.read_exact(&mut back)
        .unwrap_or_else(|e| panic!("{what}: echo of {} bytes: {e}", chunk.len()));
    assert!(back == chunk, "{what}: the echo differs");
}

/// One short exchange through the proxy, then its log line (the proxy has
/// released the server by the time it logs).
pub fn exchange(p: &Proxy, what: &str) -> TcpLog {
    let mut c = p.connect();
    echo(&mut c, b"ping", what);
    c.shutdown(Shutdown::Write).unwrap();
    let (rest, _) = read_until_closed(&mut c, DEADLINE, what);
    assert!(rest.is_empty(), "{what}: {rest:?}");
    let log = p.next_tcplog();
    assert_eq!(log.termination, "--", "{what}: {log:?}");
    log
}

/// A log line with what legitimately differs between two runs masked: the
/// client port, the date (its shape is checked), the timers (integers, -1
/// only where the phase never ended; their values are compared loosely by
/// the callers).
pub fn masked(l: &TcpLog, what: &str) -> TcpLog {
    let (ip, port) = l.client.rsplit_once(':').unwrap();
    assert!(port.parse::<u16>().is_ok(), "{what}: client port in {l:?}");
    let d = l.date.trim_start_matches('[').trim_end_matches(']');
    let shape: String = d
        .chars()
        .map(|c| if c.is_ascii_digit() { '9' } else { c })
        .collect();
    let month = d.get(3..6).unwrap_or("");
    assert!(
        shape.len() == 24
            && shape.starts_with("99/")
            && shape.ends_with("/9999:99:99:99.999")
            && month.chars().all(|c| c.is_ascii_alphabetic()),
        "{what}: date shape {:?} in {l:?}",
        l.date
    );
    let timer = |t: &str| {
        let v = TcpLog::ms(t);
        assert!(v >= -1, "{what}: timer {t} in {l:?}");
        if v < 0 {
            "-1".to_owned()
        } else {
            "N".to_owned()
        }
    };
    TcpLog {
        client: format!("{ip}:PORT"),
        date: "[DATE]".to_owned(),
        tw: timer(&l.tw),
        tc: timer(&l.tc),
        tt: timer(&l.tt),
        ..l.clone()
    }
}

pub fn log_config(backend: &str) -> String {
    config(
        "    nbthread 2\n",
        "    timeout connect 200ms\n    timeout client 10s\n    timeout server 10s\n",
        backend,
    )
}

pub fn logged_config(defaults: &str, backend: &str) -> String {
    format!(
        "global\n    nbthread 2\n    log stdout format raw local0\n\
         defaults\n    mode tcp\n    log global\n    option tcplog\n{defaults}\
         frontend fe\n    bind fd@3\n    default_backend be\n\
         backend be\n{backend}"
    )
}

/// The connection counters (`%ac/%fc/%bc/%sc`) are compared by
/// [`tcplog_counters_are_the_ones_at_log_time`]; the other tests mask them.
pub fn without_counters(l: TcpLog) -> TcpLog {
    TcpLog {
        actconn: "A".to_owned(),
        feconn: "F".to_owned(),
        beconn: "B".to_owned(),
        srv_conn: "S".to_owned(),
        ..l
    }
}

/// A port held for the whole test: a socket bound with SO_REUSEPORT but
/// not listening keeps any other program off the port (no race between
/// finding a free port and binding it), receives nothing, and lets the
/// proxies (which bind with SO_REUSEPORT) share it.
pub fn held_port() -> (socket2::Socket, u16) {
    let s = hold("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = s.local_addr().unwrap().as_socket().unwrap().port();
    (s, port)
}

/// Hold `addr` (see [`held_port`]): bound with SO_REUSEPORT, not
/// listening; an IPv6 wildcard is held dual-stack.
pub fn hold(addr: SocketAddr) -> std::io::Result<socket2::Socket> {
    let s = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )?;
    if addr.is_ipv6() {
        s.set_only_v6(false)?;
    }
    s.set_reuse_port(true)?;
    s.set_reuse_address(true)?;
    s.bind(&addr.into())?;
    Ok(s)
}

/// Three consecutive ports on 127.0.0.1, held (see [`held_port`]) for as
/// long as the sockets live. They are taken below the kernel's ephemeral
/// range: a port the kernel gave a client socket stays in TIME-WAIT for a
/// minute after the connection, and an explicit bind of it fails then
/// (seen when other load on the machine left 35,000 sockets in
/// TIME-WAIT: every ephemeral p+1 or p+2 was taken).
pub fn held_port_range() -> (Vec<socket2::Socket>, u16) {
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let base = 10_000u16.min(low / 2);
    let span = low.saturating_sub(base).saturating_sub(3).max(1);
    // A different start per process and call, so parallel tests spread.
    static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let seed = std::process::id()
        .wrapping_mul(2_654_435_761)
        .wrapping_add(CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) * 97);
    for i in 0..200u32 {
        let off =
            u16::try_from(seed.wrapping_add(i.wrapping_mul(7919)) % u32::from(span)).unwrap_or(0);
        let p = base + off;
        let held: Vec<_> = (0..3)
            .map_while(|k| hold(SocketAddr::from(([127, 0, 0, 1], p + k))).ok())
            .collect();
        if held.len() == 3 {
            return (held, p);
        }
    }
    panic!("no three consecutive ports could be held below {low}");
}

/// Wait until `pid` takes `signal` (a handler is installed, or the signal
/// is blocked for a signal thread to take), within the deadline: a signal
/// sent earlier kills a process that is still starting (seen with haproxy
/// under the parallel suite: `-sf` and SIGUSR1 sent while it started).
pub fn wait_signal_ready(pid: u32, signal: nix::sys::signal::Signal) {
    let bit = 1u64 << (signal as i32 - 1);
    let end = Instant::now() + DEADLINE;
    loop {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let mask = |field: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
                .unwrap_or(0)
        };
        if (mask("SigCgt:") | mask("SigBlk:")) & bit != 0 {
            return;
        }
        assert!(
            Instant::now() < end,
            "process {pid} never set up {signal:?} (status: {status})"
        );
        thread::sleep(Duration::from_millis(2));
    }
}

/// One request line to the runtime API on `sock` (a UNIX socket path, or
/// a TCP `host:port`), waiting (within the deadline) for the socket to
/// answer; the whole answer, read until the proxy closes (one-shot mode).
#[allow(dead_code)]
pub fn cli_ask(sock: &str, line: &str) -> String {
    trait ReadWrite: std::io::Read + std::io::Write {}
    impl<T: std::io::Read + std::io::Write> ReadWrite for T {}
    let end = Instant::now() + DEADLINE;
    let mut s: Box<dyn ReadWrite> = loop {
        let r: std::io::Result<Box<dyn ReadWrite>> = if sock.starts_with('/') {
            std::os::unix::net::UnixStream::connect(sock).and_then(|s| {
                s.set_read_timeout(Some(DEADLINE))?;
                Ok(Box::new(s) as Box<dyn ReadWrite>)
            })
        } else {
            TcpStream::connect(sock).and_then(|s| {
                s.set_read_timeout(Some(DEADLINE))?;
                Ok(Box::new(s) as Box<dyn ReadWrite>)
            })
        };
        match r {
            Ok(s) => break s,
            Err(e) => {
                assert!(Instant::now() < end, "{sock}: {e}");
                thread::sleep(Duration::from_millis(20));
            }
        }
    };
    s.write_all(format!("{line}\n").as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}
