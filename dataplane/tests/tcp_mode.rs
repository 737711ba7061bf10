//! TCP mode end to end: a real ringlb process, real backends on loopback,
//! clients with deadlines; assertions on what the client, the server and
//! the log saw.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod harness;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener};
use std::process::Stdio;
use std::thread;
use std::time::Duration;

use harness::{pattern, refused_addr, Backend, Proxy, DEADLINE};

fn tcp_config(servers: &str, extra_defaults: &str) -> String {
    format!(
        "global\n    nbthread 2\n    log stdout format raw local0\n\
         defaults\n    mode tcp\n    log global\n    option tcplog\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n{extra_defaults}\
         frontend fe\n    bind fd@3\n    default_backend be\n\
         backend be\n{servers}"
    )
}

/// `ringlb -f cfg <extra>`, for the tests that need an address of their
/// own (same-port reloads, UNIX, IPv6, port ranges) rather than fd@3.
fn run_ringlb(
    cfg: &std::path::Path,
    extra: &[String],
    stdout: Stdio,
    stderr: Stdio,
) -> std::process::Child {
    std::process::Command::new(harness::ringlb())
        .arg("-f")
        .arg(cfg)
        .args(extra)
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .unwrap()
}

/// Send `data`, half-close, read everything back.
fn round_trip(p: &Proxy, data: &[u8]) -> Vec<u8> {
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

#[test]
fn bytes_arrive_intact_both_ways() {
    let be = Backend::echo();
    let p = Proxy::start(&tcp_config(&format!("    server s1 {}\n", be.addr), ""));
    for size in [1usize, 100, 16 * 1024, 16 * 1024 + 1, 1 << 20, 64 << 20] {
        let data = pattern(size);
        let got = round_trip(&p, &data);
        assert_eq!(got.len(), data.len(), "size {size}");
        assert!(got == data, "size {size}: bytes differ");
        let log = p.next_log();
        assert!(log.contains(" fe be/s1 "), "{log}");
        assert!(
            log.contains(&format!(" {size} -- ")),
            "bytes and termination in: {log}"
        );
    }
}

#[test]
fn half_close_from_the_server_side() {
    // The server says hello and closes its side; the client can still send,
    // and the server still receives it.
    let (tx, rx) = std::sync::mpsc::channel();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.write_all(b"hello").unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let mut got = Vec::new();
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        s.read_to_end(&mut got).unwrap();
        tx.send(got).unwrap();
    });
    let p = Proxy::start(&tcp_config(&format!("    server s1 {addr}\n"), ""));
    let mut c = p.connect();
    let mut hello = [0u8; 5];
    c.read_exact(&mut hello).unwrap();
    assert_eq!(&hello, b"hello");
    let mut rest = [0u8; 1];
    assert_eq!(
        c.read(&mut rest).unwrap(),
        0,
        "the server's FIN reaches the client"
    );
    c.write_all(b"after-fin").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    assert_eq!(rx.recv_timeout(DEADLINE).unwrap(), b"after-fin");
    let log = p.next_log();
    assert!(log.contains(" 5 -- "), "{log}");
}

#[test]
fn client_timeout_is_cd_and_server_timeout_is_sd() {
    let be = Backend::silent();
    let cfg = format!(
        "global\n    log stdout format raw local0\n\
         defaults\n    mode tcp\n    log global\n    option tcplog\n    timeout connect 2s\n\
         frontend fe\n    bind fd@3\n    timeout client 300ms\n    default_backend be\n\
         backend be\n    timeout server 10s\n    server s1 {}\n",
        be.addr
    );
    let p = Proxy::start(&cfg);
    let mut c = p.connect();
    let mut b = [0u8; 1];
    assert_eq!(
        c.read(&mut b).unwrap_or(0),
        0,
        "the proxy closes the idle client"
    );
    let log = p.next_log();
    assert!(log.contains(" cD "), "client timeout: {log}");

    let cfg = format!(
        "global\n    log stdout format raw local0\n\
         defaults\n    mode tcp\n    log global\n    option tcplog\n    timeout connect 2s\n\
         frontend fe\n    bind fd@3\n    timeout client 10s\n    default_backend be\n\
         backend be\n    timeout server 300ms\n    server s1 {}\n",
        be.addr
    );
    let p = Proxy::start(&cfg);
    let mut c = p.connect();
    c.write_all(b"ping").unwrap();
    assert_eq!(c.read(&mut b).unwrap_or(0), 0);
    let log = p.next_log();
    assert!(log.contains(" sD "), "server timeout: {log}");
}

