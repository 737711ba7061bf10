//! Limits under a storm: past global `maxconn` every client waits in the
//! kernel's accept queue and is served as slots free, on any core, and
//! service comes back at once after the storm.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::harness::{self, Backend, Proxy, DEADLINE};

/// A backend that answers each client `ok` after `delay` and counts how
/// many it held at once.
fn slow_backend(delay: Duration) -> (Backend, Arc<AtomicUsize>) {
    let current = Arc::new(AtomicUsize::new(0));
    let max = Arc::new(AtomicUsize::new(0));
    let m = Arc::clone(&max);
    let be = Backend::spawn_with(move |mut s| {
        let now = current.fetch_add(1, Ordering::SeqCst) + 1;
        m.fetch_max(now, Ordering::SeqCst);
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        let mut b = [0u8; 1];
        let _ = s.read(&mut b);
        std::thread::sleep(delay);
        current.fetch_sub(1, Ordering::SeqCst);
        let _ = s.write_all(b"ok");
        let _ = s.shutdown(Shutdown::Write);
    });
    (be, max)
}

fn exchange(addr: std::net::SocketAddr) -> Result<(), String> {
    let mut c = TcpStream::connect_timeout(&addr, DEADLINE).map_err(|e| e.to_string())?;
    c.set_read_timeout(Some(DEADLINE)).unwrap();
    c.write_all(b"x").map_err(|e| e.to_string())?;
    let mut got = Vec::new();
    c.read_to_end(&mut got).map_err(|e| e.to_string())?;
    if got == b"ok" {
        Ok(())
    } else {
        Err(format!("got {got:?}"))
    }
}

/// A storm of 200 clients past `maxconn 10` on two executors: each client
/// is served (haproxy serves them all from its accept queue), never more
/// than 10 at once reach the server, and a request after the storm is
/// served at once. Before the fix ringlb served 10 and parked the rest
/// for good: later clients were accepted, never served nor closed, and a
/// request after the storm timed out.
#[test]
fn a_storm_past_maxconn_is_served_and_service_recovers_at_once() {
    let mut programs = Vec::new();
    if let Some(h) = harness::haproxy("a_storm_past_maxconn_is_served_and_service_recovers_at_once")
    {
        programs.push(("haproxy", h));
    }
    programs.push(("ringlb", harness::ringlb()));
    for (name, program) in programs {
        let (be, max) = slow_backend(Duration::from_millis(20));
        let cfg = format!(
            "global\n    maxconn 10\n    nbthread 2\n\
             defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 30s\n    timeout server 30s\n\
             frontend fe\n    bind fd@3\n    default_backend be\n\
             backend be\n    server s1 {}\n",
            be.addr
        );
        let p = if name == "haproxy" {
            harness::start_haproxy(&program, &cfg)
        } else {
            Proxy::start(&cfg)
        };
        let addr = p.addr;
        let failures: Vec<String> = (0..200)
            .map(|_| std::thread::spawn(move || exchange(addr)))
            .collect::<Vec<_>>()
            .into_iter()
            .filter_map(|t| t.join().unwrap().err())
            .collect();
        assert!(
            failures.is_empty(),
            "{name}: {} of 200 clients failed: {:?}",
            failures.len(),
            &failures[..failures.len().min(5)]
        );
        assert!(
            max.load(Ordering::SeqCst) <= 10,
            "{name}: {} at the server at once",
            max.load(Ordering::SeqCst)
        );
        let t = Instant::now();
        exchange(addr).unwrap_or_else(|e| panic!("{name}: after the storm: {e}"));
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "{name}: a request after the storm took {:?}",
            t.elapsed()
        );
    }
}

/// With `maxconn 1` on two executors, a slot freed on one core lets the
/// client waiting on the other in at once (a message wakes it; nothing
/// polls): 40 clients in a row, each served well within the time the
/// old 10 ms polling would have cost them together.
#[test]
fn a_slot_freed_on_one_core_serves_a_client_waiting_on_the_other() {
    let (be, max) = slow_backend(Duration::ZERO);
    let cfg = format!(
        "global\n    maxconn 1\n    nbthread 2\n\
         defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 30s\n    timeout server 30s\n\
         frontend fe\n    bind fd@3\n    default_backend be\n\
         backend be\n    server s1 {}\n",
        be.addr
    );
    let p = Proxy::start(&cfg);
    let addr = p.addr;
    exchange(addr).unwrap();
    // Four clients at a time, so one always waits for the slot.
    let t = Instant::now();
    let failures: Vec<String> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                (0..10)
                    .filter_map(|_| exchange(addr).err())
                    .collect::<Vec<_>>()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(max.load(Ordering::SeqCst), 1);
    assert!(
        t.elapsed() < DEADLINE,
        "40 clients through one slot took {:?}",
        t.elapsed()
    );
}
