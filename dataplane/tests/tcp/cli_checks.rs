//! The runtime API's hold on running checks: `enable|disable health|agent`,
//! `set server <b>/<s> check-addr|check-port|agent-addr|agent-port|
//! agent-send|agent|health`, against real check targets on loopback that
//! count what reaches them and can be killed; and what `show servers
//! state` and `show stat` say after each command, compared with haproxy's.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::harness::probe::{stat_columns, until, Target};
use crate::harness::{cli_ask, programs, start, Backend, Proxy, TempDir, DEADLINE};

fn status(sock: &str, sv: &str) -> String {
    stat_columns(&cli_ask(sock, "show stat"), sv, &["status"])[0]
        .trim_start_matches("status=")
        .to_string()
}

/// Until `n` more connections reached `t`.
fn sees(t: &Target, n: usize, what: &str) {
    let from = t.count();
    until(what, || t.count() >= from + n);
}

/// The checks send a line and expect `pong`: a pure connect check would
/// not reach the target's accept (it resets before its last ACK).
fn config(sock: &str, servers: &str) -> String {
    format!(
        "global\n    stats socket {sock} level admin\n\
         defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n\
         frontend fe\n    bind fd@3\n    default_backend be\n\
         backend be\n    option tcp-check\n    tcp-check send ping\\n\n    tcp-check expect string pong\n{servers}"
    )
}

fn run(name: &str, program: &std::path::Path, servers: &str) -> (Proxy, String, TempDir) {
    let dir = TempDir::new("cli-checks");
    let sock = format!("{}/admin.sock", dir.0.display());
    let p = start(name, program, &config(&sock, servers));
    (p, sock, dir)
}

/// `disable health`: the target sees no more checks and its death no
/// longer takes the server down; `enable health` checks again, and the
/// dead target takes it down. On both proxies.
#[test]
fn a_disabled_health_check_stops_and_enable_resumes() {
    let be = Backend::echo();
    for (name, program) in programs("a_disabled_health_check_stops_and_enable_resumes") {
        let mut target = Target::start(b"pong\n");
        let (_p, sock, _dir) = run(
            name,
            &program,
            &format!(
                "    server s1 {} check inter 100ms rise 1 fall 1 port {}\n",
                be.addr,
                target.addr.port()
            ),
        );
        sees(&target, 2, &format!("{name}: the target was never checked"));
        assert_eq!(cli_ask(&sock, "disable health be/s1"), "\n", "{name}");
        // A run under way may still land; then nothing for many intervals.
        std::thread::sleep(Duration::from_millis(300));
        let quiet = target.count();
        std::thread::sleep(Duration::from_millis(600));
        assert_eq!(target.count(), quiet, "{name}: a disabled check still runs");
        assert_eq!(status(&sock, "s1"), "no check", "{name}");
        // Its target dies: nothing changes.
        target.kill();
        std::thread::sleep(Duration::from_millis(600));
        assert_eq!(status(&sock, "s1"), "no check", "{name}");
        let a = stat_columns(
            &cli_ask(&sock, "show stat"),
            "s1",
            &["check_status", "chkfail"],
        );
        assert_eq!(a, ["check_status=", "chkfail="], "{name}");
        // Enabled again, it checks the dead target and fails (fall 1).
        assert_eq!(cli_ask(&sock, "enable health be/s1"), "\n", "{name}");
        until(&format!("{name}: the enabled check never failed"), || {
            status(&sock, "s1") == "DOWN"
        });
        let a = stat_columns(&cli_ask(&sock, "show stat"), "s1", &["check_status"]);
        assert_eq!(a, ["check_status=L4CON"], "{name}");
    }
}

