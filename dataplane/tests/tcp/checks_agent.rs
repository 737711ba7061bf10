//! Agent checks and slow start: agent stubs (a listener answering each
//! agent connection with the line the test scripts) drive a server up,
//! down, into drain and maintenance and back, change its weight and its
//! connection limit; the state-change lines are compared word for word
//! with haproxy's (durations masked) and the traffic split is counted
//! from the stream log lines. A server coming back with `slowstart` takes
//! a growing share of the traffic. Each scenario runs on haproxy first.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::checks::mask;
use crate::harness::{config, refused_addr, round_trip, start, Backend, Proxy, DEADLINE};

/// One thread: one round robin, so shares are exact.
const ONE: &str = "    nbthread 1\n";

const DEFAULTS: &str = "    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n";

/// An agent: every connection gets the current reply and a line end
/// (nothing when the reply is empty: the agent closes at once); what the
/// proxy sent is kept.
struct Agent {
    addr: SocketAddr,
    reply: Arc<Mutex<String>>,
    sent: Arc<Mutex<Vec<u8>>>,
    conns: Arc<AtomicUsize>,
}

impl Agent {
    fn start(reply: &str) -> Agent {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let reply = Arc::new(Mutex::new(reply.to_string()));
        let sent = Arc::new(Mutex::new(Vec::new()));
        let conns = Arc::new(AtomicUsize::new(0));
        let (r, s, c) = (Arc::clone(&reply), Arc::clone(&sent), Arc::clone(&conns));
        thread::spawn(move || {
            for st in l.incoming() {
                let Ok(mut st) = st else { break };
                c.fetch_add(1, Ordering::Relaxed);
                let line = r.lock().unwrap().clone();
                let sent = Arc::clone(&s);
                thread::spawn(move || {
                    if !line.is_empty() {
                        let _ = st.write_all(format!("{line}\n").as_bytes());
                    }
                    let _ = st.shutdown(Shutdown::Write);
                    let _ = st.set_read_timeout(Some(Duration::from_millis(500)));
                    let mut got = Vec::new();
                    let _ = st.read_to_end(&mut got);
                    if !got.is_empty() {
                        *sent.lock().unwrap() = got;
                    }
                });
            }
        });
        Agent {
            addr,
            reply,
            sent,
            conns,
        }
    }

    fn set(&self, reply: &str) {
        *self.reply.lock().unwrap() = reply.to_string();
    }
}

/// A state-change or check line.
fn is_check_line(l: &str) -> bool {
    l.starts_with("Server ")
        || l.starts_with("Health check ")
        || l.starts_with("Agent check ")
        || l.contains(" has no server available!")
}

fn next_check_line(p: &Proxy, within: Duration) -> (String, Instant) {
    let end = Instant::now() + within;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match p.stdout.recv_timeout(left) {
            Ok(l) if is_check_line(&l) => return (mask(&l), Instant::now()),
            Ok(_) => {}
            Err(_) => panic!("no check line within {within:?}"),
        }
    }
}

/// The next check lines are `want`, in order.
fn expect_lines(p: &Proxy, name: &str, want: &[&str]) {
    for w in want {
        let (line, _) = next_check_line(p, DEADLINE);
        assert_eq!(line, *w, "{name}");
    }
}

fn no_check_line(p: &Proxy, d: Duration, what: &str) {
    let end = Instant::now() + d;
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        if let Ok(l) = p.stdout.recv_timeout(left) {
            assert!(!is_check_line(&l), "{what}: unexpected {l}");
        }
    }
}

/// `n` requests, one after the other: the servers they went to.
fn servers_of(p: &Proxy, n: usize, name: &str) -> Vec<String> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let msg = format!("req {i}");
        assert_eq!(round_trip(p, msg.as_bytes()), msg.as_bytes(), "{name}");
        loop {
            let l = p.next_log();
            if let Some(t) = crate::harness::TcpLog::try_parse(&l) {
                out.push(t.server);
                break;
            }
            assert!(!is_check_line(&l), "{name}: unexpected {l}");
        }
    }
    out
}

fn count(v: &[String], s: &str) -> usize {
    v.iter().filter(|x| *x == s).count()
}

