//! TCP-mode streams: accept, pick a server, connect (retries, redispatch,
//! queue), then forward both ways with correct half-close and HAProxy's
//! timeouts, and log how it ended.
//!
//! Timeouts follow HAProxy: a side (client or server) expires when nothing
//! was read from it nor written to it for its timeout (`timeout client` /
//! `server`, `timeout tunnel` once connected, `client-fin` / `server-fin`
//! once that side sent its FIN). Deadlines are re-armed lazily: a timer
//! that fires early (because the side was active meanwhile) is simply
//! re-armed for the remaining time.

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use compio::buf::BufResult;
use compio::io::{AsyncRead, AsyncReadManaged, AsyncWrite, AsyncWriteExt};
use compio::net::TcpStream;
use futures_util::future::{select, Either};

use super::listener::ServerTuning;
use super::plan::{BackendPlan, FrontendPlan, ServerPlan};
use super::pool::BufPool;
use super::queue::{self, QueuePos, Ticket, BACKEND_QUEUE};
use super::runtime::Core;
use super::splice::{self, Pipe, PipePool, Step};
use super::timer::{self, Timers};
use crate::balance::PickCtx;
use crate::log::termination::{Cause, Phase, Termination};

/// One side of a stream: its timeout, when it was last active, and the
/// bytes read from it.
struct Side {
    last: Cell<Instant>,
    timeout: Cell<Option<Duration>>,
    bytes: Cell<u64>,
}

impl Side {
    fn new(timeout: Option<Duration>) -> Self {
        Side {
            last: Cell::new(Instant::now()),
            timeout: Cell::new(timeout),
            bytes: Cell::new(0),
        }
    }
    fn touch(&self) {
        self.last.set(Instant::now());
    }
    fn deadline(&self) -> Option<Instant> {
        self.timeout.get().map(|t| self.last.get() + t)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Client,
    Server,
}

impl Who {
    fn other(self) -> Who {
        match self {
            Who::Client => Who::Server,
            Who::Server => Who::Client,
        }
    }
}

/// How one direction of the data phase ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DirEnd {
    /// The reading side sent its FIN; the other side was shut down for writes.
    Eof,
    Timeout(Who),
    /// A read or write failed on that side (reset, broken pipe).
    Error(Who),
    /// Closed by a hard stop.
    Killed,
}

/// Both sides of a stream and the stream's watchdog.
///
/// Timeouts cost nothing per I/O operation: operations only record when a
/// side was active; one watchdog timer per stream sleeps until the earliest
/// deadline and, when it fires early because a side was active meanwhile,
/// is simply re-armed for the remaining time (HAProxy's lazy re-arming).
struct Sides {
    client: Side,
    server: Side,
    /// Wakes the watchdog when a timeout changes (client-fin, server-fin).
    watchdog: Cell<Option<std::task::Waker>>,
    changed: Cell<bool>,
}

impl Sides {
    fn side(&self, who: Who) -> &Side {
        match who {
            Who::Client => &self.client,
            Who::Server => &self.server,
        }
    }

    fn set_timeout(&self, who: Who, t: Duration) {
        self.side(who).timeout.set(Some(t));
        self.changed.set(true);
        if let Some(w) = self.watchdog.take() {
            w.wake();
        }
    }

