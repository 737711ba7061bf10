//! Buffers and pipes: the per-core pools are bounded (`tune.buffers.limit`,
//! `maxpipes`), and streams past the bound are still served: they wait
//! for a buffer, or keep copying when no pipe is free.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread;

use crate::harness::{pattern, vm_rss_kib, Backend, Proxy, DEADLINE};

/// Send `data`, half-close, read everything back (the harness's
/// round_trip, by address: a `Proxy` stays on the test's thread).
fn round_trip(addr: SocketAddr, data: &[u8]) -> Vec<u8> {
    let mut c = TcpStream::connect_timeout(&addr, DEADLINE).unwrap();
    c.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut w = c.try_clone().unwrap();
    let mut got = Vec::new();
    thread::scope(|s| {
        s.spawn(|| {
            w.write_all(data).unwrap();
            w.shutdown(Shutdown::Write).unwrap();
        });
        c.read_to_end(&mut got).unwrap();
    });
    got
}

/// `n` clients at once, each a `size`-byte round trip; panics on a
/// client that did not get its bytes back intact.
fn bulk_clients(p: &Proxy, n: usize, size: usize) {
    let data = pattern(size);
    let addr = p.addr;
    thread::scope(|s| {
        let clients: Vec<_> = (0..n)
            .map(|_| s.spawn(|| round_trip(addr, &data) == data))
            .collect();
        for (i, c) in clients.into_iter().enumerate() {
            assert!(c.join().unwrap(), "client {i}: bytes differ");
        }
    });
    for _ in 0..n {
        let log = p.next_log();
        assert!(log.contains(&format!(" {size} -- ")), "{log}");
    }
}

fn config(global: &str, defaults: &str, server: std::net::SocketAddr) -> String {
    format!(
        "global\n    nbthread 1\n    log stdout format raw local0\n{global}\
         defaults\n    mode tcp\n    log global\n    option tcplog\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n{defaults}\
         frontend fe\n    bind fd@3\n    default_backend be\n\
         backend be\n    server s1 {server}\n"
    )
}

/// 32 bulk streams at once where the buffer budget allows one bulk buffer
/// (`tune.buffers.limit 5`): the streams that find no room keep to the
/// ring's provided buffers, all are served, and memory does not grow with
/// the number of bulk streams: a second, larger wave leaves RSS where the
/// first one took it.
#[test]
fn bulk_streams_past_the_buffer_budget_are_all_served() {
    let be = Backend::echo();
    let p = Proxy::start(&config("    tune.buffers.limit 5\n", "", be.addr));
    bulk_clients(&p, 8, 1 << 20);
    let warm = vm_rss_kib(p.child.id());
    bulk_clients(&p, 32, 2 << 20);
    let after = vm_rss_kib(p.child.id());
    assert!(
        after <= warm + 4096,
        "RSS grew from {warm} kB to {after} kB with more bulk streams"
    );
}

/// `maxpipes 2` with splicing: at most two directions splice at once;
/// the others copy through buffers, and every byte arrives. Once they
/// ended, SIGQUIT's flush finds at most the two pipes (the pool keeps
/// the pipes it lent, never more than its cap).
#[test]
fn streams_without_a_pipe_keep_copying() {
    let be = Backend::echo();
    let p = Proxy::start(&config(
        "    maxpipes 2\n",
        "    option splice-auto\n",
        be.addr,
    ));
    bulk_clients(&p, 16, 2 << 20);
    p.signal(nix::sys::signal::Signal::SIGQUIT);
    let total = loop {
        let line = p.stderr.recv_timeout(DEADLINE).unwrap();
        if line.starts_with("Total:") {
            break line;
        }
    };
    // "Total: 0 streams, B buffers and P pipes flushed"
    let pipes: usize = total
        .split_whitespace()
        .rev()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no pipe count in {total:?}"));
    assert!((1..=2).contains(&pipes), "{total}");
}