/// The agent takes s1 down and up, drains it, puts it in maintenance and
/// back, with HAProxy's lines; while it is down, draining or in
/// maintenance, s1 gets no new traffic. An agent that answers nothing
/// changes nothing.
fn agent_states(name: &str, program: &Path) {
    let (s1, s2) = (Backend::echo(), Backend::echo());
    let agent = Agent::start("up");
    let p = start(
        name,
        program,
        &config(
            ONE,
            DEFAULTS,
            &format!(
                "    balance roundrobin\n    server s1 {} check inter 100 agent-check agent-port {} agent-inter 100 agent-send hello\\n\n    server s2 {} check inter 100\n",
                s1.addr,
                agent.addr.port(),
                s2.addr
            ),
        ),
    );
    let both = servers_of(&p, 10, name);
    assert_eq!(count(&both, "s1"), 5, "{name}: {both:?}");
    // agent-send goes to the agent.
    let end = Instant::now() + DEADLINE;
    while agent.sent.lock().unwrap().is_empty() {
        assert!(Instant::now() < end, "{name}: nothing sent to the agent");
        thread::yield_now();
    }
    assert_eq!(agent.sent.lock().unwrap().as_slice(), b"hello\n", "{name}");
    agent.set("down #bad disk");
    expect_lines(&p, name, &["Server be/s1 is DOWN, reason: Layer7 wrong status, code: 0, info: \"via agent : down (bad disk)\", check duration: Nms. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."]);
    let v = servers_of(&p, 6, name);
    assert_eq!(count(&v, "s1"), 0, "{name}: down: {v:?}");
    // The health check passes all along: the agent keeps the server down.
    no_check_line(&p, Duration::from_millis(400), name);
    agent.set("UP");
    expect_lines(&p, name, &["Server be/s1 is UP, reason: Layer7 check passed, code: 0, info: \"via agent : UP\", check duration: Nms. 2 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."]);
    agent.set("drain");
    expect_lines(&p, name, &["Server be/s1 enters drain state. 1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."]);
    let v = servers_of(&p, 6, name);
    assert_eq!(count(&v, "s1"), 0, "{name}: drain: {v:?}");
    agent.set("ready");
    expect_lines(&p, name, &["Server be/s1 is UP (leaving forced drain)."]);
    agent.set("maint");
    expect_lines(&p, name, &["Server be/s1 is going DOWN for maintenance. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."]);
    let v = servers_of(&p, 6, name);
    assert_eq!(count(&v, "s1"), 0, "{name}: maint: {v:?}");
    // From maintenance to drain: out of maintenance, still draining.
    agent.set("drain");
    expect_lines(
        &p,
        name,
        &[
            "Server be/s1 is UP/DRAIN (leaving forced maintenance).",
            "Server be/s1 remains in forced drain mode.",
        ],
    );
    agent.set("maint");
    expect_lines(&p, name, &["Server be/s1 is going DOWN for maintenance. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."]);
    agent.set("ready");
    expect_lines(
        &p,
        name,
        &["Server be/s1 is UP/READY (leaving forced maintenance)."],
    );
    let v = servers_of(&p, 10, name);
    assert_eq!(count(&v, "s1"), 5, "{name}: back: {v:?}");
    // An agent closing without a word, or saying nothing of the health,
    // changes nothing.
    agent.set("");
    let seen = agent.conns.load(Ordering::Relaxed);
    no_check_line(&p, Duration::from_millis(400), name);
    assert!(
        agent.conns.load(Ordering::Relaxed) > seen,
        "{name}: no agent check"
    );
    agent.set("bogus, words");
    no_check_line(&p, Duration::from_millis(300), name);
    let v = servers_of(&p, 10, name);
    assert_eq!(count(&v, "s1"), 5, "{name}: {v:?}");
}
on_both!(
    agent_states,
    agent_states_on_haproxy,
    agent_states_on_ringlb
);

