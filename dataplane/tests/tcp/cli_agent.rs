//! The agent's fields in the runtime API: `show servers state`'s
//! srv_agent_state and srv_agent_port, and `show stat`'s agent_* columns,
//! compared with haproxy's for a server whose agent answers "up".

use std::time::{Duration, Instant};

use crate::harness::probe::{stat_columns, Target};
use crate::harness::{cli_ask, programs, start, Backend, TempDir, DEADLINE};

#[test]
fn agent_fields_match_haproxy() {
    let be = Backend::echo();
    let agent = Target::agent(b"up\n");
    let port = agent.addr.port();
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
            if csv.starts_with("# ")
                && !stat_columns(&csv, "s1", &["agent_status"])[0].ends_with("INI")
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
            stat_columns(&stat, "s1", &fields),
            stat_columns(&stat, "s2", &fields),
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
