//! The server-line keywords `add server` takes beyond the address, weight
//! and id: a health check (`check`, `inter`, `fastinter`, `downinter`,
//! `rise`, `fall`, `port`, `addr`), configured but disabled until `enable
//! health` as haproxy 2.6 adds it, and what `del server` does with it;
//! compared with haproxy 2.6 on the same commands, against real check
//! targets on loopback that count what reaches them and can be killed.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use crate::harness::probe::{stat_columns, until, Target};
use crate::harness::{cli_ask, programs, start, Backend, Proxy, TempDir};

/// The named columns of server `sv`'s `show stat` row.
fn columns(sock: &str, sv: &str, names: &[&str]) -> Vec<String> {
    stat_columns(&cli_ask(sock, "show stat"), sv, names)
}

fn status(sock: &str, sv: &str) -> String {
    columns(sock, sv, &["status"])[0]
        .trim_start_matches("status=")
        .to_string()
}

/// Server `sv`'s `show servers state` line, its seconds since the last
/// change masked.
fn state(sock: &str, sv: &str) -> String {
    let out = cli_ask(sock, "show servers state be");
    let line = out
        .lines()
        .find(|l| l.split(' ').nth(3) == Some(sv))
        .unwrap_or_else(|| panic!("no {sv} in {out}"));
    let mut w: Vec<&str> = line.split(' ').collect();
    w[9] = "T";
    w.join(" ")
}

/// The state lines on stderr so far, without the "[WARNING]  (pid) : "
/// head and with the check duration masked.
fn state_lines(p: &Proxy, into: &mut Vec<String>) {
    into.extend(
        p.stderr_so_far()
            .iter()
            // (ringlb does not echo the CLI's own answers there.)
            .filter(|l| l.contains("Server be/") || l.contains("no server"))
            .map(|l| l.split_once(") : ").map_or(l.as_str(), |x| x.1))
            // haproxy 2.6 heads every warning of the thread that ran a CLI
            // command with "CLI : ", state changes of checks included.
            .map(|l| l.strip_prefix("CLI : ").unwrap_or(l).to_string())
            .map(|l| match (l.find("check duration: "), l.find("ms.")) {
                (Some(i), Some(j)) if i < j => {
                    format!("{}check duration: Nms.{}", &l[..i], &l[j + 3..])
                }
                _ => l,
            }),
    );
}

/// A tcp-check that sends a line and expects `pong` (a pure connect check
/// would not reach the target's accept: it resets before its last ACK).
fn config(sock: &str, servers: &str) -> String {
    format!(
        "global\n    stats socket {sock} level admin\n\
         defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n\
         frontend fe\n    bind fd@3\n    default_backend be\n\
         backend be\n    balance roundrobin\n    option tcp-check\n    tcp-check send ping\\n\n    tcp-check expect string pong\n{servers}"
    )
}

/// A proxy on [`config`] with `server s1 <s1>`: the proxy, its admin
/// socket and the folder that holds the socket.
fn run(name: &str, program: &Path, tag: &str, s1: SocketAddr) -> (Proxy, String, TempDir) {
    let dir = TempDir::new(tag);
    let sock = format!("{}/admin.sock", dir.0.display());
    let p = start(
        name,
        program,
        &config(&sock, &format!("    server s1 {s1}\n")),
    );
    (p, sock, dir)
}

