//! `add server` keywords that reach beyond the server's own line:
//! `source` (with `usesrc`, `interface`), `track`, and the mux words
//! `proto`, `ws`, `check-proto`; their answers compared with haproxy
//! 2.6's on the same config, and their effect on the traffic and the
//! checks (where a connection comes from, whose state a server follows).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr};

use crate::harness::probe::{stat_columns, until, Target};
use crate::harness::{cli_ask, programs, start, Backend, Proxy, TempDir, DEADLINE};

/// The named column of server `sv`'s `show stat` row: its value.
fn column(sock: &str, sv: &str, name: &str) -> String {
    let col = stat_columns(&cli_ask(sock, "show stat"), sv, &[name]).remove(0);
    col[name.len() + "=".len()..].to_string()
}

/// Wait until server `sv` holds no connection (its last stream may still
/// be closing when the client has read everything).
fn idle(sock: &str, sv: &str) {
    until(&format!("{sv} kept its connections"), || {
        column(sock, sv, "scur") == "0"
    });
}

fn status(sock: &str, sv: &str) -> String {
    column(sock, sv, "status")
}

/// A server that writes the address its client came from, then closes.
fn peer_reporter() -> Backend {
    Backend::spawn(|mut s| {
        let peer = s.peer_addr().unwrap().ip().to_string();
        let _ = s.write_all(peer.as_bytes());
        let _ = s.shutdown(Shutdown::Write);
        let mut sink = [0u8; 64];
        let _ = s.read(&mut sink);
    })
}

/// What a client of `p` reads until the proxy closes ("" when no server
/// took it).
fn fetch(p: &Proxy) -> String {
    let mut c = p.connect();
    c.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut got = Vec::new();
    let _ = c.read_to_end(&mut got);
    String::from_utf8_lossy(&got).into_owned()
}

fn tcp_cfg(sock: &str, backend: &str) -> String {
    format!(
        "global\n    stats socket {sock} level admin\n\
         defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n\
         frontend fe\n    bind fd@3\n    default_backend be\n\
         backend be\n    balance roundrobin\n{backend}"
    )
}

