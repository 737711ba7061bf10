//! Runtime API clients an operator's scripts can turn into: one that sends
//! many commands and never reads the answers. `stats timeout` bounds it as
//! it bounds an idle one, and its answers are not all built in memory at
//! once; the socket serves the next client. (haproxy 2.6 also drops such a
//! client at the timeout; in a drive of this session it then left its
//! listener with connections it never accepted: not compared here.)

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use crate::harness::{start, vm_rss_kib, Backend, TempDir, DEADLINE};

fn ask(sock: &str, line: &str, within: Duration) -> Option<String> {
    let mut s = std::os::unix::net::UnixStream::connect(sock).ok()?;
    s.set_read_timeout(Some(within)).unwrap();
    s.write_all(format!("{line}\n").as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

#[test]
fn a_client_that_never_reads_is_dropped_at_the_stats_timeout() {
    let be = Backend::echo();
    let dir = TempDir::new("cli-hostile");
    let sock = format!("{}/admin.sock", dir.0.display());
    let mut backends = String::new();
    for i in 0..40 {
        backends.push_str(&format!("    server s{i} {}\n", be.addr));
    }
    let p = start(
        "ringlb",
        &crate::harness::ringlb(),
        &format!(
            "global\n    stats socket {sock} level admin\n    stats timeout 1s\n    stats maxconn 2\n\
             defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n\
             frontend fe\n    bind fd@3\n    default_backend be\n\
             backend be\n{backends}"
        ),
    );
    let end = Instant::now() + DEADLINE;
    while ask(&sock, "show info", Duration::from_secs(2)).is_none() {
        assert!(Instant::now() < end, "the socket never answered");
    }
    let rss_before = vm_rss_kib(p.child.id());
    // Two clients (the whole of stats maxconn) ask for some 40 MB of
    // answers each and never read.
    let flood = "show stat;".repeat(2000) + "\n";
    let stuck: Vec<_> = (0..2)
        .map(|_| {
            let mut s = std::os::unix::net::UnixStream::connect(&sock).unwrap();
            s.write_all(flood.as_bytes()).unwrap();
            s
        })
        .collect();
    // Within the timeout and a margin, the socket answers again.
    let t = Instant::now();
    let info = loop {
        if let Some(a) = ask(&sock, "show info", Duration::from_millis(500)) {
            if a.contains("Name:") {
                break a;
            }
        }
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "the socket stayed locked by clients that do not read"
        );
    };
    assert!(info.contains("Pid:"));
    let rss_after = vm_rss_kib(p.child.id());
    assert!(
        rss_after < rss_before + 16 * 1024,
        "RSS grew from {rss_before} to {rss_after} KiB"
    );
    drop(stuck);
}
