//! The TCP-mode stream: one client connection from its accept to its log
//! line. It gets a server connection from [`connect`](super::super::connect),
//! hands both sockets to [`forward`](super::super::forward), and records how
//! it ended in [`StreamFacts`] for the log.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use crate::engine::backend::queue::{self, QueuePos};
use crate::engine::connect::{connect, ConnectFailure, Connected, HttpPick};
use crate::engine::forward::forward;
use crate::engine::plan::{BackendPlan, FrontendPlan};
use ringlb_config::model::Balance;

use crate::engine::runtime::buffer::Class;
use crate::engine::runtime::counters::{Obj, Stat, Times};
use crate::engine::runtime::Core;
use crate::engine::session::Conn;
use crate::log::termination::{Cause, Phase, Termination};

use super::tcp_rules;

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
///
/// A stream without rules (the accept loop spawns [`handle_with_rules`]
/// for a frontend whose streams run some, see
/// [`FrontendPlan::stream_rules`]): its future is an idle connection's
/// memory, so it holds nothing the rules need.
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
    let reg = core.register((fe_idx, luid), &client, (peer, None), false);
    let plan = &core.shared.plan;
    let Some(fe) = plan.frontends.get(fe_idx) else {
        return;
    };
    let Some(dst) = admit_dst(core, (fe_idx, luid), fe, &client, peer) else {
        return;
    };
    reg.set_dst(dst);
    let mut facts = new_facts(core, fe, (accept_date, peer, luid, dst));
    reg.set_stream(facts.uniq_id, fe.backend);
    let Some((be_idx, be)) = fe
        .backend
        .and_then(|i| plan.backends.get(i).map(|b| (i, b)))
    else {
        no_backend(core, (fe_idx, fe), &client, facts, start, None);
        return;
    };
    if late && client_is_gone(&client) {
        client_gone_early(core, (fe_idx, fe), (be_idx, be), facts, start, None);
        return;
    }
    facts.beconn = be.beconn.inc();
    crate::engine::stats::count_backend_stream(core, be_idx, facts.beconn);
    let connected = match be.tcp_hash.as_deref() {
        Some(e) => hashed_connect(core, (be_idx, be), (dst, facts.client), &fe.name, e).await,
        None => connect(core, be_idx, be, dst, facts.client, None).await,
    };
    match connected {
        Ok(connected) => {
            let srv_idx = connected.server;
            let server = connected.record(&mut facts);
            reg.mark_server(&server, (be_idx, srv_idx), facts.server_addr);
            log_early(core, (fe_idx, fe), (be_idx, be), &facts, start, None);
            forward(
                core,
                fe,
                be,
                (&client, &server),
                tunnel_timeouts(fe, be),
                &mut facts,
                crate::engine::backend::server::shutdown_of(core, be_idx, srv_idx),
            )
            .await;
            killed(&reg, &mut facts);
            // The slot goes to the oldest waiter that may use it, or is freed.
            queue::offer(core, be_idx, srv_idx, true);
            reg.unmark_server();
            drop(server);
        }
        Err(failure) => {
            failure.record(&mut facts);
            killed(&reg, &mut facts);
            close_unserved(&client);
        }
    }
    be.beconn.dec();
    drop(client);
    finish(core, (fe_idx, fe), Some((be_idx, be)), facts, start, None);
}

