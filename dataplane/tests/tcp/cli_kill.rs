//! The runtime API ends streams: `shutdown sessions server` kills a
//! server's streams (`K`), and putting a server in maintenance kills them
//! under `on-marked-down shutdown-sessions` (`D`), not without it. Each
//! scenario runs on haproxy first with the same assertions.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::harness::{cli_ask, start, Backend, Proxy, TcpLog, TempDir, DEADLINE};

fn cfg(dir: &TempDir, s1: &Backend, s2: &Backend, opts: &str) -> String {
    format!(
        "global\n    log stdout format raw local0\n    stats socket {}/admin.sock level admin\n\
         defaults\n    mode tcp\n    log global\n    option tcplog\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n\
         frontend fe\n    bind fd@3\n    default_backend be\n\
         backend be\n    balance first\n    server s1 {} {opts}\n    server s2 {} {opts}\n",
        dir.0.display(),
        s1.addr,
        s2.addr
    )
}

/// A client connection that echoes: it is live on its server.
fn live_client(p: &Proxy, what: &str) -> TcpStream {
    let mut c = p.connect();
    c.write_all(b"ping").unwrap();
    let mut got = [0u8; 4];
    c.read_exact(&mut got)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(&got, b"ping", "{what}");
    c
}

/// Whether the proxy closed `c` within `within` (FIN or reset).
fn closed_within(c: &mut TcpStream, within: Duration) -> bool {
    c.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 64];
    match c.read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

/// The next tcplog line, skipping the others (start-up, state changes).
fn next_stream(p: &Proxy, what: &str) -> TcpLog {
    let end = Instant::now() + DEADLINE;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        let l = p
            .log_within(left)
            .unwrap_or_else(|| panic!("{what}: no stream log line"));
        if let Some(t) = TcpLog::try_parse(&l) {
            return t;
        }
    }
}

/// `shutdown sessions server be/s1`: both live streams on s1 end at once
/// with `K`; the stream on s2 goes on.
fn shutdown_sessions_server_kills_its_streams(name: &str, program: &Path) {
    let (s1, s2) = (Backend::echo(), Backend::echo());
    let dir = TempDir::new("cli-kill");
    // balance first with maxconn 2 on s1: two streams on s1, the third on s2.
    let p = start(name, program, &cfg(&dir, &s1, &s2, "maxconn 2"));
    let sock = format!("{}/admin.sock", dir.0.display());
    let mut a = live_client(&p, name);
    let mut b = live_client(&p, name);
    let mut c = live_client(&p, name);
    assert_eq!(
        cli_ask(&sock, "shutdown sessions server be/s1"),
        "\n",
        "{name}"
    );
    assert!(closed_within(&mut a, DEADLINE), "{name}: a still open");
    assert!(closed_within(&mut b, DEADLINE), "{name}: b still open");
    for _ in 0..2 {
        let l = next_stream(&p, name);
        assert_eq!(
            (l.server.as_str(), l.termination.as_str()),
            ("s1", "K-"),
            "{name}: {l:?}"
        );
    }
    assert!(
        !closed_within(&mut c, Duration::from_millis(300)),
        "{name}: the stream on s2 was killed too"
    );
    c.write_all(b"pong").unwrap();
    let mut got = [0u8; 4];
    c.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"pong", "{name}");
    // An unknown server is HAProxy's error.
    assert_eq!(
        cli_ask(&sock, "shutdown sessions server be/nope"),
        "No such server.\n\n",
        "{name}"
    );
}
on_both!(
    shutdown_sessions_server_kills_its_streams,
    shutdown_sessions_server_kills_its_streams_on_haproxy,
    shutdown_sessions_server_kills_its_streams_on_ringlb
);

/// `set server be/s1 state maint` with `on-marked-down shutdown-sessions`
/// kills the server's streams (`D`), as its going DOWN would.
fn maintenance_kills_under_on_marked_down(name: &str, program: &Path) {
    let (s1, s2) = (Backend::echo(), Backend::echo());
    let dir = TempDir::new("cli-kill");
    let p = start(
        name,
        program,
        &cfg(&dir, &s1, &s2, "on-marked-down shutdown-sessions"),
    );
    let sock = format!("{}/admin.sock", dir.0.display());
    let mut a = live_client(&p, name);
    assert_eq!(
        cli_ask(&sock, "set server be/s1 state maint"),
        "\n",
        "{name}"
    );
    assert!(closed_within(&mut a, DEADLINE), "{name}: a still open");
    let l = next_stream(&p, name);
    assert_eq!(
        (l.server.as_str(), l.termination.as_str()),
        ("s1", "D-"),
        "{name}: {l:?}"
    );
    // The next client goes to s2.
    let _b = live_client(&p, name);
    assert_eq!(s2.count(), 1, "{name}");
}
on_both!(
    maintenance_kills_under_on_marked_down,
    maintenance_kills_under_on_marked_down_on_haproxy,
    maintenance_kills_under_on_marked_down_on_ringlb
);

/// Without `on-marked-down`, maintenance leaves live streams alone.
fn maintenance_spares_streams_without_it(name: &str, program: &Path) {
    let (s1, s2) = (Backend::echo(), Backend::echo());
    let dir = TempDir::new("cli-kill");
    let p = start(name, program, &cfg(&dir, &s1, &s2, ""));
    let sock = format!("{}/admin.sock", dir.0.display());
    let mut a = live_client(&p, name);
    assert_eq!(
        cli_ask(&sock, "set server be/s1 state maint"),
        "\n",
        "{name}"
    );
    assert!(
        !closed_within(&mut a, Duration::from_millis(300)),
        "{name}: the stream was killed"
    );
    a.write_all(b"pong").unwrap();
    let mut got = [0u8; 4];
    a.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"pong", "{name}");
}
on_both!(
    maintenance_spares_streams_without_it,
    maintenance_spares_streams_without_it_on_haproxy,
    maintenance_spares_streams_without_it_on_ringlb
);

/// `disable frontend` / `enable frontend` log HAProxy's words in the
/// frontend's log ("Paused frontend fe." / "Resumed frontend fe.").
fn pausing_a_frontend_is_logged(name: &str, program: &Path) {
    let (s1, s2) = (Backend::echo(), Backend::echo());
    let dir = TempDir::new("cli-kill");
    let p = start(name, program, &cfg(&dir, &s1, &s2, ""));
    let sock = format!("{}/admin.sock", dir.0.display());
    assert_eq!(cli_ask(&sock, "disable frontend fe"), "\n", "{name}");
    let next = |what: &str| {
        let end = Instant::now() + DEADLINE;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            let l = p
                .log_within(left)
                .unwrap_or_else(|| panic!("{name}: no {what:?} line"));
            if l.contains("frontend fe") {
                return l;
            }
        }
    };
    assert_eq!(next("Paused"), "Paused frontend fe.", "{name}");
    assert_eq!(cli_ask(&sock, "enable frontend fe"), "\n", "{name}");
    assert_eq!(next("Resumed"), "Resumed frontend fe.", "{name}");
}
on_both!(
    pausing_a_frontend_is_logged,
    pausing_a_frontend_is_logged_on_haproxy,
    pausing_a_frontend_is_logged_on_ringlb
);
