//! Accepting clients: one accept loop per listener socket per executor,
//! on an io_uring multishot accept, gated by global and frontend `maxconn`
//! and `rate-limit sessions`.
//!
//! HAProxy takes a connection slot as it accepts and pauses the listener
//! once the limits are reached (listener_accept, limit_listener), resuming
//! it when a slot frees. Here the multishot accept stays armed while the
//! limits allow; every connection takes its slots (global, then frontend)
//! as it arrives. When the last slot is taken or the session rate reaches
//! its limit, the op is cancelled (a `CancelToken`, so the stream is kept)
//! and drained up to its last completion: connections the kernel completed
//! before the cancel landed are neither closed nor leaked but parked, and
//! served first, in arrival order, as slots free. A parked connection holds
//! no slot, counts in neither actconn nor feconn and runs no timer: it is
//! a connection still in the accept queue, only on this side of accept().
//!
//! Nothing holds a slot while waiting for a client, so the log's actconn
//! and feconn count exactly the live clients.

use std::collections::VecDeque;
use std::io;
use std::rc::Rc;
use std::time::Duration;

use compio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use compio::runtime::{CancelToken, StreamExt as _};
use futures_util::future::{select, Either};
use futures_util::StreamExt as _;

use super::listener::{tune_accepted, Bound, BoundSocket, ListenerTuning};
use super::plan::FrontendPlan;
use super::runtime::Core;
use super::stream::handle;
use super::timer;

/// How often a listener paused on a full process looks again (slots freed
/// on other cores wake nobody here).
const FULL_RECHECK: Duration = Duration::from_millis(10);
/// Back-off after an accept error that will not go away at once (out of
/// file descriptors or memory).
const RESOURCE_BACKOFF: Duration = Duration::from_millis(100);

/// Accept connections on one listener until the core stops accepting.
pub async fn accept_loop(core: Rc<Core>, b: Bound) {
    let Some(fe) = core.shared.plan.frontends.get(b.frontend) else {
        return;
    };
    let mut listener = match Listener::new(b.socket) {
        Ok(l) => Some(l),
        Err(e) => {
            eprintln!(
                "[ALERT] executor {}: cannot register listener {}: {e}",
                core.id, b.addr
            );
            return;
        }
    };
    let mut gate = Gate {
        core: &core,
        fe,
        fe_idx: b.frontend,
        luid: b.luid,
        tuning: b.tuning,
        parked: VecDeque::new(),
    };
    loop {
        if core.kill.is_fired() {
            gate.close_parked();
            return;
        }
        if core.stop_accepting.is_fired() {
            // Soft stop: the listener closes now; the parked ones were
            // accepted and are served.
            if let Some(l) = listener.take() {
                gate.close_listener(l);
            }
        }
        if core.pause.is_fired() {
            if let Some(l) = &listener {
                // SIGTTOU: release the address (a new process could not
                // bind it) until SIGTTIN or a stop; parked clients are
                // still served as slots free.
                pause_listener(l);
                {
                    let resume = std::pin::pin!(core.resume.wait());
                    let stop = std::pin::pin!(core.stop_accepting.wait());
                    let _ = select(resume, stop).await;
                }
                if !core.stop_accepting.is_fired() {
                    if let Err(e) = listener_sock(l).listen(b.backlog) {
                        eprintln!(
                            "[ALERT] executor {}: cannot resume listener {}: {e}",
                            core.id, b.addr
                        );
                        listener = None;
                    }
                }
                continue;
            }
        }
        if !gate.serve_parked() {
            gate.wait_room(listener.is_some()).await;
            continue;
        }
        let Some(l) = &listener else {
            return;
        };
        if !gate.has_room() {
            gate.wait_room(true).await;
            continue;
        }
        if let Err(e) = gate.multishot(l).await {
            if !transient(&e) {
                timer::sleep(&core.timers, RESOURCE_BACKOFF).await;
            }
        }
    }
}

/// An accept error after which accepting again at once makes sense: the
/// client went away, or a signal interrupted the call.
fn transient(e: &io::Error) -> bool {
    use nix::errno::Errno;
    e.raw_os_error().is_some_and(|n| {
        matches!(
            Errno::from_raw(n),
            Errno::ECONNABORTED | Errno::EINTR | Errno::EAGAIN | Errno::EPROTO | Errno::EPERM
        )
    })
}

/// One listener's admission: the limits, and the connections accepted but
/// not served yet.
struct Gate<'a> {
    core: &'a Rc<Core>,
    fe: &'a FrontendPlan,
    fe_idx: usize,
    luid: u32,
    tuning: ListenerTuning,
    /// Accepted by the kernel while the listener was pausing; each one
    /// counts in `core.live` so the core does not end before serving it.
    parked: VecDeque<Client>,
}