/// [`handle`] for a stream that runs rules (HAProxy's analysers before
/// the connection): the frontend's `tcp-request content` rules over the
/// client's first bytes, `use_backend`, the backend's content rules,
/// `use-server`; the bytes read go to the server first. Its state is
/// boxed; the accept loop spawns it as a task type of its own.
pub(crate) async fn handle_with_rules(
    core: &Rc<Core>,
    fe_idx: usize,
    luid: u32,
    client: Conn,
    peer: Option<SocketAddr>,
    late: bool,
) {
    let start = Instant::now();
    let accept_date = SystemTime::now();
    let plan = &core.shared.plan;
    let Some(fe) = plan.frontends.get(fe_idx) else {
        return;
    };
    let Some(admitted) = crate::engine::session::admit(core, (fe_idx, luid), fe, &client, peer)
    else {
        return;
    };
    let dst = admitted.dst;
    let reg = core.register((fe_idx, luid), &client, (peer, dst), false);
    let caps = fe
        .tcp
        .as_deref()
        .map(crate::engine::rules::tcp::TcpRules::new_captures)
        .unwrap_or_default();
    let mut st = Box::new(tcp_rules::StreamRules::new(admitted.vars, caps));
    let mut facts = new_facts(core, fe, (accept_date, peer, luid, dst));
    // No backend before the switching rules (HAProxy's be=<NONE>).
    reg.set_stream(facts.uniq_id, None);
    let switched = match tcp_rules::before_connect(core, fe, &client, (peer, dst), &mut st).await {
        Ok(s) if !reg.killed() => s,
        r => {
            // Killed while its content was inspected (its client shut
            // down): not connected, `KR`.
            let (refused, be) = match r {
                Ok(s) => (killed_in_rules(), s.backend),
                Err((_, be)) if reg.killed() => (killed_in_rules(), be),
                Err(e) => e,
            };
            let be_at = be.and_then(|i| plan.backends.get(i).map(|b| (i, b)));
            refuse(
                core,
                (fe_idx, fe),
                be_at,
                &client,
                refused,
                facts,
                &st,
                start,
            );
            return;
        }
    };
    let Some((be_idx, be)) = switched
        .backend
        .and_then(|i| plan.backends.get(i).map(|b| (i, b)))
    else {
        facts.bytes_in = st.bytes_in;
        no_backend(core, (fe_idx, fe), &client, facts, start, Some(&st));
        return;
    };
    if late && client_is_gone(&client) {
        client_gone_early(core, (fe_idx, fe), (be_idx, be), facts, start, Some(&st));
        return;
    }
    facts.beconn = be.beconn.inc();
    crate::engine::stats::count_backend_stream(core, be_idx, facts.beconn);
    reg.set_stream(facts.uniq_id, Some(be_idx));
    // use-server: the server is used directly (SF_DIRECT), as a
    // persistence cookie's. `balance rdp-cookie`: the cookie read by the
    // rules is the key (get_server_rch; none yet: round robin).
    let key = match &be.balance {
        Balance::RdpCookie { name } => st.req.as_ref().and_then(|b| {
            let r = ringlb_proto::rdp::cookie(b.data(), name.as_bytes()).found()?;
            b.data().get(r).filter(|v| !v.is_empty())
        }),
        _ => None,
    };
    // `balance hash <expr>` over the connection's addresses.
    let hashed = be
        .tcp_hash
        .as_deref()
        .filter(|_| key.is_none())
        .and_then(|e| hash_key(e, (dst, facts.client), &fe.name));
    let key = key.or(hashed.as_deref());
    let pick = (switched.server.is_some() || key.is_some()).then_some(HttpPick {
        idle: &no_idle,
        key,
        force: switched.server,
        abort: None,
        retried: 0,
        redispatched: false,
        avoid: None,
        max_retries: be.retries,
    });
    match connect(core, be_idx, be, dst, facts.client, pick.as_ref()).await {
        Ok(connected) => {
            let srv_idx = connected.server;
            let server = connected.record(&mut facts);
            reg.mark_server(&server, (be_idx, srv_idx), facts.server_addr);
            log_early(core, (fe_idx, fe), (be_idx, be), &facts, start, Some(&st));
            // What the rules read goes first.
            let sent = match st.req.as_mut() {
                Some(buf) if !buf.is_empty() => server.write_all(buf).await.is_ok(),
                _ => true,
            };
            // The backend's tcp-response content rules (boxed: the rare
            // case), then the data phase.
            let go = match be.tcp.as_deref().filter(|r| r.has_response_rules()) {
                Some(rr) if sent => {
                    let addrs = (peer, dst);
                    let both = (&client, &server);
                    Box::pin(response_rules(
                        core, fe, be, rr, both, addrs, &mut st, &mut facts,
                    ))
                    .await
                }
                _ => sent,
            };
            if go {
                let timeouts = tunnel_timeouts(fe, be);
                let on = crate::engine::backend::server::shutdown_of(core, be_idx, srv_idx);
                forward(core, fe, be, (&client, &server), timeouts, &mut facts, on).await;
            } else if !sent {
                facts.termination = Termination {
                    cause: Cause::ServerAbort,
                    phase: Phase::Data,
                };
            }
            facts.bytes_in += st.bytes_in;
            facts.bytes_out += st.bytes_out;
            killed(&reg, &mut facts);
            queue::offer(core, be_idx, srv_idx, true);
            reg.unmark_server();
            drop(server);
        }
        Err(failure) => {
            failure.record(&mut facts);
            killed(&reg, &mut facts);
            facts.bytes_in = st.bytes_in;
            close_unserved(&client);
        }
    }
    be.beconn.dec();
    drop(client);
    finish(
        core,
        (fe_idx, fe),
        Some((be_idx, be)),
        facts,
        start,
        Some(&st),
    );
}

