//! Forwarding: bytes arrive intact both ways, half-closes, splicing, data
//! received before a timeout, clients that reset, memory released with
//! closed streams.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::thread;
use std::time::Duration;

use crate::harness::{
    pattern, round_trip, start, tcp_config, vm_rss_kib, Backend, Proxy, TcpLog, DEADLINE,
};

#[test]
fn bytes_arrive_intact_both_ways() {
    let be = Backend::echo();
    let p = Proxy::start(&tcp_config(&format!("    server s1 {}\n", be.addr), ""));
    for size in [1usize, 100, 16 * 1024, 16 * 1024 + 1, 1 << 20, 64 << 20] {
        let data = pattern(size);
        let got = round_trip(&p, &data);
        assert_eq!(got.len(), data.len(), "size {size}");
        assert!(got == data, "size {size}: bytes differ");
        let log = p.next_log();
        assert!(log.contains(" fe be/s1 "), "{log}");
        assert!(
            log.contains(&format!(" {size} -- ")),
            "bytes and termination in: {log}"
        );
    }
}

#[test]
fn half_close_from_the_server_side() {
    // The server says hello and closes its side; the client can still send,
    // and the server still receives it.
    let (tx, rx) = std::sync::mpsc::channel();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.write_all(b"hello").unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let mut got = Vec::new();
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        s.read_to_end(&mut got).unwrap();
        tx.send(got).unwrap();
    });
    let p = Proxy::start(&tcp_config(&format!("    server s1 {addr}\n"), ""));
    let mut c = p.connect();
    let mut hello = [0u8; 5];
    c.read_exact(&mut hello).unwrap();
    assert_eq!(&hello, b"hello");
    let mut rest = [0u8; 1];
    assert_eq!(
        c.read(&mut rest).unwrap(),
        0,
        "the server's FIN reaches the client"
    );
    c.write_all(b"after-fin").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    assert_eq!(rx.recv_timeout(DEADLINE).unwrap(), b"after-fin");
    let log = p.next_log();
    assert!(log.contains(" 5 -- "), "{log}");
}

#[test]
fn splice_auto_moves_large_flows_intact() {
    let be = Backend::echo();
    let p = Proxy::start(&tcp_config(
        &format!("    server s1 {}\n", be.addr),
        "    option splice-auto\n",
    ));
    for size in [10usize, 300 * 1024, 64 << 20] {
        let data = pattern(size);
        let got = round_trip(&p, &data);
        assert_eq!(got.len(), size, "size {size}");
        assert!(got == data, "size {size}: bytes differ after splicing");
        let log = p.next_log();
        assert!(log.contains(&format!(" {size} -- ")), "{log}");
    }
}

/// A backend serving one connection at a time: reads up to the client's
/// FIN, echoes it back, closes.
fn serial_echo() -> std::net::SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { break };
            let _ = s.set_read_timeout(Some(DEADLINE));
            let mut got = Vec::new();
            let _ = s.read_to_end(&mut got);
            let _ = s.write_all(&got);
        }
    });
    addr
}

/// One short connection through the proxy: a byte there and back.
fn short_connection(p: &Proxy) {
    let mut c = p.connect();
    c.write_all(b"x").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut got = Vec::new();
    c.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"x");
}

/// A closed stream holds nothing until its (far) timeout: its watchdog's
/// timer slot, and the task its waker keeps alive (~2.3 KB), are freed as
/// the data phase ends. Before the fix, 5,000 short connections with 100 s
/// timeouts grew RSS by ~12 MB; HAProxy stays flat.
#[test]
fn closed_streams_release_their_memory_before_their_timeout() {
    let server = serial_echo();
    let p = Proxy::start(&format!(
        "global\n    nbthread 2\n\
         defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 100s\n    timeout server 100s\n\
         frontend fe\n    bind fd@3\n    default_backend be\n\
         backend be\n    server s1 {server}\n"
    ));
    // Warm-up: pools, ring buffers and allocator arenas reach their size.
    for _ in 0..1000 {
        short_connection(&p);
    }
    let warm = vm_rss_kib(p.child.id());
    for _ in 0..5000 {
        short_connection(&p);
    }
    let after = vm_rss_kib(p.child.id());
    assert!(
        after <= warm + 2048,
        "RSS grew from {warm} kB to {after} kB over 5,000 closed connections"
    );
    // And every stream gave its timer back: SIGQUIT reports 0 timers on
    // each executor once the last stream has ended.
    let end = std::time::Instant::now() + DEADLINE;
    let mut last = Vec::new();
    loop {
        p.signal(nix::sys::signal::Signal::SIGQUIT);
        last.clear();
        while let Ok(line) = p.stderr.recv_timeout(DEADLINE) {
            let total = line.starts_with("Total:");
            last.push(line);
            if total {
                break;
            }
        }
        let executors: Vec<&String> = last.iter().filter(|l| l.contains("- executor")).collect();
        if executors.len() == 2 && executors.iter().all(|l| l.contains(" 0 timers")) {
            break;
        }
        // Paced by the proxy's own answer (each round waits for its
        // "Total:" line), not by a sleep.
        assert!(
            std::time::Instant::now() < end,
            "timers still registered after every stream ended: {last:#?}"
        );
    }
}

