//! The runtime API over both socket kinds: every command of the table,
//! sent to a UNIX and to a TCP `stats socket` of the same process at
//! level admin, gets the same answer (time-varying answers compared by
//! shape), on ringlb and on haproxy (which shows the masks are fair); and
//! a change made over TCP reaches the traffic.

use std::io::{Read, Write};

use crate::harness::{held_port, programs, start, Backend, TempDir};

/// One request line over a UNIX path or a TCP `host:port`.
fn ask(sock: &str, line: &str) -> String {
    crate::harness::cli_ask(sock, line)
}

/// How an answer is compared.
#[derive(Clone, Copy)]
enum Cmp {
    /// Byte for byte.
    Same,
    /// The first word of each line (counters and times vary).
    Shape,
    /// The number of lines (the asking stream itself is listed).
    Lines,
    /// `show servers state` with the seconds-since-change column masked.
    State,
    /// CSV: the first two fields and the status of each row.
    Csv,
}

/// Every command of the table with arguments that leave the process as
/// they found it, at level admin. `{d}` is the test's directory.
const COMMANDS: &[(&str, Cmp)] = &[
    ("help", Cmp::Same),
    ("show cli level", Cmp::Same),
    ("operator; show cli level; user; show cli level", Cmp::Same),
    (
        "set severity-output number; show servers state nope",
        Cmp::Same,
    ),
    ("set severity-output string; foo", Cmp::Same),
    ("set timeout cli 30", Cmp::Same),
    ("show version", Cmp::Lines),
    ("show info", Cmp::Shape),
    ("show env HOME", Cmp::Same),
    ("show threads", Cmp::Shape),
    ("show activity", Cmp::Shape),
    ("show pools", Cmp::Lines),
    ("show servers state", Cmp::State),
    ("show servers state be", Cmp::State),
    ("show servers conn be", Cmp::Shape),
    ("show backend", Cmp::Same),
    ("show sess", Cmp::Lines),
    ("show errors", Cmp::Shape),
    ("show stat", Cmp::Csv),
    ("show stat -1 4 -1", Cmp::Csv),
    ("show schema json", Cmp::Lines),
    ("clear counters; clear counters all", Cmp::Same),
    ("disable server be/s1; enable server be/s1", Cmp::Same),
    (
        "set server be/s1 state drain; set server be/s1 state ready",
        Cmp::Same,
    ),
    ("set server be/s1 weight 2; get weight be/s1", Cmp::Same),
    ("set weight be/s1 1; get weight be/s1", Cmp::Same),
    (
        "set maxconn server be/s1 10; set maxconn server be/s1 0",
        Cmp::Same,
    ),
    ("set maxconn frontend fe 100", Cmp::Same),
    ("set rate-limit connections global 0", Cmp::Same),
    ("disable frontend fe; enable frontend fe", Cmp::Same),
    ("shutdown sessions server be/s1", Cmp::Same),
    ("disable health be/s1; enable agent be/s1", Cmp::Same),
    ("shutdown session 0x1", Cmp::Same),
    ("show acl", Cmp::Shape),
    ("get acl {d}/a.acl 10.9.9.9", Cmp::Same),
    (
        "add acl {d}/a.acl 10.1.1.1; get acl {d}/a.acl 10.1.1.1; del acl {d}/a.acl 10.1.1.1",
        Cmp::Same,
    ),
    ("show table; show table be", Cmp::Same),
    ("wait 1ms", Cmp::Same),
];

fn compare(how: Cmp, a: &str) -> String {
    match how {
        Cmp::Same => a.to_string(),
        Cmp::Shape => a
            .lines()
            .map(|l| l.split([' ', ':']).next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n"),
        Cmp::Lines => a.lines().count().to_string(),
        Cmp::State => a
            .lines()
            .map(|l| {
                let mut w: Vec<&str> = l.split(' ').collect();
                if !l.starts_with('#') && w.len() > 9 {
                    w[9] = "T";
                }
                w.join(" ")
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Cmp::Csv => a
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                format!(
                    "{},{},{}",
                    f.first().unwrap_or(&""),
                    f.get(1).unwrap_or(&""),
                    f.get(17).unwrap_or(&"")
                )
            })
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

fn cfg(d: &str, tcp_port: u16, s1: &Backend, s2: &Backend) -> String {
    format!(
        "global\n    stats socket {d}/admin.sock level admin\n    stats socket ipv4@127.0.0.1:{tcp_port} level admin\n\
         defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n\
         frontend fe\n    bind fd@3\n    acl blocked src -f {d}/a.acl\n    tcp-request connection reject if blocked\n    default_backend be\n\
         backend be\n    balance roundrobin\n    server s1 {} weight 1\n    server s2 {}\n",
        s1.addr, s2.addr
    )
}

#[test]
fn every_command_answers_alike_over_unix_and_tcp() {
    let s1 = Backend::echo();
    let s2 = Backend::echo();
    for (name, program) in programs("every_command_answers_alike_over_unix_and_tcp") {
        let dir = TempDir::new("cli-kinds");
        let d = dir.0.display().to_string();
        std::fs::write(format!("{d}/a.acl"), "10.9.9.9\n").unwrap();
        let (hold, port) = held_port();
        drop(hold);
        let _p = start(name, &program, &cfg(&d, port, &s1, &s2));
        let unix = format!("{d}/admin.sock");
        let tcp = format!("127.0.0.1:{port}");
        for (line, how) in COMMANDS {
            let line = line.replace("{d}", &d);
            let a = ask(&unix, &line);
            let b = ask(&tcp, &line);
            assert_eq!(
                compare(*how, &a),
                compare(*how, &b),
                "{name}: `{line}` answers differently over UNIX and TCP:\n{a}\n---\n{b}"
            );
            assert!(!a.is_empty(), "{name}: `{line}`: no answer");
        }
    }
}

/// Serve one connection (one echoed byte).
fn spread(p: &crate::harness::Proxy, n: usize) {
    for _ in 0..n {
        let mut c = p.connect();
        c.write_all(b"x").unwrap();
        let mut b = [0u8; 1];
        c.read_exact(&mut b).unwrap();
    }
}

#[test]
fn a_change_over_tcp_reaches_the_traffic() {
    let s1 = Backend::echo();
    let s2 = Backend::echo();
    let dir = TempDir::new("cli-kinds-fx");
    let d = dir.0.display().to_string();
    std::fs::write(format!("{d}/a.acl"), "").unwrap();
    let (hold, port) = held_port();
    drop(hold);
    let p = crate::harness::Proxy::start(&cfg(&d, port, &s1, &s2));
    let tcp = format!("127.0.0.1:{port}");
    assert_eq!(ask(&tcp, "set server be/s1 state maint"), "\n");
    spread(&p, 4);
    assert_eq!((s1.count(), s2.count()), (0, 4));
    assert_eq!(ask(&tcp, "set server be/s1 state ready"), "\n");
    spread(&p, 4);
    assert_eq!((s1.count(), s2.count()), (2, 2));
    // An ACL entry added over TCP rejects the client's address.
    assert_eq!(ask(&tcp, &format!("add acl {d}/a.acl 127.0.0.1")), "\n");
    let mut c = p.connect();
    let _ = c.write_all(b"x");
    let mut b = [0u8; 1];
    assert!(
        !matches!(c.read(&mut b), Ok(1)),
        "a rejected client was served"
    );
}
