//! Connecting a stream to a server: pick a server or wait in a queue,
//! connect (TCP or UNIX, with the backend's and the server's socket
//! options), retry and redispatch; a failed connect() is classified by its
//! errno as HAProxy's tcp_connect_server does.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_util::future::{select, Either};

use super::backend::queue::{self, QueuePos, Ticket, BACKEND_QUEUE};
use super::checks::observe::Event;
use super::listener::ServerTuning;
use super::plan::{BackendPlan, ServerPlan};
use super::runtime::timer;
use super::runtime::Core;
use super::session::transport::{Conn, Connecting};
use crate::balance::PickCtx;
use crate::engine::runtime::counters::Be;
use crate::engine::stats::count_be;
use crate::log::termination::{Cause, Phase};

/// Connect to `addr` with the backend's socket options (tcp_connect_server:
/// TCP_NODELAY, keep-alive, buffer sizes), from `source` when the server
/// has one: bound to its address, or in full transparent mode to the one
/// `usesrc` presents (IP_TRANSPARENT, as HAProxy's tcp_bind_socket), on its
/// interface.
///
/// As tcp_connect_server, a socket that cannot be created or bound lacks a
/// resource (SF_ERR_RESOURCE, whatever the errno); connect() is classified
/// by its errno (`connect_error`).
async fn connect_from(
    tuning: &ServerTuning,
    srv: &ServerPlan,
    client: Option<SocketAddr>,
    addr: SocketAddr,
) -> Result<Conn, ConnectError> {
    let resource = |_| ConnectError::Resource;
    let sock = Connecting::new(&addr).await.map_err(resource)?;
    // TCP mode sends nothing before the connection is up: no data waits.
    super::listener::tune_server_socket(socket2::SockRef::from(&sock), tuning, false)
        .map_err(|_| ConnectError::Failed)?;
    // The server's own `tcp-ut` and `tfo` (tcp_connect_server).
    if let Some(ut) = srv.user_timeout {
        let _ = socket2::SockRef::from(&sock).set_tcp_user_timeout(Some(ut));
    }
    if srv.tfo() {
        let _ = nix::sys::socket::setsockopt(
            &sock,
            nix::sys::socket::sockopt::TcpFastOpenConnect,
            &true,
        );
    }
    // The source is read at once: nothing of the server's configuration
    // (a guard) lives across the awaits, nor grows the stream's future.
    let bind = srv.conf().source.as_deref().map(|src| {
        if let Some(name) = &src.interface {
            // As HAProxy (tcp_connect_server), a device that cannot be
            // bound (absent, no privilege) leaves the socket unbound.
            let _ = sock.bind_device(name.as_bytes());
        }
        src.bind_for(client)
    });
    let Some((local, transparent)) = bind else {
        return sock.connect(addr).await.map_err(|e| connect_error(&e));
    };
    let s = socket2::SockRef::from(&sock);
    // Part of binding (tcp_bind_socket): a failure lacks a resource too.
    if transparent {
        if addr.is_ipv4() {
            s.set_ip_transparent_v4(true).map_err(resource)?;
        } else {
            s.set_ip_transparent_v6(true).map_err(resource)?;
        }
    }
    if local.port() != 0 {
        // A fixed source port (usesrc client): the same address and port
        // may serve several destinations.
        sock.set_reuseaddr(true).map_err(resource)?;
    } else {
        // The port is chosen at connect time, so one source port serves
        // several servers (IP_BIND_ADDRESS_NO_PORT, as HAProxy).
        let _ = super::listener::set_bind_address_no_port(s);
    }
    if local.port() != 0 || !local.ip().is_unspecified() || transparent {
        sock.bind(local).await.map_err(resource)?;
    }
    sock.connect(addr).await.map_err(|e| connect_error(&e))
}

