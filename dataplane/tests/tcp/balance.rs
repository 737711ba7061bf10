//! Balancing: the algorithms (roundrobin, first, source, leastconn),
//! backup servers, retries and redispatch.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::harness::{
    self, config, echo, exchange, fired, log_config, logged_config, programs, read_until_closed,
    refused_addr, round_trip, start, tcp_config, Backend, Proxy, TcpLog, TempDir, DEADLINE,
};

#[test]
fn connect_failure_retries_then_redispatch() {
    let dead = refused_addr();
    let live = Backend::echo();
    // Without redispatch, a dead server fails after the retries: SC.
    let p = Proxy::start(&tcp_config(
        &format!("    retries 2\n    server dead {dead}\n"),
        "",
    ));
    let mut c = p.connect();
    let mut b = [0u8; 1];
    let n = c
        .read(&mut b)
        .unwrap_or_else(|e| panic!("the proxy must close the client after the retries: {e}"));
    assert_eq!(n, 0, "the proxy closes the client after the retries");
    let log = p.next_log();
    assert!(log.contains(" fe be/dead "), "{log}");
    assert!(log.contains(" SC "), "connect failure: {log}");
    assert!(log.contains("/2 0/0"), "retries counted: {log}");

    // With redispatch, the last retry goes to the live server.
    let p = Proxy::start(&tcp_config(
        &format!("    balance first\n    retries 1\n    option redispatch\n    server dead {dead}\n    server live {}\n", live.addr),
        "",
    ));
    let got = round_trip(&p, b"redispatched");
    assert_eq!(got, b"redispatched");
    let log = p.next_log();
    assert!(log.contains(" fe be/live "), "{log}");
    assert!(log.contains("/+1 "), "redispatch shows as +retries: {log}");
}

/// `retry-on` without `conn-failure` leaves a failed connection
/// unretried in TCP mode too (haproxy 2.6's back_handle_st_cer checks it
/// whatever the mode, though the manual says TCP mode ignores the
/// keyword: checked by hand, `1/1/0/0/0` against `1/1/0/0/2`).
#[test]
fn retry_on_none_stops_connect_retries() {
    let dead = refused_addr();
    let p = Proxy::start(&tcp_config(
        &format!("    retries 2\n    retry-on none\n    server dead {dead}\n"),
        "",
    ));
    let mut c = p.connect();
    let mut b = [0u8; 1];
    assert_eq!(c.read(&mut b).unwrap_or(0), 0);
    let log = p.next_log();
    assert!(log.contains(" SC "), "connect failure: {log}");
    assert!(log.contains("/0 0/0"), "no retry: {log}");
}

#[test]
fn roundrobin_spreads_by_weight() {
    let a = Backend::echo();
    let b = Backend::echo();
    let p = Proxy::start(&tcp_config(
        &format!(
            "    balance roundrobin\n    server a {} weight 1\n    server b {} weight 3\n",
            a.addr, b.addr
        ),
        "",
    ));
    for _ in 0..40 {
        assert_eq!(round_trip(&p, b"x"), b"x");
    }
    let (na, nb) = (a.count(), b.count());
    assert_eq!(na + nb, 40);
    // Two executors each run their own smooth round robin: 1:3 overall.
    assert!((8..=12).contains(&na), "a got {na}, b got {nb}");
}

/// Which of `servers` accepts the next connection (within the deadline).
fn which(servers: &[&Backend], what: &str) -> usize {
    let end = Instant::now() + DEADLINE;
    while Instant::now() < end {
        for (i, s) in servers.iter().enumerate() {
            if s.next_accept(Duration::from_millis(5)).is_some() {
                return i;
            }
        }
    }
    panic!("{what}: no server got the connection");
}

fn balance_config(balance: &str, servers: &str) -> String {
    config(
        "    nbthread 2\n",
        "    timeout connect 1s\n    timeout queue 5s\n    timeout client 10s\n    timeout server 10s\n",
        &format!("    balance {balance}\n{servers}"),
    )
}

