//! The automatic maxconn counts what HAProxy counts in its fd budget: the
//! runtime API's sockets and their own maxconn, one fd per checked server
//! and two per agent. `show info`'s Maxconn is compared with haproxy's for
//! the same configuration under the same fd limit.

use crate::harness::{cli_ask, programs, start, Backend, TempDir};

fn field(info: &str, key: &str) -> String {
    info.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|v| v.strip_prefix(": ")))
        .unwrap_or_else(|| panic!("no {key} in {info}"))
        .to_string()
}

#[test]
fn automatic_maxconn_counts_sockets_and_checks_as_haproxy() {
    let be = Backend::echo();
    let agent = Backend::echo();
    let mut seen = Vec::new();
    for (name, program) in programs("automatic_maxconn_counts_sockets_and_checks_as_haproxy") {
        let dir = TempDir::new("fd-budget");
        let d = dir.0.display();
        let cfg = format!(
            "global\n    stats socket {d}/a.sock level admin\n    stats socket {d}/b.sock level user\n    stats maxconn 7\n\
             defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n\
             frontend fe\n    bind fd@3\n    default_backend be\n\
             backend be\n    server s1 {a} check inter 10s\n    server s2 {a} check inter 10s\n    \
             server s3 {a} check inter 10s agent-check agent-port {p} agent-inter 10s\n",
            a = be.addr,
            p = agent.addr.port()
        );
        let _p = start(name, &program, &cfg);
        let info = cli_ask(&format!("{d}/a.sock"), "show info");
        seen.push((name, field(&info, "Maxconn"), field(&info, "Hard_maxconn")));
    }
    let ours = seen.iter().find(|s| s.0 == "ringlb").unwrap();
    if let Some(theirs) = seen.iter().find(|s| s.0 == "haproxy") {
        assert_eq!((&ours.1, &ours.2), (&theirs.1, &theirs.2), "{seen:?}");
    }
}
