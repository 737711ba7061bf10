//! Fixes of 7 December, checked against haproxy with the same input: a
//! server `disabled` in the configuration and enabled at run time.

use std::time::{Duration, Instant};

use crate::harness::{cli_ask, programs, round_trip, start, Backend, TempDir, DEADLINE};

/// `show servers state be`, its seconds-since-last-change column masked.
fn state(sock: &str) -> String {
    cli_ask(sock, "show servers state be")
        .lines()
        .map(|l| {
            let mut w: Vec<&str> = l.split(' ').collect();
            if !l.starts_with('#') && w.len() > 9 {
                w[9] = "T";
            }
            w.join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `disabled` puts a server in maintenance with the configuration's
/// marker (admin 5: FMAINT and CMAINT); `enable server` and `set server
/// ... state ready` clear FMAINT only, and the server is up (op_state 2,
/// admin 4: CMAINT stays as a marker) and takes traffic, a checked one once
/// its check passes. The whole `show servers state` lines agree with
/// haproxy's at each step.
#[test]
fn a_disabled_server_enabled_at_run_time() {
    let be = Backend::echo();
    let mut answers = Vec::new();
    for (name, program) in programs("a_disabled_server_enabled_at_run_time") {
        let dir = TempDir::new("fixes");
        let sock = format!("{}/s.sock", dir.0.display());
        let cfg = format!(
            "global\n    stats socket {sock} level admin\n\
             defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n\
             frontend fe\n    bind fd@3\n    default_backend be\n\
             backend be\n    server s1 {a} disabled\n    server s2 {a} disabled\n    \
             server s3 {a} disabled check inter 100ms\n",
            a = be.addr
        );
        let p = start(name, &program, &cfg);
        let mut got = vec![state(&sock)];
        got.push(cli_ask(&sock, "enable server be/s1"));
        got.push(cli_ask(&sock, "set server be/s2 state ready"));
        got.push(cli_ask(&sock, "enable server be/s3"));
        // s3 is up at once, its check's health rising to the top
        // (`UP 1/3`, then `UP`).
        let end = Instant::now() + DEADLINE;
        let s3_up = || {
            cli_ask(&sock, "show stat")
                .lines()
                .any(|l| l.starts_with("be,s3,") && l.split(',').nth(17) == Some("UP"))
        };
        while !s3_up() {
            assert!(Instant::now() < end, "{name}: s3's check never rose");
            std::thread::sleep(Duration::from_millis(20));
        }
        let now = state(&sock);
        got.push(now);
        // Each takes traffic now (roundrobin over the three).
        assert_eq!(round_trip(&p, b"ping"), b"ping", "{name}");
        let csv = cli_ask(&sock, "show stat");
        for s in ["s1", "s2", "s3"] {
            let row = csv
                .lines()
                .find(|l| l.starts_with(&format!("be,{s},")))
                .unwrap();
            let status = row.split(',').nth(17).unwrap();
            assert!(status == "UP" || status == "no check", "{name}: {s}: {row}");
        }
        answers.push((name, got));
    }
    let ours = &answers.iter().find(|a| a.0 == "ringlb").unwrap().1;
    assert!(
        ours[0]
            .lines()
            .any(|l| l.contains(" s1 ") && l.contains(" 0 5 ")),
        "disabled: stopped, FMAINT|CMAINT: {}",
        ours[0]
    );
    assert!(
        ours[4]
            .lines()
            .all(|l| l.starts_with('#') || !l.contains(' ') || l.contains(" 2 4 ")),
        "enabled: running, CMAINT left: {}",
        ours[4]
    );
    if let Some((_, theirs)) = answers.iter().find(|a| a.0 == "haproxy") {
        for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
            assert_eq!(a, b, "answer {i} differs");
        }
    }
}

fn info_field(info: &str, key: &str) -> u64 {
    info.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|v| v.strip_prefix(": ")))
        .unwrap_or_else(|| panic!("no {key} in {info}"))
        .parse()
        .unwrap()
}

/// Without a global maxconn, both derive it from the fd limit with
/// HAProxy's arithmetic (compute_ideal_maxconn); ringlb counts one
/// listening socket per executor for each bind address, since it opens
/// them (docs/differences.md, "Automatic maxconn and the listeners' fds").
#[test]
fn automatic_maxconn_counts_each_executor_s_listener() {
    let be = Backend::echo();
    let (soft, hard) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
    let nofile = if hard == nix::sys::resource::RLIM_INFINITY {
        soft
    } else {
        soft.max(hard)
    }
    .min(1 << 20);
    for (name, program) in programs("automatic_maxconn_counts_each_executor_s_listener") {
        let dir = TempDir::new("fixes");
        let sock = format!("{}/s.sock", dir.0.display());
        // Three bind addresses (fd@3 and two UNIX ones), one stats socket.
        let d = dir.0.display();
        let cfg = format!(
            "global\n    stats socket {sock} level admin\n\
             defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n\
             frontend fe\n    bind fd@3\n    bind {d}/a.sock\n    bind {d}/b.sock\n    default_backend be\n\
             backend be\n    server s1 {}\n",
            be.addr
        );
        let _p = start(name, &program, &cfg);
        let info = cli_ask(&sock, "show info");
        let threads = info_field(&info, "Nbthread");
        let maxconn = info_field(&info, "Maxconn");
        // 10 reserved, the stats socket and its 10 connections, three fds
        // per thread, and the bind addresses: once each in haproxy, once
        // per executor in ringlb.
        let listeners = if name == "ringlb" { 3 * threads } else { 3 };
        let extra = 10 + 1 + 10 + 3 * threads + listeners;
        let want = (nofile.saturating_sub(extra) / 2).max(100);
        assert_eq!(maxconn, want, "{name}: nofile {nofile}, {threads} threads");
        let csv = cli_ask(&sock, "show stat");
        let slim = csv
            .lines()
            .find(|l| l.starts_with("fe,FRONTEND,"))
            .and_then(|l| l.split(',').nth(6))
            .unwrap()
            .to_string();
        assert_eq!(slim, maxconn.to_string(), "{name}: the frontend's slim");
    }
}

/// A client that connects and resets before the test server accepts it.
fn reset_before_accept(addr: std::net::SocketAddr) {
    let c = std::net::TcpStream::connect(addr).unwrap();
    socket2::SockRef::from(&c)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(c);
    // The RST reaches the listener's queue (loopback: at once; the wait
    // is for a loaded machine).
    std::thread::sleep(Duration::from_millis(50));
}

/// The harness's accept loops skip a connection reset before its accept
/// (its peer address is gone) and go on accepting: the next client is
/// served. The first half shows the kernel hands such a connection to
/// accept() (the case the harness once unwrapped and died on).
#[test]
fn test_servers_survive_a_client_reset_before_accept() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    reset_before_accept(addr);
    let (s, _) = l.accept().unwrap();
    assert!(
        s.peer_addr().is_err(),
        "accept() returned a connection still whole"
    );

    reset_before_accept(addr);
    let good = std::net::TcpStream::connect(addr).unwrap();
    let (_, peer) = crate::harness::accepted(&l).next().unwrap();
    assert_eq!(peer, good.local_addr().unwrap());

    // And a Backend keeps serving after one.
    let be = Backend::echo();
    reset_before_accept(be.addr);
    let mut c = std::net::TcpStream::connect(be.addr).unwrap();
    c.set_read_timeout(Some(DEADLINE)).unwrap();
    use std::io::{Read, Write};
    c.write_all(b"ping").unwrap();
    let mut got = [0u8; 4];
    c.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"ping");
}