#[test]
fn balance_first_fills_the_first_server_up_to_its_maxconn() {
    let (a, b) = (Backend::echo(), Backend::echo());
    let cfg = balance_config(
        "first",
        &format!(
            "    server s1 {} maxconn 2\n    server s2 {} maxconn 2\n",
            a.addr, b.addr
        ),
    );
    for (name, prog) in programs("balance_first_fills_the_first_server_up_to_its_maxconn") {
        let p = start(name, &prog, &cfg);
        let mut held = Vec::new();
        let mut went = Vec::new();
        for _ in 0..4 {
            let mut c = p.connect();
            echo(&mut c, b"hold", name);
            went.push(which(&[&a, &b], name));
            held.push(c);
        }
        assert_eq!(went, [0, 0, 1, 1], "{name}");
        // A slot frees on s1: the next connection takes it.
        drop(held.remove(0));
        assert_eq!(p.next_tcplog().server, "s1", "{name}");
        let mut c = p.connect();
        echo(&mut c, b"next", name);
        assert_eq!(which(&[&a, &b], name), 0, "{name}: s1 has room again");
        held.push(c);
    }
}

#[test]
fn balance_source_keeps_a_client_address_on_one_server() {
    let (a, b) = (Backend::echo(), Backend::echo());
    let cfg = balance_config(
        "source",
        &format!("    server s1 {}\n    server s2 {}\n", a.addr, b.addr),
    );
    let mut picked = Vec::new();
    for (name, prog) in programs("balance_source_keeps_a_client_address_on_one_server") {
        let p = start(name, &prog, &cfg);
        let servers: Vec<String> = (0..6).map(|_| exchange(&p, name).server).collect();
        let (na, nb) = (a.count(), b.count());
        // Every client is 127.0.0.1: one server gets them all.
        assert!(
            (na, nb) == (6, 0) || (na, nb) == (0, 6),
            "{name}: s1 got {na}, s2 got {nb}"
        );
        assert!(
            servers.iter().all(|s| *s == servers[0]),
            "{name}: {servers:?}"
        );
        picked.push((name, servers[0].clone()));
    }
    // The same address hashes to the same server as in HAProxy (map-based
    // hash of the address over the servers' weights).
    if let [(_, theirs), (_, ours)] = &picked[..] {
        assert_eq!(ours, theirs, "haproxy and ringlb pick different servers");
    }
}

#[test]
fn balance_leastconn_avoids_the_busy_server() {
    let (a, b) = (Backend::echo(), Backend::echo());
    let cfg = balance_config(
        "leastconn",
        &format!("    server s1 {}\n    server s2 {}\n", a.addr, b.addr),
    );
    for (name, prog) in programs("balance_leastconn_avoids_the_busy_server") {
        let p = start(name, &prog, &cfg);
        let mut long = p.connect();
        echo(&mut long, b"long", name);
        let busy = which(&[&a, &b], name);
        let busy_name = ["s1", "s2"][busy];
        for i in 0..4 {
            let log = exchange(&p, name);
            assert_ne!(log.server, busy_name, "{name}: exchange {i}: {log:?}");
        }
        assert_eq!([&a, &b][busy].count(), 0, "{name}");
        assert_eq!([&a, &b][1 - busy].count(), 4, "{name}");
        drop(long);
    }
}

#[test]
fn backup_servers_serve_only_when_every_active_is_down() {
    let (s1, b1, b2) = (Backend::echo(), Backend::echo(), Backend::echo());
    let servers = |s1_opts: &str| {
        format!(
            "    server s1 {}{s1_opts}\n    server b1 {} backup\n    server b2 {} backup\n",
            s1.addr, b1.addr, b2.addr
        )
    };
    let all_up = balance_config("roundrobin", &servers(""));
    let s1_down = balance_config("roundrobin", &servers(" disabled"));
    for (name, prog) in programs("backup_servers_serve_only_when_every_active_is_down") {
        let p = start(name, &prog, &all_up);
        for _ in 0..4 {
            assert_eq!(exchange(&p, name).server, "s1", "{name}");
        }
        drop(p);
        let p = start(name, &prog, &s1_down);
        for _ in 0..4 {
            // Only the first backup, without `option allbackups`.
            assert_eq!(exchange(&p, name).server, "b1", "{name}");
        }
        assert_eq!(
            (s1.count(), b1.count(), b2.count()),
            (4, 4, 0),
            "{name}: connections per server"
        );
    }
}

