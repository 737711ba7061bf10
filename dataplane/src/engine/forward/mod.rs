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

use futures_util::future::{select, Either};

use self::splice::{Lease, PipePool, Step};
use super::plan::{BackendPlan, FrontendPlan};
use super::runtime::buffer::{Buffer, BufferPool, Class, Pooled};
use super::runtime::timer::Timers;
use super::runtime::{Core, EventWait};
use super::session::transport::{no_provided_buffer, Conn};
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
    /// Its server's streams were shut down (`Process::shutdown_streams`).
    Shutdown(Cause),
}

/// Resolves when the stream is killed: by a hard stop (false), or with
/// its server's streams (`Process::shutdown_streams`, true). One future
/// for both, polled in place: every live stream holds it.
struct Ended<'a> {
    kill: EventWait<'a>,
    shut: Option<EventWait<'a>>,
}

impl std::future::Future for Ended<'_> {
    type Output = bool;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<bool> {
        use std::task::Poll;
        if std::pin::Pin::new(&mut self.kill).poll(cx).is_ready() {
            return Poll::Ready(false);
        }
        match self.shut.as_mut().map(|w| std::pin::Pin::new(w).poll(cx)) {
            Some(Poll::Ready(())) => Poll::Ready(true),
            _ => Poll::Pending,
        }
    }
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

    /// Which side has truly expired now, if any. HAProxy's timers tick
    /// in milliseconds and its stream looks at the request side first:
    /// when both sides expire within the same millisecond (an idle tunnel
    /// whose last bytes went both ways), the client's timeout is the one
    /// reported (`cD`), as there.
    fn expired(&self, now: Instant) -> Option<Who> {
        let due = |w: Who, by: Instant| self.side(w).deadline().is_some_and(|d| d <= by);
        if !due(Who::Client, now) && !due(Who::Server, now) {
            return None;
        }
        let tick = now + Duration::from_millis(1);
        [Who::Client, Who::Server]
            .into_iter()
            .find(|w| due(*w, tick))
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

/// Copy `from` -> `to` until EOF or error (timeouts are the watchdog's).
///
/// Reads use the ring's provided buffers (kernel buffer selection): a
/// buffer is taken only when data arrives and given back once written, so
/// an idle connection holds none. When the ring has no free buffer
/// (ENOBUFS), the read waits for one of the core's bounded pool.
async fn pump(
    from: &Conn,
    to: &Conn,
    from_who: Who,
    sides: &Sides,
    bufs: &BufferPool,
    splice_ok: Option<&PipePool>,
) -> DirEnd {
    let to_who = from_who.other();
    let src = sides.side(from_who);
    let mut full_reads = 0u32;
    loop {
        // A bulk flow (two full buffers in a row) moves to kernel splicing
        // when allowed and a pipe is free (maxpipes), else to large pooled
        // buffers (a quarter of the I/O operations per byte) while the
        // pool's budget allows, and back to provided buffers as soon as a
        // read comes short, so a quiet connection holds no large buffer.
        //
        // The rare paths (splice, bulk, no provided buffer) are boxed, once
        // per episode: their state would otherwise be part of every
        // stream's pump, and an idle connection's memory is mostly that.
        if full_reads >= 2 {
            if let Some(pipe) = splice_ok.and_then(PipePool::get) {
                return Box::pin(splice_pump(from, to, from_who, sides, pipe)).await;
            }
            if let Some(buf) = bufs.try_get(Class::Bulk) {
                match Box::pin(bulk_copy(from, to, from_who, sides, buf, bufs.size())).await {
                    Ok(0) => return eof(to),
                    Ok(_) => full_reads = 0,
                    Err(end) => return end,
                }
                continue;
            }
        }
        let n = match from.read_provided().await {
            Ok(None) => 0,
            Ok(Some(buf)) => {
                let n = buf.len();
                if n > 0 {
                    src.touch();
                    src.bytes.set(src.bytes.get() + n as u64);
                    if to.write_provided(buf).await.is_err() {
                        return DirEnd::Error(to_who);
                    }
                    sides.side(to_who).touch();
                }
                n
            }
            Err(e) if no_provided_buffer(&e) => {
                match Box::pin(copy_pooled(from, to, from_who, sides, bufs)).await {
                    Ok(n) => n,
                    Err(end) => return end,
                }
            }
            Err(_) => return DirEnd::Error(from_who),
        };
        if n == 0 {
            return eof(to);
        }
        full_reads = if n >= bufs.size() { full_reads + 1 } else { 0 };
    }
}

/// FIN from the reading side: pass it on.
fn eof(to: &Conn) -> DirEnd {
    to.shutdown_write();
    DirEnd::Eof
}

/// A bulk flow through a large pooled buffer, held until a read comes
/// shorter than `short` (a standard buffer): that read's size (0 at EOF),
/// or how the direction ended.
async fn bulk_copy(
    from: &Conn,
    to: &Conn,
    from_who: Who,
    sides: &Sides,
    mut buf: Pooled<'_>,
    short: usize,
) -> Result<usize, DirEnd> {
    // Forwarded untouched: no rewrite reserve.
    buf.set_reserve(0);
    loop {
        let n = copy_owned(from, to, from_who, sides, &mut buf).await?;
        if n < short {
            return Ok(n);
        }
    }
}

/// One read and its write through a standard buffer of the pool, when
/// the ring has no provided buffer left.
///
/// The ring picks its buffer when the read is issued, so ENOBUFS says
/// nothing about data: wait for it first, holding no buffer (one held
/// across an idle peer could starve the streams it waits on). Then
/// HAProxy's buffer_wait: the stream waits for a buffer of the pool, its
/// timeouts running (the watchdog is beside the pump).
async fn copy_pooled(
    from: &Conn,
    to: &Conn,
    from_who: Who,
    sides: &Sides,
    bufs: &BufferPool,
) -> Result<usize, DirEnd> {
    from.read_ready()
        .await
        .map_err(|_| DirEnd::Error(from_who))?;
    let mut buf = bufs.get(Class::Std).await;
    buf.set_reserve(0);
    copy_owned(from, to, from_who, sides, &mut buf).await
}

/// One read into `buf` and its write: the bytes moved (0 at EOF), or how
/// the direction ended.
async fn copy_owned(
    from: &Conn,
    to: &Conn,
    from_who: Who,
    sides: &Sides,
    buf: &mut Buffer,
) -> Result<usize, DirEnd> {
    debug_assert!(buf.is_empty() && buf.room() > 0);
    // (A bulk buffer is reused by the next read: it was emptied by the
    // write of the previous one.)
    let src = sides.side(from_who);
    let n = from.read(buf).await.map_err(|_| DirEnd::Error(from_who))?;
    if n == 0 {
        return Ok(0);
    }
    src.touch();
    src.bytes.set(src.bytes.get() + n as u64);
    let to_who = from_who.other();
    to.write_all(buf).await.map_err(|_| DirEnd::Error(to_who))?;
    sides.side(to_who).touch();
    Ok(n)
}

/// The splice path of a direction: socket -> pipe -> socket, waiting for
/// readiness when a side has nothing to give or take.
async fn splice_pump(
    from: &Conn,
    to: &Conn,
    from_who: Who,
    sides: &Sides,
    pipe: Lease<'_>,
) -> DirEnd {
    let to_who = from_who.other();
    let (Ok(from_ready), Ok(to_ready)) = (from.readiness(), to.readiness()) else {
        return DirEnd::Error(from_who);
    };
    let src = sides.side(from_who);
    loop {
        let mut in_pipe = match splice::fill(from, &pipe, usize::MAX) {
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
                pipe.recycle();
                return eof(to);
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
pub(crate) async fn forward(
    core: &Rc<Core>,
    fe: &FrontendPlan,
    be: &BackendPlan,
    (client, server): (&Conn, &Conn),
    (client_timeout, server_timeout): (Option<Duration>, Option<Duration>),
    facts: &mut StreamFacts,
    shut: Option<&crate::engine::backend::server::Shutdown>,
) {
    // The caller's timeouts: `timeout tunnel` supersedes client/server
    // once connected (and a rule's `set-timeout` the configured ones).
    let sides = Sides {
        client: Side::new(client_timeout),
        server: Side::new(server_timeout),
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
        let c2s = std::pin::pin!(pump(
            client,
            server,
            Who::Client,
            &sides,
            &core.bufs,
            splice_req,
        ));
        let s2c = std::pin::pin!(pump(
            server,
            client,
            Who::Server,
            &sides,
            &core.bufs,
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
        let ended = Ended {
            kill: core.kill.wait(),
            shut: shut.map(|sh| sh.event.wait()),
        };
        let readable = |who| match who {
            Who::Client => client.has_bytes_to_read(),
            Who::Server => server.has_bytes_to_read(),
        };
        let watchdog = std::pin::pin!(sides.watchdog(&core.timers, readable));
        match select(data, select(ended, watchdog)).await {
            Either::Left((end, _)) => end,
            Either::Right((Either::Left((false, _)), _)) => DirEnd::Killed,
            Either::Right((Either::Left((true, _)), _)) => {
                DirEnd::Shutdown(shut.map_or(Cause::Killed, |sh| sh.why.get()))
            }
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
        // stream_shutdown closes both channels as a normal end would: the
        // cause is set, no phase (haproxy 2.6 logs `D-` and `U-`).
        DirEnd::Shutdown(cause) => Termination {
            cause,
            phase: Phase::None,
        },
    };
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Every live stream holds two pumps; an idle connection's memory is
    /// mostly their state, so the rare paths stay boxed out of it.
    #[test]
    fn a_pump_stays_small() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (a, _) = l.accept().unwrap();
        crate::engine::runtime::block_on(async {
            let (c, a) = (
                Conn::from_std_tcp(c).unwrap(),
                Conn::from_std_tcp(a).unwrap(),
            );
            let sides = Sides {
                client: Side::new(None),
                server: Side::new(None),
                watchdog: Cell::new(None),
                changed: Cell::new(false),
            };
            let bufs = BufferPool::new(16384, 65536, 1024, 10);
            let pipes = PipePool::new(1);
            let f = pump(&c, &a, Who::Client, &sides, &bufs, Some(&pipes));
            let size = std::mem::size_of_val(&f);
            // 656 bytes before the transport type (generic over compio's
            // TcpStream, its splice and bulk states inline), 696 since.
            assert!(size <= 704, "pump future: {size} bytes");
        });
    }
}