/// `set server health down` with the check disabled: the server stays
/// down (nothing checks it up), says "changed from CLI" as haproxy does,
/// its tracker following, and `up` brings both back.
#[test]
fn health_forced_with_a_disabled_check_stays() {
    let be = Backend::echo();
    let target = Target::start(b"pong\n");
    let mut seen = Vec::new();
    for (name, program) in programs("health_forced_with_a_disabled_check_stays") {
        let (p, sock, _dir) = run(
            name,
            &program,
            &format!(
                "    server s1 {} check inter 100ms port {}\n    server s2 {} track s1\n",
                be.addr,
                target.addr.port(),
                be.addr
            ),
        );
        sees(&target, 2, &format!("{name}: never checked"));
        assert_eq!(cli_ask(&sock, "disable health be/s1"), "\n");
        assert_eq!(
            cli_ask(&sock, "set server be/s2 health down"),
            "cannot change health on a tracking server.\n\n",
            "{name}"
        );
        assert_eq!(cli_ask(&sock, "set server be/s1 health down"), "\n");
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(status(&sock, "s1"), "DOWN", "{name}");
        assert_eq!(status(&sock, "s2"), "DOWN", "{name}: the tracker follows");
        assert_eq!(cli_ask(&sock, "set server be/s1 health up"), "\n");
        assert_eq!(status(&sock, "s1"), "no check", "{name}");
        until(&format!("{name}: s2 never came back"), || {
            status(&sock, "s2") == "no check"
        });
        // The state lines, without the "[WARNING]  (pid) : " head.
        let mut lines: Vec<String> = Vec::new();
        until(
            &format!("{name}: not the five state lines: {lines:?}"),
            || {
                lines.extend(
                    p.stderr_so_far()
                        .iter()
                        .filter(|l| l.contains("erver be/") || l.contains("no server"))
                        .map(|l| l.split_once(") : ").map_or(l.as_str(), |x| x.1).to_string()),
                );
                lines.len() >= 5
            },
        );
        assert!(
            lines[0].starts_with("Server be/s1 is DOWN, changed from CLI."),
            "{lines:?}"
        );
        seen.push(lines);
    }
    if seen.len() == 2 {
        assert_eq!(seen[0], seen[1], "haproxy then ringlb");
    }
}

/// `check-port` moves the checks to another listener at the next run;
/// `check-addr ... port` too.
#[test]
fn check_port_moves_the_checks() {
    let be = Backend::echo();
    for (name, program) in programs("check_port_moves_the_checks") {
        let a = Target::start(b"pong\n");
        let b = Target::start(b"pong\n");
        let (_p, sock, _dir) = run(
            name,
            &program,
            &format!(
                "    server s1 {} check inter 100ms port {}\n",
                be.addr,
                a.addr.port()
            ),
        );
        sees(&a, 2, &format!("{name}: never checked"));
        let answer = cli_ask(
            &sock,
            &format!("set server be/s1 check-port {}", b.addr.port()),
        );
        assert_eq!(answer, "\n", "{name}");
        sees(&b, 2, &format!("{name}: the new port never saw a check"));
        let on_a = a.count();
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(a.count(), on_a, "{name}: the old port is still checked");
        assert_eq!(status(&sock, "s1"), "UP", "{name}");
        // And back with check-addr.
        let line = format!(
            "set server be/s1 check-addr 127.0.0.1 port {}",
            a.addr.port()
        );
        assert_eq!(cli_ask(&sock, &line), "\n", "{name}");
        sees(
            &a,
            2,
            &format!("{name}: check-addr did not move the checks"),
        );
        let state = cli_ask(&sock, "show servers state be");
        let line = state.lines().nth(2).unwrap();
        assert!(
            line.ends_with(&format!(" {} 127.0.0.1 - {}", a.addr.port(), a.addr.port())),
            "{name}: {line}"
        );
    }
}