/// `add server ... check`: configured, disabled, nothing checks the
/// target; `enable health` and `enable server` start it, the target sees
/// the checks, its death takes the server DOWN with haproxy's line; `del
/// server` takes it once in maintenance (haproxy 2.6 purges its check),
/// and the slot's next server has no check. On both proxies, the same
/// answers, state columns and lines.
#[test]
fn an_added_server_s_check_runs_once_enabled() {
    let be = Backend::echo();
    let mut seen = Vec::new();
    for (name, program) in programs("an_added_server_s_check_runs_once_enabled") {
        let mut target = Target::start(b"pong\n");
        let (p, sock, _dir) = run(name, &program, "addkw", be.addr);
        let mut got = Vec::new();
        let add = format!(
            "add server be/n {} check inter 100ms rise 1 fall 1 port {}",
            be.addr,
            target.addr.port()
        );
        got.push(cli_ask(&sock, &add));
        got.push(state(&sock, "n"));
        let cols = [
            "status",
            "check_status",
            "check_rise",
            "check_fall",
            "check_health",
            "chkfail",
        ];
        got.push(columns(&sock, "n", &cols).join(","));
        std::thread::sleep(Duration::from_millis(400));
        assert_eq!(target.count(), 0, "{name}: a disabled check ran");
        got.push(cli_ask(&sock, "enable health be/n"));
        // Created in maintenance, not put there: haproxy 2.6 does not
        // pause its check, which counts up and leaves the server alone.
        until(&format!("{name}: the enabled check never ran"), || {
            target.count() >= 3
        });
        until(&format!("{name}: the check's counter never rose"), || {
            state(&sock, "n").split(' ').nth(12) == Some("1")
        });
        got.push(state(&sock, "n"));
        got.push(columns(&sock, "n", &cols).join(","));
        assert_eq!(status(&sock, "n"), "MAINT", "{name}");
        got.push(cli_ask(&sock, "enable server be/n"));
        until(&format!("{name}: the target was never checked"), || {
            target.count() >= 2
        });
        assert_eq!(status(&sock, "n"), "UP", "{name}");
        got.push(columns(&sock, "n", &["status", "check_status", "check_health"]).join(","));
        // The target dies: fall 1 takes the server down.
        target.kill();
        until(
            &format!("{name}: the dead target never took n down"),
            || status(&sock, "n") == "DOWN",
        );
        got.push(state(&sock, "n"));
        got.push(cli_ask(&sock, "del server be/n"));
        got.push(cli_ask(&sock, "disable server be/n"));
        got.push(cli_ask(&sock, "del server be/n"));
        // The slot's next server has no check.
        got.push(cli_ask(&sock, &format!("add server be/m {}", be.addr)));
        got.push(state(&sock, "m"));
        got.push(cli_ask(&sock, "enable health be/m"));
        let mut lines = Vec::new();
        until(&format!("{name}: not the three lines: {lines:?}"), || {
            state_lines(&p, &mut lines);
            lines.len() >= 3
        });
        assert_eq!(got[0], "New server registered.\n\n", "{name}");
        assert_eq!(
            lines[0], "Server be/n is UP/READY (leaving forced maintenance).",
            "{name}: {lines:?}"
        );
        assert!(
            lines[1].starts_with("Server be/n is DOWN, reason: Layer4 connection problem"),
            "{name}: {lines:?}"
        );
        // Each run has its own target.
        let tp = target.addr.port().to_string();
        let got: Vec<String> = got.iter().map(|g| g.replace(&tp, "TP")).collect();
        seen.push((name, got, lines));
    }
    if let [(_, theirs, their_lines), (_, ours, our_lines)] = &seen[..] {
        for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
            assert_eq!(a, b, "answer {i} differs (ringlb, haproxy)");
        }
        assert_eq!(our_lines, their_lines, "(ringlb, haproxy)");
    }
}