/// The backend's `tcp-response content` rules over the server's first
/// bytes: whether the data phase goes on (the bytes read sent to the
/// client first); otherwise how the stream ended is in `facts`.
#[allow(clippy::too_many_arguments)]
async fn response_rules<'c>(
    core: &'c Core,
    fe: &FrontendPlan,
    be: &BackendPlan,
    rules: &crate::engine::rules::tcp::TcpRules,
    (client, server): (&Conn, &Conn),
    addrs: (Option<SocketAddr>, Option<SocketAddr>),
    st: &mut tcp_rules::StreamRules<'c>,
    facts: &mut StreamFacts,
) -> bool {
    use tcp_rules::ResVerdict;
    let mut res = core.bufs.get(Class::Std).await;
    let v = tcp_rules::inspect_response(core, fe, be, rules, (client, server), addrs, st, &mut res)
        .await;
    let kill_server = || {
        // HAProxy kills the server connection (sc_must_kill_conn): a reset.
        let _ = socket2::SockRef::from(server).set_linger(Some(Duration::ZERO));
    };
    match v {
        ResVerdict::Go => {
            if res.is_empty() || client.write_all(&mut res).await.is_ok() {
                return true;
            }
            facts.termination = Termination {
                cause: Cause::ClientAbort,
                phase: Phase::Data,
            };
        }
        ResVerdict::Close => {
            // What was read still reaches the client; the server goes.
            let _ = client.write_all(&mut res).await;
            kill_server();
            client.shutdown_write();
        }
        ResVerdict::Reject => {
            kill_server();
            facts.termination = Termination {
                cause: Cause::Proxy,
                phase: Phase::Data,
            };
        }
        ResVerdict::Failed(t) => facts.termination = t,
    }
    false
}

/// `shutdown session` killed the stream (see `runtime::registry`): HAProxy's
/// stream_shutdown(SF_ERR_KILLED) closes both sides as a normal end would,
/// so the data phase logs `K-`; a failed connect keeps its phase.
fn killed(reg: &crate::engine::runtime::Registered<'_>, facts: &mut StreamFacts) {
    if reg.killed() {
        facts.termination = Termination {
            cause: Cause::Killed,
            phase: match facts.termination.cause {
                Cause::None => Phase::None,
                _ if facts.tc.is_some() => Phase::None,
                _ => facts.termination.phase,
            },
        };
    }
}

/// A stream killed while its content rules waited: closed as a refused
/// one, logged `KR`.
fn killed_in_rules() -> tcp_rules::Refused {
    tcp_rules::Refused::Client(Termination {
        cause: Cause::Killed,
        phase: Phase::Request,
    })
}