/// `agent-send` changes what the agent receives, `agent-port` where it
/// goes; `disable agent` stops it and releases the server an agent held
/// down.
#[test]
fn agent_commands_reach_the_agent() {
    let be = Backend::echo();
    for (name, program) in programs("agent_commands_reach_the_agent") {
        let agent = Target::start(b"up\n");
        let other = Target::start(b"down\n");
        let (_p, sock, _dir) = run(
            name,
            &program,
            &format!(
                "    server s1 {} agent-check agent-port {} agent-inter 100ms agent-send hello\\n\n",
                be.addr,
                agent.addr.port()
            ),
        );
        sees(&agent, 1, &format!("{name}: the agent was never asked"));
        assert_eq!(
            agent.last_received().as_deref(),
            Some(&b"hello\n"[..]),
            "{name}"
        );
        assert_eq!(cli_ask(&sock, "set server be/s1 agent-send bye"), "\n");
        until(
            &format!("{name}: the agent never got the new string"),
            || agent.last_received().as_deref() == Some(&b"bye"[..]),
        );
        // Another agent, which says down.
        let line = format!("set server be/s1 agent-port {}", other.addr.port());
        assert_eq!(cli_ask(&sock, &line), "\n", "{name}");
        until(&format!("{name}: the new agent never took it down"), || {
            status(&sock, "s1") == "DOWN (agent)"
        });
        assert_eq!(
            other.last_received().as_deref(),
            Some(&b"bye"[..]),
            "{name}"
        );
        // Disabled, the agent no longer holds it down, and is not asked.
        assert_eq!(cli_ask(&sock, "disable agent be/s1"), "\n");
        assert_eq!(status(&sock, "s1"), "DOWN", "{name}");
        std::thread::sleep(Duration::from_millis(300));
        let asked = other.count();
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(other.count(), asked, "{name}: a disabled agent still runs");
        assert_eq!(
            cli_ask(&sock, "set server be/s1 agent up"),
            "agent checks are not enabled on this server.\n\n",
            "{name}"
        );
        assert_eq!(cli_ask(&sock, "set server be/s1 health up"), "\n");
        assert_eq!(status(&sock, "s1"), "no check", "{name}");
        // Enabled again, it says down again.
        assert_eq!(cli_ask(&sock, "enable agent be/s1"), "\n");
        until(&format!("{name}: the enabled agent never ran"), || {
            status(&sock, "s1") == "DOWN (agent)"
        });
        assert_eq!(cli_ask(&sock, "set server be/s1 agent up"), "\n");
        assert_eq!(status(&sock, "s1"), "no check", "{name}");
    }
}

/// The server state lines without srv_time_since_last_change (word 9).
fn state_lines(sock: &str) -> Vec<String> {
    cli_ask(sock, "show servers state be")
        .lines()
        .skip(2)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut w: Vec<&str> = l.split(' ').collect();
            if w.len() > 9 {
                w[9] = "T";
            }
            w.join(" ")
        })
        .collect()
}

const STAT: &[&str] = &[
    "status",
    "weight",
    "check_status",
    "check_desc",
    "check_rise",
    "check_fall",
    "check_health",
    "agent_status",
    "agent_health",
    "chkfail",
    "chkdown",
];