#[test]
fn connect_failure_retries_then_redispatch() {
    let dead = refused_addr();
    let live = Backend::echo();
    // Without redispatch, a dead server fails after the retries: SC.
    let p = Proxy::start(&tcp_config(
        &format!("    retries 2\n    server dead {dead}\n"),
        "",
    ));
    let mut c = p.connect();
    let mut b = [0u8; 1];
    assert_eq!(c.read(&mut b).unwrap_or(0), 0);
    let log = p.next_log();
    assert!(log.contains(" fe be/dead "), "{log}");
    assert!(log.contains(" SC "), "connect failure: {log}");
    assert!(log.contains("/2 0/0"), "retries counted: {log}");

    // With redispatch, the last retry goes to the live server.
    let p = Proxy::start(&tcp_config(
        &format!("    balance first\n    retries 1\n    option redispatch\n    server dead {dead}\n    server live {}\n", live.addr),
        "",
    ));
    let got = round_trip(&p, b"redispatched");
    assert_eq!(got, b"redispatched");
    let log = p.next_log();
    assert!(log.contains(" fe be/live "), "{log}");
    assert!(log.contains("/+1 "), "redispatch shows as +retries: {log}");
}

#[test]
fn roundrobin_spreads_by_weight() {
    let a = Backend::echo();
    let b = Backend::echo();
    let p = Proxy::start(&tcp_config(
        &format!(
            "    balance roundrobin\n    server a {} weight 1\n    server b {} weight 3\n",
            a.addr, b.addr
        ),
        "",
    ));
    for _ in 0..40 {
        assert_eq!(round_trip(&p, b"x"), b"x");
    }
    let (na, nb) = (a.count(), b.count());
    assert_eq!(na + nb, 40);
    // Two executors each run their own smooth round robin: 1:3 overall.
    assert!((8..=12).contains(&na), "a got {na}, b got {nb}");
}

#[test]
fn start_fails_cleanly_on_an_address_in_use() {
    let holder = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = holder.local_addr().unwrap();
    let be = Backend::echo();
    let dir = harness::TempDir::new("inuse");
    let cfg = dir.0.join("x.cfg");
    std::fs::write(&cfg, format!("defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\nfrontend fe\n    bind {addr}\n    default_backend be\nbackend be\n    server s {}\n", be.addr)).unwrap();
    let out = std::process::Command::new(harness::ringlb())
        .arg("-f")
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot bind socket"), "{err}");
    assert!(
        err.contains("Address already in use") || err.contains("in use"),
        "{err}"
    );
    assert!(err.contains(&addr.to_string()), "{err}");
    let _ = Duration::ZERO;
}

#[test]
fn splice_auto_moves_large_flows_intact() {
    let be = Backend::echo();
    let p = Proxy::start(&tcp_config(
        &format!("    server s1 {}\n", be.addr),
        "    option splice-auto\n",
    ));
    for size in [10usize, 300 * 1024, 64 << 20] {
        let data = pattern(size);
        let got = round_trip(&p, &data);
        assert_eq!(got.len(), size, "size {size}");
        assert!(got == data, "size {size}: bytes differ after splicing");
        let log = p.next_log();
        assert!(log.contains(&format!(" {size} -- ")), "{log}");
    }
}

