//! Start-up: a process serves only once every executor is up.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{self, Backend, TempDir, DEADLINE};

fn echoes(addr: SocketAddr) -> bool {
    let Ok(mut c) = TcpStream::connect_timeout(&addr, DEADLINE) else {
        return false;
    };
    c.set_read_timeout(Some(DEADLINE)).unwrap();
    if c.write_all(b"hi").is_err() || c.shutdown(Shutdown::Write).is_err() {
        return false;
    }
    let mut got = Vec::new();
    c.read_to_end(&mut got).is_ok() && got == b"hi"
}

/// An executor that cannot start (its ring or its timer) stops the whole
/// process with exit 1 and an alert naming it, before anything is served;
/// a reload that fails so leaves the old process serving (it is told to
/// stop only once the new one is ready). Before the fix the process went
/// on with a core missing, and the old one had already been stopped.
#[test]
fn an_executor_that_cannot_start_stops_the_process_and_spares_the_old_one() {
    let be = Backend::echo();
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.set_reuse_port(true).unwrap();
    s.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    let addr = s.local_addr().unwrap().as_socket().unwrap();
    let dir = TempDir::new("startup");
    let cfg = dir.0.join("p.cfg");
    std::fs::write(
        &cfg,
        format!(
            "global\n    nbthread 2\n\
             defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n\
             frontend fe\n    bind {addr}\n    default_backend be\n\
             backend be\n    server s1 {}\n",
            be.addr
        ),
    )
    .unwrap();
    let mut old = Command::new(harness::ringlb())
        .arg("-f")
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let end = Instant::now() + DEADLINE;
    while !echoes(addr) {
        assert!(Instant::now() < end, "the old process never served");
        std::thread::sleep(Duration::from_millis(10));
    }
    let new = Command::new(harness::ringlb())
        .arg("-f")
        .arg(&cfg)
        .arg("-sf")
        .arg(old.id().to_string())
        .env("RINGLB_TEST_FAIL_EXECUTOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = new.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("[ALERT]") && stderr.contains("executor 1"),
        "{stderr}"
    );
    // The old process was never told to stop, and serves on.
    assert!(
        old.try_wait().unwrap().is_none(),
        "the old process was stopped"
    );
    for _ in 0..20 {
        assert!(echoes(addr), "the old process stopped serving");
    }
    let _ = old.kill();
    let _ = old.wait();
}