impl Gate<'_> {
    /// A new client could be served now: a global and a frontend slot are
    /// free and the session rate is below its limit. (Another core may
    /// take the slot first: [`Gate::admit`] decides.)
    fn has_room(&self) -> bool {
        let shared = &self.core.shared;
        below(shared.actconn.get(), shared.plan.maxconn)
            && below(self.fe.feconn.get(), self.fe.maxconn)
            && self.rate_allows()
    }

    /// `rate-limit sessions`: the last second's rate is below the limit.
    fn rate_allows(&self) -> bool {
        self.fe.rate_limit == 0
            || self.fe.sess_rate.rate(self.core.shared.now_ms()) < self.fe.rate_limit
    }

    /// Serve `client` if the limits allow it now, or give it back. The
    /// slots are taken global first, then frontend, as HAProxy does.
    fn admit(&self, client: Client) -> Result<(), Client> {
        if !self.rate_allows() {
            return Err(client);
        }
        let shared = &self.core.shared;
        if !shared.actconn.try_take(shared.plan.maxconn) {
            return Err(client);
        }
        if !self.fe.feconn.try_take(self.fe.maxconn) {
            shared.actconn.dec();
            return Err(client);
        }
        self.start(client);
        Ok(())
    }

    /// Serve a newly accepted client, behind the parked ones.
    fn admit_or_park(&mut self, client: Client) {
        if self.parked.is_empty() {
            if let Err(client) = self.admit(client) {
                self.park(client);
            }
        } else {
            self.park(client);
        }
    }

    fn park(&mut self, client: Client) {
        let live = &self.core.live;
        live.set(live.get() + 1);
        self.parked.push_back(client);
    }

    /// Serve the parked clients the limits allow, in order; true when none
    /// is left.
    fn serve_parked(&mut self) -> bool {
        while let Some(client) = self.parked.pop_front() {
            if let Err(client) = self.admit(client) {
                self.parked.push_front(client);
                return false;
            }
            // Its stream now counts in `live` instead.
            let live = &self.core.live;
            live.set(live.get().saturating_sub(1));
        }
        true
    }

    /// Close a listener at a soft stop. The clients already in its accept
    /// queue are taken (non-blocking accept until it is empty) and served
    /// like parked ones; then shutdown(2) takes it out of the SO_REUSEPORT
    /// group at once, as HAProxy's listener pause does. Dropping it alone
    /// is not enough: io_uring may hold the socket until its ring is torn
    /// down, after the process exited, and the kernel keeps routing new
    /// clients of the reloaded process's address to it, then resets them.
    fn close_listener(&mut self, l: Listener) {
        let sock = listener_sock(&l);
        let _ = sock.set_nonblocking(true);
        while let Ok((c, _)) = sock.accept() {
            let client = match &l {
                Listener::Tcp(_) => {
                    TcpStream::from_std(std::net::TcpStream::from(c)).map(Client::Tcp)
                }
                Listener::Unix(_) => UnixStream::from_std(std::os::unix::net::UnixStream::from(
                    std::os::fd::OwnedFd::from(c),
                ))
                .map(Client::Unix),
            };
            if let Ok(client) = client {
                self.admit_or_park(client);
            }
        }
        let _ = sock.shutdown(std::net::Shutdown::Both);
    }

    /// Hard stop: the parked clients are closed with everything else.
    fn close_parked(&mut self) {
        let n = self.parked.len();
        self.parked.clear();
        let live = &self.core.live;
        live.set(live.get().saturating_sub(n));
        self.core.wake_released();
    }

    /// Wait for what keeps clients out: the session rate, or a slot (a
    /// stream ending on this core, or the next look). With `stop`, a soft
    /// stop ends the wait too (the listener must close at once).
    async fn wait_room(&self, stop: bool) {
        let core = self.core;
        let wait = async {
            if self.rate_allows() {
                wait_released(core, FULL_RECHECK).await;
            } else {
                let per_session = 1000 / self.fe.rate_limit.max(1);
                let wait = Duration::from_millis(u64::from(per_session.max(1)));
                timer::sleep(&core.timers, wait).await;
            }
        };
        if stop {
            let wait = std::pin::pin!(wait);
            let stopped = std::pin::pin!(core.stop_accepting.wait());
            let paused = std::pin::pin!(core.pause.wait());
            let _ = select(wait, select(stopped, paused)).await;
        } else {
            wait.await;
        }
    }

    /// Accept on one multishot op until the limits or a stop pause the
    /// listener, or the op fails; every client the op delivered is served
    /// or parked. Returns the op's error, if it failed.
    async fn multishot(&mut self, l: &Listener) -> io::Result<()> {
        let token = CancelToken::new();
        let mut incoming = l.incoming(&token);
        let mut failed = None;
        let mut cancelled = false;
        loop {
            let next = if cancelled {
                incoming.next().await
            } else {
                let next = std::pin::pin!(incoming.next());
                let stop = std::pin::pin!(self.core.stop_accepting.wait());
                let pause = std::pin::pin!(self.core.pause.wait());
                match select(next, select(stop, pause)).await {
                    Either::Left((next, _)) => next,
                    Either::Right(_) => {
                        token.clone().cancel();
                        cancelled = true;
                        continue;
                    }
                }
            };
            match next {
                // Hard stop: what is still coming out is closed.
                Some(Ok(_)) if self.core.kill.is_fired() => {}
                Some(Ok(client)) => {
                    self.admit_or_park(client);
                    if !cancelled && (!self.parked.is_empty() || !self.has_room()) {
                        // Pause: what the op completes until the cancel
                        // lands still comes out of the stream.
                        token.clone().cancel();
                        cancelled = true;
                    }
                }
                // The op ended: the completion of our cancel, or an error
                // that ended it. An error is returned once the stream is
                // drained (the op re-armed behind it is cancelled at once).
                Some(Err(e)) => {
                    if cancelled {
                        return failed.map_or(Ok(()), Err);
                    }
                    failed = Some(e);
                    token.clone().cancel();
                    cancelled = true;
                }
                // Not produced by compio's accept streams.
                None => return failed.map_or(Ok(()), Err),
            }
        }
    }

    /// Start the stream of an admitted client (its slots are taken).
    fn start(&self, client: Client) {
        let fe = self.fe;
        fe.cum_conn.inc();
        if fe.rate_limit > 0 {
            fe.sess_rate.add(self.core.shared.now_ms());
        }
        let core = Rc::clone(self.core);
        // Counted before the task first runs, so the core cannot see
        // itself drained in between.
        core.live.set(core.live.get() + 1);
        let fe_idx = self.fe_idx;
        let luid = self.luid;
        let needs_src = self.fe.needs_src;
        if let Client::Tcp(c) = &client {
            let _ = tune_accepted(socket2::SockRef::from(c), &self.tuning);
        }
        compio::runtime::spawn(async move {
            match client {
                Client::Tcp(c) => {
                    // A multishot accept returns no address: one
                    // getpeername, when something uses it. A client
                    // already gone has none.
                    let peer = if needs_src { c.peer_addr().ok() } else { None };
                    handle(&core, fe_idx, luid, c, peer).await;
                }
                Client::Unix(c) => handle(&core, fe_idx, luid, c, None).await,
            }
            core.live.set(core.live.get().saturating_sub(1));
            if let Some(fe) = core.shared.plan.frontends.get(fe_idx) {
                fe.feconn.dec();
            }
            core.shared.actconn.dec();
            core.wake_released();
        })
        .detach();
    }
}