/// An agent that cannot be reached does not take its server down; under
/// `option log-health-checks` its failures are logged once, then its
/// success.
fn an_unreachable_agent_changes_nothing(name: &str, program: &Path) {
    let (s1, s2) = (Backend::echo(), Backend::echo());
    let p = start(
        name,
        program,
        &config(
            ONE,
            DEFAULTS,
            &format!(
                "    option log-health-checks\n    server s1 {} check inter 100 agent-check agent-addr 127.0.0.1 agent-port {} agent-inter 100\n    server s2 {}\n",
                s1.addr,
                refused_addr().port(),
                s2.addr
            ),
        ),
    );
    // The health check's own lines aside, the agent's failure is logged
    // once (its status does not change again) and the server stays up.
    let mut agent_lines = Vec::new();
    let end = Instant::now() + Duration::from_millis(800);
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        if let Ok(l) = p.stdout.recv_timeout(left) {
            assert!(!l.starts_with("Server "), "{name}: {l}");
            if l.starts_with("Agent check ") {
                agent_lines.push(mask(&l));
            }
        }
    }
    assert_eq!(
        agent_lines,
        ["Agent check for server be/s1 failed, reason: Layer4 connection problem, info: \"Connection refused\", check duration: Nms, status: 1/1 UP."],
        "{name}"
    );
    let v = servers_of(&p, 10, name);
    assert_eq!(count(&v, "s1"), 5, "{name}: {v:?}");
}
on_both!(
    an_unreachable_agent_changes_nothing,
    an_unreachable_agent_changes_nothing_on_haproxy,
    an_unreachable_agent_changes_nothing_on_ringlb
);

/// An agent's weight is a percentage of the configured weight: at 50% of
/// 10, s1 (5) gets a third of the traffic against s2 (10); at 100% half.
fn agent_weight_splits_traffic(name: &str, program: &Path) {
    let (s1, s2) = (Backend::echo(), Backend::echo());
    let agent = Agent::start("up 50%");
    let p = start(
        name,
        program,
        &config(
            ONE,
            DEFAULTS,
            &format!(
                "    balance roundrobin\n    option log-health-checks\n    server s1 {} weight 10 agent-check agent-port {} agent-inter 100\n    server s2 {} weight 10\n",
                s1.addr,
                agent.addr.port(),
                s2.addr
            ),
        ),
    );
    // The weight applies before the health word's report.
    expect_lines(&p, name, &["Agent check for server be/s1 succeeded, reason: Layer7 check passed, code: 0, info: \"via agent : up\", check duration: Nms, status: 1/1 UP."]);
    let v = servers_of(&p, 30, name);
    let n1 = count(&v, "s1");
    assert!((8..=12).contains(&n1), "{name}: s1 got {n1} of 30: {v:?}");
    // A line without a health word changes the weight silently; "up"
    // after it is reported again (the status changed).
    agent.set("100%");
    let seen = agent.conns.load(Ordering::Relaxed);
    let end = Instant::now() + DEADLINE;
    while agent.conns.load(Ordering::Relaxed) < seen + 2 {
        assert!(Instant::now() < end, "{name}: no agent check");
        thread::yield_now();
    }
    agent.set("up");
    let (line, _) = next_check_line(&p, DEADLINE);
    assert!(
        line.starts_with("Agent check for server be/s1 succeeded"),
        "{name}: {line}"
    );
    let v = servers_of(&p, 30, name);
    let n1 = count(&v, "s1");
    assert!((13..=17).contains(&n1), "{name}: s1 got {n1} of 30: {v:?}");
}
on_both!(
    agent_weight_splits_traffic,
    agent_weight_splits_traffic_on_haproxy,
    agent_weight_splits_traffic_on_ringlb
);

