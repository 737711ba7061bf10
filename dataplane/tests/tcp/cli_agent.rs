//! The agent's fields in the runtime API: `show servers state`'s
//! srv_agent_state and srv_agent_port, and `show stat`'s agent_* columns,
//! compared with haproxy's for a server whose agent answers "up".

use std::io::Write;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use crate::harness::{cli_ask, programs, start, Backend, TempDir, DEADLINE};

/// An agent that answers every connection with `up`.
fn agent() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { break };
            let _ = c.write_all(b"up\n");
        }
    });
    port
}

/// The named columns of server `sv`'s `show stat` row.
fn columns(csv: &str, sv: &str, names: &[&str]) -> Vec<String> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap()
        .trim_start_matches("# ")
        .split(',')
        .collect();
    let row: Vec<&str> = lines
        .find(|l| l.split(',').nth(1) == Some(sv))
        .unwrap_or_else(|| panic!("no row for {sv}: {csv}"))
        .split(',')
        .collect();
    names
        .iter()
        .map(|n| {
            let i = header.iter().position(|h| h == n).unwrap();
            format!("{n}={}", row.get(i).copied().unwrap_or(""))
        })
        .collect()
}

#[test]
fn agent_fields_match_haproxy() {
    let be = Backend::echo();
    let port = agent();
    let mut seen = Vec::new();
    for (name, program) in programs("agent_fields_match_haproxy") {
        let dir = TempDir::new("cli-agent");
        let sock = format!("{}/admin.sock", dir.0.display());
        let _p = start(
            name,
            &program,
            &format!(
                "global\n    stats socket {sock} level admin\n\
                 defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n\
                 frontend fe\n    bind fd@3\n    default_backend be\n\
                 backend be\n    server s1 {} check inter 100ms agent-check agent-port {port} agent-inter 100ms\n    server s2 {}\n",
                be.addr, be.addr
            ),
        );
        // Until the agent answered a few times (its status leaves INI).
        let end = Instant::now() + DEADLINE;
        let stat = loop {
            let csv = cli_ask(&sock, "show stat");
            if csv.starts_with("# ") && !columns(&csv, "s1", &["agent_status"])[0].ends_with("INI")
            {
                std::thread::sleep(Duration::from_millis(300));
                break cli_ask(&sock, "show stat");
            }
            assert!(Instant::now() < end, "{name}: the agent never answered");
            std::thread::sleep(Duration::from_millis(50));
        };
        let fields = [
            "agent_status",
            "agent_code",
            "agent_desc",
            "agent_rise",
            "agent_fall",
            "agent_health",
            "last_agt",
        ];
        let state: Vec<String> = cli_ask(&sock, "show servers state be")
            .lines()
            .filter(|l| l.starts_with("3 "))
            .map(|l| {
                // be_id .. srv_check_state and the agent's columns; not the
                // seconds since the last change.
                let w: Vec<&str> = l.split(' ').collect();
                format!(
                    "{} agent_state={} agent_port={}",
                    w[3],
                    w[14],
                    w.last().unwrap()
                )
            })
            .collect();
        seen.push((
            name,
            columns(&stat, "s1", &fields),
            columns(&stat, "s2", &fields),
            state,
        ));
    }
    let ours = seen.iter().find(|s| s.0 == "ringlb").unwrap();
    assert!(
        ours.3
            .iter()
            .any(|l| l.contains(&format!("agent_port={port}"))),
        "{ours:?}"
    );
    if let Some(theirs) = seen.iter().find(|s| s.0 == "haproxy") {
        assert_eq!(
            (&ours.1, &ours.2, &ours.3),
            (&theirs.1, &theirs.2, &theirs.3)
        );
    }
}