    /// The earliest deadline of both sides.
    fn next_deadline(&self) -> Option<Instant> {
        match (self.client.deadline(), self.server.deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Which side has truly expired now, if any.
    fn expired(&self, now: Instant) -> Option<Who> {
        [Who::Client, Who::Server]
            .into_iter()
            .find(|w| self.side(*w).deadline().is_some_and(|d| d <= now))
    }

    /// Resolves with the side whose timeout expired. One entry on the
    /// core's timer, re-armed only when it fires early; the entry's guard
    /// frees it when the data phase ends first and drops this future.
    ///
    /// A side with bytes waiting to be read (`readable`) has not expired:
    /// they arrived before the deadline and HAProxy forwards what it
    /// received before a timeout closes the stream. Ending here would drop
    /// the pump's read, whose bytes would be lost (an io_uring read
    /// submitted, then cancelled, may still consume them).
    async fn watchdog(&self, timers: &Timers, readable: impl Fn(Who) -> bool) -> Who {
        let timer = timers.register();
        loop {
            let deadline = self.next_deadline();
            timer.set(deadline);
            // Sleep until the deadline, or until a timeout changes.
            let changed = std::future::poll_fn(|cx| {
                if self.changed.replace(false) {
                    return std::task::Poll::Ready(());
                }
                let w = match self.watchdog.take() {
                    Some(w) if w.will_wake(cx.waker()) => w,
                    _ => cx.waker().clone(),
                };
                self.watchdog.set(Some(w));
                std::task::Poll::Pending
            });
            {
                let changed = std::pin::pin!(changed);
                let fired = std::pin::pin!(timer.wait());
                let _ = select(changed, fired).await;
            }
            if let Some(who) = self.expired(Instant::now()) {
                if !readable(who) {
                    return who;
                }
                // The pump reads them at once: counted as activity.
                self.side(who).touch();
            }
        }
    }
}

/// Look at what waits in a socket without taking it or blocking: the
/// bytes a read would return (0 at a FIN), or the error it would fail with
/// (EAGAIN: nothing yet).
fn peek<S: std::os::fd::AsFd>(sock: &S) -> nix::Result<usize> {
    use nix::sys::socket::{recv, MsgFlags};
    let mut one = [0u8; 1];
    recv(
        std::os::fd::AsRawFd::as_raw_fd(&sock.as_fd()),
        &mut one,
        MsgFlags::MSG_PEEK | MsgFlags::MSG_DONTWAIT,
    )
}

/// Bytes wait in the socket's receive queue (a FIN alone does not count:
/// once a direction has ended, its FIN stays readable).
fn has_bytes_to_read<S: std::os::fd::AsFd>(sock: &S) -> bool {
    matches!(peek(sock), Ok(n) if n > 0)
}

/// Either side of a stream: a TCP or UNIX stream socket. The forwarding
/// code is generic over it.
pub trait Endpoint: std::os::fd::AsFd + 'static {
    fn readiness(&self) -> std::io::Result<compio::runtime::fd::PollFd<socket2::Socket>>;
}

impl Endpoint for TcpStream {
    fn readiness(&self) -> std::io::Result<compio::runtime::fd::PollFd<socket2::Socket>> {
        self.to_poll_fd()
    }
}

/// The local IP address of an accepted connection (none for UNIX).
pub trait LocalAddr {
    fn local_inet(&self) -> Option<SocketAddr>;
}

impl LocalAddr for TcpStream {
    fn local_inet(&self) -> Option<SocketAddr> {
        self.local_addr().ok()
    }
}

impl LocalAddr for compio::net::UnixStream {
    fn local_inet(&self) -> Option<SocketAddr> {
        None
    }
}

impl Endpoint for compio::net::UnixStream {
    fn readiness(&self) -> std::io::Result<compio::runtime::fd::PollFd<socket2::Socket>> {
        self.to_poll_fd()
    }
}

/// A server connection.
#[derive(Debug)]
pub enum ServerConn {
    Tcp(TcpStream),
    Unix(compio::net::UnixStream),
}

/// Copy `from` -> `to` until EOF or error (timeouts are the watchdog's).
///
/// Reads use the ring's provided buffers (kernel buffer selection): a
/// buffer is taken only when data arrives and given back once written, so
/// an idle connection holds none. When the ring has no free buffer
/// (ENOBUFS), the read falls back to the core's buffer pool.
async fn pump<A: Endpoint, B: Endpoint>(
    from: &A,
    to: &B,
    from_who: Who,
    sides: &Sides,
    bufs: &BufPool,
    bulk: &BufPool,
    splice_ok: Option<&PipePool>,
) -> DirEnd
where
    for<'x> &'x A: AsyncRead + AsyncReadManaged<Buffer = compio::driver::BufferRef>,
    for<'x> &'x B: AsyncWrite,
{
    let to_who = from_who.other();
    let (mut reader, mut writer) = (from, to);
    let src = sides.side(from_who);
    let mut full_reads = 0u32;
    loop {
        // A bulk flow (two full buffers in a row) moves to kernel splicing
        // when allowed, else to large owned buffers (a quarter of the I/O
        // operations per byte), and back to provided buffers as soon as a
        // read comes short, so a quiet connection holds no large buffer.
        if full_reads >= 2 {
            if let Some(pipes) = splice_ok {
                if let Ok(pipe) = pipes.get() {
                    return splice_pump(from, to, from_who, sides, pipes, pipe).await;
                }
            }
            match copy_owned(from, to, from_who, sides, bulk).await {
                Ok(0) => return eof(to),
                Ok(n) if n < bufs.size() => full_reads = 0,
                Ok(_) => {}
                Err(end) => return end,
            }
            continue;
        }
        let n = match reader.read_managed(0).await {
            Ok(None) => 0,
            Ok(Some(buf)) => {
                let n = buf.len();
                if n > 0 {
                    src.touch();
                    src.bytes.set(src.bytes.get() + n as u64);
                    let BufResult(res, buf) = writer.write_all(buf).await;
                    drop(buf);
                    if res.is_err() {
                        return DirEnd::Error(to_who);
                    }
                    sides.side(to_who).touch();
                }
                n
            }
            Err(e) if no_buffer(&e) => match copy_owned(from, to, from_who, sides, bufs).await {
                Ok(n) => n,
                Err(end) => return end,
            },
            Err(_) => return DirEnd::Error(from_who),
        };
        if n == 0 {
            return eof(to);
        }
        full_reads = if n >= bufs.size() { full_reads + 1 } else { 0 };
    }
}

/// FIN from the reading side: pass it on with a plain shutdown(2)
/// (io_uring's SHUTDOWN op is punted to a worker thread).
fn eof<B: Endpoint>(to: &B) -> DirEnd {
    let _ = socket2::SockRef::from(to).shutdown(std::net::Shutdown::Write);
    DirEnd::Eof
}

/// One read into a buffer of `pool` and its write: the bytes moved (0 at
/// EOF), or how the direction ended.
async fn copy_owned<A: Endpoint, B: Endpoint>(
    from: &A,
    to: &B,
    from_who: Who,
    sides: &Sides,
    pool: &BufPool,
) -> Result<usize, DirEnd>
where
    for<'x> &'x A: AsyncRead,
    for<'x> &'x B: AsyncWrite,
{
    let (mut reader, mut writer) = (from, to);
    let src = sides.side(from_who);
    let BufResult(res, buf) = reader.read(pool.get()).await;
    let Ok(n) = res else {
        pool.put(buf);
        return Err(DirEnd::Error(from_who));
    };
    if n == 0 {
        pool.put(buf);
        return Ok(0);
    }
    src.touch();
    src.bytes.set(src.bytes.get() + n as u64);
    let BufResult(res, buf) = writer.write_all(buf).await;
    pool.put(buf);
    if res.is_err() {
        return Err(DirEnd::Error(from_who.other()));
    }
    sides.side(from_who.other()).touch();
    Ok(n)
}

/// The ring's provided buffers are all in use: the kernel says ENOBUFS,
/// compio says ResourceBusy when it sees the ring empty first.
fn no_buffer(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(105) || e.kind() == std::io::ErrorKind::ResourceBusy
}

/// The splice path of a direction: socket -> pipe -> socket, waiting for
/// readiness when a side has nothing to give or take.
async fn splice_pump<A: Endpoint, B: Endpoint>(
    from: &A,
    to: &B,
    from_who: Who,
    sides: &Sides,
    pipes: &PipePool,
    pipe: Pipe,
) -> DirEnd {
    let to_who = from_who.other();
    let (Ok(from_ready), Ok(to_ready)) = (from.readiness(), to.readiness()) else {
        return DirEnd::Error(from_who);
    };
    let src = sides.side(from_who);
    loop {
        let mut in_pipe = match splice::fill(from, &pipe) {
            Ok(Step::Moved(n)) => {
                src.touch();
                src.bytes.set(src.bytes.get() + n as u64);
                n
            }
            Ok(Step::WouldBlock) => match from_ready.read_ready().await {
                Ok(()) => continue,
                Err(_) => return DirEnd::Error(from_who),
            },
            Ok(Step::Eof) => {
                let _ = socket2::SockRef::from(to).shutdown(std::net::Shutdown::Write);
                pipes.put(pipe);
                return DirEnd::Eof;
            }
            Err(_) => return DirEnd::Error(from_who),
        };
        while in_pipe > 0 {
            match splice::drain(&pipe, to, in_pipe) {
                Ok(Step::Moved(m)) => {
                    sides.side(to_who).touch();
                    in_pipe = in_pipe.saturating_sub(m);
                }
                Ok(Step::WouldBlock | Step::Eof) => {
                    if to_ready.write_ready().await.is_err() {
                        return DirEnd::Error(to_who);
                    }
                }
                Err(_) => return DirEnd::Error(to_who),
            }
        }
    }
}

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
}