/// The check keywords' refusals, in haproxy 2.6's words.
#[test]
fn check_keywords_refused_as_haproxy_refuses_them() {
    let be = Backend::echo();
    let mut seen = Vec::new();
    for (name, program) in programs("check_keywords_refused_as_haproxy_refuses_them") {
        let (_p, sock, _dir) = run(name, &program, "addkw-err", be.addr);
        let a = be.addr;
        let got: Vec<String> = [
            format!("add server be/x {a} rise 0"),
            format!("add server be/x {a} rise"),
            format!("add server be/x {a} fall -1"),
            format!("add server be/x {a} inter 0"),
            format!("add server be/x {a} inter 1x"),
            format!("add server be/x {a} fastinter"),
            "add server be/x 127.0.0.1 check".to_string(),
            format!("add server be/x {a} check addr nowhere"),
            format!("add server be/y 127.0.0.1 check port {}", a.port()),
            format!("add server be/z {a} check downinter 1s fastinter 50 fall 4"),
            format!("add server be/a1 {a} agent-check"),
            format!("add server be/a3 {a} agent-port"),
            format!("add server be/a3 {a} agent-addr"),
            format!("add server be/a3 {a} agent-addr nowhere"),
            format!("add server be/a3 {a} agent-inter 0"),
            format!("add server be/a3 {a} agent-send"),
            format!("add server be/a3 {a} agent-port abc"),
            format!("add server be/a4 {a} agent-port 70000"),
            format!("add server be/a5 {a} agent-check port 7000 agent-addr 127.0.0.2"),
            format!("add server be/a6 {a} agent-check agent-port 7001 agent-inter 1s addr 127.0.0.3 agent-send x"),
            "enable agent be/a6".to_string(),
            format!("add server be/o1 {a} observe layer7"),
            format!("add server be/o2 {a} observe bogus"),
            format!("add server be/o3 {a} observe"),
            format!("add server be/o4 {a} error-limit 0"),
            format!("add server be/o4 {a} error-limit"),
            format!("add server be/o4 {a} on-error foo"),
            format!("add server be/o4 {a} on-error"),
            format!("add server be/o4 {a} on-marked-down foo"),
            format!("add server be/o4 {a} on-marked-up foo"),
            // Deletions between the additions (their slots are refilled).
            "del server be/y".to_string(),
            "del server be/z".to_string(),
            "del server be/a3".to_string(),
            format!("add server be/o5 {a} maxqueue 5 minconn 3 maxconn 2"),
            format!("add server be/o6 {a} maxqueue"),
            format!("add server be/o7 {a} check check-send-proxy observe layer4 on-error mark-down error-limit 3 on-marked-down shutdown-sessions on-marked-up shutdown-backup-sessions backup"),
            "show servers state be".to_string(),
        ]
        .iter()
        .map(|l| cli_ask(&sock, l))
        .map(|s| {
            // The seconds since the last change; the lines sorted (ringlb
            // shows a reused slot where it is, haproxy appends).
            let mut lines: Vec<String> = s
                .lines()
                .map(|l| {
                    let mut w: Vec<&str> = l.split(' ').collect();
                    if w.len() > 20 {
                        w[9] = "T";
                    }
                    w.join(" ")
                })
                .collect();
            if s.starts_with("1\n#") {
                lines.sort();
            }
            lines.join("\n")
        })
        .collect();
        assert_eq!(got[0], "'rise' has to be > 0..\n", "{name}");
        let mut got = got;
        for sv in ["o5", "o6", "o7"] {
            got.push(columns(&sock, sv, &["status", "slim", "qlimit", "act", "bck"]).join(","));
        }
        seen.push(got);
    }
    if let [theirs, ours] = &seen[..] {
        for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
            assert_eq!(a, b, "answer {i} differs (ringlb, haproxy)");
        }
    }
}