/// The answers to the new keywords, right and wrong, as haproxy 2.6 gives
/// them; `del server` of a server an added one tracks (pinned for good).
#[test]
fn addsrc_answers_match_haproxy() {
    let a = Backend::echo();
    let mut seen = Vec::new();
    for (name, program) in programs("addsrc_answers_match_haproxy") {
        let dir = TempDir::new("addsrc");
        let sock = format!("{}/admin.sock", dir.0.display());
        let cfg = format!(
            "global\n    stats socket {sock} level admin\n\
             defaults\n    mode http\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n\
             frontend fe\n    bind fd@3\n    default_backend be\n\
             backend be\n    balance roundrobin\n\
             \x20   server s1 {a} check\n    server s2 {a}\n    server s3 {a} track s1\n\
             \x20   server s4 {a} agent-check agent-port {p} agent-inter 100s\n    server s5 {a} check\n\
             backend other\n    balance roundrobin\n    option httpchk\n    http-check disable-on-404\n    server o1 {a} check\n\
             backend tcpb\n    mode tcp\n    balance roundrobin\n    server t1 {a} check\n",
            a = a.addr,
            p = a.addr.port(),
        );
        let _p = start(name, &program, &cfg);
        let a = a.addr;
        let lines: Vec<String> = vec![
            // source
            format!("add server be/b {a} source"),
            format!("add server be/b {a} source 127.0.0.2 usesrc"),
            format!("add server be/b {a} source 127.0.0.2 interface"),
            format!("add server be/b {a} usesrc client"),
            format!("add server be/b {a} source 127.0.0.2:+5"),
            format!("add server be/b {a} source udp@127.0.0.1"),
            format!("add server be/b {a} source 127.0.0.2 usesrc 127.0.0.9:80-90"),
            format!("add server be/b {a} source 127.0.0.2 usesrc hdr_ip(x,-11)"),
            format!("add server be/b {a} source 127.0.0.2 bogus"),
            format!("add server be/a {a} source 127.0.0.2"),
            format!("add server be/f {a} source 127.0.0.2 usesrc client"),
            format!("add server be/g {a} source 0.0.0.0 usesrc clientip interface lo"),
            format!("add server be/l {a} source 127.0.0.2 usesrc 127.0.0.9:80"),
            "del server be/f".into(),
            "del server be/g".into(),
            "del server be/l".into(),
            // track
            format!("add server be/t {a} track"),
            format!("add server be/t {a} track s2"),
            format!("add server be/t {a} track nope"),
            format!("add server be/t {a} track nope/s1"),
            format!("add server be/t {a} track a"),
            format!("add server be/t {a} track other/o1"),
            format!("add server be/t {a} track s1 check"),
            format!("add server be/t {a} track s1 track s2"),
            format!("add server be/t {a} track be/"),
            format!("add server be/t {a} track /s1"),
            format!("add server be/t {a} track x/y/s1"),
            "del server be/a".into(),
            format!("add server be/t6 {a} track s1"),
            format!("add server be/t7 {a} track be/s3"),
            format!("add server be/t8 {a} track s4 agent-check agent-port 1"),
            format!("add server be/t10 {a} track tcpb/t1"),
            "del server be/t6".into(),
            "del server be/t7".into(),
            "del server be/t8".into(),
            "del server be/t10".into(),
            // A tracked server is pinned for good, its tracker gone or not.
            format!("add server be/t17 {a} track s5"),
            "disable server be/s5".into(),
            "del server be/s5".into(),
            "del server be/t17".into(),
            "del server be/s5".into(),
            // proto, ws, check-proto
            format!("add server be/p1 {a} proto h1 ws auto"),
            format!("add server be/p5 {a} proto bogus"),
            format!("add server be/p6 {a} proto"),
            format!("add server be/p7 {a} proto quic"),
            format!("add server tcpb/p8 {a} proto h1"),
            format!("add server tcpb/p9 {a} proto none"),
            format!("add server tcpb/p10 {a} proto h2"),
            format!("add server be/w2 {a} ws h1"),
            format!("add server be/w4 {a} ws"),
            format!("add server be/w5 {a} ws x"),
            format!("add server be/c1 {a} check-proto h1"),
            format!("add server be/c3 {a} check-proto"),
            format!("add server be/c4 {a} check-proto bogus"),
            format!("add server be/c8 {a} check-proto none check"),
            format!("add server tcpb/c7 {a} check-proto h1 check"),
            format!("add server other/c9 {a} check-proto none check"),
            format!("add server other/c10 {a} check-proto h1 check"),
            "del server be/p1".into(),
            "del server be/w2".into(),
            "del server be/c1".into(),
            "del server be/c8".into(),
            "del server other/c10".into(),
        ];
        let got: Vec<String> = lines.iter().map(|l| cli_ask(&sock, l)).collect();
        assert_eq!(got[9], "New server registered.\n\n", "{name}");
        seen.push((name, lines, got));
    }
    if let [(_, lines, theirs), (_, _, ours)] = &seen[..] {
        for ((l, a), b) in lines.iter().zip(ours).zip(theirs) {
            assert_eq!(a, b, "{l}: (ringlb, haproxy)");
        }
    }
}