#[test]
fn rate_limit_sessions_spaces_new_sessions() {
    let be = Backend::echo();
    let cfg = format!(
        "global\n    nbthread 1\n    log stdout format raw local0\n\
         defaults\n    mode tcp\n    log global\n    option tcplog\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n\
         frontend fe\n    bind fd@3\n    rate-limit sessions 10\n    default_backend be\n\
         backend be\n    server s1 {}\n",
        be.addr
    );
    let p = Proxy::start(&cfg);
    let start = std::time::Instant::now();
    for _ in 0..25 {
        assert_eq!(round_trip(&p, b"x"), b"x");
    }
    // 10 per second: 25 sessions need well over one second.
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(1400),
        "25 sessions at 10/s took only {took:?}"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[test]
fn soft_stop_reports_each_proxy_like_haproxy() {
    let be = Backend::echo();
    let mut p = Proxy::start(&tcp_config(&format!("    server s1 {}\n", be.addr), ""));
    assert_eq!(round_trip(&p, b"one"), b"one");
    assert!(p.next_log().contains(" fe be/s1 "));
    p.signal(nix::sys::signal::Signal::SIGUSR1);
    // HAProxy 2.6 writes these two lines (and one for its internal
    // <HTTPCLIENT> proxy) to the log targets on SIGUSR1.
    assert_eq!(
        p.next_log(),
        "Proxy fe stopped (cumulated conns: FE: 1, BE: 0)."
    );
    assert_eq!(
        p.next_log(),
        "Proxy be stopped (cumulated conns: FE: 0, BE: 1)."
    );
    let st = p.wait_exit(DEADLINE).expect("exits after a soft stop");
    assert!(st.success(), "{st:?}");
}

#[test]
fn server_source_binds_the_local_address() {
    // The backend reports the address it saw the proxy connect from.
    let be = Backend::spawn(|mut s| {
        let peer = s.peer_addr().unwrap().ip().to_string();
        let _ = s.write_all(peer.as_bytes());
        let _ = s.shutdown(Shutdown::Write);
    });
    let p = Proxy::start(&tcp_config(
        &format!("    server s1 {} source 127.0.0.2\n", be.addr),
        "",
    ));
    let mut c = p.connect();
    let mut got = String::new();
    c.read_to_string(&mut got).unwrap();
    assert_eq!(
        got, "127.0.0.2",
        "the server saw the configured source address"
    );
}

/// `-sf <pid>`: the new process binds the same address (SO_REUSEPORT),
/// then asks the old one to finish: the old process's live session ends
/// intact, it exits, and the new one serves; no connection is refused.
#[test]
fn reload_with_sf_hands_over_without_refusing() {
    reload_hands_over("");
}

/// With `noreuseport` the new process cannot bind while the old one
/// listens: as HAProxy, it asks the old one to pause its listeners
/// (SIGTTOU: they leave LISTEN but keep their sessions), binds, then
/// soft-stops it (SIGUSR1). The live session still ends intact.
#[test]
fn reload_with_sf_under_noreuseport_pauses_the_old_listeners() {
    reload_hands_over("    noreuseport\n");
}

/// `noreuseport`: a second process started on the same address fails to
/// bind it and exits 1, as HAProxy does, instead of sharing the traffic.
#[test]
fn noreuseport_keeps_a_second_process_out() {
    let be = Backend::echo();
    let (_dir, cfg, port) = config_on_a_free_port("noreuseport", "    noreuseport\n", &be);
    let run = || run_ringlb(&cfg, &[], Stdio::null(), Stdio::piped());
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

/// A logging TCP proxy on 127.0.0.1 at a port free now, in front of
/// `be`, with `global` lines added: its directory (removed on drop), the
/// configuration file and the port.
fn config_on_a_free_port(
    tag: &str,
    global: &str,
    be: &Backend,
) -> (harness::TempDir, std::path::PathBuf, u16) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = harness::TempDir::new(tag);
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
    (dir, cfg, port)
}

/// The -sf hand-over with `global` lines added to the configuration.
fn reload_hands_over(global: &str) {
    let be = Backend::echo();
    // Both processes must bind the same address, so an inherited fd@3
    // would not show the hand-over.
    let (dir, cfg, port) = config_on_a_free_port("reload", global, &be);
    // Each process logs to its own file, shown when the test fails.
    let spawn = |extra: &[String], log: &str| {
        let out = std::fs::File::create(dir.0.join(log)).unwrap();
        run_ringlb(&cfg, extra, out.try_clone().unwrap().into(), out.into())
    };
    let logs = || {
        ["old.log", "new.log"]
            .map(|f| std::fs::read_to_string(dir.0.join(f)).unwrap_or_default())
            .join("---\n")
    };
    let connect = || {
        let deadline = std::time::Instant::now() + DEADLINE;
        loop {
            match std::net::TcpStream::connect(("127.0.0.1", port)) {
                Ok(s) => {
                    s.set_read_timeout(Some(DEADLINE)).unwrap();
                    return s;
                }
                Err(e) => assert!(std::time::Instant::now() < deadline, "cannot connect: {e}"),
            }
            std::thread::yield_now();
        }
    };
    let mut old = spawn(&[], "old.log");
    // A live session on the old process.
    let mut live = connect();
    live.write_all(b"before").unwrap();
    let mut b = [0u8; 6];
    live.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"before");
    let mut new = spawn(&["-sf".to_string(), old.id().to_string()], "new.log");
    // The old process finishes its session, then exits 0 on its own.
    live.write_all(b"after").unwrap();
    let mut b = [0u8; 5];
    live.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"after");
    live.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    live.read_to_end(&mut rest).unwrap();
    let deadline = std::time::Instant::now() + DEADLINE;
    let status = loop {
        if let Some(st) = old.try_wait().unwrap() {
            break st;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the old process did not exit"
        );
        std::thread::yield_now();
    };
    assert!(status.success(), "{status:?}");
    // The new process serves.
    let mut c = connect();
    c.write_all(b"new").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut got = Vec::new();
    if let Err(e) = c.read_to_end(&mut got) {
        let _ = new.kill();
        let _ = new.wait();
        panic!("new process: {e}; logs:\n{}", logs());
    }
    assert_eq!(got, b"new");
    let _ = new.kill();
    let _ = new.wait();
}