/// `add server ... agent-check`: disabled until `enable agent`, then the
/// agent receives its `agent-send` and its `down` takes the server down
/// once out of maintenance. On both proxies, the same columns and lines.
#[test]
fn an_added_server_s_agent_runs_once_enabled() {
    let be = Backend::echo();
    let mut seen = Vec::new();
    for (name, program) in programs("an_added_server_s_agent_runs_once_enabled") {
        let agent = Target::start(b"down\n");
        let (p, sock, _dir) = run(name, &program, "addkw-agent", be.addr);
        let mut got = Vec::new();
        let add = format!(
            "add server be/n {} agent-check agent-port {} agent-inter 100ms agent-send hello",
            be.addr,
            agent.addr.port()
        );
        got.push(cli_ask(&sock, &add));
        got.push(state(&sock, "n"));
        std::thread::sleep(Duration::from_millis(400));
        assert_eq!(agent.count(), 0, "{name}: a disabled agent ran");
        got.push(cli_ask(&sock, "enable agent be/n"));
        until(&format!("{name}: the agent was never asked"), || {
            agent.count() >= 2
        });
        let sent = agent.last_received().unwrap_or_default();
        assert_eq!(sent, b"hello", "{name}");
        got.push(state(&sock, "n"));
        got.push(cli_ask(&sock, "enable server be/n"));
        until(&format!("{name}: the agent never took n down"), || {
            status(&sock, "n") == "DOWN (agent)"
        });
        got.push(cli_ask(&sock, "disable server be/n"));
        std::thread::sleep(Duration::from_millis(300));
        let mut lines = Vec::new();
        state_lines(&p, &mut lines);
        got.push(cli_ask(&sock, "del server be/n"));
        let tp = agent.addr.port().to_string();
        let got: Vec<String> = got.iter().map(|g| g.replace(&tp, "TP")).collect();
        let lines: Vec<String> = lines.iter().map(|g| g.replace(&tp, "TP")).collect();
        seen.push((got, lines));
    }
    if let [(theirs, their_lines), (ours, our_lines)] = &seen[..] {
        for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
            assert_eq!(a, b, "answer {i} differs (ringlb, haproxy)");
        }
        assert_eq!(our_lines, their_lines, "(ringlb, haproxy)");
    }
}

/// One byte through the proxy and back, `n` times.
fn exchange(p: &Proxy, n: usize) {
    for _ in 0..n {
        let mut c = p.connect();
        c.write_all(b"x").unwrap();
        let mut b = [0u8; 1];
        c.read_exact(&mut b).unwrap();
    }
}

/// `add server ... backup`: the added server takes traffic only while
/// the active server is down, and the stats count it a backup server. On
/// both proxies, the same answers, split and columns.
#[test]
fn an_added_backup_server_serves_only_without_actives() {
    let s1 = Backend::echo();
    let bk = Backend::echo();
    let mut seen = Vec::new();
    for (name, program) in programs("an_added_backup_server_serves_only_without_actives") {
        let (p, sock, _dir) = run(name, &program, "addkw-backup", s1.addr);
        let mut got = Vec::new();
        got.push(cli_ask(
            &sock,
            &format!("add server be/b {} backup", bk.addr),
        ));
        got.push(cli_ask(&sock, "enable server be/b"));
        let (_, _) = (s1.count(), bk.count());
        exchange(&p, 6);
        got.push(format!("{} {}", s1.count(), bk.count()));
        got.push(columns(&sock, "b", &["status", "act", "bck"]).join(","));
        got.push(cli_ask(&sock, "disable server be/s1"));
        exchange(&p, 6);
        got.push(format!("{} {}", s1.count(), bk.count()));
        got.push(cli_ask(&sock, "enable server be/s1"));
        exchange(&p, 6);
        got.push(format!("{} {}", s1.count(), bk.count()));
        // A slot that held a backup server holds an active one next.
        got.push(cli_ask(&sock, "disable server be/b"));
        got.push(cli_ask(&sock, "del server be/b"));
        got.push(cli_ask(&sock, &format!("add server be/a {}", bk.addr)));
        got.push(cli_ask(&sock, "enable server be/a"));
        exchange(&p, 6);
        got.push(format!("{} {}", s1.count(), bk.count()));
        got.push(columns(&sock, "a", &["status", "act", "bck"]).join(","));
        assert_eq!(got[2], "6 0", "{name}: the backup served with s1 up");
        assert_eq!(got[5], "0 6", "{name}: the backup did not take over");
        assert_eq!(got[7], "6 0", "{name}: s1 did not take back");
        // Each core of ringlb has its own round robin: a share, not
        // haproxy's exact alternation.
        let split: Vec<usize> = got[12].split(' ').map(|x| x.parse().unwrap()).collect();
        assert!(
            split[0] + split[1] == 6 && split[1] >= 1,
            "{name}: the slot's next server is active: {split:?}"
        );
        got[12] = String::new();
        seen.push(got);
    }
    if let [theirs, ours] = &seen[..] {
        assert_eq!(ours, theirs, "(ringlb, haproxy)");
    }
}