/// What haproxy would do but ringlb cannot yet: refused, in ringlb's
/// words (docs/differences.md, Runtime API).
#[test]
fn addsrc_refuses_what_it_cannot_do() {
    let a = Backend::echo();
    let dir = TempDir::new("addsrc-not");
    let sock = format!("{}/admin.sock", dir.0.display());
    let cfg = format!(
        "global\n    stats socket {sock} level admin\n\
         defaults\n    mode http\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n\
         frontend fe\n    bind fd@3\n    default_backend be\n\
         backend be\n    balance roundrobin\n    option httpchk\n    server s1 {}\n",
        a.addr
    );
    let _p = Proxy::start(&cfg);
    let a = a.addr;
    for (line, want) in [
        (
            format!("add server be/x {a} source 127.0.0.2:1000-1010"),
            "'source 127.0.0.2:1000-1010' is not supported yet on a server added at run time.\n",
        ),
        (
            format!("add server be/x {a} source 127.0.0.2:0-100"),
            "'source 127.0.0.2:0-100' is not supported yet on a server added at run time.\n",
        ),
        (
            format!("add server be/x {a} source /tmp/x.sock"),
            "'source /tmp/x.sock' is not supported yet on a server added at run time.\n",
        ),
        (
            format!("add server be/x {a} source localhost"),
            "'source localhost' is not supported yet on a server added at run time.\n",
        ),
        (
            format!("add server be/x {a} source 127.0.0.2 usesrc hdr_ip(x-forwarded-for)"),
            "'usesrc hdr_ip(x-forwarded-for)' is not supported yet on a server added at run time.\n",
        ),
        (
            format!("add server be/x {a} proto h2"),
            "'proto h2' is not supported yet on a server added at run time.\n",
        ),
        (
            format!("add server be/x {a} proto fcgi"),
            "'proto fcgi' is not supported yet on a server added at run time.\n",
        ),
        (
            format!("add server be/x {a} proto none"),
            "'proto none' is not supported yet on a server added at run time.\n",
        ),
        (
            format!("add server be/x {a} ws h2"),
            "'ws h2' is not supported yet on a server added at run time.\n",
        ),
        (
            format!("add server be/x {a} check-proto h2 check"),
            "'check-proto h2' is not supported yet on a server added at run time.\n",
        ),
    ] {
        assert_eq!(cli_ask(&sock, &line), format!("{want}\n"), "{line}");
    }
    // Nothing was added.
    assert!(!cli_ask(&sock, "show servers state be").contains(" x "));
}

/// `add server ... source 127.0.0.2 check`: the check and the traffic
/// come from 127.0.0.2 (the check expects the address the server saw);
/// the slot's next server, added without `source`, connects from the
/// default address again.
#[test]
fn an_added_server_connects_from_its_source() {
    let be = peer_reporter();
    let mut seen = Vec::new();
    for (name, program) in programs("an_added_server_connects_from_its_source") {
        let dir = TempDir::new("addsrc-src");
        let sock = format!("{}/admin.sock", dir.0.display());
        let p = start(
            name,
            &program,
            &tcp_cfg(
                &sock,
                &format!(
                    "    option tcp-check\n    tcp-check expect string 127.0.0.2\n    server s1 {}\n",
                    be.addr
                ),
            ),
        );
        let mut got = vec![cli_ask(
            &sock,
            &format!(
                "add server be/n {} source 127.0.0.2 check inter 100ms rise 1 fall 1",
                be.addr
            ),
        )];
        got.push(cli_ask(&sock, "enable health be/n"));
        got.push(cli_ask(&sock, "set server be/n state ready"));
        until(&format!("{name}: n's check never passed"), || {
            status(&sock, "n") == "UP"
        });
        got.push(cli_ask(&sock, "set server be/s1 state maint"));
        for _ in 0..3 {
            got.push(fetch(&p));
        }
        got.push(cli_ask(&sock, "set server be/n state maint"));
        idle(&sock, "n");
        got.push(cli_ask(&sock, "del server be/n"));
        got.push(cli_ask(&sock, &format!("add server be/m {}", be.addr)));
        got.push(cli_ask(&sock, "set server be/m state ready"));
        for _ in 0..3 {
            got.push(fetch(&p));
        }
        assert_eq!(got[4], "127.0.0.2", "{name}: {got:?}");
        assert_eq!(got[11], "127.0.0.1", "{name}: {got:?}");
        seen.push(got);
    }
    if let [theirs, ours] = &seen[..] {
        assert_eq!(ours, theirs, "(ringlb, haproxy)");
    }
}

