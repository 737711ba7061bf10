//! `ringlbctl` against the real runtime API: ringlb's (the binary of the
//! workspace, built beside this one) and haproxy's, over a UNIX and a TCP
//! socket, one-shot and interactive (commands from a pipe), and an
//! unreachable socket.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(10);

fn ctl() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ringlbctl"))
}

/// ringlb, built by the workspace into the same target directory.
fn ringlb() -> PathBuf {
    let me = ctl();
    let p = me.parent().unwrap().join("ringlb");
    assert!(
        p.is_file(),
        "{} is missing: build the workspace (cargo build --workspace) first",
        p.display()
    );
    p
}

fn haproxy() -> Option<PathBuf> {
    let p = [
        "/usr/sbin/haproxy",
        "/usr/bin/haproxy",
        "/usr/local/sbin/haproxy",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file());
    if p.is_none() && std::env::var_os("CI").is_some() {
        panic!("haproxy is not installed: CI must install it (Debian package 'haproxy')");
    }
    p
}

struct Proc(Child, PathBuf);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `program` serving only a runtime API: a UNIX socket and a TCP one.
fn start(program: &Path, tag: &str) -> (Proc, String, String) {
    let dir = std::env::temp_dir().join(format!("ringlbctl-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sock = dir.join("admin.sock").display().to_string();
    let tcp = format!("127.0.0.1:{}", free_port());
    let cfg = dir.join("p.cfg");
    std::fs::write(
        &cfg,
        format!(
            "global\n    stats socket {sock} level admin\n    stats socket ipv4@{tcp} level operator\n\
             defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
             backend be\n    server s1 127.0.0.1:9 weight 1\n"
        ),
    )
    .unwrap();
    let child = Command::new(program)
        .arg("-f")
        .arg(&cfg)
        .arg("-db")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let end = Instant::now() + DEADLINE;
    while std::os::unix::net::UnixStream::connect(&sock).is_err()
        || std::net::TcpStream::connect(&tcp).is_err()
    {
        assert!(Instant::now() < end, "{tag}: the sockets never answered");
        std::thread::sleep(Duration::from_millis(20));
    }
    (Proc(child, dir), sock, tcp)
}

fn run(args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut c = Command::new(ctl())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("HOME", std::env::temp_dir())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let end = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(s) = c.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < end, "ringlbctl {args:?} did not end");
        std::thread::sleep(Duration::from_millis(10));
    };
    let (mut out, mut err) = (String::new(), String::new());
    c.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    c.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    (status.success(), out, err)
}

fn drive(program: &Path, tag: &str) {
    let (_p, sock, tcp) = start(program, tag);
    // One-shot, UNIX socket: the answer as the socket gives it.
    let (ok, out, err) = run(&["-S", &sock, "show", "cli", "level"], "");
    assert!(ok, "{tag}: {err}");
    assert_eq!(out, "admin\n\n", "{tag}");
    // One-shot, TCP, two commands in one line.
    let (ok, out, err) = run(&["-S", &tcp, "show cli level; get weight be/s1"], "");
    assert!(ok, "{tag}: {err}");
    assert_eq!(out, "operator\n\n1 (initial 1)\n\n", "{tag}");
    // Interactive, commands from a pipe: each answer without its empty
    // line, the change of one command seen by the next.
    let (ok, out, err) = run(
        &["-S", &sock],
        "set weight be/s1 7\nget weight be/s1\nshow cli level\nquit\n",
    );
    assert!(ok, "{tag}: {err}");
    assert!(out.contains("7 (initial 1)\n"), "{tag}: {out:?}");
    assert!(out.contains("admin\n"), "{tag}: {out:?}");
    // Nothing listens: a clear error and a failure status.
    let gone = format!("{sock}.nope");
    let (ok, _, err) = run(&["-S", &gone, "show info"], "");
    assert!(!ok, "{tag}");
    assert!(err.contains("cannot connect to"), "{tag}: {err}");
}

#[test]
fn ringlbctl_drives_ringlb() {
    drive(&ringlb(), "ringlb");
}

#[test]
fn ringlbctl_drives_haproxy() {
    if let Some(h) = haproxy() {
        drive(&h, "haproxy");
    }
}
