//! Idle server connections (`pool-purge-delay`, `max-reuse`), seen from
//! the server: the connections it accepted and when the proxy closed
//! them (a FIN or, as haproxy closes its idle ones, a reset).

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::harness::{start, DEADLINE};
use crate::server::{config, Client};

/// What the server saw of its connections.
#[derive(Debug)]
enum Event {
    Opened,
    /// When, and whether by a reset.
    Closed(Instant, bool),
}

/// A server answering every request `200 ok` on any connection, telling
/// each connection's opening and end.
struct Counting {
    addr: SocketAddr,
    events: mpsc::Receiver<Event>,
    /// Ends seen while counting openings.
    closes: std::cell::RefCell<Vec<(Instant, bool)>>,
}

impl Counting {
    fn start() -> Counting {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let (tx, events) = mpsc::channel();
        thread::spawn(move || {
            for s in l.incoming() {
                let Ok(s) = s else { break };
                let _ = tx.send(Event::Opened);
                let tx = tx.clone();
                thread::spawn(move || serve(s, &tx));
            }
        });
        Counting {
            addr,
            events,
            closes: std::cell::RefCell::new(Vec::new()),
        }
    }

    /// Connections opened so far (events taken until none comes within
    /// `quiet`; the ends seen meanwhile are kept).
    fn opened(&self, quiet: Duration) -> usize {
        let mut n = 0;
        while let Ok(e) = self.events.recv_timeout(quiet) {
            match e {
                Event::Opened => n += 1,
                Event::Closed(at, reset) => self.closes.borrow_mut().push((at, reset)),
            }
        }
        n
    }

    /// When the next connection end comes, within `within`, and whether
    /// it was a reset.
    fn closed_within(&self, within: Duration) -> Option<(Instant, bool)> {
        if let Some(c) = self.closes.borrow_mut().pop() {
            return Some(c);
        }
        match self.events.recv_timeout(within) {
            Ok(Event::Closed(at, reset)) => Some((at, reset)),
            Ok(e) => panic!("unexpected {e:?}"),
            Err(_) => None,
        }
    }
}

fn serve(s: TcpStream, tx: &mpsc::Sender<Event>) {
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    let mut line = String::new();
    let reset = loop {
        line.clear();
        match r.read_line(&mut line) {
            Ok(0) => break false,
            Err(e) => break e.kind() == std::io::ErrorKind::ConnectionReset,
            Ok(_) if line == "\r\n" => {
                if w.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    .is_err()
                {
                    break true;
                }
            }
            Ok(_) => {}
        }
    };
    let _ = tx.send(Event::Closed(Instant::now(), reset));
}

/// `requests` GETs, one after the other on one client connection, which
/// stays open (returned).
fn requests(addr: SocketAddr, requests: usize) -> Client {
    let mut c = Client::connect(addr);
    for _ in 0..requests {
        c.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(c.response(false).status, 200);
    }
    c
}

fn one_server(srv: &Counting, opts: &str) -> String {
    config(&[format!("s1 {} {opts}", srv.addr)], "")
}

/// `pool-purge-delay 0` keeps no idle connection: each request of a
/// keep-alive client opens its own, closed (reset) once answered; by
/// default one serves them all and stays.
fn purge_delay_zero_keeps_none(name: &str, program: &Path) {
    for (opts, want) in [("pool-purge-delay 0", 3), ("", 1)] {
        let srv = Counting::start();
        let p = start(name, program, &one_server(&srv, opts));
        let _c = requests(p.addr, 3);
        assert_eq!(
            srv.opened(Duration::from_millis(100)),
            want,
            "{name}: {opts:?}"
        );
        // Each connection not kept closes at once, with a reset.
        let closes = srv.closes.borrow();
        assert_eq!(
            closes.len(),
            want - 1 + usize::from(want > 1),
            "{name}: {opts:?}"
        );
        assert!(closes.iter().all(|(_, reset)| *reset), "{name}: {opts:?}");
    }
}
on_both!(
    purge_delay_zero_keeps_none,
    purge_delay_zero_keeps_none_on_haproxy,
    purge_delay_zero_keeps_none_on_ringlb
);

/// An idle connection nothing needs any more is closed after a few
/// purges (the estimated need decays first: the third, 300 ms after
/// with `pool-purge-delay 100ms`, haproxy 2.6 as ringlb), even while
/// its client stays; with the default 5 s it stays.
fn idle_connections_are_purged(name: &str, program: &Path) {
    let srv = Counting::start();
    let p = start(name, program, &one_server(&srv, "pool-purge-delay 100ms"));
    let t0 = Instant::now();
    let _c = requests(p.addr, 1);
    assert_eq!(srv.opened(Duration::from_millis(50)), 1, "{name}");
    let (at, reset) = srv
        .closed_within(DEADLINE)
        .unwrap_or_else(|| panic!("{name}: the idle connection was never closed"));
    assert!(
        reset,
        "{name}: a purged idle connection closes with a reset"
    );
    let after = at - t0;
    assert!(
        after >= Duration::from_millis(150),
        "{name}: closed after {after:?}, before the need decayed"
    );
    let srv = Counting::start();
    let p = start(name, program, &one_server(&srv, ""));
    let _c = requests(p.addr, 1);
    assert_eq!(srv.opened(Duration::from_millis(50)), 1, "{name}");
    assert!(
        srv.closed_within(Duration::from_millis(700)).is_none(),
        "{name}: closed before the default purge delay"
    );
}
on_both!(
    idle_connections_are_purged,
    idle_connections_are_purged_on_haproxy,
    idle_connections_are_purged_on_ringlb
);