/// The socket under a listener.
fn listener_sock(l: &Listener) -> socket2::SockRef<'_> {
    match l {
        Listener::Tcp(l) => socket2::SockRef::from(l),
        Listener::Unix(l) => socket2::SockRef::from(l),
    }
}

/// Pause a listener as HAProxy does (sock_inet pause): shutdown(2) takes
/// it out of LISTEN, so a new process may bind the address, while the
/// socket stays bound; listen(2) makes it accept again. Clients still in
/// its accept queue are reset, as in HAProxy. For a listener shared by the
/// executors (`noreuseport`), the first executor's shutdown is the one
/// that counts; the others' fail harmlessly.
fn pause_listener(l: &Listener) {
    let _ = listener_sock(l).shutdown(std::net::Shutdown::Both);
}

/// `value` is below `max` (0: no limit).
fn below(value: u32, max: u32) -> bool {
    max == 0 || value < max
}

/// A listening socket of either family.
enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

/// An accepted client connection.
enum Client {
    Tcp(TcpStream),
    Unix(UnixStream),
}

/// A listener's multishot accept, cancellable through its token.
enum Incoming<'a> {
    Tcp(compio::runtime::WithCancel<compio::net::TcpIncoming<'a>>),
    Unix(compio::runtime::WithCancel<compio::net::UnixIncoming<'a>>),
}

impl Incoming<'_> {
    async fn next(&mut self) -> Option<io::Result<Client>> {
        match self {
            Incoming::Tcp(s) => s.next().await.map(|r| r.map(Client::Tcp)),
            Incoming::Unix(s) => s.next().await.map(|r| r.map(Client::Unix)),
        }
    }
}

impl Listener {
    fn new(s: BoundSocket) -> io::Result<Listener> {
        Ok(match s {
            BoundSocket::Tcp(l) => Listener::Tcp(TcpListener::from_std(l)?),
            BoundSocket::Unix(l) => Listener::Unix(UnixListener::from_std(l)?),
        })
    }

    /// A multishot accept (compio falls back to single accepts re-armed
    /// one after the other on kernels before 5.19), cancelled by `token`.
    fn incoming(&self, token: &CancelToken) -> Incoming<'_> {
        match self {
            Listener::Tcp(l) => Incoming::Tcp(l.incoming().with_cancel(token.clone())),
            Listener::Unix(l) => Incoming::Unix(l.incoming().with_cancel(token.clone())),
        }
    }
}

/// Wait until a stream ends on this core, or `max` elapses (slots freed
/// on other cores are seen at the next tick).
pub(super) async fn wait_released(core: &Core, max: Duration) {
    let woken = std::future::poll_fn(|cx| {
        core.released.borrow_mut().push(cx.waker().clone());
        std::task::Poll::Pending::<()>
    });
    let _ = timer::timeout(&core.timers, max, woken).await;
}