#[test]
fn a_frontend_without_backend_closes_like_haproxy() {
    // haproxy 2.6 logs "fe fe/<NOSRV> -1/-1/0 0 SC 1/1/0/0/0 0/0" and the
    // client sees a clean close.
    let p = Proxy::start(
        "global\n    log stdout format raw local0\n\
         defaults\n    mode tcp\n    log global\n    option tcplog\n    timeout connect 1s\n    timeout client 10s\n    timeout server 10s\n\
         frontend fe\n    bind fd@3\n",
    );
    let mut c = p.connect();
    c.write_all(b"hello").unwrap();
    let mut got = Vec::new();
    c.read_to_end(&mut got).expect("a clean close, not a reset");
    assert!(got.is_empty());
    let log = p.next_log();
    assert!(log.contains("] fe fe/<NOSRV> -1/-1/"), "{log}");
    assert!(log.ends_with(" 0 SC 1/1/0/0/0 0/0"), "{log}");
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

/// The "Total: ..." line of a SIGQUIT dump, within the deadline.
fn quit_total(p: &Proxy) -> String {
    p.signal(nix::sys::signal::Signal::SIGQUIT);
    let end = std::time::Instant::now() + DEADLINE;
    let mut seen = Vec::new();
    while std::time::Instant::now() < end {
        for l in p.stderr_so_far() {
            if l.starts_with("Total:") {
                return l;
            }
            seen.push(l);
        }
        thread::yield_now();
    }
    panic!("no SIGQUIT dump; stderr: {seen:?}");
}

/// SIGQUIT, as in HAProxy, reports the pools and frees them: every
/// executor is asked through its inbox for its live streams (its
/// registry) and pools, and empties them. A bulk flow leaves 64 KiB
/// buffers pooled; the first dump frees them, the second finds none.
#[test]
fn sigquit_reports_each_executor_and_flushes_its_pools() {
    let be = Backend::echo();
    let p = Proxy::start(&tcp_config(&format!("    server s1 {}\n", be.addr), ""));
    // Two live sessions, and a finished bulk one.
    let mut held: Vec<_> = (0..2)
        .map(|_| {
            let mut c = p.connect();
            c.write_all(b"hold").unwrap();
            let mut b = [0u8; 4];
            c.read_exact(&mut b).unwrap();
            c
        })
        .collect();
    let big = pattern(4 << 20);
    assert!(round_trip(&p, &big) == big);
    let first = quit_total(&p);
    assert!(first.starts_with("Total: 2 streams, "), "{first}");
    let freed: usize = first
        .split_whitespace()
        .nth(3)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{first}"));
    assert!(freed >= 1, "the bulk flow's buffers were pooled: {first}");
    for c in &mut held {
        c.shutdown(Shutdown::Write).unwrap();
        let mut rest = Vec::new();
        c.read_to_end(&mut rest).unwrap();
    }
    // The two sessions end (the server closes after their FIN).
    let end = std::time::Instant::now() + DEADLINE;
    loop {
        let again = quit_total(&p);
        if again == "Total: 0 streams, 0 buffers and 0 pipes flushed" {
            break;
        }
        assert!(std::time::Instant::now() < end, "{again}");
        thread::yield_now();
    }
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
            thread::spawn(move || {
                let mut b = [0u8; 64];
                while let Ok(n) = s.read(&mut b) {
                    if n == 0 || s.write_all(&b[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    for (opt, v4_served) in [("v4v6", true), ("v6only", false)] {
        let port = std::net::TcpListener::bind("[::]:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
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
    // Three consecutive free ports (retry if one is taken meanwhile).
    let first = (0..50)
        .find_map(|_| {
            let a = TcpListener::bind("127.0.0.1:0").ok()?;
            let p = a.local_addr().ok()?.port();
            let ok =
                p < u16::MAX - 2 && (1..3).all(|i| TcpListener::bind(("127.0.0.1", p + i)).is_ok());
            drop(a);
            ok.then_some(p)
        })
        .expect("three free consecutive ports");
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
