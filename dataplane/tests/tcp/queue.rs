//! Queues: server and backend queues, `maxqueue`, `minconn`/`fullconn`,
//! first-in first-out service, and queues under a storm of clients.

use std::collections::{HashMap, VecDeque};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::Path;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use crate::harness::{
    config, echo, limit_holds, programs, read_until_closed, start, stays_open, tcp_clients,
    Backend, HeldBackend, Proxy, TcpLog, DEADLINE,
};

#[test]
fn server_maxconn_queues_the_excess() {
    let be = HeldBackend::new();
    let cfg = config(
        "    nbthread 2\n",
        "    timeout connect 1s\n    timeout queue 10s\n    timeout client 10s\n    timeout server 10s\n",
        &format!("    server s1 {} maxconn 2\n", be.be.addr),
    );
    let p = Proxy::start(&cfg);
    limit_holds(&be, &tcp_clients(&p, 20), 20, 2, "server maxconn 2");
    for _ in 0..20 {
        let log = p.next_tcplog();
        assert_eq!(log.termination, "--", "{log:?}");
        assert_eq!(log.server, "s1", "{log:?}");
    }
}

/// Queued clients are served in the order they arrived (HAProxy's queues
/// are FIFO within a priority class), whatever executor accepted them.
#[test]
fn the_queue_is_first_in_first_out() {
    let be = HeldBackend::new();
    let cfg = config(
        "    nbthread 2\n",
        "    timeout connect 1s\n    timeout queue 10s\n    timeout client 10s\n    timeout server 10s\n",
        &format!("    server s1 {} maxconn 1\n", be.be.addr),
    );
    for (name, prog) in programs("the_queue_is_first_in_first_out") {
        let p = start(name, &prog, &cfg);
        let (tx, done) = mpsc::channel();
        let mut queued = Vec::new();
        for id in 0..7u8 {
            let mut c = p.connect();
            c.write_all(&[id]).unwrap();
            if id == 0 {
                assert_eq!(be.arrived.recv_timeout(DEADLINE).ok(), Some(0), "{name}");
            } else {
                // Queued (not served) before the next one arrives.
                stays_open(&mut c, Duration::from_millis(100), name);
            }
            let tx = tx.clone();
            queued.push(std::thread::spawn(move || {
                let mut got = Vec::new();
                let _ = c.read_to_end(&mut got);
                let _ = tx.send((id, got));
            }));
        }
        let mut order = vec![0u8];
        for _ in 1..7 {
            be.release.send(()).unwrap();
            order.push(be.arrived.recv_timeout(DEADLINE).unwrap());
        }
        be.release.send(()).unwrap();
        for _ in 0..7 {
            let (id, got) = done.recv_timeout(DEADLINE).unwrap();
            assert_eq!(got, [b'k', id], "{name}");
        }
        assert_eq!(order, (0..7).collect::<Vec<_>>(), "{name}: service order");
        for _ in 0..7 {
            let log = p.next_tcplog();
            assert_eq!(log.termination, "--", "{name}: {log:?}");
        }
    }
}

