//! The TCP-mode stream: one client connection from its accept to its log
//! line. It gets a server connection from [`connect`](super::super::connect),
//! hands both sockets to [`forward`](super::super::forward), and records how
//! it ended in [`StreamFacts`] for the log.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use crate::engine::backend::queue::{self, QueuePos};
use crate::engine::connect::{connect, ConnectFailure, Connected};
use crate::engine::forward::forward;
use crate::engine::plan::{BackendPlan, FrontendPlan};
use crate::engine::runtime::counters::Stat;
use crate::engine::runtime::Core;
use crate::engine::session::Conn;
use crate::log::termination::{Cause, Phase, Termination};

/// What the log line needs about a finished stream.
#[derive(Debug)]
pub struct StreamFacts {
    pub accept_date: SystemTime,
    /// None for a client on a UNIX socket.
    pub client: Option<SocketAddr>,
    /// The listener that accepted it (see `Bound::luid`).
    pub listener_id: u32,
    pub frontend_addr: Option<SocketAddr>,
    pub server: Option<usize>,
    pub server_addr: Option<SocketAddr>,
    pub tw: Option<Duration>,
    pub tc: Option<Duration>,
    pub tt: Duration,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub termination: Termination,
    pub retries: u32,
    pub redispatched: bool,
    /// `%sq`, `%bq`: see queue::Ticket.
    pub queue: QueuePos,
    pub actconn: u32,
    pub feconn: u32,
    pub beconn: u32,
    pub srv_conn: u32,
    /// `%rt`: the stream's number ([`Core::next_stream_id`]; HTTP keeps
    /// one per transaction in its own facts).
    pub uniq_id: u32,
}

/// Serve one client to its end. `late`: it may have waited in the accept
/// queue (the listener had waited for room), so it is checked for a reset
/// before it gets a server connection, as HAProxy would see it.
pub(crate) async fn handle(
    core: &Rc<Core>,
    fe_idx: usize,
    luid: u32,
    client: Conn,
    peer: Option<SocketAddr>,
    late: bool,
) {
    let start = Instant::now();
    let accept_date = SystemTime::now();
    let _registered = core.register();
    let plan = &core.shared.plan;
    let Some(fe) = plan.frontends.get(fe_idx) else {
        return;
    };
    let Some(dst) = crate::engine::session::admit(fe, &client, peer) else {
        return;
    };
    // TCP_NODELAY is inherited from the listener (set once at bind).
    let mut facts = StreamFacts {
        uniq_id: core.next_stream_id(),
        accept_date,
        client: peer,
        listener_id: luid,
        frontend_addr: dst,
        server: None,
        server_addr: None,
        tw: None,
        tc: None,
        tt: Duration::ZERO,
        bytes_in: 0,
        bytes_out: 0,
        termination: Termination {
            cause: Cause::None,
            phase: Phase::None,
        },
        retries: 0,
        redispatched: false,
        queue: QueuePos::default(),
        actconn: core.shared.actconn.get(),
        feconn: fe.feconn.get(),
        beconn: 0,
        srv_conn: 0,
    };
    let Some((be_idx, be)) = fe
        .backend
        .and_then(|i| plan.backends.get(i).map(|b| (i, b)))
    else {
        // No backend (a frontend without default_backend): HAProxy logs
        // "fe/<NOSRV> -1/-1/0 0 SC" and closes cleanly.
        close_unserved(&client);
        facts.termination = Termination {
            cause: Cause::ServerAbort,
            phase: Phase::Connect,
        };
        finish(core, (fe_idx, fe), None, facts, start);
        return;
    };
    if late && client_is_gone(&client) {
        // Reset before the stream was handled (often still in the accept
        // queue): as HAProxy, no server connection, "be/<NOSRV> -1/-1/0 0
        // CR".
        facts.termination = Termination {
            cause: Cause::ClientAbort,
            phase: Phase::Request,
        };
        finish(core, (fe_idx, fe), Some((be_idx, be)), facts, start);
        return;
    }
    facts.beconn = be.beconn.inc();
    core.shared.stats.add(core.id, Stat::BeSessTot(be_idx), 1);
    let connected = match be.tcp_hash.as_deref() {
        Some(e) => hashed_connect(core, (be_idx, be), (dst, facts.client), &fe.name, e).await,
        None => connect(core, be_idx, be, dst, facts.client, None).await,
    };
    match connected {
        Ok(connected) => {
            let srv_idx = connected.server;
            let server = connected.record(&mut facts);
            if logs_early(fe) {
                // `option logasap`: logged once connected (HAProxy's
                // back_establish), the end date the connect's, no byte
                // counted yet.
                let early = StreamFacts {
                    tt: start.elapsed(),
                    ..facts
                };
                log(core, (fe_idx, fe), Some((be_idx, be)), early, start);
            }
            forward(core, fe, be, &client, &server, &mut facts).await;
            // The slot goes to the oldest waiter that may use it, or is freed.
            queue::offer(core, be_idx, srv_idx, true);
            drop(server);
        }
        Err(failure) => {
            failure.record(&mut facts);
            close_unserved(&client);
        }
    }
    be.beconn.dec();
    drop(client);
    finish(core, (fe_idx, fe), Some((be_idx, be)), facts, start);
}

