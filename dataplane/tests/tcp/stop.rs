//! Stopping and pausing, idle and under load: a soft stop (SIGUSR1, `-sf`)
//! ends an idle process, a pause (SIGTTOU) releases the address and SIGTTIN
//! takes it back, and reloads in a loop under a client loop lose nothing.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::harness::{self, Backend, Proxy, TempDir, DEADLINE};

fn config(global: &str, be: &Backend) -> String {
    format!(
        "global\n{global}\
         defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n\
         frontend fe\n    bind fd@3\n    default_backend be\n\
         backend be\n    server s1 {}\n",
        be.addr
    )
}

/// The proxy echoes `data` back through the echo backend (within 2 s).
fn echoes(addr: SocketAddr, data: &[u8]) -> std::io::Result<()> {
    let t = Duration::from_secs(2);
    let mut c = TcpStream::connect_timeout(&addr, t)?;
    c.set_read_timeout(Some(t))?;
    c.write_all(data)?;
    c.shutdown(Shutdown::Write)?;
    let mut got = Vec::new();
    c.read_to_end(&mut got)?;
    if got == data {
        Ok(())
    } else {
        Err(std::io::Error::other(format!("got {got:?}")))
    }
}

/// Until `deadline`, retry `f` until it returns true.
fn within(deadline: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + deadline;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

fn programs(test: &str) -> Vec<(&'static str, std::path::PathBuf)> {
    let mut v = Vec::new();
    if let Some(h) = harness::haproxy(test) {
        v.push(("haproxy", h));
    }
    v.push(("ringlb", harness::ringlb()));
    v
}

fn start(name: &str, program: &std::path::Path, cfg: &str) -> Proxy {
    if name == "haproxy" {
        harness::start_haproxy(program, cfg)
    } else {
        Proxy::start_with(program, cfg, &[])
    }
}

/// A soft stop ends a process that has nothing to finish, whether it
/// served a client first or not, on one executor or two. (The earlier
/// tests all connected a client after the signal, which hid that an idle
/// process never stopped: its pending accept was never cancelled.)
#[test]
fn a_soft_stop_ends_an_idle_process() {
    let be = Backend::echo();
    for (name, program) in programs("a_soft_stop_ends_an_idle_process") {
        for nbthread in [1, 2] {
            for served_first in [false, true] {
                let what = format!("{name} nbthread {nbthread} served first {served_first}");
                let mut p = start(
                    name,
                    &program,
                    &config(&format!("    nbthread {nbthread}\n"), &be),
                );
                // Up and serving (or at least listening) before the signal.
                if served_first {
                    echoes(p.addr, b"x").unwrap_or_else(|e| panic!("{what}: {e}"));
                } else {
                    std::thread::sleep(Duration::from_millis(200));
                }
                p.signal(Signal::SIGUSR1);
                let st = p
                    .wait_exit(DEADLINE)
                    .unwrap_or_else(|| panic!("{what}: still running {DEADLINE:?} after SIGUSR1"));
                assert!(st.success(), "{what}: {st:?}");
                assert!(
                    TcpStream::connect_timeout(&p.addr, Duration::from_secs(1)).is_err(),
                    "{what}: the listener outlived the process"
                );
            }
        }
    }
}

/// SIGTTOU pauses the listeners: the address is released (clients are
/// refused, a new process could bind it); SIGTTIN listens again and the
/// same process serves; a soft stop while paused still ends it. (The
/// listener is a bound address: haproxy leaves an inherited `fd@` socket
/// listening while paused, see docs/differences.md.)
#[test]
fn a_pause_releases_the_address_and_a_resume_takes_it_back() {
    let be = Backend::echo();
    for (name, program) in programs("a_pause_releases_the_address_and_a_resume_takes_it_back") {
        for nbthread in [1, 2] {
            let what = format!("{name} nbthread {nbthread}");
            let (_hold, port) = held_port();
            let cfg = config(&format!("    nbthread {nbthread}\n"), &be)
                .replace("bind fd@3", &format!("bind 127.0.0.1:{port}"));
            let mut p = start(name, &program, &cfg);
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            let refused = || {
                matches!(
                    TcpStream::connect_timeout(&addr, Duration::from_secs(1)),
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused
                )
            };
            assert!(
                within(DEADLINE, || echoes(addr, b"before").is_ok()),
                "{what}: never served"
            );
            p.signal(Signal::SIGTTOU);
            assert!(
                within(DEADLINE, refused),
                "{what}: still accepting after SIGTTOU"
            );
            p.signal(Signal::SIGTTIN);
            assert!(
                within(DEADLINE, || echoes(addr, b"after").is_ok()),
                "{what}: not serving after SIGTTIN"
            );
            p.signal(Signal::SIGTTOU);
            assert!(
                within(DEADLINE, refused),
                "{what}: still accepting after the second SIGTTOU"
            );
            p.signal(Signal::SIGUSR1);
            let st = p
                .wait_exit(DEADLINE)
                .unwrap_or_else(|| panic!("{what}: a paused process did not stop on SIGUSR1"));
            assert!(st.success(), "{what}: {st:?}");
        }
    }
}

/// A port held for the whole test: a socket bound with SO_REUSEPORT but
/// not listening keeps any other program off the port (no race between
/// finding a free port and binding it), receives nothing, and lets the
/// proxies (which bind with SO_REUSEPORT) share it.
fn held_port() -> (socket2::Socket, u16) {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.set_reuse_port(true).unwrap();
    s.set_reuse_address(true).unwrap();
    s.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    let port = s.local_addr().unwrap().as_socket().unwrap().port();
    (s, port)
}

/// What a client loop saw.
#[derive(Debug, Default)]
struct Tally {
    ok: AtomicUsize,
    refused: AtomicUsize,
    reset: AtomicUsize,
    /// No reply within 2 s.
    late: AtomicUsize,
    /// Closed without the reply (a silent close), or anything else.
    lost: AtomicUsize,
}

fn client_loop(port: u16, stop: &AtomicBool, tally: &Tally) {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    while !stop.load(Ordering::Relaxed) {
        match echoes(addr, b"hello") {
            Ok(()) => tally.ok.fetch_add(1, Ordering::Relaxed),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                tally.refused.fetch_add(1, Ordering::Relaxed)
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                tally.reset.fetch_add(1, Ordering::Relaxed)
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                tally.late.fetch_add(1, Ordering::Relaxed)
            }
            Err(_) => tally.lost.fetch_add(1, Ordering::Relaxed),
        };
    }
}