pub(super) async fn handle<C: Endpoint + LocalAddr>(
    core: &Rc<Core>,
    fe_idx: usize,
    luid: u32,
    client: C,
    peer: Option<SocketAddr>,
) where
    for<'x> &'x C: AsyncRead + AsyncReadManaged<Buffer = compio::driver::BufferRef> + AsyncWrite,
{
    let start = Instant::now();
    let accept_date = SystemTime::now();
    let _registered = core.register();
    let plan = &core.shared.plan;
    let Some(fe) = plan.frontends.get(fe_idx) else {
        return;
    };
    // TCP_NODELAY is inherited from the listener (set once at bind).
    let dst = if fe.needs_dst {
        client.local_inet()
    } else {
        None
    };
    let mut facts = StreamFacts {
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
    if client_is_gone(&client) {
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
    be.cum_sess.inc();
    match connect(core, fe, be_idx, be, dst, facts.client).await {
        Ok(connected) => {
            let srv_idx = connected.server;
            let server = connected.record(&mut facts);
            forward::<C>(core, fe, be, &client, &server, &mut facts).await;
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

/// The client reset its connection already (an RST received before the
/// stream was handled: the socket holds ECONNRESET). Bytes or a FIN
/// waiting do not count: they are served as usual.
fn client_is_gone<C: std::os::fd::AsFd>(client: &C) -> bool {
    use nix::errno::Errno;
    !matches!(peek(client), Ok(_) | Err(Errno::EAGAIN | Errno::EINTR))
}

/// Close a client that got no server (no backend, queue full or timed
/// out, connect failed) the way HAProxy does: what it already sent was read
/// into HAProxy's buffer, so the close is a FIN, not a reset.
fn close_unserved<C: Endpoint>(client: &C) {
    let sock = socket2::SockRef::from(client);
    let _ = sock.set_nonblocking(true);
    let mut scratch = [std::mem::MaybeUninit::<u8>::uninit(); 4096];
    while matches!(sock.recv(&mut scratch), Ok(n) if n > 0) {}
    let _ = sock.shutdown(std::net::Shutdown::Write);
}

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
) -> Result<TcpStream, ConnectError> {
    let resource = |_| ConnectError::Resource;
    let sock = if addr.is_ipv4() {
        compio::net::TcpSocket::new_v4().await
    } else {
        compio::net::TcpSocket::new_v6().await
    }
    .map_err(resource)?;
    // TCP mode sends nothing before the connection is up: no data waits.
    super::listener::tune_server_socket(socket2::SockRef::from(&sock), tuning, false)
        .map_err(|_| ConnectError::Failed)?;
    // The server's own `tcp-ut` and `tfo` (tcp_connect_server).
    if let Some(ut) = srv.user_timeout {
        let _ = socket2::SockRef::from(&sock).set_tcp_user_timeout(Some(ut));
    }
    if srv.tfo {
        let _ = nix::sys::socket::setsockopt(
            &sock,
            nix::sys::socket::sockopt::TcpFastOpenConnect,
            &true,
        );
    }
    let Some(src) = srv.source.as_ref() else {
        return sock.connect(addr).await.map_err(|e| connect_error(&e));
    };
    if let Some(name) = &src.interface {
        // As HAProxy (tcp_connect_server), a device that cannot be bound
        // (absent, no privilege) leaves the socket unbound.
        let _ = sock.bind_device(Some(name.as_bytes()));
    }
    let (local, transparent) = src.bind_for(client);
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
    if ticket.queue() == Some(queue) || s.maxqueue == 0 || s.queued.get() < s.maxqueue {
        return None;
    }
    ticket.leave(&mut progress.queue);
    Some(progress.failure(Cause::ServerAbort, Phase::Queue, Some(idx)))
}

/// Wait in the queue until woken, stopped, or `timeout queue` is reached.
async fn wait_in_queue(core: &Core, be: &BackendPlan, ticket: &Ticket<'_>, queue_start: Instant) {
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

/// Pick a server, or the queue to wait in: `Ok(server)` when this stream
/// took one of its connection slots.
fn pick_or_queue(
    core: &Core,
    be_idx: usize,
    be: &BackendPlan,
    ticket: &Ticket<'_>,
    client: Option<SocketAddr>,
    avoid: Option<usize>,
) -> Result<usize, Option<usize>> {
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
        for (i, s) in be.servers.iter().enumerate() {
            conns.push(s.conns.get());
            if s.minconn > 0 {
                balancer.set_maxconn(i, Some(s.max_now(be)).filter(|m| *m > 0));
            }
        }
        // Then the queued streams of each server: leastconn ranks by
        // served plus queued, as HAProxy's fwlc_srv_key does.
        let n = conns.len();
        conns.extend(be.servers.iter().map(|s| s.queued.get()));
        let (served, queued) = conns.split_at(n);
        balancer.pick_with_queues(
            &PickCtx {
                src: client.map(|a| a.ip()),
                key: None,
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
            return Ok(i);
        }
        // Older waiters may use it: behind them, in the backend queue.
        return Err(Some(BACKEND_QUEUE));
    }
    // The key designates a full server: its own queue.
    Err(Some(1 + i))
}

/// A stream's server connection, and how it was obtained (`%s`, `%Tw`,
/// `%Tc`, `%rc`, `%sq/%bq`, the `+` of a redispatch).
struct Connected {
    server: usize,
    conn: ServerConn,
    /// None for a UNIX server.
    addr: Option<SocketAddr>,
    tw: Option<Duration>,
    tc: Duration,
    retries: u32,
    redispatched: bool,
    queue: QueuePos,
}

impl Connected {
    /// Write what the log needs into `facts`; the connection stays.
    fn record(self, facts: &mut StreamFacts) -> ServerConn {
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

/// Why a stream got no server connection, and what it went through first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ConnectFailure {
    cause: Cause,
    phase: Phase,
    /// The server the log names (its queue, or the last one tried).
    server: Option<usize>,
    tw: Option<Duration>,
    retries: u32,
    redispatched: bool,
    queue: QueuePos,
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
async fn connect(
    core: &Rc<Core>,
    _fe: &FrontendPlan,
    be_idx: usize,
    be: &BackendPlan,
    dst: Option<SocketAddr>,
    client: Option<SocketAddr>,
) -> Result<Connected, ConnectFailure> {
    let mut avoid = None;
    let mut progress = Progress::default();
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
            let queue = match pick_or_queue(core, be_idx, be, &ticket, client, avoid) {
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
            wait_in_queue(core, be, &ticket, queue_start).await;
        };
        // HAProxy's timers: a stream (re)assigned to a server (the first
        // pick, or a redispatch) ends its queue time there (%Tw covers the
        // failed attempts before a redispatch) and starts its connect time
        // (%Tc); a retry on the same server keeps both, so its %Tc covers
        // the failed attempts and the turn-around.
        if retry_of != Some(idx) {
            progress.tw = Some(queue_start.elapsed());
            connect_start = Instant::now();
        }
        let Some(srv) = be.servers.get(idx) else {
            queue::offer(core, be_idx, idx, true);
            return Err(progress.failure(Cause::Internal, Phase::Connect, None));
        };
        let err = match connect_server(core, be, srv, dst, client).await {
            Ok((conn, addr)) => {
                return Ok(Connected {
                    server: idx,
                    conn,
                    addr,
                    tw: progress.tw,
                    tc: connect_start.elapsed(),
                    retries: progress.retries,
                    redispatched: progress.redispatched,
                    queue: progress.queue,
                });
            }
            Err(e) => e,
        };
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
        if progress.retries >= be.retries {
            return Err(progress.failure(cause, Phase::Connect, Some(idx)));
        }
        progress.retries += 1;
        let attempt = progress.retries;
        // `option redispatch [<n>]`: every n-th retry (and the last one)
        // may go to another server.
        if let Some(n) = be.redispatch {
            let every = u32::try_from(n.max(1)).unwrap_or(1);
            if attempt % every == 0 || attempt == be.retries {
                avoid = Some(idx);
                progress.redispatched = true;
                retry_of = None;
                continue;
            }
        }
        avoid = None;
        retry_of = Some(idx);
        // A resource error is retried at once: HAProxy clears the error
        // before back_handle_st_cer ("likely a source port allocation
        // problem, so we want to retry now").
        if err == ConnectError::Resource {
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
) -> Result<(ServerConn, Option<SocketAddr>), ConnectError> {
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
    if let super::plan::ServerAddr::Unix(path) = &srv.addr {
        let unix = async {
            compio::net::UnixStream::connect(path)
                .await
                .map_err(|e| connect_error(&e))
        };
        let conn = within(core, be, unix).await?;
        return Ok((ServerConn::Unix(conn), None));
    }
    let addr = dst
        .and_then(|d| srv.addr.resolve(d))
        .or(match srv.addr {
            super::plan::ServerAddr::Fixed(a) => Some(a),
            _ => None,
        })
        .ok_or(ConnectError::NoAddress)?;
    let conn = within(core, be, connect_from(&be.server_tuning, srv, client, addr)).await?;
    Ok((ServerConn::Tcp(conn), Some(addr)))
}

/// The data phase: both directions at once, with half-close.
async fn forward<C: Endpoint>(
    core: &Rc<Core>,
    fe: &FrontendPlan,
    be: &BackendPlan,
    client: &C,
    server: &ServerConn,
    facts: &mut StreamFacts,
) where
    for<'x> &'x C: AsyncRead + AsyncReadManaged<Buffer = compio::driver::BufferRef> + AsyncWrite,
{
    match server {
        ServerConn::Tcp(s) => forward_with::<C, TcpStream>(core, fe, be, client, s, facts).await,
        ServerConn::Unix(s) => {
            forward_with::<C, compio::net::UnixStream>(core, fe, be, client, s, facts).await;
        }
    }
}

async fn forward_with<C: Endpoint, S: Endpoint>(
    core: &Rc<Core>,
    fe: &FrontendPlan,
    be: &BackendPlan,
    client: &C,
    server: &S,
    facts: &mut StreamFacts,
) where
    for<'x> &'x C: AsyncRead + AsyncReadManaged<Buffer = compio::driver::BufferRef> + AsyncWrite,
    for<'x> &'x S: AsyncRead + AsyncReadManaged<Buffer = compio::driver::BufferRef> + AsyncWrite,
{
    // `timeout tunnel` supersedes client/server once connected (TCP mode).
    let sides = Sides {
        client: Side::new(be.timeout_tunnel.or(fe.timeout_client)),
        server: Side::new(be.timeout_tunnel.or(be.timeout_server)),
        watchdog: Cell::new(None),
        changed: Cell::new(false),
    };
    let splice_req = (fe.splice_request || be.splice_request).then_some(&core.pipes);
    let splice_res = (fe.splice_response || be.splice_response).then_some(&core.pipes);
    if splice_req.is_some() || splice_res.is_some() {
        // splice(2) must never block the core: both sockets go O_NONBLOCK.
        // io_uring's own operations on them are unaffected (fast poll), as
        // tests/tcp/forward.rs checks with 64 MiB both ways.
        let _ = socket2::SockRef::from(client).set_nonblocking(true);
        let _ = socket2::SockRef::from(server).set_nonblocking(true);
    }
    // The pumps are built where they are pinned: a future moved into an
    // async block keeps a second slot in the stream's state (the task is
    // a third smaller this way, which is most of an idle connection's
    // memory).
    let data = async {
        let c2s = std::pin::pin!(pump::<C, S>(
            client,
            server,
            Who::Client,
            &sides,
            &core.bufs,
            &core.bulk_bufs,
            splice_req,
        ));
        let s2c = std::pin::pin!(pump::<S, C>(
            server,
            client,
            Who::Server,
            &sides,
            &core.bufs,
            &core.bulk_bufs,
            splice_res,
        ));
        let (first, rest, who) = match select(c2s, s2c).await {
            Either::Left((end, rest)) => (end, Either::Left(rest), Who::Client),
            Either::Right((end, rest)) => (end, Either::Right(rest), Who::Server),
        };
        if first != DirEnd::Eof {
            return first;
        }
        // One side sent its FIN and the proxy passed it on: the side it was
        // passed to is now half-closed and expected to finish, so it takes
        // its -fin timeout (HAProxy's half-closed timeout: the server's FIN
        // arms client-fin, the client's FIN arms server-fin). The other
        // direction goes on alone (half-close).
        match who {
            Who::Server => {
                if let Some(t) = fe.timeout_client_fin {
                    sides.set_timeout(Who::Client, t);
                }
            }
            Who::Client => {
                if let Some(t) = be.timeout_server_fin {
                    sides.set_timeout(Who::Server, t);
                }
            }
        }
        match rest {
            Either::Left(r) => r.await,
            Either::Right(r) => r.await,
        }
    };
    let outcome = {
        let data = std::pin::pin!(data);
        let kill = std::pin::pin!(core.kill.wait());
        let readable = |who| match who {
            Who::Client => has_bytes_to_read(client),
            Who::Server => has_bytes_to_read(server),
        };
        let watchdog = std::pin::pin!(sides.watchdog(&core.timers, readable));
        match select(data, select(kill, watchdog)).await {
            Either::Left((end, _)) => end,
            Either::Right((Either::Left(((), _)), _)) => DirEnd::Killed,
            Either::Right((Either::Right((who, _)), _)) => DirEnd::Timeout(who),
        }
    };
    facts.bytes_in = sides.client.bytes.get();
    facts.bytes_out = sides.server.bytes.get();
    facts.termination = match outcome {
        DirEnd::Eof => Termination {
            cause: Cause::None,
            phase: Phase::None,
        },
        DirEnd::Timeout(Who::Client) => Termination {
            cause: Cause::ClientTimeout,
            phase: Phase::Data,
        },
        DirEnd::Timeout(Who::Server) => Termination {
            cause: Cause::ServerTimeout,
            phase: Phase::Data,
        },
        DirEnd::Error(Who::Client) => Termination {
            cause: Cause::ClientAbort,
            phase: Phase::Data,
        },
        DirEnd::Error(Who::Server) => Termination {
            cause: Cause::ServerAbort,
            phase: Phase::Data,
        },
        DirEnd::Killed => Termination {
            cause: Cause::Killed,
            phase: Phase::Data,
        },
    };
}

fn finish(
    core: &Rc<Core>,
    (fe_idx, fe): (usize, &FrontendPlan),
    be_at: Option<(usize, &BackendPlan)>,
    mut facts: StreamFacts,
    start: Instant,
) {
    let be = be_at.map(|(_, b)| b);
    facts.tt = start.elapsed();
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
        super::logging::log_stream(
            sink,
            &core.names,
            fe_idx,
            be_at.map(|(i, _)| i),
            fe,
            &facts,
            start,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::plan::ServerAddr;
    use crate::engine::Counter;

    fn server(user_timeout: Option<Duration>, tfo: bool) -> ServerPlan {
        ServerPlan {
            name: "s".into(),
            addr: ServerAddr::Fixed("127.0.0.1:1".parse().unwrap()),
            weight: 1,
            backup: false,
            disabled: false,
            maxconn: 0,
            source: None,
            user_timeout,
            tfo,
            minconn: 0,
            maxqueue: 0,
            conns: Counter::default(),
            queued: Counter::default(),
            queue_served: Counter::default(),
        }
    }

    /// A server's `tcp-ut` and `tfo` are set on its connections, on top of
    /// the backend's options (TCP_NODELAY always).
    #[test]
    fn server_connections_carry_the_server_s_socket_options() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let rt = compio::runtime::Runtime::new().unwrap();
        for (ut, tfo) in [(Some(Duration::from_secs(7)), true), (None, false)] {
            let srv = server(ut, tfo);
            let c = rt
                .block_on(connect_from(&ServerTuning::default(), &srv, None, addr))
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
