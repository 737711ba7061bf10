//! `add server` grows a backend by hundreds of servers (HAProxy has no
//! limit; ringlb's per-server arrays grow with the slots): the answers,
//! `show servers state`, `show stat` and the Prometheus exporter compared
//! with haproxy 2.6's, traffic reaching the last one added, and a delete
//! and re-add of them all leaving ringlb's descriptors and memory flat.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use crate::harness::{held_port, programs, start, vm_rss_kib, Backend, TempDir};

/// Servers added to one backend.
const N: usize = 300;
/// `add server` lines per runtime API request.
const BATCH: usize = 50;

fn ask(sock: &str, line: &str) -> String {
    crate::harness::cli_ask(sock, line)
}

fn cfg(dir: &TempDir, prom: u16, s0: std::net::SocketAddr) -> String {
    let d = dir.0.display();
    format!(
        "global\n    stats socket {d}/admin.sock level admin\n\
         defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n\
         frontend fe\n    bind fd@3\n    default_backend be\n\
         frontend prom\n    mode http\n    bind 127.0.0.1:{prom}\n    http-request use-service prometheus-exporter\n\
         backend be\n    balance roundrobin\n    server s0 {s0}\n"
    )
}

/// Run `lines` as requests of [`BATCH`] commands; every answer.
fn batched(sock: &str, lines: &[String]) -> String {
    lines
        .chunks(BATCH)
        .map(|c| ask(sock, &c.join("; ")))
        .collect()
}

/// `show stat`'s columns `cols` of backend be's servers, one line each.
fn stat(sock: &str, cols: &[&str]) -> Vec<String> {
    let out = ask(sock, "show stat");
    let head: Vec<&str> = out
        .lines()
        .next()
        .unwrap_or("")
        .trim_start_matches("# ")
        .split(',')
        .collect();
    let at: Vec<usize> = cols
        .iter()
        .map(|c| head.iter().position(|h| h == c).unwrap())
        .collect();
    out.lines()
        .skip(1)
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|f| f[0] == "be" && f[1] != "BACKEND")
        .map(|f| at.iter().map(|&i| f[i]).collect::<Vec<_>>().join(","))
        .collect()
}