/// A scenario of commands on a server with a check and an agent, and a
/// server with neither, its answers and what the dumps say after each
/// step, on both proxies: they must agree byte for byte.
#[test]
fn runtime_check_commands_match_haproxy() {
    let be = Backend::echo();
    let check = Target::start(b"pong\n");
    let moved = Target::start(b"pong\n");
    let agent = Target::start(b"up\n");
    let mut seen = Vec::new();
    for (name, program) in programs("runtime_check_commands_match_haproxy") {
        let (_p, sock, _dir) = run(
            name,
            &program,
            &format!(
                "    server s1 {be} check inter 100ms port {} agent-check agent-port {} agent-inter 100ms\n    server s2 {be}\n    server s3 {be} port {}\n    server s4 {} check inter 100ms port {}\n",
                check.addr.port(),
                agent.addr.port(),
                check.addr.port(),
                be.addr.ip(),
                check.addr.port(),
                be = be.addr,
            ),
        );
        let mut log: Vec<String> = Vec::new();
        // Both dumps taken while no check is under way (haproxy shows a
        // check in progress: CHK_ST_INPROGRESS, "* L7OK"; ringlb does not).
        let snapshot = |log: &mut Vec<String>, at: &str| {
            let end = Instant::now() + DEADLINE;
            let (state, csv) = loop {
                let state = state_lines(&sock);
                let csv = cli_ask(&sock, "show stat");
                let busy = state.iter().any(|l| {
                    l.split(' ')
                        .nth(13)
                        .and_then(|w| w.parse::<u32>().ok())
                        .is_some_and(|w| w % 2 == 1)
                }) || csv.contains(",* ");
                if !busy && state_lines(&sock) == state {
                    break (state, csv);
                }
                assert!(Instant::now() < end, "{name}: always a check under way");
            };
            log.push(format!("-- {at}"));
            log.extend(state);
            for sv in ["s1", "s2", "s3"] {
                log.push(format!("{sv}: {}", stat_columns(&csv, sv, STAT).join(" ")));
            }
        };
        until(&format!("{name}: s1 never fully checked"), || {
            let csv = cli_ask(&sock, "show stat");
            stat_columns(&csv, "s1", &["check_health", "agent_status"])
                == ["check_health=4", "agent_status=L7OK"]
        });
        snapshot(&mut log, "start");
        let ask = |log: &mut Vec<String>, line: &str| {
            log.push(format!("> {line}: {:?}", cli_ask(&sock, line)));
        };
        for line in [
            "set server be/s1 check-port",
            "set server be/s1 check-port x",
            "set server be/s1 check-port 70000",
            "set server be/s1 check-port -1",
            "set server be/s1 check-addr",
            "set server be/s1 check-addr foo",
            "set server be/s1 check-addr 127.0.0.1 port",
            "set server be/s4 check-port 0",
            "set server be/s4 check-addr 127.0.0.1 port 0",
            "set server be/s4 check-port 00x",
            "set server be/s2 check-port 5",
            "set server be/s2 agent-addr 127.0.0.1",
            "set server be/s2 agent-send x",
            "set server be/s2 agent up",
            "set server be/s1 agent-port +5",
            "set server be/s1 agent sideways",
            "set server be/s1 health sideways",
            "enable health be/s2",
            "enable agent be/s2",
            "disable health be/s2",
            "disable agent be/s2",
            "enable health be/nope",
            "enable agent nope",
        ] {
            ask(&mut log, line);
        }
        snapshot(&mut log, "refusals");
        ask(&mut log, "disable health be/s1");
        snapshot(&mut log, "health disabled");
        ask(&mut log, "disable agent be/s1");
        ask(&mut log, "set server be/s1 check-port 1");
        ask(&mut log, "set server be/s1 agent-addr 127.0.0.1");
        ask(&mut log, "set server be/s1 agent up");
        snapshot(&mut log, "agent disabled");
        ask(&mut log, "set server be/s1 health down");
        snapshot(&mut log, "forced down");
        ask(&mut log, "enable agent be/s1");
        ask(&mut log, "enable health be/s1");
        until(&format!("{name}: never up again"), || {
            let csv = cli_ask(&sock, "show stat");
            stat_columns(&csv, "s1", &["status", "check_health"]) == ["status=UP", "check_health=4"]
        });
        snapshot(&mut log, "enabled again");
        let line = format!(
            "set server be/s1 check-addr 127.0.0.1 port {}",
            moved.addr.port()
        );
        ask(&mut log, &line);
        ask(&mut log, "set server be/s1 agent-addr ::1 port 99");
        ask(
            &mut log,
            &format!("set server be/s1 agent-port {}", agent.addr.port()),
        );
        ask(&mut log, "set server be/s1 agent-addr 127.0.0.1");
        sees(
            &moved,
            1,
            &format!("{name}: check-addr did not move the check"),
        );
        // A run of the agent that went to ::1 meanwhile is over: its last
        // status is the good agent's again.
        sees(&agent, 2, &format!("{name}: the agent is not asked again"));
        snapshot(&mut log, "moved");
        ask(&mut log, "disable server be/s1");
        snapshot(&mut log, "maintenance");
        // (Not `disable health` in maintenance: haproxy 2.6 then keeps the
        // check paused for good, see docs/differences.md.)
        ask(&mut log, "enable server be/s1");
        until(&format!("{name}: never fully up after maintenance"), || {
            let csv = cli_ask(&sock, "show stat");
            stat_columns(&csv, "s1", &["check_health"]) == ["check_health=4"]
        });
        ask(&mut log, "disable health be/s1");
        snapshot(&mut log, "ready, health disabled");
        seen.push((name, log));
    }
    let ours = &seen.iter().find(|s| s.0 == "ringlb").unwrap().1;
    if let Some((_, theirs)) = seen.iter().find(|s| s.0 == "haproxy") {
        for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
            assert_eq!(a, b, "line {i}: ringlb then haproxy\n{}", ours.join("\n"));
        }
        assert_eq!(ours.len(), theirs.len());
    }
}