/// "retries": "a turn-around timer of min("timeout connect", one second) is
/// applied before a retry occurs on the same server" (HAProxy 3.2 manual,
/// 4.2 "retries").
#[test]
fn a_refused_connect_is_retried_after_the_turn_around_timer() {
    let dead = harness::refused_addr();
    let cfg = log_config(&format!("    retries 2\n    server s1 {dead}\n"));
    for (name, prog) in programs("a_refused_connect_is_retried_after_the_turn_around_timer") {
        let p = start(name, &prog, &cfg);
        let t0 = Instant::now();
        let mut c = p.connect();
        let (got, closed) = read_until_closed(&mut c, DEADLINE, name);
        assert!(got.is_empty(), "{name}: {got:?}");
        // Two retries, each after min(200ms, 1s).
        fired(name, Duration::from_millis(400), closed - t0);
        let log = p.next_tcplog();
        assert!(TcpLog::ms(&log.tt) >= 320, "{name}: Tt in {log:?}");
    }
}

/// `balance source` places each client address on the server HAProxy
/// picks, map-based and consistent (whose default function is sdbm with
/// avalanche), with weights: 24 client addresses from 127.0.0.0/8, the
/// log naming the server, the same on haproxy and ringlb.
#[test]
fn source_hashing_places_addresses_as_haproxy() {
    let be = Backend::echo();
    for hash_type in [
        "",
        "    hash-type consistent\n",
        "    hash-type map-based djb2\n",
    ] {
        let servers = format!(
            "{hash_type}    server s1 {a} weight 1\n    server s2 {a} weight 3\n    server s3 {a} weight 2\n    server s4 {a} weight 1\n",
            a = be.addr
        );
        let cfg = balance_config("source", &servers);
        let mut placements = Vec::new();
        for (name, prog) in programs("source-placement") {
            let p = start(name, &prog, &cfg);
            let mut picked = Vec::new();
            for i in 0..24u8 {
                let from: std::net::SocketAddr =
                    format!("127.0.{}.{}:0", i / 8, 10 + i * 7).parse().unwrap();
                let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
                    .unwrap();
                s.bind(&from.into()).unwrap();
                s.connect_timeout(&p.addr.into(), DEADLINE).unwrap();
                let mut c: TcpStream = s.into();
                c.set_read_timeout(Some(DEADLINE)).unwrap();
                c.write_all(b"h").unwrap();
                c.shutdown(Shutdown::Write).unwrap();
                let mut got = Vec::new();
                c.read_to_end(&mut got).unwrap();
                let log = p.next_tcplog();
                picked.push(log.server);
            }
            placements.push((name, picked));
        }
        if let [(_, theirs), (_, ours)] = &placements[..] {
            assert_eq!(
                ours, theirs,
                "{hash_type:?}: haproxy and ringlb place clients differently"
            );
        }
    }
}

/// A `unix@` server that refuses redispatches like a TCP one: with
/// `option redispatch` and `retries 1`, the stream is served by the live
/// server and the log shows the retry (`+1`: redispatched).
fn dead_unix_server_redispatches(name: &str, program: &Path) {
    let dir = TempDir::new("unix-dead");
    // A socket file nobody listens on any more: connect() is refused.
    let dead = dir.0.join("dead.sock");
    drop(std::os::unix::net::UnixListener::bind(&dead).unwrap());
    let be = Backend::echo();
    let p = start(
        name,
        program,
        &logged_config(
            "    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n",
            &format!(
                "    balance first\n    retries 1\n    option redispatch\n\
                 server dead unix@{}\n    server live {}\n",
                dead.display(),
                be.addr
            ),
        ),
    );
    let mut c = p.connect();
    c.write_all(b"hello").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut got = Vec::new();
    c.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"hello", "{name}");
    let l = p.next_tcplog();
    assert_eq!(
        (l.backend.as_str(), l.server.as_str()),
        ("be", "live"),
        "{name}: {l:?}"
    );
    assert_eq!(l.retries, "+1", "{name}: {l:?}");
    assert_eq!(l.termination, "--", "{name}: {l:?}");
}

