//! Listeners: UNIX sockets, IPv6, port ranges, `noreuseport` and the
//! listen backlog.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener};
use std::path::Path;
use std::process::Stdio;
use std::thread;
use std::time::Instant;

use crate::harness::{
    self, config_on_a_free_port, pattern, round_trip, run_ringlb, start, tcp_config, Backend,
    Proxy, TempDir, DEADLINE,
};

/// `noreuseport`: a second process started on the same address fails to
/// bind it and exits 1, as HAProxy does, instead of sharing the traffic.
#[test]
fn noreuseport_keeps_a_second_process_out() {
    let be = Backend::echo();
    let (_dir, cfg, port, hold) = config_on_a_free_port("noreuseport", "    noreuseport\n", &be);
    let run = || run_ringlb(&cfg, &[], Stdio::null(), Stdio::piped());
    // A `noreuseport` listener binds without SO_REUSEPORT, so it cannot
    // share the held port: the hold is released just before the first
    // process starts (only in that short window could another test take
    // the port).
    drop(hold);
    let mut first = run();
    let deadline = std::time::Instant::now() + DEADLINE;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the first never listened"
        );
        thread::yield_now();
    }
    let second = run().wait_with_output().unwrap();
    assert_eq!(second.status.code(), Some(1), "{second:?}");
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains("cannot bind"), "{err}");
    // The first one still serves.
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(DEADLINE)).unwrap();
    c.write_all(b"x").unwrap();
    let mut b = [0u8; 1];
    c.read_exact(&mut b).unwrap();
    let _ = first.kill();
    let _ = first.wait();
}

#[test]
fn a_unix_socket_server_gets_the_traffic() {
    let dir = harness::TempDir::new("unix-server");
    let path = dir.0.join("app.sock");
    let l = std::os::unix::net::UnixListener::bind(&path).unwrap();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { break };
            std::thread::spawn(move || {
                harness::echo_until_eof(&mut s);
                let _ = s.shutdown(Shutdown::Write);
            });
        }
    });
    let p = Proxy::start(&tcp_config(
        &format!("    server app unix@{}\n", path.display()),
        "",
    ));
    for size in [5usize, 1 << 20] {
        let data = pattern(size);
        assert!(
            round_trip(&p, &data) == data,
            "size {size} through a UNIX socket server"
        );
        let log = p.next_log();
        assert!(
            log.contains(" fe be/app ") && log.contains(&format!(" {size} -- ")),
            "{log}"
        );
    }
}

#[test]
fn a_unix_socket_bind_accepts_clients() {
    let be = Backend::echo();
    let dir = harness::TempDir::new("unix-bind");
    let path = dir.0.join("front.sock");
    let cfg = dir.0.join("u.cfg");
    std::fs::write(
        &cfg,
        format!(
            "global\n    nbthread 2\n    log stdout format raw local0\n\
             defaults\n    mode tcp\n    log global\n    option tcplog\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n\
             frontend fe\n    bind unix@{} mode 600\n    default_backend be\nbackend be\n    server s1 {}\n",
            path.display(),
            be.addr
        ),
    )
    .unwrap();
    let mut child = run_ringlb(&cfg, &[], Stdio::piped(), Stdio::null());
    let deadline = std::time::Instant::now() + DEADLINE;
    let mut c = loop {
        match std::os::unix::net::UnixStream::connect(&path) {
            Ok(c) => break c,
            Err(e) => assert!(
                std::time::Instant::now() < deadline,
                "no UNIX listener: {e}"
            ),
        }
        std::thread::yield_now();
    };
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600,
        "bind 'mode 600'"
    );
    c.set_read_timeout(Some(DEADLINE)).unwrap();
    c.write_all(b"over unix").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut got = Vec::new();
    c.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"over unix");
    let _ = child.kill();
    let _ = child.wait();
}