/// `maxconn:1` from the agent: s1 serves one connection at a time, the
/// others wait in its queue (or go to s2).
fn agent_maxconn_limits(name: &str, program: &Path) {
    let held = Backend::silent();
    let agent = Agent::start("maxconn:1 up");
    let p = start(
        name,
        program,
        &config(
            ONE,
            DEFAULTS,
            &format!(
                "    option log-health-checks\n    server s1 {} agent-check agent-port {} agent-inter 100\n",
                held.addr,
                agent.addr.port()
            ),
        ),
    );
    let (line, _) = next_check_line(&p, DEADLINE);
    assert!(
        line.starts_with("Agent check for server be/s1 succeeded"),
        "{name}: {line}"
    );
    let mut clients: Vec<TcpStream> = (0..3).map(|_| p.connect()).collect();
    let first = held.accepted.recv_timeout(DEADLINE);
    assert!(first.is_ok(), "{name}: no connection reached s1");
    assert!(
        held.accepted
            .recv_timeout(Duration::from_millis(500))
            .is_err(),
        "{name}: a second connection reached s1 past maxconn 1"
    );
    // Closing the first client frees the slot for the next one.
    drop(clients.remove(0));
    assert!(
        held.accepted.recv_timeout(DEADLINE).is_ok(),
        "{name}: the queue was not served"
    );
}
on_both!(
    agent_maxconn_limits,
    agent_maxconn_limits_on_haproxy,
    agent_maxconn_limits_on_ringlb
);

/// A server that comes back with `slowstart 4s` starts with a small share
/// of the traffic and reaches its full share (half, against an equal
/// server) once the slow start is over.
fn slowstart_ramps_the_share(name: &str, program: &Path) {
    let (s1, s2) = (Backend::echo(), Backend::echo());
    let agent = Agent::start("up");
    let p = start(
        name,
        program,
        &config(
            "",
            DEFAULTS,
            &format!(
                "    balance roundrobin\n    server s1 {} weight 100 slowstart 4s agent-check agent-port {} agent-inter 100\n    server s2 {} weight 100\n",
                s1.addr,
                agent.addr.port(),
                s2.addr
            ),
        ),
    );
    // Not at start-up: both take their share at once.
    let v = servers_of(&p, 20, name);
    assert_eq!(count(&v, "s1"), 10, "{name}: {v:?}");
    agent.set("down");
    let (line, _) = next_check_line(&p, DEADLINE);
    assert!(line.starts_with("Server be/s1 is DOWN"), "{name}: {line}");
    agent.set("up");
    let (line, up) = next_check_line(&p, DEADLINE);
    assert!(line.starts_with("Server be/s1 is UP"), "{name}: {line}");
    // Requests counted per second since it came back; at the end of the
    // slow start HAProxy says UP again (Starting -> Running).
    let mut per_sec = [(0usize, 0usize); 6];
    let mut running = Vec::new();
    for i in 0u32.. {
        let msg = format!("req {i}");
        assert_eq!(round_trip(&p, msg.as_bytes()), msg.as_bytes(), "{name}");
        let server = loop {
            let l = p.next_log();
            if let Some(t) = crate::harness::TcpLog::try_parse(&l) {
                break t.server;
            }
            if is_check_line(&l) {
                running.push(((Instant::now() - up).as_millis(), mask(&l)));
            }
        };
        let sec = (Instant::now() - up).as_secs();
        let Some(slot) = per_sec.get_mut(usize::try_from(sec).unwrap()) else {
            break;
        };
        slot.1 += 1;
        if server == "s1" {
            slot.0 += 1;
        }
    }
    let share = |(s1, all): (usize, usize)| s1 as f64 / all.max(1) as f64;
    // Second k: s1's weight is 100 x (16k + 4) / 4 sixteenths against
    // s2's 100 x 16 (server_recalc_eweight with slowstart 4s), a share of
    // (4k + 1) / (4k + 17): 6%, 24%, 36%, 45%, then half.
    for (k, got) in per_sec.iter().enumerate() {
        assert!(got.1 >= 20, "{name}: too few requests {per_sec:?}");
        let w = 4.0 * (k.min(4) as f64) + 1.0;
        let want = if k >= 4 { 0.5 } else { w / (w + 16.0) };
        assert!(
            (share(*got) - want).abs() < 0.08,
            "{name}: second {k}: share {} instead of {want}: {per_sec:?}",
            share(*got)
        );
    }
    assert_eq!(running.len(), 1, "{name}: {running:?}");
    assert_eq!(
        running[0].1,
        "Server be/s1 is UP. 2 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.",
        "{name}"
    );
    assert!(
        (3900..4800).contains(&running[0].0),
        "{name}: running after {}ms",
        running[0].0
    );
}
on_both!(
    slowstart_ramps_the_share,
    slowstart_ramps_the_share_on_haproxy,
    slowstart_ramps_the_share_on_ringlb
);