/// A failed connect() as HAProxy's tcp_connect_server (and
/// uxst_connect_server) classifies it: EAGAIN, EADDRINUSE and EADDRNOTAVAIL
/// mean no free source port (or a full UNIX backlog); EMFILE, ENFILE,
/// ENOBUFS and ENOMEM, which socket() returns (compio's UNIX connect
/// creates its socket too), no descriptor or memory. Anything else
/// (refused, unreachable, reset) is the server's.
fn connect_error(e: &std::io::Error) -> ConnectError {
    use nix::errno::Errno;
    match e.raw_os_error().map(Errno::from_raw) {
        Some(
            Errno::EAGAIN
            | Errno::EADDRINUSE
            | Errno::EADDRNOTAVAIL
            | Errno::EMFILE
            | Errno::ENFILE
            | Errno::ENOBUFS
            | Errno::ENOMEM,
        ) => ConnectError::Resource,
        _ => ConnectError::Failed,
    }
}

/// `timeout queue` expired for a queued stream: sQ.
fn queue_timed_out(
    be: &BackendPlan,
    queue_start: Instant,
    ticket: &mut Ticket<'_>,
    progress: &mut Progress,
) -> Option<ConnectFailure> {
    let waited = queue_start.elapsed();
    match be.timeout_queue {
        Some(t) if waited >= t => {
            // Waiting in a server's queue: the log names that server.
            let server = ticket.queue().and_then(|q| q.checked_sub(1));
            ticket.leave(&mut progress.queue);
            progress.tw = Some(waited);
            Some(progress.failure(Cause::ServerTimeout, Phase::Queue, server))
        }
        _ => None,
    }
}

/// A server's queue reached its `maxqueue`: HAProxy's SRV_STATUS_FULL.
/// Without persistence nothing may redispatch the stream ("hash algorithms
/// would bring us on the same server again", srv_redispatch_connect), so it
/// ends with STRM_ET_QUEUE_ERR: SQ.
fn queue_full(
    be: &BackendPlan,
    queue: usize,
    ticket: &mut Ticket<'_>,
    progress: &mut Progress,
) -> Option<ConnectFailure> {
    let idx = queue.checked_sub(1)?;
    let s = be.servers.get(idx)?;
    let maxqueue = s.maxqueue();
    if ticket.queue() == Some(queue) || maxqueue == 0 || s.queued.get() < maxqueue {
        return None;
    }
    ticket.leave(&mut progress.queue);
    Some(progress.failure(Cause::ServerAbort, Phase::Queue, Some(idx)))
}

/// Wait in the queue until woken, stopped, or `timeout queue` is reached.
/// Wait in the queue until woken, killed or out of time.
async fn wait_woken(core: &Core, be: &BackendPlan, ticket: &Ticket<'_>, queue_start: Instant) {
    let woken = async {
        let woken = std::pin::pin!(ticket.woken());
        let kill = std::pin::pin!(core.kill.wait());
        let _ = select(woken, kill).await;
    };
    match be.timeout_queue {
        Some(t) => {
            let left = t.saturating_sub(queue_start.elapsed());
            let _ = timer::timeout(&core.timers, left, woken).await;
        }
        None => woken.await,
    }
}