/// A backend that reports every connection's bytes (read up to the FIN or
/// an error) on the channel.
fn recording_backend() -> (Backend, std::sync::mpsc::Receiver<Vec<u8>>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let be = Backend::spawn_with(move |mut s: TcpStream| {
        let _ = s.set_read_timeout(Some(DEADLINE));
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got);
        let _ = tx.lock().unwrap().send(got);
    });
    (be, rx)
}

/// Bytes a client sent before its timeout reach the server: with
/// `timeout client 1ms` and 51 bytes sent right after connecting, HAProxy
/// forwards the 51 bytes, then closes and logs `cD` with `%U` 51.
fn bytes_received_before_a_client_timeout_are_forwarded(name: &str, program: &Path) {
    let (be, received) = recording_backend();
    let cfg = format!(
        "global\n    nbthread 2\n    log stdout format raw local0\n\
         defaults\n    mode tcp\n    log global\n    log-format \"%U %B %ts\"\n\
         timeout connect 2s\n    timeout client 1ms\n    timeout server 10s\n\
         frontend fe\n    bind fd@3\n    default_backend be\n\
         backend be\n    server s1 {}\n",
        be.addr
    );
    let p = start(name, program, &cfg);
    let request = [b'r'; 51];
    let mut forwarded = 0;
    for i in 0..5 {
        let mut c = p.connect();
        c.write_all(&request).unwrap();
        let mut rest = Vec::new();
        let _ = c.read_to_end(&mut rest);
        let got = received.recv_timeout(DEADLINE).unwrap();
        let line = p.next_log();
        // Both race here: on a loaded machine the 1 ms timer may fire
        // before the client's bytes even arrive (seen for haproxy under the
        // parallel suite, and once for ringlb in a fresh-clone run). Such a
        // connection times out with nothing to forward, which is right;
        // the behaviour shows when the bytes win, which must happen.
        if got.is_empty() {
            assert!(line.starts_with("0 0 c"), "{name}, connection {i}: {line}");
            continue;
        }
        assert_eq!(
            got.len(),
            51,
            "{name}, connection {i}: the server got {got:?}"
        );
        assert_eq!(line, "51 0 cD", "{name}, connection {i}");
        forwarded += 1;
    }
    assert!(forwarded >= 1, "{name}: no connection forwarded its bytes");
}

on_both!(
    bytes_received_before_a_client_timeout_are_forwarded,
    client_timeout_forwards_received_bytes_on_haproxy,
    client_timeout_forwards_received_bytes_on_ringlb
);

/// A client that reset its connection before the proxy handled it (it
/// waited in the accept queue behind `maxconn 1`) gets no server
/// connection: HAProxy logs `be/<NOSRV> -1/-1/0 0 CR` and never connects.
fn reset_clients_are_not_connected_to_a_server(name: &str, program: &Path, frontend: &str) {
    let be = Backend::echo();
    let p = start(
        name,
        program,
        &format!(
            "global\n    nbthread 2\n    log stdout format raw local0\n\
             defaults\n    mode tcp\n    log global\n    option tcplog\n\
             timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n\
             frontend fe\n    maxconn 1\n    bind fd@3\n{frontend}    default_backend be\n\
             backend be\n    server s1 {}\n",
            be.addr
        ),
    );
    // The holder takes the frontend's only slot; the others wait in the
    // kernel's accept queue, where their resets reach them.
    let mut holder = p.connect();
    holder.write_all(b"h").unwrap();
    let mut one = [0u8; 1];
    holder.read_exact(&mut one).unwrap();
    assert!(be.next_accept(DEADLINE).is_some());
    for _ in 0..3 {
        let c = TcpStream::connect_timeout(&p.addr, DEADLINE).unwrap();
        socket2::SockRef::from(&c)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(c);
    }
    drop(holder);
    let logs: Vec<TcpLog> = (0..4).map(|_| p.next_tcplog()).collect();
    let reset: Vec<&TcpLog> = logs.iter().filter(|l| l.server != "s1").collect();
    assert_eq!(reset.len(), 3, "{name}: {logs:#?}");
    for l in reset {
        assert_eq!(
            (
                l.server.as_str(),
                l.tw.as_str(),
                l.tc.as_str(),
                l.tt.as_str(),
                l.bytes.as_str(),
                l.termination.as_str()
            ),
            ("<NOSRV>", "-1", "-1", "0", "0", "CR"),
            "{name}: {l:?}"
        );
    }
    assert!(
        be.next_accept(Duration::from_millis(200)).is_none(),
        "{name}: a reset client was connected to the server"
    );
}

fn reset_clients_without_inspection(name: &str, program: &Path) {
    reset_clients_are_not_connected_to_a_server(name, program, "");
}

on_both!(
    reset_clients_without_inspection,
    reset_client_is_not_served_on_haproxy,
    reset_client_is_not_served_on_ringlb
);

fn reset_clients_with_inspect_delay(name: &str, program: &Path) {
    reset_clients_are_not_connected_to_a_server(
        name,
        program,
        "    tcp-request inspect-delay 5s\n",
    );
}

on_both!(
    reset_clients_with_inspect_delay,
    reset_client_with_inspect_delay_is_not_served_on_haproxy,
    reset_client_with_inspect_delay_is_not_served_on_ringlb
);
