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

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use command_fds::{CommandFdExt, FdMapping};

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

fn lines(r: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(r).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
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
        let stdout = lines(child.stdout.take().unwrap());
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
            for s in l.incoming() {
                let Ok(s) = s else { break };
                let _ = tx.send(s.peer_addr().unwrap());
                thread::spawn(move || behaviour(s));
            }
        });
        Backend { addr, accepted: rx }
    }

    /// Echo everything back, then close after the client's FIN.
    pub fn echo() -> Backend {
        Backend::spawn(|mut s| {
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

/// An address nothing listens on (connection refused).
pub fn refused_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// Deterministic test data.
pub fn pattern(n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| (i.wrapping_mul(31) ^ (i >> 8)) as u8)
        .collect()
}
