//! A server's state changed through its one owner reaches every core: two
//! real executors, a real listener (`fd@N`) and real servers; the changes
//! are made from this thread, as the runtime API and the checks will.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::IntoRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::server::{admin, Change};
use crate::engine::listener::bind_all;
use crate::engine::runtime::{self, topology::Placement, Executors};
use crate::engine::Process;

/// A server that answers every connection with its name, then waits for
/// the client to close.
fn named_server(name: &'static str) -> std::net::SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut c = c;
                let _ = c.write_all(name.as_bytes());
                let _ = c.read(&mut [0u8; 16]);
            });
        }
    });
    addr
}

struct Running {
    process: Arc<Process>,
    executors: Option<Executors>,
    front: std::net::SocketAddr,
}

impl Running {
    fn start(backend: &str) -> Running {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let front = listener.local_addr().unwrap();
        let text = format!(
            "defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\
             frontend f\n    bind fd@{}\n    default_backend be\n{backend}",
            // The proxy owns it from here (`fd@N`).
            listener.into_raw_fd()
        );
        let mut plan = crate::engine::plan::tests::plan(&text);
        plan.maxconn = 1000;
        plan.default_fullconn();
        let bound = bind_all(&plan, 2).unwrap();
        let process = Process::new(plan, 2);
        let placement = Placement {
            cpus: vec![0, 0],
            topology: Vec::new(),
        };
        let executors = runtime::start(&process, &placement, bound, None).unwrap();
        assert!(executors.wait_ready(Duration::from_secs(10)).is_empty());
        executors.go(true);
        Running {
            process,
            executors: Some(executors),
            front,
        }
    }

    /// The name of the server a new connection reaches, or "" when the
    /// proxy closed it without one.
    fn who(&self) -> (String, TcpStream) {
        let mut c = TcpStream::connect(self.front).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut name = [0u8; 16];
        let n = c.read(&mut name).unwrap_or(0);
        (String::from_utf8_lossy(&name[..n]).into_owned(), c)
    }

    /// Connect until `want` answers `streak` times in a row (the change
    /// reached both cores), within a deadline.
    fn until(&self, want: &str, streak: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut run = 0;
        while run < streak {
            assert!(Instant::now() < deadline, "never only {want:?}");
            run = if self.who().0 == want { run + 1 } else { 0 };
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.process.kill();
        if let Some(e) = self.executors.take() {
            for h in e.handles {
                let _ = h.join();
            }
        }
    }
}

#[test]
fn maintenance_and_ready_reach_every_core() {
    let (a, b) = (named_server("a"), named_server("b"));
    let run = Running::start(&format!(
        "backend be\n    balance roundrobin\n    server a {a}\n    server b {b}\n"
    ));
    let seen: std::collections::BTreeSet<String> = (0..8).map(|_| run.who().0).collect();
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), ["a", "b"]);
    assert!(run
        .process
        .set_server(0, 0, Change::AdminSet(admin::FMAINT)));
    assert!(
        !run.process
            .set_server(0, 0, Change::AdminSet(admin::FMAINT)),
        "no change twice"
    );
    run.until("b", 20);
    for _ in 0..50 {
        assert_eq!(run.who().0, "b", "a in maintenance");
    }
    assert!(run
        .process
        .set_server(0, 0, Change::AdminClear(admin::FMAINT)));
    run.until("a", 1);
    // Drain and weight 0 take it out of the balancing too.
    assert!(run
        .process
        .set_server(0, 1, Change::AdminSet(admin::FDRAIN)));
    run.until("a", 20);
    assert!(run
        .process
        .set_server(0, 1, Change::AdminClear(admin::FDRAIN)));
    assert!(run.process.set_server(0, 0, Change::EWeight(0)));
    run.until("b", 20);
}

/// `disabled` starts a server in maintenance; making it ready serves it.
#[test]
fn a_disabled_server_comes_back_when_made_ready() {
    let a = named_server("a");
    let run = Running::start(&format!("backend be\n    server a {a} disabled\n"));
    assert_eq!(run.who().0, "", "no usable server: closed unserved");
    assert!(run
        .process
        .set_server(0, 0, Change::AdminClear(admin::CMAINT | admin::FMAINT)));
    assert!(run
        .process
        .set_server(0, 0, Change::Oper(super::server::Oper::Running)));
    run.until("a", 5);
}

/// A limit that grows serves the queued streams at once, on whichever core
/// they wait.
#[test]
fn a_raised_maxconn_serves_the_queue() {
    let a = named_server("a");
    let run = Running::start(&format!(
        "backend be\n    timeout queue 20s\n    server a {a} maxconn 1\n"
    ));
    let (first, _held) = run.who();
    assert_eq!(first, "a");
    let waiting: Vec<_> = (0..3)
        .map(|_| {
            let c = TcpStream::connect(run.front).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            c
        })
        .collect();
    // They wait in the queue (the first connection holds the one slot).
    let deadline = Instant::now() + Duration::from_secs(5);
    while run.process.plan.backends[0].queued.get() < 3 {
        assert!(Instant::now() < deadline, "never queued");
        std::thread::yield_now();
    }
    let t = Instant::now();
    assert!(run.process.set_server(0, 0, Change::Maxconn(10)));
    for mut c in waiting {
        let mut name = [0u8; 4];
        let n = c.read(&mut name).unwrap();
        assert_eq!(&name[..n], b"a");
    }
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "served at once, not at timeout"
    );
}

/// `Process::shutdown_streams` (on-marked-down, and the runtime API's
/// `shutdown sessions server` next) ends the streams of one server on
/// every core at once, and only those; new streams still reach it.
#[test]
fn shutting_down_a_server_s_streams_reaches_every_core() {
    let (a, b) = (named_server("a"), named_server("b"));
    let run = Running::start(&format!(
        "backend be\n    balance roundrobin\n    server a {a}\n    server b {b}\n"
    ));
    // Accepted by both executors (SO_REUSEPORT spreads them), half on a.
    let conns: Vec<(String, TcpStream)> = (0..12).map(|_| run.who()).collect();
    let on_a = conns.iter().filter(|(n, _)| n == "a").count();
    assert!(on_a >= 2, "{on_a} streams on a");
    let a_conns = &run.process.plan.backends[0].servers[0].conns;
    assert_eq!(a_conns.get() as usize, on_a);
    run.process
        .shutdown_streams(0, 0, crate::log::termination::Cause::Killed);
    for (name, mut c) in conns {
        if name == "a" {
            // Closed: end of stream (or a reset).
            assert!(matches!(c.read(&mut [0u8; 8]), Ok(0) | Err(_)), "{name}");
        } else {
            c.set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            let e = c.read(&mut [0u8; 8]).unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock, "b's stay open");
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while a_conns.get() != 0 {
        assert!(Instant::now() < deadline, "a's slots never freed");
        std::thread::yield_now();
    }
    run.until("a", 1);
}