/// An added server without `source` connects from its backend's.
#[test]
fn an_added_server_takes_the_backend_source() {
    let be = peer_reporter();
    let mut seen = Vec::new();
    for (name, program) in programs("an_added_server_takes_the_backend_source") {
        let dir = TempDir::new("addsrc-besrc");
        let sock = format!("{}/admin.sock", dir.0.display());
        let p = start(
            name,
            &program,
            &tcp_cfg(
                &sock,
                &format!("    source 127.0.0.3\n    server s1 {}\n", be.addr),
            ),
        );
        // (s1 in maintenance from the configuration would leave haproxy
        // 2.6 without a usable server for the first connection.)
        let got = vec![
            cli_ask(&sock, "set server be/s1 state maint"),
            cli_ask(&sock, &format!("add server be/n {}", be.addr)),
            cli_ask(&sock, "set server be/n state ready"),
            fetch(&p),
            cli_ask(&sock, "set server be/n state maint"),
            {
                idle(&sock, "n");
                cli_ask(&sock, "del server be/n")
            },
            cli_ask(
                &sock,
                &format!("add server be/m {} source 127.0.0.4", be.addr),
            ),
            cli_ask(&sock, "set server be/m state ready"),
            fetch(&p),
        ];
        assert_eq!(got[3], "127.0.0.3", "{name}: {got:?}");
        assert_eq!(got[8], "127.0.0.4", "{name}: {got:?}");
        seen.push(got);
    }
    if let [theirs, ours] = &seen[..] {
        assert_eq!(ours, theirs, "(ringlb, haproxy)");
    }
}