on_both!(
    dead_unix_server_redispatches,
    dead_unix_server_redispatches_on_haproxy,
    dead_unix_server_redispatches_on_ringlb
);

/// Without `option redispatch` a retry stays on the server it failed on,
/// whatever the algorithm would pick next (HAProxy keeps the stream
/// assigned): under roundrobin over a dead and a live server, a stream
/// that tried the dead one fails there after its retries (SC, 2
/// retries); with `option redispatch` its first retry leaves it
/// (roundrobin is no hash: at once, `+1`). Which server a stream tries
/// first depends on the core it lands on: four streams, each checked.
fn a_retry_stays_on_its_server(name: &str, program: &Path) {
    let dead = refused_addr();
    for redispatch in ["", "option redispatch"] {
        let be = Backend::echo();
        let p = start(
            name,
            program,
            &logged_config(
                "    timeout connect 200ms\n    timeout client 10s\n    timeout server 10s\n",
                &format!(
                    "    balance roundrobin\n    retries 2\n    {redispatch}\n\
                     server dead {dead}\n    server live {}\n",
                    be.addr
                ),
            ),
        );
        let mut retried = 0;
        for _ in 0..4 {
            let mut c = p.connect();
            let _ = c.write_all(b"hello");
            let _ = c.shutdown(Shutdown::Write);
            let mut got = Vec::new();
            let _ = c.read_to_end(&mut got);
            let l = p.next_tcplog();
            let seen = (l.server.as_str(), l.retries.as_str());
            if seen == ("live", "0") {
                continue;
            }
            retried += 1;
            let want = if redispatch.is_empty() {
                ("dead", "2")
            } else {
                ("live", "+1")
            };
            assert_eq!(seen, want, "{name}: {redispatch:?}: {l:?}");
        }
        assert!(
            retried > 0,
            "{name}: {redispatch:?}: no stream tried the dead server"
        );
    }
}

on_both!(
    a_retry_stays_on_its_server,
    a_retry_stays_on_its_server_on_haproxy,
    a_retry_stays_on_its_server_on_ringlb
);

/// After a redispatch, %Tw runs up to the pick of the server that served
/// (the failed attempt included) and %Tc is that last attempt alone:
/// HAProxy logs `502/1/502` for a first attempt that timed out at 500 ms.
fn redispatched_stream_times_its_last_attempt(name: &str, program: &Path) {
    let stalled = harness::stalled();
    let be = Backend::echo();
    let p = start(
        name,
        program,
        &logged_config(
            "    timeout connect 500ms\n    timeout client 10s\n    timeout server 10s\n",
            &format!(
                "    balance first\n    retries 1\n    option redispatch\n\
                 server stalled {}\n    server live {}\n",
                stalled.addr, be.addr
            ),
        ),
    );
    let mut c = p.connect();
    c.write_all(b"x").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut got = Vec::new();
    c.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"x", "{name}");
    let l = p.next_tcplog();
    assert_eq!(l.server, "live", "{name}: {l:?}");
    assert_eq!(l.retries, "+1", "{name}: {l:?}");
    let (tw, tc) = (TcpLog::ms(&l.tw), TcpLog::ms(&l.tc));
    assert!((450..2000).contains(&tw), "{name}: Tw in {l:?}");
    assert!((0..200).contains(&tc), "{name}: Tc in {l:?}");
}

on_both!(
    redispatched_stream_times_its_last_attempt,
    redispatch_timers_on_haproxy,
    redispatch_timers_on_ringlb
);