/// Queued streams are handed only to servers that may take them: never
/// to a disabled server, nor to a backup while an active server is up,
/// even though those have free slots (HAProxy's process_srv_queue). The
/// oldest waiter timing out is what hands the free slots on.
#[test]
fn queued_streams_never_go_to_a_disabled_or_backup_server() {
    let be = HeldBackend::new();
    let off = Backend::echo();
    let backup = Backend::echo();
    let cfg = config(
        "",
        "    timeout connect 1s\n    timeout queue 600ms\n    timeout client 10s\n    timeout server 10s\n",
        &format!(
            "    server s1 {} maxconn 1\n    server off {} disabled\n    server bk {} backup\n",
            be.be.addr, off.addr, backup.addr
        ),
    );
    for (name, prog) in programs("queue-usable") {
        let p = start(name, &prog, &cfg);
        // The first client holds s1's only slot.
        let mut first = p.connect();
        first.write_all(&[0]).unwrap();
        assert_eq!(be.arrived.recv_timeout(DEADLINE).ok(), Some(0), "{name}");
        // Two waiters, 300 ms apart: the first one's timeout leaves the
        // second at the head while free slots exist on `off` and `bk`.
        let mut waiters = Vec::new();
        for id in 1..=2u8 {
            let mut c = p.connect();
            c.write_all(&[id]).unwrap();
            waiters.push(c);
            if id == 1 {
                stays_open(&mut waiters[0], Duration::from_millis(300), name);
            }
        }
        for (i, c) in waiters.iter_mut().enumerate() {
            let (got, _) = read_until_closed(c, DEADLINE, name);
            assert!(
                got.is_empty(),
                "{name}: waiter {} was served: {got:?}",
                i + 1
            );
        }
        for _ in 0..2 {
            let log = p.next_tcplog();
            assert_eq!(log.termination, "sQ", "{name}: {log:?}");
        }
        assert_eq!(off.count(), 0, "{name}: the disabled server got a client");
        assert_eq!(backup.count(), 0, "{name}: the backup server got a client");
        be.release.send(()).unwrap();
        let (got, _) = read_until_closed(&mut first, DEADLINE, name);
        assert_eq!(got, [b'k', 0], "{name}");
    }
}