/// `add server ... track s1`: the added server follows s1's check down
/// and back up (no traffic while down), shows it tracks s1, and pins s1
/// (`del server` refuses it); deleted, its slot's next server follows
/// nothing.
#[test]
fn an_added_server_follows_the_server_it_tracks() {
    let tb = Backend::spawn(|mut s| {
        let _ = s.write_all(b"T");
        let _ = s.shutdown(Shutdown::Write);
        let mut sink = [0u8; 64];
        let _ = s.read(&mut sink);
    });
    let mut seen = Vec::new();
    for (name, program) in programs("an_added_server_follows_the_server_it_tracks") {
        let dir = TempDir::new("addsrc-track");
        let sock = format!("{}/admin.sock", dir.0.display());
        let mut target = Target::start(b"pong\n");
        let p = start(
            name,
            &program,
            &tcp_cfg(
                &sock,
                &format!(
                    "    option tcp-check\n    tcp-check send ping\\n\n    tcp-check expect string pong\n\
                     \x20   server s1 {} check inter 100ms rise 1 fall 1 weight 0\n",
                    target.addr
                ),
            ),
        );
        until(&format!("{name}: s1 never came up"), || {
            status(&sock, "s1") == "UP"
        });
        let mut got = vec![cli_ask(
            &sock,
            &format!("add server be/t {} track s1", tb.addr),
        )];
        got.push(column(&sock, "t", "tracked"));
        got.push(status(&sock, "t"));
        got.push(cli_ask(&sock, "set server be/t state ready"));
        until(&format!("{name}: t never came up"), || {
            status(&sock, "t") == "UP"
        });
        got.push(fetch(&p));
        // The state lines count t's sessions: the fetch's has ended.
        idle(&sock, "t");
        // s1's check fails: t goes down with it and takes no traffic.
        let at = target.addr;
        target.kill();
        until(&format!("{name}: t never went down"), || {
            status(&sock, "t") == "DOWN"
        });
        got.push(status(&sock, "s1"));
        got.push(fetch(&p));
        let mut target = Target::on(&at.to_string(), b"pong\n");
        until(&format!("{name}: t never came back"), || {
            status(&sock, "t") == "UP"
        });
        got.push(status(&sock, "s1"));
        got.push(fetch(&p));
        idle(&sock, "t");
        // s1 in maintenance: t too (via s1); s1 cannot be deleted.
        got.push(cli_ask(&sock, "set server be/s1 state maint"));
        got.push(status(&sock, "t"));
        got.push(cli_ask(&sock, "del server be/s1"));
        got.push(cli_ask(&sock, "set server be/s1 state ready"));
        until(&format!("{name}: t never left maintenance"), || {
            status(&sock, "t") == "UP"
        });
        // t goes; its slot's next server follows nothing.
        got.push(cli_ask(&sock, "set server be/t state maint"));
        idle(&sock, "t");
        got.push(cli_ask(&sock, "del server be/t"));
        got.push(cli_ask(&sock, &format!("add server be/u {}", tb.addr)));
        got.push(column(&sock, "u", "tracked"));
        got.push(cli_ask(&sock, "set server be/u state ready"));
        target.kill();
        until(&format!("{name}: s1 never went down"), || {
            status(&sock, "s1") == "DOWN"
        });
        got.push(status(&sock, "u"));
        got.push(fetch(&p));
        // The state lines (twelve), heads and check durations masked.
        let mut lines: Vec<String> = Vec::new();
        until(&format!("{name}: not the twelve lines: {lines:?}"), || {
            lines.extend(
                p.stderr_so_far()
                    .iter()
                    .filter(|l| l.contains("Server be/"))
                    .map(|l| l.split_once(") : ").map_or(l.as_str(), |x| x.1))
                    .map(|l| l.strip_prefix("CLI : ").unwrap_or(l).to_string())
                    .map(|l| match l.find("check duration: ") {
                        Some(i) => l[..i].to_string(),
                        None => l,
                    })
                    // A check connection the kernel queued when the
                    // target closed is reset ("at step 2"), one after it
                    // is refused: either proxy may see either.
                    .map(|l| match l.find(", reason: ") {
                        Some(i) => l[..i].to_string(),
                        None => l,
                    }),
            );
            lines.len() >= 12
        });
        assert_eq!(
            lines[2],
            "Server be/t is DOWN via be/s1. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.",
            "{name}: {lines:?}"
        );
        got.extend(lines);
        assert_eq!(got[1], "be/s1", "{name}: {got:?}");
        assert_eq!(got[4], "T", "{name}: {got:?}");
        assert_eq!(got[6], "", "{name}: {got:?}");
        assert_eq!(got[8], "T", "{name}: {got:?}");
        assert_eq!(got[10], "MAINT (via be/s1)", "{name}: {got:?}");
        // (haproxy shows a server without check as "no check".)
        assert_eq!(got[18], "no check", "{name}: {got:?}");
        assert_eq!(got[19], "T", "{name}: {got:?}");
        seen.push(got);
    }
    if let [theirs, ours] = &seen[..] {
        assert_eq!(ours, theirs, "(ringlb, haproxy)");
    }
}