/// `show servers state be` without the seconds since the last change.
fn servers_state(sock: &str) -> String {
    ask(sock, "show servers state be")
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

/// The exporter's `haproxy_server_status` lines at 1 for backend be.
fn prometheus(port: u16) -> Vec<String> {
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
    let mut out = String::new();
    c.read_to_string(&mut out).unwrap();
    let mut v: Vec<String> = out
        .lines()
        .filter(|l| l.starts_with("haproxy_server_status{proxy=\"be\"") && l.ends_with(" 1"))
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

/// One connection through the proxy, echoed.
fn echo_once(addr: std::net::SocketAddr) {
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(b"ping").unwrap();
    let mut b = [0u8; 4];
    c.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"ping");
}

/// The descriptors process `pid` holds open.
fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

/// Run `line` until it answers `want`, within a deadline (a server whose
/// last connection is still closing cannot be deleted yet).
fn until(sock: &str, line: &str, want: &str) {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let got = ask(sock, line);
        if got == want {
            return;
        }
        assert!(Instant::now() < end, "{line}: {got:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What one round showed: the answers to the adds, `show servers state`,
/// `show stat`, the exporter.
type Seen = (String, String, Vec<String>, Vec<String>);

/// Add n1..n300 (n300 on its own server, with a check), send traffic that
/// reaches n300 and then every added server, and delete them all. `prom`:
/// the exporter's port, to read it too (its 4 MB answer for 300 servers
/// leaves the allocator of the core that built it at a higher mark: the
/// rounds that look at the memory do not read it).
fn round(
    admin: &str,
    prom: Option<u16>,
    fe: std::net::SocketAddr,
    all: &Backend,
    last: &Backend,
) -> Seen {
    let adds: Vec<String> = (1..N)
        .map(|i| format!("add server be/n{i} {}", all.addr))
        .chain([format!(
            "add server be/n{N} {} check inter 100ms",
            last.addr
        )])
        .collect();
    let answers = batched(admin, &adds);
    let state = servers_state(admin);
    let rows = stat(admin, &["svname", "status", "check_status"]);
    let metrics = prom.map(prometheus).unwrap_or_default();
    // Only n300 serves: it is the last slot, past any fixed number. (Its
    // server counts what it accepted since the last look: the previous
    // round's checks first.)
    last.count();
    ask(admin, "disable server be/s0");
    ask(admin, &format!("enable server be/n{N}"));
    for _ in 0..3 {
        echo_once(fe);
    }
    assert_eq!(last.count(), 3, "n{N} served the traffic");
    // Its check, spawned when it was added, runs.
    ask(admin, &format!("enable health be/n{N}"));
    let end = Instant::now() + Duration::from_secs(10);
    while !stat(admin, &["svname", "check_status"]).contains(&format!("n{N},L4OK")) {
        assert!(Instant::now() < end, "n{N}'s check never passed");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Then every added server takes its share: 2N connections, and each
    // core's round robin sees N of them at least.
    let enables: Vec<String> = (1..N).map(|i| format!("enable server be/n{i}")).collect();
    batched(admin, &enables);
    for _ in 0..2 * N {
        echo_once(fe);
    }
    for row in stat(admin, &["svname", "stot"]) {
        let (name, stot) = row.split_once(',').unwrap();
        if name != "s0" {
            assert!(stot.parse::<u64>().unwrap() >= 1, "{row}: no traffic");
        }
    }
    // Delete them all (each in maintenance, its connections gone).
    ask(admin, "enable server be/s0");
    for i in 1..=N {
        until(
            admin,
            &format!("disable server be/n{i}; del server be/n{i}"),
            "\nServer deleted.\n",
        );
    }
    assert_eq!(stat(admin, &["svname"]), ["s0"]);
    assert!(!servers_state(admin).contains(" n1 "));
    if let Some(port) = prom {
        assert!(prometheus(port).iter().all(|l| !l.contains("server=\"n")));
    }
    (answers, state, rows, metrics)
}

#[test]
fn dynsrv_grow_300_servers_deleted_and_added_again() {
    let all = Backend::echo();
    let last = Backend::echo();
    let mut seen: Vec<Seen> = Vec::new();
    for (name, program) in programs("dynsrv_grow_300_servers_deleted_and_added_again") {
        let dir = TempDir::new("dynsrv-grow");
        let (_hold, prom) = held_port();
        let p = start(name, &program, &cfg(&dir, prom, all.addr));
        let admin = format!("{}/admin.sock", dir.0.display());
        let first = round(&admin, Some(prom), p.addr, &all, &last);
        assert_eq!(
            first.0,
            "New server registered.\n\n".repeat(N),
            "{name}: every add answered"
        );
        assert_eq!(first.1.lines().count(), N + 3, "{name}: {}", first.1);
        assert_eq!(first.2.len(), N + 1, "{name}");
        assert_eq!(first.3.len(), N + 1, "{name}: {:?}", first.3);
        if name == "ringlb" {
            // Added again into the same slots: nothing more is held.
            let pid = p.child.id();
            let again = round(&admin, None, p.addr, &all, &last);
            assert_eq!(
                (&again.0, &again.1, &again.2),
                (&first.0, &first.1, &first.2)
            );
            let (fd1, rss1) = (fds(pid), vm_rss_kib(pid));
            for _ in 0..2 {
                assert_eq!(round(&admin, None, p.addr, &all, &last), again);
            }
            let (fd2, rss2) = (fds(pid), vm_rss_kib(pid));
            assert!(fd2 <= fd1 + 2, "descriptors grew: {fd1} -> {fd2}");
            assert!(
                rss2 <= rss1 + 2048,
                "memory grew by {} KiB over two rounds",
                rss2 - rss1
            );
        }
        seen.push(first);
    }
    if let [h, r] = &seen[..] {
        assert_eq!(h.1, r.1, "show servers state");
        assert_eq!(h.2, r.2, "show stat");
        assert_eq!(h.3, r.3, "haproxy_server_status");
    }
}

/// A configured server's slot, once deleted, is passed over by a server
/// that needs a check or an agent it does not have: the added server
/// gets both, and its check runs.
#[test]
fn dynsrv_checked_server_after_a_configured_one_is_deleted() {
    let s = Backend::echo();
    let mut seen = Vec::new();
    for (name, program) in programs("dynsrv_checked_server_after_a_configured_one_is_deleted") {
        let dir = TempDir::new("dynsrv-reuse");
        let (_hold, prom) = held_port();
        let _p = start(name, &program, &cfg(&dir, prom, s.addr));
        let admin = format!("{}/admin.sock", dir.0.display());
        let got = [
            ask(&admin, "disable server be/s0; del server be/s0"),
            ask(
                &admin,
                &format!(
                    "add server be/c {} check inter 100ms agent-check agent-port 9 agent-inter 1h",
                    s.addr
                ),
            ),
            ask(&admin, "enable server be/c; enable health be/c"),
        ];
        let end = Instant::now() + Duration::from_secs(10);
        while !stat(&admin, &["svname", "check_status"]).contains(&"c,L4OK".to_string()) {
            assert!(Instant::now() < end, "{name}: c's check never passed");
            std::thread::sleep(Duration::from_millis(50));
        }
        // The health counter moves with the checks' timing.
        let state: Vec<String> = servers_state(&admin)
            .lines()
            .map(|l| {
                let mut w: Vec<&str> = l.split(' ').collect();
                if !l.starts_with('#') && w.len() > 12 {
                    w[12] = "H";
                }
                w.join(" ")
            })
            .collect();
        seen.push((got, state));
    }
    assert_eq!(seen[0].0[1], "New server registered.\n\n");
    if let [h, r] = &seen[..] {
        assert_eq!(h, r);
    }
}

/// A server added at run time with a `maxconn` queues what it cannot
/// take, and a connection it releases serves the next waiter at once,
/// whichever core either is on (its wake-ups ride the mesh's command
/// lane: the bounded inboxes were sized at start-up).
#[test]
fn dynsrv_added_server_queue_is_served_on_release() {
    let s = Backend::echo();
    for (name, program) in programs("dynsrv_added_server_queue_is_served_on_release") {
        let dir = TempDir::new("dynsrv-queue");
        let (_hold, prom) = held_port();
        let p = start(name, &program, &cfg(&dir, prom, s.addr));
        let admin = format!("{}/admin.sock", dir.0.display());
        assert_eq!(
            ask(
                &admin,
                &format!(
                    "disable server be/s0; add server be/q {} maxconn 1; enable server be/q",
                    s.addr
                )
            ),
            "\nNew server registered.\n\n\n",
            "{name}"
        );
        for _ in 0..4 {
            let mut held = std::net::TcpStream::connect(p.addr).unwrap();
            held.write_all(b"a").unwrap();
            let mut b = [0u8; 1];
            held.read_exact(&mut b).unwrap();
            let mut waiting = std::net::TcpStream::connect(p.addr).unwrap();
            waiting
                .set_read_timeout(Some(Duration::from_millis(300)))
                .unwrap();
            waiting.write_all(b"b").unwrap();
            assert!(waiting.read_exact(&mut b).is_err(), "{name}: queued");
            let released = Instant::now();
            drop(held);
            waiting
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            waiting.read_exact(&mut b).unwrap();
            assert_eq!(&b, b"b");
            assert!(
                released.elapsed() < Duration::from_secs(2),
                "{name}: served late"
            );
        }
    }
}