/// A server on a port of its own that can die (its listener closed:
/// connections are refused) and come back on the same port (as in
/// checks.rs).
struct Switch {
    addr: SocketAddr,
    listener: Option<socket2::Socket>,
}

impl Switch {
    fn new() -> Switch {
        let mut s = Switch {
            addr: "127.0.0.1:0".parse().unwrap(),
            listener: None,
        };
        s.up();
        s
    }

    fn up(&mut self) {
        let sock =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        sock.set_reuse_address(true).unwrap();
        sock.bind(&self.addr.into()).unwrap();
        sock.listen(64).unwrap();
        self.addr = sock.local_addr().unwrap().as_socket().unwrap();
        let l: TcpListener = sock.try_clone().unwrap().into();
        thread::spawn(move || {
            for s in l.incoming() {
                let Ok(mut s) = s else { break };
                thread::spawn(move || {
                    crate::harness::echo_until_eof(&mut s);
                    let _ = s.shutdown(Shutdown::Write);
                });
            }
        });
        self.listener = Some(sock);
    }

    fn down(&mut self) {
        if let Some(l) = self.listener.take() {
            let _ = l.shutdown(Shutdown::Both);
        }
    }
}

/// A server the agent drains keeps draining while its health check takes
/// it down and up, and HAProxy 2.6 says so after each change.
fn draining_through_down_and_up(name: &str, program: &Path) {
    let mut s1 = Switch::new();
    let s2 = Backend::echo();
    let agent = Agent::start("drain");
    let p = start(
        name,
        program,
        &config(
            ONE,
            DEFAULTS,
            &format!(
                "    server s1 {} check inter 100 rise 1 fall 1 agent-check agent-port {} agent-inter 100\n    server s2 {}\n",
                s1.addr,
                agent.addr.port(),
                s2.addr
            ),
        ),
    );
    expect_lines(&p, name, &["Server be/s1 enters drain state. 1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."]);
    let v = servers_of(&p, 4, name);
    assert_eq!(count(&v, "s1"), 0, "{name}: {v:?}");
    s1.down();
    expect_lines(&p, name, &[
        "Server be/s1 is DOWN, reason: Layer4 connection problem, info: \"Connection refused\", check duration: Nms. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.",
        "Server be/s1 remains in forced drain mode.",
    ]);
    s1.up();
    expect_lines(&p, name, &[
        "Server be/s1 is UP, reason: Layer4 check passed, check duration: Nms. 1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.",
        "Server be/s1 remains in forced drain mode.",
    ]);
    // Drain again and again: nothing new.
    no_check_line(&p, Duration::from_millis(400), name);
    let v = servers_of(&p, 4, name);
    assert_eq!(count(&v, "s1"), 0, "{name}: {v:?}");
}
on_both!(
    draining_through_down_and_up,
    draining_through_down_and_up_on_haproxy,
    draining_through_down_and_up_on_ringlb
);