/// `add server ... slowstart`: once enabled the added server warms up
/// (its weight and throttle as haproxy shows them), and the warm-up ends
/// with haproxy's line.
#[test]
fn an_added_server_warms_up() {
    let s1 = Backend::echo();
    let s2 = Backend::echo();
    let mut seen = Vec::new();
    for (name, program) in programs("an_added_server_warms_up") {
        let (p, sock, _dir) = run(name, &program, "addkw-ss", s1.addr);
        let mut got = Vec::new();
        got.push(cli_ask(
            &sock,
            &format!("add server be/w {} slowstart 2s weight 20", s2.addr),
        ));
        got.push(cli_ask(&sock, "add server be/x 127.0.0.1:1 slowstart 1x"));
        got.push(cli_ask(&sock, "enable server be/w"));
        // (ringlb's stats do not print `throttle` yet.)
        got.push(columns(&sock, "w", &["status", "weight"]).join(","));
        until(&format!("{name}: never warmed up"), || {
            columns(&sock, "w", &["weight"]) == ["weight=20"]
        });
        got.push(columns(&sock, "w", &["status", "weight"]).join(","));
        let mut lines = Vec::new();
        until(&format!("{name}: not the two lines: {lines:?}"), || {
            state_lines(&p, &mut lines);
            lines.len() >= 2
        });
        got.extend(lines);
        seen.push(got);
    }
    if let [theirs, ours] = &seen[..] {
        assert_eq!(ours, theirs, "(ringlb, haproxy)");
    }
}

/// `on-marked-down shutdown-sessions` on an added server: its streams end
/// when it enters maintenance; without it they stay. On both proxies.
#[test]
fn an_added_server_s_sessions_end_when_it_is_marked_down() {
    let s1 = Backend::echo();
    let s2 = Backend::echo();
    for (name, program) in programs("an_added_server_s_sessions_end_when_it_is_marked_down") {
        let (p, sock, _dir) = run(name, &program, "addkw-omd", s1.addr);
        for (kw, ends) in [("on-marked-down shutdown-sessions", true), ("", false)] {
            let add = format!("add server be/n {} {kw}", s2.addr);
            assert_eq!(cli_ask(&sock, &add), "New server registered.\n\n", "{name}");
            assert_eq!(
                cli_ask(&sock, "enable server be/n; disable server be/s1"),
                "\n\n",
                "{name}"
            );
            let mut held = p.connect();
            held.write_all(b"x").unwrap();
            let mut b = [0u8; 1];
            held.read_exact(&mut b).unwrap();
            assert_eq!(cli_ask(&sock, "disable server be/n"), "\n", "{name}");
            held.set_read_timeout(Some(Duration::from_millis(500)))
                .unwrap();
            let r = held.read(&mut b);
            if ends {
                assert!(
                    matches!(r, Ok(0) | Err(_))
                        && !matches!(&r, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
                    "{name}: the stream stayed: {r:?}"
                );
            } else {
                assert!(
                    matches!(&r, Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)),
                    "{name}: the stream ended without on-marked-down: {r:?}"
                );
            }
            drop(held);
            assert_eq!(cli_ask(&sock, "enable server be/s1"), "\n", "{name}");
            until(&format!("{name}: n never became removable"), || {
                cli_ask(&sock, "del server be/n") == "Server deleted.\n"
            });
        }
    }
}