/// Trackers follow the tracked server in haproxy 2.6's order: the last
/// added first, then the configured ones, the last declared first (across
/// backends too), which orders their state lines.
#[test]
fn trackers_follow_in_haproxy_s_order() {
    for (name, program) in programs("trackers_follow_in_haproxy_s_order") {
        let dir = TempDir::new("addsrc-order");
        let sock = format!("{}/admin.sock", dir.0.display());
        let mut target = Target::start(b"pong\n");
        let t = target.addr;
        let cfg = format!(
            "global\n    stats socket {sock} level admin\n\
             defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n\
             frontend fe\n    bind fd@3\n    default_backend be\n\
             backend z\n    server z1 {t} track be/s1\n\
             backend be\n    balance roundrobin\n    server s1 {t} check inter 100ms rise 1 fall 1\n\
             \x20   server s3 {t} track s1\n    server s4 {t} track s1\n\
             backend y\n    server y1 {t} track be/s1\n"
        );
        let p = start(name, &program, &cfg);
        until(&format!("{name}: s1 never came up"), || {
            status(&sock, "s1") == "UP"
        });
        for l in [
            format!("add server be/d1 {t} track s1"),
            format!("add server be/d2 {t} track s1"),
            "set server be/d1 state ready".to_string(),
            "set server be/d2 state ready".to_string(),
        ] {
            cli_ask(&sock, &l);
        }
        target.kill();
        let mut lines: Vec<String> = Vec::new();
        until(&format!("{name}: not six lines: {lines:?}"), || {
            lines.extend(
                p.stderr_so_far()
                    .iter()
                    .filter(|l| l.contains(" DOWN via be/s1"))
                    .filter_map(|l| l.split(" : ").last())
                    .filter_map(|l| l.split(" is DOWN").next())
                    .map(String::from),
            );
            lines.len() >= 6
        });
        assert_eq!(
            lines,
            [
                "Server be/d2",
                "Server be/d1",
                "Server y/y1",
                "Server be/s4",
                "Server be/s3",
                "Server z/z1"
            ],
            "{name}"
        );
    }
}

/// `del server` takes a configured server that tracks another (haproxy
/// 2.6 releases its track); the next server in its slot follows nothing.
#[test]
fn a_configured_tracker_can_be_deleted() {
    let tb = Backend::spawn(|mut s| {
        let _ = s.write_all(b"N");
        let _ = s.shutdown(Shutdown::Write);
        let mut sink = [0u8; 64];
        let _ = s.read(&mut sink);
    });
    let mut seen = Vec::new();
    for (name, program) in programs("a_configured_tracker_can_be_deleted") {
        let dir = TempDir::new("addsrc-deltrk");
        let sock = format!("{}/admin.sock", dir.0.display());
        let mut target = Target::start(b"pong\n");
        let t = target.addr;
        let p = start(
            name,
            &program,
            &tcp_cfg(
                &sock,
                &format!(
                    "    server s1 {t} check inter 100ms rise 1 fall 1 weight 0\n    server s3 {t} track s1 weight 0\n"
                ),
            ),
        );
        until(&format!("{name}: s1 never came up"), || {
            status(&sock, "s1") == "UP"
        });
        let mut got = vec![
            cli_ask(&sock, "set server be/s3 state maint"),
            cli_ask(&sock, "del server be/s3"),
            cli_ask(&sock, &format!("add server be/n {}", tb.addr)),
            cli_ask(&sock, "set server be/n state ready"),
        ];
        got.push(column(&sock, "n", "tracked"));
        target.kill();
        until(&format!("{name}: s1 never went down"), || {
            status(&sock, "s1") == "DOWN"
        });
        got.push(status(&sock, "n"));
        got.push(fetch(&p));
        assert_eq!(got[1], "Server deleted.\n", "{name}: {got:?}");
        assert_eq!(got[6], "N", "{name}: {got:?}");
        seen.push(got);
    }
    if let [theirs, ours] = &seen[..] {
        assert_eq!(ours, theirs, "(ringlb, haproxy)");
    }
}