/// Many clients on two executors against a tight limit, some giving up
/// while queued, some timing out in the queue, servers coming and going:
/// the engine neither panics nor loses a slot, and serves normally after.
#[test]
fn queues_survive_a_storm_of_clients() {
    let fast = Backend::echo();
    let slow = Backend::echo();
    let cfg = config(
        "    nbthread 2\n",
        "    timeout connect 1s\n    timeout queue 150ms\n    timeout client 5s\n    timeout server 5s\n",
        &format!(
            "    balance leastconn\n    server a {} maxconn 2\n    server b {} maxconn 1\n    server c {} maxconn 1 backup\n",
            slow.addr, slow.addr, fast.addr
        ),
    );
    let p = Proxy::start(&cfg);
    let addr = p.addr;
    // Two clients hold two of the three slots through the storm, so most
    // of it queues, and much of it times out there (sQ).
    let holders: Vec<_> = (0..2)
        .map(|_| {
            let mut c = p.connect();
            echo(&mut c, b"hold", "holder");
            c
        })
        .collect();
    let workers: Vec<_> = (0..8)
        .map(|w| {
            std::thread::spawn(move || {
                for i in 0..25u32 {
                    let Ok(mut c) = TcpStream::connect_timeout(&addr, DEADLINE) else {
                        continue;
                    };
                    let _ = c.set_read_timeout(Some(DEADLINE));
                    if (i + w) % 5 == 0 {
                        // Gives up at once, maybe while queued.
                        drop(c);
                        continue;
                    }
                    let _ = c.write_all(b"storm");
                    let mut b = [0u8; 5];
                    let _ = c.read_exact(&mut b);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    drop(holders);
    // Every slot came back: a burst as large as the limit is served at once.
    let served: Vec<_> = (0..3)
        .map(|_| {
            let mut c = p.connect();
            c.write_all(b"after").unwrap();
            c
        })
        .collect();
    for mut c in served {
        let mut b = [0u8; 5];
        c.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"after");
    }
    assert!(
        !p.stderr_so_far().iter().any(|l| l.contains("panicked")),
        "{:?}",
        p.stderr_so_far()
    );
}

/// How long a client must stay silent to count as waiting (in a queue, or
/// at a server that holds it).
const WAITING: Duration = Duration::from_millis(150);

/// How long to watch for a client that must not reach a server.
const QUIET: Duration = Duration::from_millis(300);

/// Timeouts long enough never to fire in these tests: a queued client
/// waits until the test frees a slot.
const DEFAULTS: &str = "    timeout connect 1s\n    timeout queue 10s\n    timeout client 10s\n    timeout server 10s\n";

/// A config with one `fd@3` frontend `fe` and one backend `be`.
/// `global` and `backend` are whole lines, indented.
fn queue_config(global: &str, backend: &str) -> String {
    format!(
        "global\n    log stdout format raw local0\n{global}\
         defaults\n    mode tcp\n    log global\n    option tcplog\n{DEFAULTS}\
         frontend fe\n    bind fd@3\n    default_backend be\n\
         backend be\n{backend}"
    )
}

/// `n` servers that hold every connection until the test releases it. A
/// client sends its id (one byte) first; the server reports
/// `(server index, id)` on `arrived`, and on release answers `k<id>` and
/// closes.
struct Held {
    servers: Vec<Backend>,
    arrived: mpsc::Receiver<(usize, u8)>,
    conns: Arc<Mutex<HashMap<u8, TcpStream>>>,
}

impl Held {
    fn new(n: usize) -> Held {
        let (tx, arrived) = mpsc::channel();
        let conns = Arc::new(Mutex::new(HashMap::new()));
        let servers = (0..n)
            .map(|idx| {
                let tx = tx.clone();
                let conns = Arc::clone(&conns);
                Backend::spawn_with(move |mut s| {
                    s.set_read_timeout(Some(DEADLINE)).unwrap();
                    s.set_write_timeout(Some(DEADLINE)).unwrap();
                    let mut id = [0u8; 1];
                    if s.read_exact(&mut id).is_err() {
                        return;
                    }
                    // Stored before it is reported, so a release that
                    // follows the report finds it.
                    conns.lock().unwrap().insert(id[0], s);
                    let _ = tx.send((idx, id[0]));
                })
            })
            .collect();
        Held {
            servers,
            arrived,
            conns,
        }
    }

    fn addr(&self, i: usize) -> SocketAddr {
        self.servers[i].addr
    }

    /// The next client to reach a server, within the deadline.
    fn arrival(&self, what: &str) -> (usize, u8) {
        self.arrived
            .recv_timeout(DEADLINE)
            .unwrap_or_else(|_| panic!("{what}: no client reached a server within {DEADLINE:?}"))
    }

    /// The ids of the next `n` clients to reach a server, or of those that
    /// did within the deadline.
    fn arrivals(&self, n: usize) -> Vec<u8> {
        let end = Instant::now() + DEADLINE;
        let mut ids = Vec::new();
        while ids.len() < n {
            let left = end.saturating_duration_since(Instant::now());
            match self.arrived.recv_timeout(left) {
                Ok((_, id)) => ids.push(id),
                Err(_) => break,
            }
        }
        ids
    }

    /// No client reaches a server for `within`.
    fn quiet(&self, within: Duration, what: &str) {
        if let Ok((srv, id)) = self.arrived.recv_timeout(within) {
            panic!(
                "{what}: client {id} reached server {} unexpectedly",
                srv + 1
            );
        }
    }

    /// Clients at the servers now.
    fn holding(&self) -> usize {
        self.conns.lock().unwrap().len()
    }

    /// Answer client `id` and close: its slot frees once the proxy has
    /// passed the close on.
    fn release(&self, id: u8, what: &str) {
        let mut s = self
            .conns
            .lock()
            .unwrap()
            .remove(&id)
            .unwrap_or_else(|| panic!("{what}: client {id} is not at a server"));
        s.write_all(&[b'k', id]).unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        // Closed only after the proxy closes its side, so that the proxy
        // never meets a reset: the stream must end as a clean "--".
        std::thread::spawn(move || {
            let mut rest = Vec::new();
            let _ = s.read_to_end(&mut rest);
        });
    }
}

/// A client that connected and sent its id.
struct Client {
    id: u8,
    s: TcpStream,
}

impl Client {
    fn new(p: &Proxy, id: u8) -> Client {
        let mut s = p.connect();
        s.write_all(&[id]).unwrap();
        Client { id, s }
    }

    fn port(&self) -> u16 {
        self.s.local_addr().unwrap().port()
    }

    /// Still connected and not answered after [`WAITING`].
    fn waits(&mut self, what: &str) {
        self.s.set_read_timeout(Some(WAITING)).unwrap();
        let mut b = [0u8; 4];
        match self.s.read(&mut b) {
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Ok(0) => panic!("{what}: client {} was closed by the proxy", self.id),
            Ok(n) => panic!("{what}: client {} got {:?}", self.id, &b[..n]),
            Err(e) => panic!("{what}: client {}: {e}", self.id),
        }
        self.s.set_read_timeout(Some(DEADLINE)).unwrap();
    }

    /// Everything the proxy sends until it closes, when it closed, and
    /// whether the close was a reset rather than a FIN.
    fn until_closed(&mut self, what: &str) -> (Vec<u8>, Instant, bool) {
        let end = Instant::now() + DEADLINE;
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        loop {
            let left = end.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "{what}: client {} is still open after {DEADLINE:?}",
                self.id
            );
            self.s.set_read_timeout(Some(left)).unwrap();
            match self.s.read(&mut buf) {
                Ok(0) => return (got, Instant::now(), false),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                    ) => {}
                Err(_) => return (got, Instant::now(), true),
            }
        }
    }

    /// The server's answer reached the client, then the close.
    fn served(mut self, what: &str) {
        let (got, _, _) = self.until_closed(what);
        assert_eq!(got, [b'k', self.id], "{what}: client {}", self.id);
    }
}

/// The log line of the stream of the client on local port `port`: lines
/// are read (within the deadline each) until it comes; the others are
/// kept in `seen` for later calls.
fn log_of(p: &Proxy, seen: &mut Vec<TcpLog>, port: u16, what: &str) -> TcpLog {
    let port_of = |l: &TcpLog| {
        l.client
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse::<u16>().ok())
    };
    if let Some(i) = seen.iter().position(|l| port_of(l) == Some(port)) {
        return seen.remove(i);
    }
    loop {
        let l = p.next_tcplog();
        if port_of(&l) == Some(port) {
            return l;
        }
        assert!(seen.len() < 64, "{what}: no log line for port {port}");
        seen.push(l);
    }
}

/// `%sq/%bq` of a log line.
fn queues(l: &TcpLog) -> String {
    format!("{}/{}", l.srv_queue, l.be_queue)
}

const SERVER: [&str; 2] = ["s1", "s2"];

// a. maxqueue on a server picked by a hash.
/// A hash (`balance source`) picks the server whatever its load
/// (map_get_server_hash / chash_get_server_hash do not look at maxconn), so
/// the stream is queued on that server (assign_server_and_queue). Once the
/// server's queue holds `maxqueue` streams the next one gets
/// SRV_STATUS_FULL, which srv_redispatch_connect() redispatches only for a
/// stream sent there by persistence (SF_DIRECT: cookie, stick table,
/// use-server), with `option redispatch`. Otherwise it is refused at once:
/// STRM_ET_QUEUE_ERR, logged `SQ` (default_srv_error), never queued (so
/// `Tw` is -1 and `%sq/%bq` 0/0), and the idle server is not used. The
/// client sees a plain close (FIN) without data.
fn maxqueue_full_refuses_at_once(name: &str, program: &Path) {
    let held = Held::new(2);
    for hash_type in ["", "    hash-type consistent\n"] {
        for redispatch in ["", "    option redispatch\n"] {
            let what = format!(
                "{name} (balance source{}{})",
                if hash_type.is_empty() {
                    ""
                } else {
                    ", consistent"
                },
                if redispatch.is_empty() {
                    ""
                } else {
                    ", option redispatch"
                },
            );
            let cfg = queue_config(
                "",
                &format!(
                    "    balance source\n{hash_type}{redispatch}    \
                     server s1 {} maxconn 1 maxqueue 1\n    server s2 {} maxconn 1 maxqueue 1\n",
                    held.addr(0),
                    held.addr(1)
                ),
            );
            let p = start(name, program, &cfg);
            let mut seen = Vec::new();
            // Every client is 127.0.0.1: they all hash to one server.
            let first = Client::new(&p, 0);
            let (srv, id) = held.arrival(&what);
            assert_eq!(id, 0, "{what}");
            let mut queued = Client::new(&p, 1);
            queued.waits(&what);
            held.quiet(Duration::ZERO, &what);
            // The server's queue is full: refused at once, well before
            // `timeout queue`.
            let t0 = Instant::now();
            let mut refused = Client::new(&p, 2);
            let (got, closed, reset) = refused.until_closed(&what);
            assert!(got.is_empty(), "{what}: the refused client got {got:?}");
            // HAProxy has read what the client sent before it closes: a
            // FIN, never a reset (40 of 40 runs on 2.6).
            assert!(!reset, "{what}: the refused client was reset");
            assert!(
                closed - t0 < Duration::from_secs(2),
                "{what}: refused after {:?}",
                closed - t0
            );
            let log = log_of(&p, &mut seen, refused.port(), &what);
            assert_eq!(
                (
                    &*log.termination,
                    &*log.server,
                    &*log.tw,
                    &*log.tc,
                    &*log.bytes,
                    &*log.retries
                ),
                ("SQ", SERVER[srv], "-1", "-1", "0", "0"),
                "{what}: the refused client: {log:?}"
            );
            assert_eq!(queues(&log), "0/0", "{what}: the refused client: {log:?}");
            // Not redispatched to the idle server either.
            held.quiet(QUIET, &what);
            // The queued client gets the slot on the same server.
            let first_port = first.port();
            held.release(0, &what);
            first.served(&what);
            assert_eq!(held.arrival(&what), (srv, 1), "{what}");
            let queued_port = queued.port();
            held.release(1, &what);
            queued.served(&what);
            let log = log_of(&p, &mut seen, first_port, &what);
            assert_eq!(
                (&*log.termination, &*log.server, &*queues(&log)),
                ("--", SERVER[srv], "0/0"),
                "{what}: the first client: {log:?}"
            );
            let log = log_of(&p, &mut seen, queued_port, &what);
            // Queued on the server: %sq counts it (1 + the streams that
            // left that queue before it), %bq does not.
            assert_eq!(
                (&*log.termination, &*log.server, &*queues(&log)),
                ("--", SERVER[srv], "1/0"),
                "{what}: the queued client: {log:?}"
            );
            assert!(
                TcpLog::ms(&log.tw) >= 100,
                "{what}: Tw of the queued client: {log:?}"
            );
        }
    }
}

on_both!(
    maxqueue_full_refuses_at_once,
    maxqueue_full_refuses_at_once_on_haproxy,
    maxqueue_full_refuses_at_once_on_ringlb
);

// b. roundrobin with every server full: the backend queue.
/// roundrobin (and static-rr, first, random, and in 2.6 leastconn; 3.2's
/// leastconn may queue on a server whose `maxqueue` is set, manual 5.2
/// "maxqueue") never picks a full server: with every server at its
/// maxconn assign_server() returns SRV_STATUS_FULL and the stream waits in
/// the backend's queue, which has no limit of its own (only `timeout queue`); the servers' `maxqueue`
/// does not apply to it. While that queue is not empty, roundrobin,
/// static-rr and first send newcomers behind it. A freed slot takes the
/// oldest waiter (pendconn_process_next_strm()), so the backend queue is
/// served first in, first out, each on the server whose slot freed.
/// `%bq` is 1 + the streams that left the backend queue before this one.
fn backend_queue_has_no_limit(name: &str, program: &Path) {
    let held = Held::new(2);
    let cfg = queue_config(
        "",
        &format!(
            "    balance roundrobin\n    server s1 {} maxconn 1 maxqueue 1\n    server s2 {} maxconn 1 maxqueue 1\n",
            held.addr(0),
            held.addr(1)
        ),
    );
    let what = name;
    let p = start(name, program, &cfg);
    let mut seen = Vec::new();
    let mut clients: VecDeque<Client> = VecDeque::new();
    // One client per server.
    let mut server_of = HashMap::new();
    for id in 0..2u8 {
        clients.push_back(Client::new(&p, id));
        let (srv, got) = held.arrival(what);
        assert_eq!(got, id, "{what}");
        server_of.insert(id, srv);
    }
    assert_ne!(
        server_of[&0], server_of[&1],
        "{what}: one client per server"
    );
    // Five more than the servers take, with maxqueue 1 on each: all wait.
    for id in 2..7u8 {
        let mut c = Client::new(&p, id);
        c.waits(what);
        clients.push_back(c);
    }
    held.quiet(Duration::ZERO, what);
    let mut ports = HashMap::new();
    for id in 0..7u8 {
        // The oldest at a server leaves; the oldest waiter takes its slot.
        let c = clients.pop_front().unwrap();
        ports.insert(id, c.port());
        held.release(id, what);
        c.served(what);
        if id + 2 < 7 {
            let (srv, next) = held.arrival(what);
            assert_eq!(next, id + 2, "{what}: served out of order");
            assert_eq!(
                srv, server_of[&id],
                "{what}: client {next} on the freed server"
            );
            server_of.insert(next, srv);
        }
    }
    held.quiet(Duration::ZERO, what);
    for id in 0..7u8 {
        let log = log_of(&p, &mut seen, ports[&id], what);
        let expected = if id < 2 {
            "0/0".to_owned()
        } else {
            format!("0/{}", id - 1)
        };
        assert_eq!(
            (&*log.termination, &*log.server, &*queues(&log)),
            ("--", SERVER[server_of[&id]], &*expected),
            "{what}: client {id}: {log:?}"
        );
    }
}

on_both!(
    backend_queue_has_no_limit,
    backend_queue_has_no_limit_on_haproxy,
    backend_queue_has_no_limit_on_ringlb
);

// c. minconn / fullconn: the dynamic maxconn.
/// srv_dynamic_maxconn(): `maxconn` once the backend's load reaches
/// `fullconn`, else max(minconn, beconn * maxconn / fullconn). The load,
/// `beconn`, counts every stream of the backend, the queued ones and the
/// one being placed included.
fn dynamic_maxconn(beconn: usize, minconn: usize, maxconn: usize, fullconn: usize) -> usize {
    if beconn >= fullconn {
        maxconn
    } else {
        minconn.max(beconn * maxconn / fullconn)
    }
}

/// One server `minconn 1 maxconn 4` in a backend with `fullconn 8`.
///
/// (With `fullconn 4` nothing would show: each client counts in the load
/// it is placed under, so n clients get a limit of max(1, n) and all of up
/// to four pass.)
///
/// With three clients the limit is max(1, 3 * 4 / 8) = 1: the server
/// holds one client although its maxconn is 4. The others wait in the
/// backend queue (roundrobin sees the server full, as its limit is the
/// dynamic one), and newcomers queue behind them. Neither 2.6 nor 3.2
/// dequeues when a newcomer raises the limit: srv_redispatch_connect()
/// only re-checks a server's queue, and these wait in the backend's.
///
/// A slot frees when a server connection closes (sess_change_server(),
/// then process_srv_queue()), before the stream ends and leaves `beconn`;
/// process_srv_queue() then lets in as many waiters as the limit at that
/// load allows. With nine clients connected the first release lets four
/// in at once; as the load falls, fewer.
fn minconn_follows_the_backend_load(name: &str, program: &Path) {
    const MINCONN: usize = 1;
    const MAXCONN: usize = 4;
    const FULLCONN: usize = 8;
    const CLIENTS: u8 = 9;
    let held = Held::new(1);
    let cfg = queue_config(
        "",
        &format!(
            "    fullconn {FULLCONN}\n    server s1 {} minconn {MINCONN} maxconn {MAXCONN}\n",
            held.addr(0)
        ),
    );
    let what = name;
    let p = start(name, program, &cfg);
    let mut seen = Vec::new();
    let mut clients: HashMap<u8, Client> = HashMap::new();
    clients.insert(0, Client::new(&p, 0));
    assert_eq!(held.arrival(what), (0, 0), "{what}");
    // Low load: one at a time, whatever maxconn says.
    for id in 1..CLIENTS {
        let mut c = Client::new(&p, id);
        c.waits(what);
        held.quiet(Duration::ZERO, what);
        clients.insert(id, c);
    }
    assert_eq!(held.holding(), 1, "{what}: at the server under low load");
    // Release the oldest at the server, one by one; each release lets in
    // what the limit at the current load allows, oldest waiter first.
    let mut at_server: VecDeque<u8> = VecDeque::from([0]);
    let mut waiting: VecDeque<u8> = (1..CLIENTS).collect();
    let mut connected = usize::from(CLIENTS);
    let mut most = 1;
    while let Some(id) = at_server.pop_front() {
        let c = clients.remove(&id).unwrap();
        let port = c.port();
        let limit = dynamic_maxconn(connected, MINCONN, MAXCONN, FULLCONN);
        let let_in = limit.saturating_sub(at_server.len()).min(waiting.len());
        held.release(id, what);
        c.served(what);
        // The oldest waiters, woken together: they may reach the server
        // in any order.
        let expected: Vec<u8> = waiting.drain(..let_in).collect();
        let mut came = held.arrivals(let_in);
        came.sort_unstable();
        assert_eq!(
            came, expected,
            "{what}: let in after client {id} left, with {connected} connected (limit {limit})"
        );
        at_server.extend(expected);
        // The stream has ended (and left the load) once it is logged.
        let log = log_of(&p, &mut seen, port, what);
        assert_eq!(log.termination, "--", "{what}: client {id}: {log:?}");
        connected -= 1;
        held.quiet(QUIET, what);
        assert_eq!(
            held.holding(),
            at_server.len(),
            "{what}: at the server after client {id} left"
        );
        most = most.max(at_server.len());
    }
    assert!(waiting.is_empty(), "{what}: never served: {waiting:?}");
    assert_eq!(most, MAXCONN, "{what}: the full load reaches maxconn");
}

on_both!(
    minconn_follows_the_backend_load,
    minconn_follows_the_backend_load_on_haproxy,
    minconn_follows_the_backend_load_on_ringlb
);

// d. One arrival order across executors.
/// With two threads (executors) and one server `maxconn 1`, clients queued
/// one after the other, whichever thread accepted each, are served in the
/// order they arrived: the backend queue is one queue for the backend
/// (per thread group in 3.2; one group here), ordered by priority class
/// then arrival time (pendconn_add() keys, pendconn_first()). Queued
/// client k (from 1) logs `%bq` k.
///
/// ringlb's executors share the listener socket, so which one accepts a
/// client is up to the kernel: with ten queued clients both hold some in
/// all but the unluckiest runs.
fn queued_clients_are_served_in_arrival_order(name: &str, program: &Path) {
    const CLIENTS: u8 = 11;
    let held = Held::new(1);
    let cfg = queue_config(
        "    nbthread 2\n",
        &format!("    server s1 {} maxconn 1\n", held.addr(0)),
    );
    let what = name;
    let p = start(name, program, &cfg);
    let mut seen = Vec::new();
    let mut clients = VecDeque::new();
    clients.push_back(Client::new(&p, 0));
    assert_eq!(held.arrival(what), (0, 0), "{what}");
    for id in 1..CLIENTS {
        // Queued (not served) before the next one arrives.
        let mut c = Client::new(&p, id);
        c.waits(what);
        clients.push_back(c);
    }
    held.quiet(Duration::ZERO, what);
    let mut order = vec![0u8];
    let mut ports = Vec::new();
    for id in 0..CLIENTS {
        let c = clients.pop_front().unwrap();
        ports.push(c.port());
        held.release(id, what);
        c.served(what);
        if id + 1 < CLIENTS {
            order.push(held.arrival(what).1);
        }
    }
    assert_eq!(
        order,
        (0..CLIENTS).collect::<Vec<_>>(),
        "{what}: service order"
    );
    for (id, port) in ports.into_iter().enumerate() {
        let log = log_of(&p, &mut seen, port, what);
        assert_eq!(
            (&*log.termination, &*log.server, &*queues(&log)),
            ("--", "s1", &*format!("0/{id}")),
            "{what}: client {id}: {log:?}"
        );
    }
}

on_both!(
    queued_clients_are_served_in_arrival_order,
    queued_clients_are_served_in_arrival_order_on_haproxy,
    queued_clients_are_served_in_arrival_order_on_ringlb
);