/// `reloads` reloads with `-sf` every 200 ms while four clients connect in
/// a loop: no client is refused, reset or closed without its reply; every
/// old process exits; exactly one process is left, and it serves.
fn reloads_under_load(program: &std::path::Path, haproxy: bool, global: &str, reloads: usize) {
    let be = Backend::echo();
    let (_hold, port) = held_port();
    let dir = TempDir::new("reloads");
    let cfg = dir.0.join("p.cfg");
    std::fs::write(
        &cfg,
        format!(
            "global\n    maxconn 1000\n{global}\
             defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n\
             frontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\n\
             backend be\n    server s1 {}\n",
            be.addr
        ),
    )
    .unwrap();
    let what = format!("{} {global:?}", program.display());
    let spawn = |old: &[u32]| -> Child {
        let mut cmd = Command::new(program);
        cmd.arg("-f").arg(&cfg);
        if haproxy {
            cmd.arg("-db");
        }
        if !old.is_empty() {
            cmd.arg("-sf");
            cmd.args(old.iter().map(u32::to_string));
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut procs = vec![spawn(&[])];
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    assert!(
        within(DEADLINE, || echoes(addr, b"up").is_ok()),
        "{what}: the first process never served"
    );
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (stop, tally) = (Arc::clone(&stop), Arc::clone(&tally));
            std::thread::spawn(move || client_loop(port, &stop, &tally))
        })
        .collect();
    for _ in 0..reloads {
        std::thread::sleep(Duration::from_millis(200));
        let alive: Vec<u32> = procs
            .iter_mut()
            .filter_map(|c| c.try_wait().unwrap().is_none().then(|| c.id()))
            .collect();
        procs.push(spawn(&alive));
    }
    // Every old process leaves once its last client is served.
    let (last, old) = procs.split_last_mut().unwrap();
    let mut left = Vec::new();
    let end = Instant::now() + DEADLINE;
    for c in old.iter_mut() {
        loop {
            if let Some(st) = c.try_wait().unwrap() {
                assert!(st.success(), "{what}: an old process ended with {st:?}");
                break;
            }
            if Instant::now() >= end {
                left.push(c.id());
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    let served_after = (0..20).filter(|_| echoes(addr, b"after").is_ok()).count();
    let alive = last.try_wait().unwrap().is_none();
    let _ = last.kill();
    let _ = last.wait();
    for c in old.iter_mut() {
        let _ = c.kill();
        let _ = c.wait();
    }
    let ok = tally.ok.load(Ordering::Relaxed);
    let failed = (
        tally.refused.load(Ordering::Relaxed),
        tally.reset.load(Ordering::Relaxed),
        tally.late.load(Ordering::Relaxed),
        tally.lost.load(Ordering::Relaxed),
    );
    assert!(
        left.is_empty(),
        "{what}: old processes still running: {left:?}"
    );
    assert!(alive, "{what}: the last process is gone");
    assert_eq!(
        failed,
        (0, 0, 0, 0),
        "{what}: (refused, reset, late, lost) through {reloads} reloads, {ok} served"
    );
    assert!(ok > 100, "{what}: only {ok} exchanges through the reloads");
    assert_eq!(served_after, 20, "{what}: after the reloads");
}

/// Run one reload scenario (`stop::reload_scenario` with `global` lines)
/// in a network namespace of its own with `net.ipv4.tcp_migrate_req=1`.
///
/// Why the namespace: when a listener leaves its SO_REUSEPORT group, the
/// kernel resets the connections still in its accept queue or half-way
/// through their handshake, unless tcp_migrate_req hands them to another
/// listener of the group. ringlb takes what is queued and then leaves the
/// group at once, but a client can still land in the microseconds between
/// the two; haproxy has the same window (a reset now and then in a long
/// reload loop, like ringlb without the setting: see the note).
/// The setting is per namespace, so the test sets it without touching the
/// machine's, and with it nothing at all may be lost.
fn in_a_namespace(scenario: &str, global: &str) {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("unshare")
        .args(["--net", "--", "sh", "-c"])
        .arg(
            "ip link set lo up && echo 1 > /proc/sys/net/ipv4/tcp_migrate_req \
             && exec \"$0\" --exact \"$1\" --ignored --nocapture",
        )
        .arg(&exe)
        .arg(scenario)
        .env("RELOAD_GLOBAL", global)
        .env("RINGLB_BIN", harness::ringlb())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains("1 passed"),
        "{scenario} {global:?} in a network namespace: {:?}\n{text}",
        out.status
    );
}

/// 30 `-sf` reloads while clients connect in a loop: nothing is refused,
/// reset or lost, every old process exits, one process is left. Before
/// the fix the old processes never exited and kept taking their share of
/// the clients.
#[test]
fn reloads_in_a_loop_under_a_client_loop_lose_nothing() {
    in_a_namespace("stop::reload_scenario", "");
}

/// The same with `hard-stop-after 1s`: old processes that never stopped
/// accepting used to take clients and close them without a reply when
/// their hard stop came.
#[test]
fn reloads_with_hard_stop_after_lose_nothing() {
    in_a_namespace("stop::reload_scenario", "    hard-stop-after 1s\n");
}

/// haproxy through the same reload loop (10 reloads), in its own
/// namespace: the scenario's expectations are haproxy's behaviour.
#[test]
fn haproxy_reloads_in_a_loop_lose_nothing() {
    if harness::haproxy("haproxy_reloads_in_a_loop_lose_nothing").is_some() {
        in_a_namespace("stop::haproxy_reload_scenario", "");
    }
}

#[test]
#[ignore = "a child scenario: started by reloads_in_a_loop_under_a_client_loop_lose_nothing and reloads_with_hard_stop_after_lose_nothing in a network namespace"]
fn reload_scenario() {
    let global = std::env::var("RELOAD_GLOBAL").unwrap_or_default();
    let program = std::env::var_os("RINGLB_BIN").map_or_else(harness::ringlb, Into::into);
    reloads_under_load(&program, false, &global, 30);
}

#[test]
#[ignore = "a child scenario: started by haproxy_reloads_in_a_loop_lose_nothing in a network namespace"]
fn haproxy_reload_scenario() {
    let h = harness::haproxy("haproxy_reload_scenario").unwrap();
    reloads_under_load(&h, true, "", 10);
}