/// `add server ... source 0.0.0.0 usesrc clientip|client` presents the
/// client's address (and port) to the server, in a frontend that logs
/// nothing: the client's address is kept for every accepted connection
/// (IP_TRANSPARENT: root or CAP_NET_ADMIN).
#[test]
fn an_added_server_presents_the_client_address() {
    if !nix::unistd::geteuid().is_root() {
        assert!(
            std::env::var_os("CI").is_none(),
            "usesrc needs root (IP_TRANSPARENT); CI runs as root"
        );
        eprintln!("skipped: usesrc needs root");
        return;
    }
    let be = Backend::spawn(|mut s| {
        let peer = s.peer_addr().unwrap().to_string();
        let _ = s.write_all(peer.as_bytes());
        let _ = s.shutdown(Shutdown::Write);
        let mut sink = [0u8; 64];
        let _ = s.read(&mut sink);
    });
    for (name, program) in programs("an_added_server_presents_the_client_address") {
        let dir = TempDir::new("addsrc-usesrc");
        let sock = format!("{}/admin.sock", dir.0.display());
        let p = start(
            name,
            &program,
            &tcp_cfg(&sock, &format!("    server s1 {}\n", be.addr)),
        );
        cli_ask(&sock, "set server be/s1 state maint");
        for (n, (usesrc, from)) in [("clientip", "127.0.0.3:0"), ("client", "127.0.0.4:0")]
            .into_iter()
            .enumerate()
        {
            let sv = format!("n{n}");
            let add = format!(
                "add server be/{sv} {} source 0.0.0.0 usesrc {usesrc}",
                be.addr
            );
            assert_eq!(cli_ask(&sock, &add), "New server registered.\n\n", "{name}");
            cli_ask(&sock, &format!("set server be/{sv} state ready"));
            let s =
                socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
            s.set_reuse_address(true).unwrap();
            s.bind(&from.parse::<SocketAddr>().unwrap().into()).unwrap();
            s.connect_timeout(&p.addr.into(), DEADLINE).unwrap();
            let mut c: std::net::TcpStream = s.into();
            c.set_read_timeout(Some(DEADLINE)).unwrap();
            let me = c.local_addr().unwrap();
            let mut seen = String::new();
            c.read_to_string(&mut seen).unwrap();
            let seen: SocketAddr = seen
                .parse()
                .unwrap_or_else(|e| panic!("{name} usesrc {usesrc}: {seen:?}: {e}"));
            if usesrc == "client" {
                assert_eq!(seen, me, "{name} usesrc {usesrc}");
            } else {
                assert_eq!(seen.ip(), me.ip(), "{name} usesrc {usesrc}");
            }
            drop(c);
            cli_ask(&sock, &format!("set server be/{sv} state maint"));
            idle(&sock, &sv);
            assert_eq!(
                cli_ask(&sock, &format!("del server be/{sv}")),
                "Server deleted.\n",
                "{name}"
            );
        }
    }
}

/// `proto h1 ws h1 check-proto h1` on a server added to an HTTP backend:
/// the HTTP/1 it serves anyway.
#[test]
fn an_added_server_with_proto_h1_serves_http() {
    let be = Backend::spawn(|mut s| {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match s.read(&mut byte) {
                Ok(1) => head.push(byte[0]),
                _ => return,
            }
        }
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
    });
    let mut seen = Vec::new();
    for (name, program) in programs("an_added_server_with_proto_h1_serves_http") {
        let dir = TempDir::new("addsrc-h1");
        let sock = format!("{}/admin.sock", dir.0.display());
        let cfg = format!(
            "global\n    stats socket {sock} level admin\n\
             defaults\n    mode http\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n\
             frontend fe\n    bind fd@3\n    default_backend be\n\
             backend be\n    balance roundrobin\n    server s1 {a}\n",
            a = be.addr
        );
        let p = start(name, &program, &cfg);
        let mut got = vec![
            cli_ask(&sock, "set server be/s1 state maint"),
            cli_ask(
                &sock,
                &format!("add server be/n {} proto h1 ws h1 check-proto h1", be.addr),
            ),
            cli_ask(&sock, "set server be/n state ready"),
        ];
        let mut c = p.connect();
        c.set_read_timeout(Some(DEADLINE)).unwrap();
        c.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        let _ = c.read_to_string(&mut answer);
        got.push(answer.lines().next().unwrap_or("").to_string());
        got.push(answer.rsplit("\r\n").next().unwrap_or("").to_string());
        assert_eq!(got[3], "HTTP/1.1 200 OK", "{name}: {got:?}");
        assert_eq!(got[4], "ok", "{name}: {got:?}");
        seen.push(got);
    }
    if let [theirs, ours] = &seen[..] {
        assert_eq!(ours, theirs, "(ringlb, haproxy)");
    }
}