/// `fut`'s output, or None when the client leaves first: boxed and
/// erased, so that a stream without `abortonclose` carries one pointer
/// for it.
fn race_client<'a, T: 'a>(
    fut: impl std::future::Future<Output = T> + 'a,
    c: &'a Conn,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Option<T>> + 'a>> {
    Box::pin(async move {
        let fut = std::pin::pin!(fut);
        let gone = std::pin::pin!(client_gone(c));
        match select(fut, gone).await {
            Either::Left((r, _)) => Some(r),
            Either::Right(((), _)) => None,
        }
    })
}

/// Resolves when the client closed or reset its connection (a FIN or an
/// error waiting); never when it sent bytes (a pipelined request or a
/// body: it is still there).
pub(crate) async fn client_gone(c: &Conn) {
    use nix::errno::Errno;
    let Ok(r) = c.readiness() else {
        return std::future::pending().await;
    };
    loop {
        if r.read_ready().await.is_err() {
            return;
        }
        match c.peek() {
            Ok(0) => return,
            Ok(_) => return std::future::pending().await,
            Err(Errno::EAGAIN | Errno::EINTR) => {}
            Err(_) => return,
        }
    }
}

/// Pick a server, or the queue to wait in: `Ok(server)` when this stream
/// took one of its connection slots.
fn pick_or_queue(
    core: &Core,
    be_idx: usize,
    be: &BackendPlan,
    ticket: &Ticket<'_>,
    (client, key, force): (Option<SocketAddr>, Option<&[u8]>, Option<usize>),
    avoid: Option<usize>,
) -> Result<usize, Option<usize>> {
    // A persistence cookie's server, unless a failed attempt on it asked
    // for another (redispatch): used directly, or waited for in its own
    // queue (HAProxy's SF_DIRECT).
    if let Some(i) = force.filter(|i| avoid != Some(*i)) {
        if let Some(s) = be.servers.get(i) {
            if s.has_room(be) && ticket.may_take(i) && s.conns.try_take(s.max_now(be)) {
                crate::engine::stats::count_server_pick(core, be_idx, i, false);
                return Ok(i);
            }
            return Err(Some(1 + i));
        }
    }
    // Server loads (and dynamic limits) into the core's scratch vector: no
    // allocation per connection once it has grown to the largest backend.
    // The borrows end before any await.
    let Some(balancer) = core.balancers.get(be_idx) else {
        return Err(None);
    };
    let mut balancer = balancer.borrow_mut();
    let picked = {
        let mut conns = core.scratch_conns.borrow_mut();
        conns.clear();
        // The slots in use only: the slots `add server` grew and never filled
        // cost the pick nothing.
        let servers = be.live_servers();
        for (i, s) in servers.clone().enumerate() {
            conns.push(s.conns.get());
            if s.minconn() > 0 {
                balancer.set_maxconn(i, Some(s.max_now(be)).filter(|m| *m > 0));
            }
        }
        // Then the queued streams of each server: leastconn ranks by
        // served plus queued, as HAProxy's fwlc_srv_key does.
        let n = conns.len();
        conns.extend(servers.map(|s| s.queued.get()));
        let (served, queued) = conns.split_at(n);
        balancer.pick_with_queues(
            &PickCtx {
                src: client.map(|a| a.ip()),
                key,
                avoid,
                conns: served,
            },
            queued,
        )
    };
    let Some(i) = picked else {
        // Every usable server is full: the backend queue; none usable: no
        // queue at all.
        return Err(balancer.has_usable().then_some(BACKEND_QUEUE));
    };
    let Some(s) = be.servers.get(i) else {
        return Err(None);
    };
    if s.has_room(be) {
        if ticket.may_take(i) && s.conns.try_take(s.max_now(be)) {
            crate::engine::stats::count_server_pick(core, be_idx, i, true);
            return Ok(i);
        }
        // Older waiters may use it: behind them, in the backend queue.
        return Err(Some(BACKEND_QUEUE));
    }
    // The key designates a full server: its own queue.
    Err(Some(1 + i))
}

/// What an HTTP stream adds to a connect: where an idle connection to a
/// server may come from, and the request's balancing key.
pub(crate) struct HttpPick<'a> {
    /// An idle connection to a server, with the address it went to
    /// (kept from its connect: no getpeername per reuse).
    pub(crate) idle: &'a dyn Fn(usize) -> Option<(Conn, Option<SocketAddr>)>,
    pub(crate) key: Option<&'a [u8]>,
    /// The server a persistence cookie designates.
    pub(crate) force: Option<usize>,
    /// `option abortonclose`: the client, watched while queued and
    /// connecting.
    pub(crate) abort: Option<&'a Conn>,
    /// The request's retries so far (HTTP retries of earlier attempts:
    /// they count against the same `retries`), and whether one of them
    /// went to another server.
    pub(crate) retried: u32,
    pub(crate) redispatched: bool,
    /// The server a retry leaves (a redispatch).
    pub(crate) avoid: Option<usize>,
    /// `retries`, or what `http-request set-retries` made it.
    pub(crate) max_retries: u32,
}