/// What the status column says of a server an agent drains, weighs to
/// 0 or takes down: HAProxy's words ("UP" for an effective weight of 0,
/// "DRAIN (agent)", "DOWN (agent)").
#[test]
fn agent_driven_status_matches_haproxy() {
    let be = Backend::echo();
    let mut seen = Vec::new();
    for (name, program) in programs("agent_driven_status_matches_haproxy") {
        let agent = Target::start(b"up\n");
        let check = Target::start(b"pong\n");
        let (_p, sock, _dir) = run(
            name,
            &program,
            &format!(
                "    server s1 {} weight 1 agent-check agent-port {} agent-inter 100ms\n    server s2 {} weight 1 check inter 100ms port {} agent-check agent-port {} agent-inter 100ms\n",
                be.addr,
                agent.addr.port(),
                be.addr,
                check.addr.port(),
                agent.addr.port(),
            ),
        );
        let mut log = Vec::new();
        let cols = ["status", "weight", "agent_status"];
        for (reply, want) in [
            (&b"up\n"[..], "agent_status=L7OK"),
            (&b"50%\n"[..], "weight=0"),
            (&b"drain\n"[..], "status=DRAIN (agent)"),
            (&b"ready 100%\n"[..], "weight=1"),
            (&b"down\n"[..], "status=DOWN (agent)"),
        ] {
            agent.answer(reply);
            until(&format!("{name}: never {want} after {reply:?}"), || {
                let csv = cli_ask(&sock, "show stat");
                stat_columns(&csv, "s1", &cols).iter().any(|c| c == want)
                    && stat_columns(&csv, "s2", &cols).iter().any(|c| c == want)
            });
            // One more answer, so both servers have seen it.
            sees(&agent, 2, name);
            // Without haproxy's "* " of an agent under way (ringlb does
            // not show it): the agent here holds each connection a moment.
            let csv = cli_ask(&sock, "show stat").replace(",* ", ",");
            log.push(format!(
                "{}: {:?} {:?}",
                String::from_utf8_lossy(reply).trim_end(),
                stat_columns(&csv, "s1", &cols),
                stat_columns(&csv, "s2", &cols)
            ));
        }
        seen.push((name, log));
    }
    let ours = &seen.iter().find(|s| s.0 == "ringlb").unwrap().1;
    assert!(ours[1].contains("status=UP"), "{ours:?}");
    if let Some((_, theirs)) = seen.iter().find(|s| s.0 == "haproxy") {
        assert_eq!(ours, theirs);
    }
}

/// One admin POST to the stats page at `addr`: the `st=` of its
/// redirect.
fn page_post(addr: SocketAddr, form: &str) -> String {
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(DEADLINE)).unwrap();
    let req = format!(
        "POST /st HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}",
        form.len()
    );
    c.write_all(req.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out);
    text.lines()
        .find_map(|l| {
            l.strip_prefix("location: ")
                .or_else(|| l.strip_prefix("Location: "))
        })
        .unwrap_or("no location")
        .to_string()
}

/// Whether server `sv` has a row in the page's `;up;csv` (which hides
/// the servers that are down and not changing).
fn shown_when_up(addr: SocketAddr, sv: &str) -> bool {
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(DEADLINE)).unwrap();
    c.write_all(b"GET /st;up;csv HTTP/1.0\r\nHost: a\r\n\r\n")
        .unwrap();
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    String::from_utf8_lossy(&out)
        .lines()
        .any(|l| l.split(',').nth(1) == Some(sv))
}