/// `session::admit` for a stream without rules: the address the client
/// reached (None: refused). A plain function, so that the session's
/// (empty) variables never sit in the stream's future.
#[inline(never)]
fn admit_dst(
    core: &Core,
    fe_idx: (usize, u32),
    fe: &FrontendPlan,
    client: &Conn,
    peer: Option<SocketAddr>,
) -> Option<Option<SocketAddr>> {
    crate::engine::session::admit(core, fe_idx, fe, client, peer).map(|a| a.dst)
}

/// A new stream's facts: (accept date, client, listener id, address the
/// client reached).
fn new_facts(
    core: &Core,
    fe: &FrontendPlan,
    (accept_date, peer, luid, dst): (SystemTime, Option<SocketAddr>, u32, Option<SocketAddr>),
) -> StreamFacts {
    // TCP_NODELAY is inherited from the listener (set once at bind).
    StreamFacts {
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
    }
}

/// No backend (a frontend without default_backend): HAProxy logs
/// "fe/<NOSRV> -1/-1/0 0 SC" and closes cleanly.
fn no_backend(
    core: &Rc<Core>,
    fe_at: (usize, &FrontendPlan),
    client: &Conn,
    mut facts: StreamFacts,
    start: Instant,
    rules: Option<&tcp_rules::StreamRules<'_>>,
) {
    close_unserved(client);
    facts.termination = Termination {
        cause: Cause::ServerAbort,
        phase: Phase::Connect,
    };
    finish(core, fe_at, None, facts, start, rules);
}

/// Reset before the stream was handled (often still in the accept
/// queue): as HAProxy, no server connection, "be/<NOSRV> -1/-1/0 0 CR".
fn client_gone_early(
    core: &Rc<Core>,
    fe_at: (usize, &FrontendPlan),
    be_at: (usize, &BackendPlan),
    mut facts: StreamFacts,
    start: Instant,
    rules: Option<&tcp_rules::StreamRules<'_>>,
) {
    facts.termination = Termination {
        cause: Cause::ClientAbort,
        phase: Phase::Request,
    };
    finish(core, fe_at, Some(be_at), facts, start, rules);
}

/// The data phase's (client, server) timeouts: `timeout tunnel`
/// supersedes client/server once connected (TCP mode).
fn tunnel_timeouts(fe: &FrontendPlan, be: &BackendPlan) -> (Option<Duration>, Option<Duration>) {
    (
        be.timeout_tunnel.or(fe.timeout_client),
        be.timeout_tunnel.or(be.timeout_server),
    )
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
/// binary.
fn hash_key(
    e: &crate::engine::rules::expr::Expr,
    (dst, src): (Option<SocketAddr>, Option<SocketAddr>),
    frontend: &str,
) -> Option<Vec<u8>> {
    let head = ringlb_proto::msg::Head::new();
    let env = crate::engine::rules::env::Conn { src, dst, frontend };
    match e
        .eval(&crate::engine::rules::fetch::Ctx::new(&head, &env))
        .and_then(|v| v.cast(ringlb_config::keywords::SmpType::Bin))
    {
        Some(
            crate::engine::rules::sample::Smp::Bin(b) | crate::engine::rules::sample::Smp::Str(b),
        ) => Some(b),
        _ => None,
    }
}

/// [`hash_key`]'s connect. Boxed, so that streams of other backends keep
/// their size; it allocates only for such a backend.
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
        let key = hash_key(e, (dst, src), frontend);
        let pick = HttpPick {
            idle: &no_idle,
            key: key.as_deref(),
            force: None,
            abort: None,
            retried: 0,
            redispatched: false,
            avoid: None,
            max_retries: be.retries,
        };
        connect(core, be_idx, be, dst, src, Some(&pick)).await
    })
}

/// A TCP stream has no idle server connections to reuse.
fn no_idle(_: usize) -> Option<(Conn, Option<SocketAddr>)> {
    None
}