/// Whether a retry (the `attempt`-th, counted from 1) may go to another
/// server: HAProxy's stream_choose_redispatch. With `option redispatch`:
/// when the server is no longer usable, on every interval-th retry (a
/// negative interval counts back from the last one: -1, the default, is
/// the last retry), or at once when the stream has no reason to stay
/// (no persistence designated the server, more than one active server, an
/// algorithm that is not a hash).
pub(crate) fn redispatch_now(
    core: &Core,
    be_idx: usize,
    be: &BackendPlan,
    (srv, direct): (usize, bool),
    attempt: u32,
    max_retries: u32,
) -> bool {
    let Some(after) = be.redispatch else {
        return false;
    };
    let down = be.servers.get(srv).is_none_or(|s| !s.state.get().usable());
    let (attempt, max) = (i64::from(attempt), i64::from(max_retries));
    let every = match after {
        0 => 0,
        a if a > 0 => i64::from(a),
        a => max + 1 + i64::from(a),
    };
    let interval = every > 0 && attempt % every == 0;
    let active = be
        .servers
        .iter()
        .filter(|s| !s.is_backup() && s.state.get().usable())
        .count();
    let hash = core
        .balancers
        .get(be_idx)
        .is_some_and(|b| !matches!(b.borrow().needs_key(), crate::balance::KeyKind::None));
    down || interval || (!direct && active > 1 && !hash)
}

/// A stream's server connection, and how it was obtained (`%s`, `%Tw`,
/// `%Tc`, `%rc`, `%sq/%bq`, the `+` of a redispatch).
pub(crate) struct Connected {
    pub(crate) server: usize,
    pub(crate) conn: Conn,
    /// None for a UNIX server.
    pub(crate) addr: Option<SocketAddr>,
    pub(crate) tw: Option<Duration>,
    pub(crate) tc: Duration,
    pub(crate) retries: u32,
    pub(crate) redispatched: bool,
    pub(crate) queue: QueuePos,
    /// An idle connection was reused (HAProxy's `%rc`-free reuse).
    pub(crate) reused: bool,
}

/// Why a stream got no server connection, and what it went through first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ConnectFailure {
    pub(crate) cause: Cause,
    pub(crate) phase: Phase,
    /// The server the log names (its queue, or the last one tried).
    pub(crate) server: Option<usize>,
    pub(crate) tw: Option<Duration>,
    pub(crate) retries: u32,
    pub(crate) redispatched: bool,
    pub(crate) queue: QueuePos,
}

/// What `connect` has gone through so far, whatever its outcome.
#[derive(Clone, Copy, Debug, Default)]
struct Progress {
    tw: Option<Duration>,
    retries: u32,
    redispatched: bool,
    queue: QueuePos,
}

impl Progress {
    fn failure(self, cause: Cause, phase: Phase, server: Option<usize>) -> ConnectFailure {
        ConnectFailure {
            cause,
            phase,
            server,
            tw: self.tw,
            retries: self.retries,
            redispatched: self.redispatched,
            queue: self.queue,
        }
    }
}

