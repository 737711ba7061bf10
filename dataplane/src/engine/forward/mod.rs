//! Forwarding: the tunnel pump that moves a stream's bytes both ways
//! between client and server, with half-close, HAProxy's timeouts (one
//! watchdog per stream) and, for bulk flows, kernel splicing ([`splice`]).
//!
//! Timeouts follow HAProxy: a side (client or server) expires when nothing
//! was read from it nor written to it for its timeout (`timeout client` /
//! `server`, `timeout tunnel` once connected, `client-fin` / `server-fin`
//! once that side sent its FIN). Deadlines are re-armed lazily: a timer
//! that fires early (because the side was active meanwhile) is simply
//! re-armed for the remaining time.

pub mod splice;

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use compio::buf::BufResult;
use compio::io::{AsyncRead, AsyncReadManaged, AsyncWrite, AsyncWriteExt};
use compio::net::TcpStream;
use futures_util::future::{select, Either};

use self::splice::{Pipe, PipePool, Step};
use super::connect::ServerConn;
use super::plan::{BackendPlan, FrontendPlan};
use super::runtime::pool::BufPool;
use super::runtime::timer::Timers;
use super::runtime::Core;
use super::stream::tcp::StreamFacts;
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
pub(crate) fn peek<S: std::os::fd::AsFd>(sock: &S) -> nix::Result<usize> {
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

/// Either side's socket, the transport of a connection: TCP or UNIX. The
/// forwarding code is generic over it.
pub trait Transport: std::os::fd::AsFd + 'static {
    fn readiness(&self) -> std::io::Result<compio::runtime::fd::PollFd<socket2::Socket>>;
}

impl Transport for TcpStream {
    fn readiness(&self) -> std::io::Result<compio::runtime::fd::PollFd<socket2::Socket>> {
        self.to_poll_fd()
    }
}

impl Transport for compio::net::UnixStream {
    fn readiness(&self) -> std::io::Result<compio::runtime::fd::PollFd<socket2::Socket>> {
        self.to_poll_fd()
    }
}

/// Copy `from` -> `to` until EOF or error (timeouts are the watchdog's).
///
/// Reads use the ring's provided buffers (kernel buffer selection): a
/// buffer is taken only when data arrives and given back once written, so
/// an idle connection holds none. When the ring has no free buffer
/// (ENOBUFS), the read falls back to the core's buffer pool.
async fn pump<A: Transport, B: Transport>(
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
fn eof<B: Transport>(to: &B) -> DirEnd {
    let _ = socket2::SockRef::from(to).shutdown(std::net::Shutdown::Write);
    DirEnd::Eof
}

/// One read into a buffer of `pool` and its write: the bytes moved (0 at
/// EOF), or how the direction ended.
async fn copy_owned<A: Transport, B: Transport>(
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
async fn splice_pump<A: Transport, B: Transport>(
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

/// The data phase: both directions at once, with half-close.
pub(crate) async fn forward<C: Transport>(
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

async fn forward_with<C: Transport, S: Transport>(
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