/// A stream the content rules refused: closed (silently for
/// `silent-drop`) and logged as HAProxy does (PR, or the client's
/// timeout or error).
#[allow(clippy::too_many_arguments)]
fn refuse(
    core: &Rc<Core>,
    fe_at: (usize, &FrontendPlan),
    be_at: Option<(usize, &BackendPlan)>,
    client: &Conn,
    refused: tcp_rules::Refused,
    mut facts: StreamFacts,
    st: &tcp_rules::StreamRules<'_>,
    start: Instant,
) {
    facts.bytes_in = st.bytes_in;
    facts.termination = match refused {
        tcp_rules::Refused::Reject | tcp_rules::Refused::SilentDrop => Termination {
            cause: Cause::Proxy,
            phase: Phase::Request,
        },
        tcp_rules::Refused::Client(t) => t,
    };
    match refused {
        tcp_rules::Refused::SilentDrop => client.silent_drop(),
        tcp_rules::Refused::Reject => {
            // HAProxy kills the connection (sc_must_kill_conn): a reset.
            let _ = socket2::SockRef::from(client).set_linger(Some(Duration::ZERO));
        }
        tcp_rules::Refused::Client(_) => close_unserved(client),
    }
    finish(core, fe_at, be_at, facts, start, Some(st));
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
    count_with(core, fe, be, facts, None);
}