/// Pick a server and connect, with queueing, retries and redispatch.
pub(crate) async fn connect(
    core: &Rc<Core>,
    be_idx: usize,
    be: &BackendPlan,
    dst: Option<SocketAddr>,
    client: Option<SocketAddr>,
    http: Option<&HttpPick<'_>>,
) -> Result<Connected, ConnectFailure> {
    // One pointer in every TCP stream's state (its size is an idle
    // connection's memory), not two fat ones.
    let key = http.and_then(|h| h.key);
    let mut force = http.and_then(|h| h.force);
    let mut avoid = http.and_then(|h| h.avoid);
    let max_retries = http.map_or(be.retries, |h| h.max_retries);
    let mut progress = Progress {
        retries: http.map_or(0, |h| h.retried),
        redispatched: http.is_some_and(|h| h.redispatched),
        ..Progress::default()
    };
    // An idle connection is for the first attempt of this call only.
    let mut first_attempt = true;
    let queue_start = Instant::now();
    let mut ticket = Ticket::new(core, be_idx, be);
    let mut connect_start = Instant::now();
    // The server of a retry without redispatch (see below).
    let mut retry_of: Option<usize> = None;
    loop {
        // Pick, or wait in a queue while the servers this stream may use
        // are full or older waiters may use them (see `queue`).
        let idx = loop {
            // A slot handed over by a stream that released it.
            if let Some(i) = ticket.claim_grant(&mut progress.queue) {
                break i;
            }
            if core.kill.is_fired() {
                ticket.leave(&mut progress.queue);
                return Err(progress.failure(Cause::Killed, Phase::Queue, None));
            }
            // Its server went down while it waited in that server's queue:
            // "left to the dispatcher to choose a server" (HAProxy clears
            // SF_DIRECT and SF_ASSIGNED).
            if ticket.take_redistributed() {
                force = None;
                retry_of = None;
            }
            // A retry without redispatch stays on its server (HAProxy
            // keeps the stream assigned: SC_ST_ASS), whatever the
            // algorithm would pick now.
            let assigned = retry_of.or(force);
            let queue =
                match pick_or_queue(core, be_idx, be, &ticket, (client, key, assigned), avoid) {
                    Ok(i) => {
                        ticket.take_slot(&mut progress.queue);
                        break i;
                    }
                    Err(Some(q)) => q,
                    Err(None) => {
                        ticket.leave(&mut progress.queue);
                        return Err(progress.failure(Cause::ServerAbort, Phase::Connect, None));
                    }
                };
            if let Some(end) = queue_full(be, queue, &mut ticket, &mut progress) {
                return Err(end);
            }
            if let Some(end) = queue_timed_out(be, queue_start, &mut ticket, &mut progress) {
                return Err(end);
            }
            // Joined or moved: look again at once, now that this stream is
            // visible to releasers.
            if ticket.enter(queue) {
                continue;
            }
            // `option abortonclose` races the wait with the client: boxed,
            // so that only it pays for the race's state (awaited in place,
            // the wait takes no second slot in every stream's future).
            let gone = match http.and_then(|h| h.abort) {
                None => {
                    wait_woken(core, be, &ticket, queue_start).await;
                    false
                }
                Some(c) => race_client(wait_woken(core, be, &ticket, queue_start), c)
                    .await
                    .is_none(),
            };
            if gone {
                // `option abortonclose`: the client left while queued.
                ticket.leave(&mut progress.queue);
                progress.tw = Some(queue_start.elapsed());
                return Err(progress.failure(Cause::ClientAbort, Phase::Queue, None));
            }
        };
        // HAProxy's timers: a stream (re)assigned to a server (the first
        // pick, or a redispatch) ends its queue time there (%Tw covers the
        // failed attempts before a redispatch) and starts its connect time
        // (%Tc); a retry on the same server keeps both, so its %Tc covers
        // the failed attempts and the turn-around.
        // A redispatch shows (`+` before %rc) when the server changed
        // (assign_server_and_queue's SF_REDISP): a map-based hash gives
        // the same one again.
        if avoid.is_some_and(|a| a != idx) {
            progress.redispatched = true;
        }
        if retry_of != Some(idx) {
            progress.tw = Some(queue_start.elapsed());
            connect_start = Instant::now();
        }
        let Some(srv) = be.servers.get(idx) else {
            queue::offer(core, be_idx, idx, true);
            return Err(progress.failure(Cause::Internal, Phase::Connect, None));
        };
        // `http-reuse`: an idle connection to the server picked, when one
        // is still open (the first attempt only: a retry connects anew).
        if let Some(h) = http.filter(|_| first_attempt) {
            if let Some((conn, addr)) = (h.idle)(idx) {
                count_be(core, be_idx, Some(idx), Be::Reuse);
                return Ok(Connected {
                    server: idx,
                    conn,
                    addr,
                    tw: progress.tw,
                    tc: connect_start.elapsed(),
                    retries: 0,
                    redispatched: progress.redispatched,
                    queue: progress.queue,
                    reused: true,
                });
            }
        }
        first_attempt = false;
        // Every attempt at a new connection (HAProxy's connect_server).
        count_be(core, be_idx, Some(idx), Be::Connect);
        // The future is built where it is awaited: a named one would take
        // a second slot in every stream's state.
        let attempt = match http.and_then(|h| h.abort) {
            None => connect_server(core, be, srv, dst, client).await,
            // Boxed: the race's state would otherwise sit in every
            // stream's future (an idle TCP connection's memory).
            Some(c) => match Box::pin(race_client(connect_server(core, be, srv, dst, client), c))
                .await
            {
                Some(r) => r,
                None => {
                    // The client left while connecting: the slot goes
                    // back, the attempt is dropped.
                    queue::offer(core, be_idx, idx, true);
                    return Err(progress.failure(Cause::ClientAbort, Phase::Connect, Some(idx)));
                }
            },
        };
        let err = match attempt {
            Ok((conn, addr)) => {
                srv.observe.report(Event::L4Ok);
                return Ok(Connected {
                    server: idx,
                    conn,
                    addr,
                    tw: progress.tw,
                    tc: connect_start.elapsed(),
                    retries: progress.retries,
                    redispatched: progress.redispatched,
                    queue: progress.queue,
                    reused: false,
                });
            }
            Err(e) => e,
        };
        // back_handle_st_cer: any failed attempt (a lack of resources
        // included) counts against the server.
        if err != ConnectError::NoAddress {
            srv.observe.report(Event::L4Err);
        }
        queue::offer(core, be_idx, idx, true);
        let cause = match err {
            ConnectError::NoAddress => {
                return Err(progress.failure(Cause::Internal, Phase::Connect, None));
            }
            ConnectError::Timeout => Cause::ServerTimeout,
            // Rule zero: not RC. HAProxy 2.6 retries an SF_ERR_RESOURCE
            // (back_try_conn_req) and, out of retries, back_handle_st_cer
            // sets STRM_ET_CONN_ERR: its log says SC, as for a refusal
            // (tests/tcp/log.rs checks it against haproxy).
            ConnectError::Failed | ConnectError::Resource => Cause::ServerAbort,
        };
        // `retry-on` without `conn-failure`: not retried at all.
        let conn_failure = be.retry_on.has(ringlb_config::model::RetryOn::CONN_FAILURE);
        if progress.retries >= max_retries || !conn_failure {
            return Err(progress.failure(cause, Phase::Connect, Some(idx)));
        }
        progress.retries += 1;
        let attempt = progress.retries;
        if redispatch_now(
            core,
            be_idx,
            be,
            (idx, force == Some(idx)),
            attempt,
            max_retries,
        ) {
            avoid = Some(idx);
            retry_of = None;
            continue;
        }
        avoid = None;
        retry_of = Some(idx);
        // A resource error is retried at once: HAProxy clears the error
        // before back_handle_st_cer ("likely a source port allocation
        // problem, so we want to retry now").
        if err == ConnectError::Resource {
            continue;
        }
        // A connect that timed out is retried at once: HAProxy waits its
        // turn-around only after an error the connection reported
        // (back_handle_st_cer's must_tar, SE_FL_ERROR); `timeout connect`
        // already waited.
        if err == ConnectError::Timeout {
            continue;
        }
        // The same server again, after HAProxy's turn-around timer:
        // min(timeout connect, 1s).
        let turn_around = be
            .timeout_connect
            .map_or(Duration::from_secs(1), |t| t.min(Duration::from_secs(1)));
        timer::sleep(&core.timers, turn_around).await;
    }
}