/// A sample as a log line prints it (its string form).
pub(crate) fn sample_text(v: Option<crate::engine::rules::sample::Smp>) -> Option<Vec<u8>> {
    match v?.cast(ringlb_config::keywords::SmpType::Str)? {
        crate::engine::rules::sample::Smp::Str(s) | crate::engine::rules::sample::Smp::Bin(s) => {
            Some(s)
        }
        _ => None,
    }
}

/// `balance hash <expr>` in TCP mode: the sample over the connection's
/// addresses (no message: HTTP fetches find nothing and the balancer
/// falls back to round robin, as HAProxy without a sample), cast to
/// binary, is the balancer's key. Boxed, so that streams of other
/// backends keep their size; it allocates only for such a backend.
fn hashed_connect<'a>(
    core: &'a Rc<Core>,
    (be_idx, be): (usize, &'a BackendPlan),
    (dst, src): (Option<SocketAddr>, Option<SocketAddr>),
    frontend: &'a str,
    e: &'a crate::engine::rules::expr::Expr,
) -> std::pin::Pin<
    Box<
        dyn std::future::Future<
                Output = Result<
                    crate::engine::connect::Connected,
                    crate::engine::connect::ConnectFailure,
                >,
            > + 'a,
    >,
> {
    Box::pin(async move {
        let key = {
            let head = ringlb_proto::msg::Head::new();
            let env = crate::engine::rules::env::Conn { src, dst, frontend };
            match e
                .eval(&crate::engine::rules::fetch::Ctx::new(&head, &env))
                .and_then(|v| v.cast(ringlb_config::keywords::SmpType::Bin))
            {
                Some(
                    crate::engine::rules::sample::Smp::Bin(b)
                    | crate::engine::rules::sample::Smp::Str(b),
                ) => Some(b),
                _ => None,
            }
        };
        let idle = |_| None;
        let pick = crate::engine::connect::HttpPick {
            idle: &idle,
            key: key.as_deref(),
            force: None,
            abort: None,
        };
        connect(core, be_idx, be, dst, src, Some(&pick)).await
    })
}

/// The client reset its connection already (an RST received before the
/// stream was handled: the socket holds ECONNRESET). Bytes or a FIN
/// waiting do not count: they are served as usual.
fn client_is_gone(client: &Conn) -> bool {
    use nix::errno::Errno;
    !matches!(client.peek(), Ok(_) | Err(Errno::EAGAIN | Errno::EINTR))
}

/// Close a client that got no server (no backend, queue full or timed
/// out, connect failed) the way HAProxy does: what it already sent was read
/// into HAProxy's buffer, so the close is a FIN, not a reset.
pub(super) fn close_unserved(client: &Conn) {
    let sock = socket2::SockRef::from(client);
    let _ = sock.set_nonblocking(true);
    let mut scratch = [std::mem::MaybeUninit::<u8>::uninit(); 4096];
    while matches!(sock.recv(&mut scratch), Ok(n) if n > 0) {}
    let _ = sock.shutdown(std::net::Shutdown::Write);
}

impl Connected {
    /// Write what the log needs into `facts`; the connection stays.
    fn record(self, facts: &mut StreamFacts) -> Conn {
        facts.server = Some(self.server);
        facts.server_addr = self.addr;
        facts.tw = self.tw;
        facts.tc = Some(self.tc);
        facts.retries = self.retries;
        facts.redispatched = self.redispatched;
        facts.queue = self.queue;
        self.conn
    }
}

impl ConnectFailure {
    fn record(self, facts: &mut StreamFacts) {
        facts.termination = Termination {
            cause: self.cause,
            phase: self.phase,
        };
        facts.server = self.server;
        facts.tw = self.tw;
        facts.retries = self.retries;
        facts.redispatched = self.redispatched;
        facts.queue = self.queue;
    }
}