/// IPv6 on both sides: a `:::port v4v6` listener takes IPv4 and IPv6
/// clients, a `v6only` one takes IPv6 clients only, and a server on `::1`
/// gets the traffic.
#[test]
fn ipv6_listeners_and_servers() {
    let l6 = std::net::TcpListener::bind("[::1]:0").unwrap();
    let be6 = l6.local_addr().unwrap();
    thread::spawn(move || {
        for s in l6.incoming() {
            let Ok(mut s) = s else { break };
            thread::spawn(move || harness::echo_until_eof(&mut s));
        }
    });
    for (opt, v4_served) in [("v4v6", true), ("v6only", false)] {
        // Held for the whole run (no race between finding it free and
        // binding it); ringlb binds with SO_REUSEPORT beside the hold.
        let hold = harness::hold("[::]:0".parse().unwrap()).unwrap();
        let port = hold.local_addr().unwrap().as_socket().unwrap().port();
        let dir = harness::TempDir::new("ipv6");
        let cfg = dir.0.join("v6.cfg");
        std::fs::write(
            &cfg,
            format!(
                "global\n    log stdout format raw local0\ndefaults\n    mode tcp\n    log global\n    option tcplog\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n\
                 frontend fe\n    bind :::{port} {opt}\n    default_backend be\nbackend be\n    server s1 {be6}\n"
            ),
        )
        .unwrap();
        let mut child = run_ringlb(&cfg, &[], Stdio::null(), Stdio::null());
        let echo = |addr: std::net::SocketAddr| -> std::io::Result<Vec<u8>> {
            let mut c = std::net::TcpStream::connect_timeout(&addr, DEADLINE)?;
            c.set_read_timeout(Some(DEADLINE))?;
            c.write_all(b"six")?;
            c.shutdown(Shutdown::Write)?;
            let mut got = Vec::new();
            c.read_to_end(&mut got)?;
            Ok(got)
        };
        let v6: std::net::SocketAddr = format!("[::1]:{port}").parse().unwrap();
        let v4: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let deadline = std::time::Instant::now() + DEADLINE;
        let got6 = loop {
            match echo(v6) {
                Ok(g) => break g,
                Err(e) => assert!(std::time::Instant::now() < deadline, "{opt}: {e}"),
            }
            thread::yield_now();
        };
        assert_eq!(got6, b"six", "{opt}: IPv6 client");
        match echo(v4) {
            Ok(g) => {
                assert!(v4_served, "{opt}: an IPv4 client was served");
                assert_eq!(g, b"six", "{opt}: IPv4 client");
            }
            Err(e) => assert!(!v4_served, "{opt}: IPv4 client refused: {e}"),
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A bind port range listens on every port of the range (one listener
/// per port, as HAProxy creates).
#[test]
fn a_bind_port_range_listens_on_every_port() {
    // Three consecutive ports, held for the whole test (no race between
    // finding them free and binding them).
    let (_held, first) = harness::held_port_range();
    let be = Backend::echo();
    let dir = harness::TempDir::new("range");
    let cfg = dir.0.join("r.cfg");
    std::fs::write(
        &cfg,
        format!(
            "defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n\
             frontend fe\n    bind 127.0.0.1:{first}-{}\n    default_backend be\nbackend be\n    server s1 {}\n",
            first + 2,
            be.addr
        ),
    )
    .unwrap();
    let mut child = run_ringlb(&cfg, &[], Stdio::null(), Stdio::null());
    for port in first..=first + 2 {
        let deadline = std::time::Instant::now() + DEADLINE;
        let mut c = loop {
            match std::net::TcpStream::connect(("127.0.0.1", port)) {
                Ok(c) => break c,
                Err(e) => assert!(std::time::Instant::now() < deadline, "port {port}: {e}"),
            }
            thread::yield_now();
        };
        c.set_read_timeout(Some(DEADLINE)).unwrap();
        c.write_all(b"r").unwrap();
        let mut b = [0u8; 1];
        c.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"r", "port {port}");
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The listen queue length `ss` reports (Send-Q of a listener) for each
/// UNIX listener under `dir`, by file name (HAProxy and ringlb bind a
/// temporary name and rename it: the kernel keeps the first name), once
/// they are `expected` or at the deadline (a listener may be seen between
/// its bind and its listen).
fn unix_backlogs(dir: &Path, names: &[&str], expected: &[u64]) -> Vec<u64> {
    let end = Instant::now() + DEADLINE;
    loop {
        let out = std::process::Command::new("ss")
            .args(["-xlH"])
            .output()
            .expect("ss (iproute2) runs");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let found: Vec<Option<u64>> = names
            .iter()
            .map(|n| {
                let prefix = format!("{}/{n}", dir.display());
                text.lines().find_map(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    // u_str LISTEN <recv-q> <send-q> <path> ...
                    (f.len() >= 5 && f[1] == "LISTEN" && f[4].starts_with(&prefix))
                        .then(|| f[3].parse().ok())
                        .flatten()
                })
            })
            .collect();
        if found.iter().all(Option::is_some) {
            let found: Vec<u64> = found.into_iter().flatten().collect();
            if found == expected || Instant::now() >= end {
                return found;
            }
        }
        assert!(Instant::now() < end, "listeners never showed up in: {text}");
        thread::yield_now();
    }
}

/// The listen backlog is HAProxy's listener_backlog(): the bind's
/// `backlog`, else the frontend's, else the frontend's maxconn, which
/// defaults to the global one (ringlb used a fixed 1024 there, and UNIX
/// listeners kept std's backlog whatever the config said).
fn listen_backlog_follows_backlog_then_maxconn(name: &str, program: &Path) {
    let dir = TempDir::new("backlog");
    let d = dir.0.display();
    // HAProxy refuses port 0: a port the kernel just handed out, freed.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = format!(
        "global\n    maxconn 300\n\
         defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n\
         frontend f1\n    bind {d}/f1.sock\n    default_backend be\n\
         frontend f2\n    maxconn 50\n    bind {d}/f2.sock\n    default_backend be\n\
         frontend f3\n    maxconn 50\n    backlog 77\n    bind {d}/f3.sock\n    default_backend be\n\
         frontend f4\n    backlog 77\n    bind {d}/f4.sock backlog 33\n    default_backend be\n\
         frontend f5\n    bind {d}/f5.sock maxconn 20\n    default_backend be\n\
         frontend f6\n    bind 127.0.0.1:{port}\n    default_backend be\n\
         backend be\n    server s1 127.0.0.1:1\n"
    );
    let p = start(name, program, &cfg);
    let expected = [300, 50, 77, 33, 20];
    let names = ["f1.sock", "f2.sock", "f3.sock", "f4.sock", "f5.sock"];
    let got = unix_backlogs(&dir.0, &names, &expected);
    assert_eq!(got, expected, "{name}");
    // The TCP listener, same default.
    let pid = format!("pid={},", p.child.id());
    let out = std::process::Command::new("ss")
        .args(["-ltnpH", "src", &format!("127.0.0.1:{port}")])
        .output()
        .expect("ss (iproute2) runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let tcp: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(&pid))
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    assert!(
        !tcp.is_empty(),
        "{name}: no TCP listener of {pid} in {text}"
    );
    assert!(tcp.iter().all(|q| *q == "300"), "{name}: {tcp:?}");
}

on_both!(
    listen_backlog_follows_backlog_then_maxconn,
    listen_backlog_on_haproxy,
    listen_backlog_on_ringlb
);

/// A ringlb whose stderr reader went away (a closed pipe) keeps serving
/// when it has something to say there: SIGQUIT's pool dump (three lines to
/// stderr) used to go through `eprintln!`, which panics on EPIPE.
#[test]
fn a_closed_stderr_does_not_stop_the_proxy() {
    let be = Backend::echo();
    let (_dir, cfg, port, hold) = config_on_a_free_port("closed-stderr", "", &be);
    let mut p = run_ringlb(&cfg, &[], Stdio::null(), Stdio::piped());
    drop(hold);
    let echo_once = || {
        let deadline = std::time::Instant::now() + DEADLINE;
        let mut c = loop {
            match std::net::TcpStream::connect(("127.0.0.1", port)) {
                Ok(c) => break c,
                Err(e) => assert!(std::time::Instant::now() < deadline, "{e}"),
            }
            thread::yield_now();
        };
        c.set_read_timeout(Some(DEADLINE)).unwrap();
        c.write_all(b"x").unwrap();
        let mut b = [0u8; 1];
        c.read_exact(&mut b).unwrap();
    };
    echo_once();
    // Nobody reads stderr any more.
    drop(p.stderr.take());
    let pid = nix::unistd::Pid::from_raw(i32::try_from(p.id()).unwrap());
    for _ in 0..3 {
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGQUIT).unwrap();
    }
    // The dump waits up to a second for the cores' snapshots: ringlb
    // must still be there two seconds on, and serve.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while std::time::Instant::now() < until {
        assert!(p.try_wait().unwrap().is_none(), "ringlb exited");
        thread::sleep(std::time::Duration::from_millis(20));
    }
    for _ in 0..3 {
        echo_once();
    }
    assert!(p.try_wait().unwrap().is_none(), "ringlb exited");
    let _ = p.kill();
    let _ = p.wait();
}