/// The stats page's health and agent actions (`dhlth`, `ehlth`, `dagent`,
/// `eagent`, `arunn`, `adown`, `hrunn`, `hdown`): their verdicts, the
/// statuses after each, and the state lines ("changed from Web
/// interface"), as haproxy's.
#[test]
fn page_check_actions_match_haproxy() {
    let be = Backend::echo();
    let check = Target::start(b"pong\n");
    // An agent that says nothing: it never moves the server itself.
    let agent = Target::start(b"\n");
    let mut seen = Vec::new();
    for (name, program) in programs("page_check_actions_match_haproxy") {
        let dir = TempDir::new("cli-checks-page");
        let sock = format!("{}/admin.sock", dir.0.display());
        let cfg = format!(
            "global\n    stats socket {sock} level admin\n\
             defaults\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n\
             frontend fe\n    mode http\n    bind fd@3\n    stats enable\n    stats uri /st\n    stats admin if TRUE\n\
             backend be\n    mode tcp\n    option tcp-check\n    tcp-check send ping\\n\n    tcp-check expect string pong\n\
             \x20   server s1 {} check inter 100ms port {} agent-check agent-port {} agent-inter 100ms\n    server s2 {}\n",
            be.addr,
            check.addr.port(),
            agent.addr.port(),
            be.addr
        );
        let p = start(name, &program, &cfg);
        until(&format!("{name}: s1 never fully checked"), || {
            let csv = cli_ask(&sock, "show stat");
            stat_columns(&csv, "s1", &["check_health", "agent_status"])
                == ["check_health=4", "agent_status=CHECKED"]
        });
        let mut log = Vec::new();
        for action in [
            "s=s1&s=s2&action=dhlth",
            "s=s2&action=ehlth",
            "s=s1&action=adown",
            "s=s1&action=arunn",
            "s=s1&action=dagent",
            "s=s1&action=adown",
            "s=s1&s=s2&action=eagent",
            "s=s1&action=hdown",
            "s=s1&action=hrunn",
            "s=s1&action=ehlth",
        ] {
            let st = page_post(p.addr, &format!("{action}&b=be"));
            log.push(format!(
                "{action}: {st} -> {} (;up shows it: {})",
                status(&sock, "s1"),
                shown_when_up(p.addr, "s1")
            ));
        }
        let mut lines: Vec<String> = Vec::new();
        until(
            &format!("{name}: not the four state lines: {lines:?}"),
            || {
                lines.extend(
                    p.stderr_so_far()
                        .iter()
                        .filter(|l| l.contains("erver be/"))
                        .map(|l| l.split_once(") : ").map_or(l.as_str(), |x| x.1).to_string()),
                );
                lines.len() >= 4
            },
        );
        log.extend(lines);
        seen.push((name, log));
    }
    let ours = &seen.iter().find(|s| s.0 == "ringlb").unwrap().1;
    assert!(ours[0].contains("DONE -> no check"), "{ours:?}");
    if let Some((_, theirs)) = seen.iter().find(|s| s.0 == "haproxy") {
        assert_eq!(ours, theirs);
    }
}

/// Leaving maintenance restarts a running check "up but checked at
/// once" (srv_update_status): its counter is `rise` at once, before the
/// check next runs, for `show stat` and `show servers state` alike.
/// `inter 30s` keeps the check from running in between; a configured and
/// an added server, on both proxies.
#[test]
fn leaving_maintenance_sets_the_check_counter_to_rise() {
    let be = Backend::echo();
    let mut seen = Vec::new();
    for (name, program) in programs("leaving_maintenance_sets_the_check_counter_to_rise") {
        let target = Target::start(b"pong\n");
        let port = target.addr.port();
        let (_p, sock, _dir) = run(
            name,
            &program,
            &format!(
                "    balance roundrobin\n    server s1 {} check inter 30s rise 3 fall 2 port {port}\n",
                be.addr
            ),
        );
        // srv_check_health, the 13th column.
        let health = |sv: &str| {
            let state = cli_ask(&sock, "show servers state be");
            state
                .lines()
                .find(|l| l.split(' ').nth(3) == Some(sv))
                .and_then(|l| l.split(' ').nth(12))
                .unwrap_or_default()
                .to_string()
        };
        let mut got = vec![cli_ask(&sock, "set server be/s1 state maint")];
        got.push(status(&sock, "s1"));
        got.push(cli_ask(&sock, "set server be/s1 state ready"));
        got.push(status(&sock, "s1"));
        got.push(health("s1"));
        got.push(cli_ask(
            &sock,
            &format!(
                "add server be/d1 {} check inter 30s rise 4 fall 1 port {port}",
                be.addr
            ),
        ));
        got.push(cli_ask(&sock, "enable health be/d1"));
        got.push(cli_ask(&sock, "set server be/d1 state ready"));
        got.push(status(&sock, "d1"));
        got.push(health("d1"));
        assert_eq!(got[3], "UP 1/2", "{name}: {got:?}");
        assert_eq!(got[4], "3", "{name}: {got:?}");
        assert_eq!(got[9], "4", "{name}: {got:?}");
        seen.push(got);
    }
    if let [theirs, ours] = &seen[..] {
        assert_eq!(ours, theirs, "(ringlb, haproxy)");
    }
}