/// `max-reuse <n>`: a server connection is reused at most n times (n + 1
/// requests), 0 disabling reuse, as the manual says. haproxy 2.6's HTTP/1
/// mux does not enforce it (only its HTTP/2 and FastCGI muxes do): one
/// connection serves every request there (docs/differences.md).
fn max_reuse(name: &str, program: &Path) {
    for (opts, ringlb, haproxy) in [("max-reuse 1", 2, 1), ("max-reuse 0", 4, 1), ("", 1, 1)] {
        let srv = Counting::start();
        let p = start(name, program, &one_server(&srv, opts));
        let _c = requests(p.addr, 4);
        let want = if name == "haproxy" { haproxy } else { ringlb };
        let mut opened = 0;
        // Closes (of connections past their reuses) may come in between.
        let end = Instant::now() + Duration::from_millis(150);
        while let Ok(e) = srv
            .events
            .recv_timeout(end.saturating_duration_since(Instant::now()))
        {
            if let Event::Opened = e {
                opened += 1;
            }
        }
        assert_eq!(opened, want, "{name}: {opts:?}");
    }
}
on_both!(max_reuse, max_reuse_on_haproxy, max_reuse_on_ringlb);

fn answer_a(_: &crate::server::Seen) -> crate::server::Answer {
    crate::server::ok("a")
}

fn answer_b(_: &crate::server::Seen) -> crate::server::Answer {
    crate::server::ok("b")
}

/// `option prefer-last-server`: a session's requests stay on the server
/// its own connection goes to, where roundrobin would alternate. HAProxy
/// 2.6 looks only at the connections a session holds, which under HTTP/1
/// is `http-reuse never`'s: under `safe` the option changes nothing.
fn prefer_last_server(name: &str, program: &Path) {
    // Which server comes first depends on the core the client lands on
    // (each core's roundrobin starts its own way): the pattern is
    // checked, one server or alternating.
    for (extra, sticks) in [
        ("http-reuse never\noption prefer-last-server", true),
        ("http-reuse never", false),
        ("http-reuse safe\noption prefer-last-server", false),
    ] {
        let (a, b) = (
            crate::server::Server::start(answer_a),
            crate::server::Server::start(answer_b),
        );
        let cfg = config(
            &[format!("a {}", a.addr), format!("b {}", b.addr)],
            &format!("balance roundrobin\n{extra}"),
        );
        let p = start(name, program, &cfg);
        let mut c = Client::connect(p.addr);
        let mut got = String::new();
        for _ in 0..4 {
            c.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
            let r = c.response(false);
            got.push_str(&String::from_utf8_lossy(&r.body));
        }
        let got = got.as_bytes();
        let same = got.windows(2).all(|w| w[0] == w[1]);
        let alternates = got.windows(2).all(|w| w[0] != w[1]);
        assert!(
            if sticks { same } else { alternates },
            "{name}: {extra:?}: {}",
            String::from_utf8_lossy(got)
        );
    }
}
on_both!(
    prefer_last_server,
    prefer_last_server_on_haproxy,
    prefer_last_server_on_ringlb
);

fn challenge_a(s: &crate::server::Seen) -> crate::server::Answer {
    challenge(s, "a")
}

fn challenge_b(s: &crate::server::Seen) -> crate::server::Answer {
    challenge(s, "b")
}

/// `/ntlm` and `/basic` are answered 401 with that challenge, the rest
/// 200 with the server's name.
fn challenge(s: &crate::server::Seen, name: &str) -> crate::server::Answer {
    let scheme = match s.line.split(' ').nth(1).unwrap_or("") {
        "/ntlm" => "NTLM",
        "/nego" => "Basic realm=\"x\", Negotiate",
        "/basic" => "Basic realm=\"x\"",
        _ => return crate::server::ok(name),
    };
    crate::server::Answer::Send(
        format!(
            "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: {scheme}\r\n\
             Content-Length: {}\r\n\r\n{name}",
            name.len()
        )
        .into_bytes(),
    )
}

/// A server answering an NTLM or Negotiate challenge (a 401 whose
/// `WWW-Authenticate` starts with `NTLM` or `Nego`, any of its
/// comma-separated values) binds the session to its connection, without
/// `option prefer-last-server` and under `http-reuse safe`: the requests
/// that follow stay on that server. A Basic challenge binds nothing.
fn an_ntlm_challenge_binds_the_session(name: &str, program: &Path) {
    for (first, sticks) in [("/ntlm", true), ("/nego", true), ("/basic", false)] {
        let (a, b) = (
            crate::server::Server::start(challenge_a),
            crate::server::Server::start(challenge_b),
        );
        let cfg = config(
            &[format!("a {}", a.addr), format!("b {}", b.addr)],
            "balance roundrobin",
        );
        let p = start(name, program, &cfg);
        let mut c = Client::connect(p.addr);
        let mut got = Vec::new();
        for path in [first, "/", "/", "/"] {
            c.send(format!("GET {path} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes());
            let r = c.response(false);
            got.extend_from_slice(&r.body);
        }
        let same = got.windows(2).all(|w| w[0] == w[1]);
        let alternates = got.windows(2).all(|w| w[0] != w[1]);
        assert!(
            if sticks { same } else { alternates },
            "{name}: {first}: {}",
            String::from_utf8_lossy(&got)
        );
    }
}
on_both!(
    an_ntlm_challenge_binds_the_session,
    an_ntlm_challenge_binds_the_session_on_haproxy,
    an_ntlm_challenge_binds_the_session_on_ringlb
);