/// [`count`], with an HTTP response head's date (`t_data`, ms since the
/// stream began) for the response time average (HAProxy's rtime; TCP has
/// none: its data time is the connect's).
pub(super) fn count_with(
    core: &Core,
    fe: usize,
    be: Option<usize>,
    facts: &StreamFacts,
    t_data: Option<u32>,
) {
    use crate::engine::runtime::counters::{Be, Fe};
    let stats = &core.shared.stats;
    let add = |stat, n| stats.add(core.id, stat, n);
    let luid = facts.listener_id;
    stats.add_fe(core.id, fe, luid, Fe::BytesIn, facts.bytes_in);
    stats.add_fe(core.id, fe, luid, Fe::BytesOut, facts.bytes_out);
    // Data transfer aborted by either side (stream.c's process_stream and
    // http_ana's forward_body: a client or server error or timeout once
    // the data flows); a server error (not a timeout) is also a failed
    // response (stream.c, SE_FL_ERROR on the server side).
    let t = facts.termination;
    let data = t.phase == Phase::Data;
    // A client gone while its request body or the response head was on
    // the way (http_ana's return_cli_abort, abortonclose) counts too.
    let cli_abrt = matches!(t.phase, Phase::Data | Phase::Headers)
        && matches!(t.cause, Cause::ClientAbort | Cause::ClientTimeout);
    let srv_abrt = data && matches!(t.cause, Cause::ServerAbort | Cause::ServerTimeout);
    let srv_err = data && t.cause == Cause::ServerAbort;
    // An internal error ended it (HAProxy's internal_errors).
    let internal = t.cause == Cause::Internal;
    if internal {
        stats.add_fe(core.id, fe, luid, Fe::InternalErrors, 1);
    }
    if cli_abrt {
        add(Stat::Fe(fe, Fe::CliAbrt), 1);
    }
    if srv_abrt {
        add(Stat::Fe(fe, Fe::SrvAbrt), 1);
    }
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
    let flags = [
        (cli_abrt, Be::CliAbrt),
        (srv_abrt, Be::SrvAbrt),
        (srv_err, Be::FailedResp),
        (internal, Be::InternalErrors),
    ];
    for (set, c) in flags {
        if set {
            add(Stat::Be(b, c), 1);
            if let Some(s) = facts.server {
                add(Stat::Srv(b, s, c), 1);
            }
        }
    }
    // The averaged times (stream_update_time_stats): queue, connect,
    // data (the response head after the connect in HTTP; none in TCP) and
    // total. `tw` and `tc` are the queue's and the connect's own
    // durations.
    let ms = |d: Duration| u32::try_from(d.as_millis()).unwrap_or(u32::MAX);
    let times = facts.tc.map(|tc| {
        let tw = facts.tw.map_or(0, ms);
        let tc = ms(tc);
        Times {
            queue: tw,
            connect: tc,
            data: t_data.map_or(0, |d| d.saturating_sub(tw.saturating_add(tc))),
            total: ms(facts.tt),
        }
    });
    if let Some(t) = times {
        stats.times(core.id, Obj::Be(b), t);
    }
    let Some(s) = facts.server else { return };
    if let Some(t) = times {
        stats.times(core.id, Obj::Srv(b, s), t);
    }
    // HAProxy counts a server's session at each connection attempt
    // (srv_inc_sess_ctr in connect_server): the retries too.
    if facts.tc.is_some() || conn_err > 0 {
        add(Stat::SrvSessTot(b, s), 1 + retries);
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
    rules: Option<&tcp_rules::StreamRules<'_>>,
) {
    facts.tt = start.elapsed();
    count(core, fe_idx, be_at.map(|(i, _)| i), &facts);
    crate::engine::stats::prometheus::record(core, fe_idx, be_at.map(|(i, _)| i), &facts, None);
    if logs_early(fe) && facts.tc.is_some() {
        // Logged when it connected.
        return;
    }
    log(core, (fe_idx, fe), be_at, facts, start, rules);
}

/// `option logasap` with a log format (HAProxy has no early line for the
/// plain connection log).
fn logs_early(fe: &FrontendPlan) -> bool {
    fe.log.logasap && fe.log.enabled && fe.log.format.is_some()
}

/// `option logasap`: logged once connected (HAProxy's back_establish),
/// the end date the connect's, no byte counted yet.
fn log_early(
    core: &Rc<Core>,
    fe_at: (usize, &FrontendPlan),
    be_at: (usize, &BackendPlan),
    facts: &StreamFacts,
    start: Instant,
    rules: Option<&tcp_rules::StreamRules<'_>>,
) {
    if logs_early(fe_at.1) {
        let early = StreamFacts {
            tt: start.elapsed(),
            queue: facts.queue,
            termination: facts.termination,
            ..*facts
        };
        log(core, fe_at, Some(be_at), early, start, rules);
    }
}

/// Log a stream with the counters as they are now.
fn log(
    core: &Rc<Core>,
    (fe_idx, fe): (usize, &FrontendPlan),
    be_at: Option<(usize, &BackendPlan)>,
    mut facts: StreamFacts,
    start: Instant,
    rules: Option<&tcp_rules::StreamRules<'_>>,
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
    // `option dontlog-normal`: HAProxy's strm_log() logs only a redispatch,
    // a termination past `L`, or retries.
    let normal = !facts.redispatched && !facts.termination.cause.is_error() && facts.retries == 0;
    if !fe.log.enabled
        || (fe.log.dontlognull && facts.bytes_in == 0 && facts.termination.cause == Cause::None)
        || (fe.log.dontlog_normal && normal)
        || rules.is_some_and(|r| matches!(r.log_level, Some(None)))
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
            rules.map(|r| &r.caps),
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
    /// state, which boxing the race's arms did not remove; 2,464 since the
    /// pump also waits for its server's streams to be shut down, +8 with
    /// the hard stop's wait and that one polled as one future): it must
    /// not grow unnoticed.
    #[test]
    fn a_stream_stays_small() {
        let size = future_size(super::handle);
        assert!(size <= 2464, "a stream's future takes {size} bytes");
        // With rules (a task type of its own): 2,824 bytes, their state
        // boxed, the inspection's and switching's futures inline, the
        // response rules' boxed (2,752 before the pick carried the
        // retries' state, +32, and `balance hash`'s key, +40; 2,832 with
        // the server's shutdown wait, +8).
        let size = future_size(super::handle_with_rules);
        assert!(size <= 2832, "a stream with rules takes {size} bytes");
    }
}