/// Why a connection attempt to a server failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ConnectError {
    /// `timeout connect` expired: sC.
    Timeout,
    /// Refused, unreachable, reset: SC.
    Failed,
    /// No socket, no memory, no free source port (HAProxy's
    /// SF_ERR_RESOURCE): retried at once, SC once out of retries.
    Resource,
    /// No address to connect to (a port offset out of range): IC, no retry.
    NoAddress,
}

/// One connection attempt to `srv`, TCP or UNIX, within `timeout connect`:
/// the connection and, for TCP, the address it went to. The retry and
/// redispatch logic around it is the same for both families.
async fn connect_server(
    core: &Core,
    be: &BackendPlan,
    srv: &ServerPlan,
    dst: Option<SocketAddr>,
    client: Option<SocketAddr>,
) -> Result<(Conn, Option<SocketAddr>), ConnectError> {
    async fn within<T>(
        core: &Core,
        be: &BackendPlan,
        fut: impl std::future::Future<Output = Result<T, ConnectError>>,
    ) -> Result<T, ConnectError> {
        match be.timeout_connect {
            Some(t) => match timer::timeout(&core.timers, t, fut).await {
                Ok(r) => r,
                Err(()) => Err(ConnectError::Timeout),
            },
            None => fut.await,
        }
    }
    // The server's address once (a `set server addr` meanwhile serves the
    // next connection), no guard held across the connect: the stream's
    // future stays as small (a UNIX path alone is held, as an `Arc`).
    let inet = {
        let conf = srv.conf();
        match &conf.addr {
            super::plan::ServerAddr::Unix(_) => None,
            a => Some(
                dst.and_then(|d| a.resolve(d))
                    .or(match a {
                        super::plan::ServerAddr::Fixed(x) => Some(*x),
                        _ => None,
                    })
                    .ok_or(ConnectError::NoAddress)?,
            ),
        }
    };
    let Some(addr) = inet else {
        let conf = srv.conf.load_full();
        let super::plan::ServerAddr::Unix(path) = &conf.addr else {
            return Err(ConnectError::NoAddress);
        };
        let unix = async {
            Conn::connect_unix(path)
                .await
                .map_err(|e| connect_error(&e))
        };
        let conn = within(core, be, unix).await?;
        return Ok((conn, None));
    };
    let conn = within(core, be, connect_from(&be.server_tuning, srv, client, addr)).await?;
    Ok((conn, Some(addr)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::plan::ServerAddr;
    use crate::engine::Counter;

    fn server(user_timeout: Option<Duration>, tfo: bool) -> ServerPlan {
        ServerPlan {
            conf: arc_swap::ArcSwap::from_pointee(crate::engine::plan::ServerConf {
                name: "s".into(),
                id: 1,
                addr: ServerAddr::Fixed("127.0.0.1:1".parse().unwrap()),
                forced_id: false,
                weight: 1,
                loc: String::new(),
                probes: None,
                source: None,
                track: None,
            }),
            backup: false.into(),
            state: crate::engine::backend::server::State::new(
                crate::engine::backend::server::Snapshot {
                    admin: 0,
                    oper: crate::engine::backend::server::Oper::Running,
                    eweight: 16,
                    maxconn: 0,
                },
            ),
            weights: crate::engine::backend::server::Weights::new(1, 0, true),
            user_timeout,
            tfo: tfo.into(),
            minconn: 0.into(),
            maxqueue: 0.into(),
            pool: crate::engine::plan::PoolSettings::new(None, Duration::from_secs(5), 0),
            max_reuse: None,
            cookie: None,
            conns: Counter::default(),
            queued: Counter::default(),
            queue_served: Counter::default(),
            observe: Default::default(),
            shutdown_on: Default::default(),
            pinned: false.into(),
            check_port: None,
        }
    }

    /// A server's `tcp-ut` and `tfo` are set on its connections, on top of
    /// the backend's options (TCP_NODELAY always).
    #[test]
    fn server_connections_carry_the_server_s_socket_options() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        for (ut, tfo) in [(Some(Duration::from_secs(7)), true), (None, false)] {
            let srv = server(ut, tfo);
            let c = crate::engine::runtime::block_on(connect_from(
                &ServerTuning::default(),
                &srv,
                None,
                addr,
            ))
            .unwrap();
            let s = socket2::SockRef::from(&c);
            assert!(s.tcp_nodelay().unwrap());
            assert_eq!(s.tcp_user_timeout().unwrap(), ut);
            let fo =
                nix::sys::socket::getsockopt(&c, nix::sys::socket::sockopt::TcpFastOpenConnect)
                    .unwrap();
            assert_eq!(fo, tfo);
        }
    }

    /// connect()'s errno as HAProxy's tcp_connect_server classifies it: no
    /// free port, no descriptor, no memory lack a resource; the rest is
    /// the server's.
    #[test]
    fn a_connect_errno_says_whether_a_resource_lacks() {
        use nix::errno::Errno;
        let of = |e: Errno| connect_error(&std::io::Error::from_raw_os_error(e as i32));
        for e in [
            Errno::EAGAIN,
            Errno::EADDRINUSE,
            Errno::EADDRNOTAVAIL,
            Errno::EMFILE,
            Errno::ENFILE,
            Errno::ENOBUFS,
            Errno::ENOMEM,
        ] {
            assert_eq!(of(e), ConnectError::Resource, "{e}");
        }
        for e in [
            Errno::ECONNREFUSED,
            Errno::ENETUNREACH,
            Errno::EHOSTUNREACH,
            Errno::ECONNRESET,
            Errno::EACCES,
            Errno::EPERM,
            Errno::ETIMEDOUT,
        ] {
            assert_eq!(of(e), ConnectError::Failed, "{e}");
        }
        // Not an OS error at all: the server's.
        let other = std::io::Error::other("no errno");
        assert_eq!(connect_error(&other), ConnectError::Failed);
    }
}