/// The stream's share of the statistics counters (this core's block).
pub(super) fn count(core: &Core, fe: usize, be: Option<usize>, facts: &StreamFacts) {
    let stats = &core.shared.stats;
    let add = |stat, n| stats.add(core.id, stat, n);
    add(Stat::FeBytesIn(fe), facts.bytes_in);
    add(Stat::FeBytesOut(fe), facts.bytes_out);
    let Some(b) = be else { return };
    add(Stat::BeBytesIn(b), facts.bytes_in);
    add(Stat::BeBytesOut(b), facts.bytes_out);
    let retries = u64::from(facts.retries);
    let redispatched = u64::from(facts.redispatched);
    // A connection that never came up: HAProxy's econ.
    let conn_err = u64::from(facts.termination.phase == Phase::Connect && facts.tc.is_none());
    add(Stat::BeRetries(b), retries);
    add(Stat::BeRedispatches(b), redispatched);
    add(Stat::BeConnErr(b), conn_err);
    let Some(s) = facts.server else { return };
    if facts.tc.is_some() {
        add(Stat::SrvSessTot(b, s), 1);
    }
    add(Stat::SrvBytesIn(b, s), facts.bytes_in);
    add(Stat::SrvBytesOut(b, s), facts.bytes_out);
    add(Stat::SrvRetries(b, s), retries);
    add(Stat::SrvRedispatches(b, s), redispatched);
    add(Stat::SrvConnErr(b, s), conn_err);
}

fn finish(
    core: &Rc<Core>,
    (fe_idx, fe): (usize, &FrontendPlan),
    be_at: Option<(usize, &BackendPlan)>,
    mut facts: StreamFacts,
    start: Instant,
) {
    facts.tt = start.elapsed();
    count(core, fe_idx, be_at.map(|(i, _)| i), &facts);
    if logs_early(fe) && facts.tc.is_some() {
        // Logged when it connected.
        return;
    }
    log(core, (fe_idx, fe), be_at, facts, start);
}

/// `option logasap` with a log format (HAProxy has no early line for the
/// plain connection log).
fn logs_early(fe: &FrontendPlan) -> bool {
    fe.log.logasap && fe.log.enabled && fe.log.format.is_some()
}

/// Log a stream with the counters as they are now.
fn log(
    core: &Rc<Core>,
    (fe_idx, fe): (usize, &FrontendPlan),
    be_at: Option<(usize, &BackendPlan)>,
    mut facts: StreamFacts,
    start: Instant,
) {
    let be = be_at.map(|(_, b)| b);
    // The counters as they are when the line is logged (manual 8.2.2): the
    // server connection is already released, the client's is not.
    let shared = &core.shared;
    facts.actconn = shared.actconn.get();
    facts.feconn = fe.feconn.get();
    facts.beconn = be.map_or(0, |b| b.beconn.get());
    facts.srv_conn = be
        .zip(facts.server)
        .and_then(|(b, i)| b.servers.get(i))
        .map_or(0, |s| s.conns.get());
    if !fe.log.enabled
        || (fe.log.dontlognull && facts.bytes_in == 0 && facts.termination.cause == Cause::None)
    {
        return;
    }
    if let Some(sink) = &fe.sink {
        crate::engine::logging::log_stream(
            sink,
            core,
            fe_idx,
            be_at.map(|(i, _)| i),
            fe,
            &facts,
            start,
            None,
            &|e| {
                // TCP: the connection's facts, no message.
                let head = ringlb_proto::msg::Head::new();
                let env = crate::engine::rules::env::Conn {
                    src: facts.client,
                    dst: facts.frontend_addr,
                    frontend: &fe.name,
                };
                sample_text(e.eval(&crate::engine::rules::fetch::Ctx::new(&head, &env)))
            },
        );
    }
}

#[cfg(test)]
mod tests {
    /// The size of the future an async fn returns.
    fn future_size<A, B, C, D, E, G, F: std::future::Future>(
        _: impl FnOnce(A, B, C, D, E, G) -> F,
    ) -> usize {
        std::mem::size_of::<F>()
    }

    /// A stream's task is most of an idle connection's memory (2,344
    /// bytes generic over compio's TcpStream, 2,384 with the transport
    /// type, 2,392 with HTTP's reuse and key lookups, 2,456 since connect
    /// races the client under `abortonclose`: +56 bytes in connect's
    /// state, which boxing the race's arms did not remove): it must not
    /// grow unnoticed.
    #[test]
    fn a_stream_stays_small() {
        let size = future_size(super::handle);
        assert!(size <= 2456, "a stream's future takes {size} bytes");
    }
}