/// The servers that track a server follow what its agent says: down and
/// up, maintenance (inherited: "via"), drain.
fn trackers_follow_the_agent(name: &str, program: &Path) {
    let (s1, s2) = (Backend::echo(), Backend::echo());
    let agent = Agent::start("up");
    let p = start(
        name,
        program,
        &config(
            ONE,
            DEFAULTS,
            &format!(
                "    server s1 {} check inter 100 agent-check agent-port {} agent-inter 100\n    server s2 {} track s1\n    server s3 {}\n",
                s1.addr,
                agent.addr.port(),
                s2.addr,
                s2.addr
            ),
        ),
    );
    agent.set("maint");
    expect_lines(&p, name, &[
        "Server be/s1 is going DOWN for maintenance. 2 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.",
        "Server be/s2 is going DOWN for maintenance via be/s1. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.",
    ]);
    let v = servers_of(&p, 4, name);
    assert_eq!(count(&v, "s3"), 4, "{name}: {v:?}");
    agent.set("ready");
    expect_lines(
        &p,
        name,
        &[
            "Server be/s1 is UP/READY (leaving forced maintenance).",
            "Server be/s2 is UP/READY (leaving maintenance).",
        ],
    );
    agent.set("drain");
    expect_lines(&p, name, &[
        "Server be/s1 enters drain state. 2 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.",
        "Server be/s2 enters drain state via be/s1. 1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.",
    ]);
    agent.set("ready");
    expect_lines(
        &p,
        name,
        &[
            "Server be/s1 is UP (leaving forced drain).",
            "Server be/s2 is UP (leaving forced drain).",
        ],
    );
    agent.set("down");
    expect_lines(&p, name, &[
        "Server be/s1 is DOWN, reason: Layer7 wrong status, code: 0, info: \"via agent : down\", check duration: Nms. 2 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.",
        "Server be/s2 is DOWN via be/s1. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.",
    ]);
    agent.set("up");
    expect_lines(&p, name, &[
        "Server be/s1 is UP, reason: Layer7 check passed, code: 0, info: \"via agent : up\", check duration: Nms. 2 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.",
        "Server be/s2 is UP via be/s1. 3 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.",
    ]);
    let v = servers_of(&p, 6, name);
    assert_eq!(count(&v, "s2"), 2, "{name}: {v:?}");
}
on_both!(
    trackers_follow_the_agent,
    trackers_follow_the_agent_on_haproxy,
    trackers_follow_the_agent_on_ringlb
);

/// During a slow start the connection limit ramps too (srv_dynamic_maxconn:
/// maxconn x elapsed / slowstart, at least 1): with `maxconn 8` and
/// `slowstart 4s`, 1, 2, 4, 6, then 8 connections reach the server, the
/// others waiting in the queue. HAProxy 2.6 lets more through from the
/// second step on (its warm-up task takes streams from the backend queue
/// twice per step, counting neither time those it woke before: 5 at 2s, 10
/// at 3s, 12 at 4s, past `maxconn 8`); ringlb keeps the limit
/// (docs/differences.md). Both reach each step's limit on time.
fn slowstart_ramps_the_limit(name: &str, program: &Path) {
    let held = Backend::silent();
    let agent = Agent::start("up");
    let p = start(
        name,
        program,
        &config(
            "",
            &format!("{DEFAULTS}    timeout queue 20s\n"),
            &format!(
                "    server s1 {} maxconn 8 slowstart 4s agent-check agent-port {} agent-inter 100\n",
                held.addr,
                agent.addr.port()
            ),
        ),
    );
    agent.set("down");
    let (line, _) = next_check_line(&p, DEADLINE);
    assert!(line.starts_with("Server be/s1 is DOWN"), "{name}: {line}");
    expect_lines(&p, name, &["backend be has no server available!"]);
    agent.set("up");
    let (line, up) = next_check_line(&p, DEADLINE);
    assert!(line.starts_with("Server be/s1 is UP"), "{name}: {line}");
    let _clients: Vec<TcpStream> = (0..12).map(|_| p.connect()).collect();
    let mut at = Vec::new();
    // Before the first client's `timeout client` frees a slot.
    let end = up + Duration::from_millis(4700);
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        if held.accepted.recv_timeout(left).is_ok() {
            at.push((Instant::now() - up).as_millis());
        }
    }
    let before = |ms: u128| at.iter().filter(|t| **t < ms).count();
    let on_time: Vec<usize> = [200, 1200, 2200, 3200, 4200]
        .iter()
        .map(|ms| before(*ms))
        .collect();
    let early: Vec<usize> = [950, 1950, 2950, 3950, 4700]
        .iter()
        .map(|ms| before(*ms))
        .collect();
    let want = [1, 2, 4, 6, 8];
    assert!(
        on_time.iter().zip(want).all(|(got, w)| *got >= w),
        "{name}: accepted at {at:?}"
    );
    if name == "ringlb" {
        assert_eq!(early, want, "{name}: accepted at {at:?}");
    }
}
on_both!(
    slowstart_ramps_the_limit,
    slowstart_ramps_the_limit_on_haproxy,
    slowstart_ramps_the_limit_on_ringlb
);
