//! Accepting clients: one accept loop per listener socket per executor,
//! gated by global and frontend `maxconn` and `rate-limit sessions`.
//!
//! As HAProxy does (listener_accept, limit_listener), a listener accepts
//! only while the limits allow: one accept operation is in flight while a
//! global and a frontend slot are free and the session rate is below its
//! limit, none otherwise, so a storm past `maxconn` waits in the kernel's
//! accept queue (bounded by the backlog), not in ringlb. A slot freed on
//! any core wakes the listeners that wait for one (see [`Room`]).
//!
//! An accept in flight is never dropped: the kernel may already have
//! handed it a client. It ends by itself, or because the listener is shut
//! down under it. Stopping and pausing never depend on cancelling an
//! operation (compio 0.19's cancel does not end a pending accept, see
//! `../shared/repro/compio-cancel`): a soft stop takes what the kernel
//! already queued, then shutdown(2)s the listener, which takes it out of
//! the SO_REUSEPORT group at once and fails the pending accept; a pause
//! shutdown(2)s it and listen(2) resumes it.
//!
//! A client accepted when the limits no longer allow it (another core took
//! the last slot meanwhile, or a stop drained the queue) is parked: it
//! holds no slot, counts in neither actconn nor feconn and runs no timer;
//! it is served first, in arrival order, when a slot frees.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{fence, Ordering};
use std::time::Duration;

use futures_util::future::{select, Either};

use super::{tune_accepted, Bound, BoundSocket, ListenerTuning};
use crate::engine::limits::FrontendState;
use crate::engine::plan::FrontendPlan;
use crate::engine::runtime::timer;
use crate::engine::runtime::Core;
use crate::engine::session::transport::Listening;
use crate::engine::session::Conn;
use crate::engine::stream::tcp::{handle, handle_with_rules};

/// Back-off after an accept error that will not go away at once (out of
/// file descriptors or memory), as HAProxy's listener_accept does when it
/// limits the listener on EMFILE/ENFILE/ENOBUFS/ENOMEM.
const RESOURCE_BACKOFF: Duration = Duration::from_millis(100);

/// Accept connections on one listener until the core stops accepting and
/// every client it accepted is served.
pub async fn accept_loop(core: Rc<Core>, b: Bound) {
    let Some(fe) = core.shared.plan.frontends.get(b.frontend) else {
        return;
    };
    let listener = match Listener::new(b.socket) {
        Ok(l) => l,
        Err(e) => {
            crate::stderr_line!(
                "[ALERT] executor {}: cannot register listener {}: {e}",
                core.id,
                b.addr
            );
            return;
        }
    };
    let mut adm = Admission {
        core: &core,
        fe,
        fe_idx: b.frontend,
        luid: b.luid,
        li: core.shared.stats.li(b.frontend, b.luid),
        li_max: core
            .shared
            .plan
            .stats
            .listeners
            .iter()
            .find(|l| l.fe == b.frontend && l.luid == b.luid)
            .map_or(0, |l| l.maxconn),
        tuning: b.tuning,
        parked: VecDeque::new(),
        waited: std::cell::Cell::new(false),
    };
    // Open: accepting (or paused); None once closed by a stop.
    let mut open = Some(listener);
    loop {
        if core.kill.is_fired() {
            if let Some(l) = open.take() {
                close(&l);
            }
            adm.close_parked();
            return;
        }
        let fe_state = core.shared.limits.fe_state(b.frontend);
        if core.stop_accepting.is_fired() || fe_state == FrontendState::Stopped {
            if let Some(l) = open.take() {
                adm.drain_and_close(&l);
            }
        }
        // A paused UNIX listener keeps the clients it accepted parked
        // until it resumes (see `pause`).
        let paused = open.is_some() && (core.pause.is_fired() || fe_state == FrontendState::Paused);
        if !paused && !adm.serve_parked() {
            // Parked clients first: nothing more is accepted meanwhile.
            // Once the listener is closed, only a slot or a hard stop can
            // change anything (waiting on the fired stop would spin).
            adm.wait_room(open.is_some()).await;
            continue;
        }
        let Some(l) = &open else {
            // Closed, and every client it accepted is served.
            return;
        };
        if core.pause.is_fired() || fe_state == FrontendState::Paused {
            // SIGTTOU or `disable frontend`: release the address until
            // SIGTTIN and `enable frontend`, or a stop.
            pause(l);
            let limits = &core.shared.limits;
            // The state is looked at before each wait: `Msg::Frontends`
            // only wakes the waiters of the moment, and an `enable
            // frontend` that came while this executor was still pausing
            // would otherwise be missed for good.
            loop {
                let state = limits.fe_state(b.frontend);
                if core.stop_accepting.is_fired()
                    || core.kill.is_fired()
                    || state == FrontendState::Stopped
                    || (!core.pause.is_fired() && state == FrontendState::Ready)
                {
                    break;
                }
                let global = core.pause.is_fired();
                let resume = std::pin::pin!(async {
                    if global {
                        core.resume.wait().await;
                    } else {
                        futures_util::future::pending::<()>().await;
                    }
                });
                let stop = std::pin::pin!(core.stop_accepting.wait());
                let kill = std::pin::pin!(core.kill.wait());
                let changed = std::pin::pin!(core.frontends_changed.wait());
                let _ = select(select(resume, changed), select(stop, kill)).await;
            }
            if !core.stop_accepting.is_fired()
                && !core.kill.is_fired()
                && limits.fe_state(b.frontend) == FrontendState::Ready
            {
                if let Err(e) = resume(l, b.backlog) {
                    crate::stderr_line!(
                        "[ALERT] executor {}: cannot resume listener {}: {e}",
                        core.id,
                        b.addr
                    );
                    // It cannot accept again: closed as at a stop.
                    if let Some(l) = open.take() {
                        adm.drain_and_close(&l);
                    }
                }
            }
            continue;
        }
        if !adm.has_room() {
            adm.wait_room(true).await;
            continue;
        }
        match adm.accept_one(l).await {
            Ok(()) => {}
            Err(e) if transient(&e) => {}
            Err(e) if not_listening(&e) => {
                // Paused under the accept: by this executor (a stop, a
                // pause: the loop's next turn acts on it), or by another
                // one sharing the socket (`fd@N`, `noreuseport`) that saw
                // the frontend disabled just before it was enabled again
                // and may have paused it after the others resumed it. If
                // the frontend is to serve, it listens again (listen(2)
                // on a listening socket only sets its backlog).
                if !core.stop_accepting.is_fired()
                    && !core.kill.is_fired()
                    && !core.pause.is_fired()
                    && core.shared.limits.fe_state(b.frontend) == FrontendState::Ready
                {
                    if let Err(e) = resume(l, b.backlog) {
                        crate::stderr_line!(
                            "[ALERT] executor {}: cannot resume listener {}: {e}",
                            core.id,
                            b.addr
                        );
                        if let Some(l) = open.take() {
                            adm.drain_and_close(&l);
                        }
                    }
                }
            }
            Err(e) => {
                // Out of fds or memory: the listener rests a while (a stop
                // or a pause still ends the rest at once).
                if !core.stop_accepting.is_fired() && !core.pause.is_fired() {
                    crate::stderr_line!(
                        "[WARNING] executor {}: accept on {} failed: {e}",
                        core.id,
                        b.addr
                    );
                    let rest = std::pin::pin!(timer::sleep(&core.timers, RESOURCE_BACKOFF));
                    let stop = std::pin::pin!(stop_or_pause(&core, b.frontend));
                    let _ = select(rest, stop).await;
                }
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

/// accept(2) on a socket that does not listen (any more): a pause took it
/// out of LISTEN under the accept.
fn not_listening(e: &io::Error) -> bool {
    e.raw_os_error() == Some(nix::errno::Errno::EINVAL as i32)
}

/// One listener's admission: the limits, and the clients accepted but not
/// served yet.
struct Admission<'a> {
    core: &'a Rc<Core>,
    fe: &'a FrontendPlan,
    fe_idx: usize,
    luid: u32,
    /// The listener's counters, when it has some (`option socket-stats`,
    /// a bind's `maxconn`), and its `maxconn` (0: none).
    li: Option<usize>,
    li_max: u32,
    tuning: ListenerTuning,
    /// Accepted while the limits did not allow serving them; each one
    /// counts in `core.live` so the core does not end before serving it.
    parked: VecDeque<Client>,
    /// The listener waited for room (or a stop drained its queue) since it
    /// last admitted a client: the next clients may have waited in the
    /// kernel's accept queue, and may have reset there (see `start`).
    waited: std::cell::Cell<bool>,
}

impl Admission<'_> {
    /// A new client could be served now: a global and a frontend slot are
    /// free and the session rate is below its limit. (Another core may
    /// take the slot first: [`Admission::admit`] decides.)
    fn has_room(&self) -> bool {
        self.slot_free() && self.rate_allows()
    }

    /// A listener, a frontend and a global slot are free (the bind's,
    /// the frontend's and the process's `maxconn`).
    fn slot_free(&self) -> bool {
        let shared = &self.core.shared;
        let li_free = self
            .li
            .is_none_or(|li| below(shared.stats.li_conns(li).0, self.li_max));
        li_free
            && below(shared.actconn.get(), shared.limits.maxconn())
            && below(self.fe.feconn.get(), shared.limits.fe_maxconn(self.fe_idx))
    }

    /// `rate-limit sessions`: the last second's rate is below the limit.
    fn rate_allows(&self) -> bool {
        let shared = &self.core.shared;
        (self.fe.rate_limit == 0 || self.fe.sess_rate.rate(shared.now_ms()) < self.fe.rate_limit)
            && (shared.limits.min_rate_limit() == 0 || shared.limits.rate_allows(shared.now_ms()))
    }

    /// Serve `client` if the limits allow it now, or give it back. The
    /// slots are taken global first, then frontend, as HAProxy does.
    fn admit(&self, client: Client) -> Result<(), Client> {
        if !self.rate_allows() {
            return Err(client);
        }
        let shared = &self.core.shared;
        // The listener's slot first, as HAProxy's listener_accept.
        if let Some(li) = self.li {
            if !shared.stats.li_take(li, self.li_max) {
                return Err(client);
            }
        }
        let release_li = || {
            if let Some(li) = self.li {
                shared.stats.li_closed(li);
            }
        };
        if !shared.actconn.try_take(shared.limits.maxconn()) {
            release_li();
            return Err(client);
        }
        if !self
            .fe
            .feconn
            .try_take(shared.limits.fe_maxconn(self.fe_idx))
        {
            release_li();
            release_global(self.core);
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

    /// Accept one client on `l` and serve or park it. The accept is never
    /// dropped while in flight: a stop, a pause or a hard stop shuts the
    /// listener down under it, which ends it.
    async fn accept_one(&mut self, l: &Listener) -> io::Result<()> {
        let res = {
            let accept = std::pin::pin!(l.accept());
            let stop = std::pin::pin!(stop_or_pause(self.core, self.fe_idx));
            match select(accept, stop).await {
                Either::Left((res, _)) => res,
                Either::Right(((), accept)) => {
                    let stopping = self.core.stop_accepting.is_fired() || self.core.kill.is_fired();
                    // Stop: what the kernel queued is taken first, so the
                    // accept in flight may still bring one.
                    if self.core.stop_accepting.is_fired() && !self.core.kill.is_fired() {
                        self.drain(l);
                    }
                    if stopping || l.0.is_tcp() {
                        // A stop closes the listener next; a pause listens
                        // again later.
                        close(l);
                        accept.await
                    } else {
                        // A paused UNIX listener keeps listening (see
                        // `pause`): the accept stays in flight until a
                        // client comes, to be parked, or a stop closes
                        // the listener under it.
                        let stop = std::pin::pin!(async {
                            let s = std::pin::pin!(self.core.stop_accepting.wait());
                            let k = std::pin::pin!(self.core.kill.wait());
                            let _ = select(s, k).await;
                        });
                        match select(accept, stop).await {
                            Either::Left((res, _)) => res,
                            Either::Right(((), accept)) => {
                                close(l);
                                accept.await
                            }
                        }
                    }
                }
            }
        };
        let client = res?;
        if self.core.kill.is_fired() {
            // Hard stop: closed with everything else.
            return Ok(());
        }
        let fe_state = self.core.shared.limits.fe_state(self.fe_idx);
        if self.core.pause.is_fired() || fe_state == FrontendState::Paused {
            // Accepted by a paused UNIX listener: served once it resumes.
            self.park(client);
            return Ok(());
        }
        self.admit_or_park(client);
        // The client that waited has been taken: the next ones come as
        // they arrive, unless the listener waits again.
        if self.parked.is_empty() {
            self.waited.set(false);
        }
        Ok(())
    }

    /// Take every client the kernel already queued on `l` (non-blocking
    /// accept until it is empty) and serve or park it.
    fn drain(&mut self, l: &Listener) {
        let sock = listener_sock(l);
        if sock.set_nonblocking(true).is_err() {
            return;
        }
        self.waited.set(true);
        while let Ok((c, addr)) = sock.accept() {
            let client = if l.0.is_tcp() {
                Conn::from_std_tcp(std::net::TcpStream::from(c)).map(|conn| Client {
                    conn,
                    peer: addr.as_socket(),
                })
            } else {
                Conn::from_std_unix(std::os::unix::net::UnixStream::from(
                    std::os::fd::OwnedFd::from(c),
                ))
                .map(|conn| Client { conn, peer: None })
            };
            if let Ok(client) = client {
                self.admit_or_park(client);
            }
        }
    }

    /// Close a listener at a soft stop: the clients already in its accept
    /// queue are taken and served (or parked), then shutdown(2) takes it
    /// out of the SO_REUSEPORT group at once, as HAProxy's listener pause
    /// does. Dropping it alone is not enough: io_uring may hold the socket
    /// until its ring is torn down, after the process exited, and the
    /// kernel would keep routing clients of a reloaded process's address
    /// to it meanwhile, then reset them.
    fn drain_and_close(&mut self, l: &Listener) {
        self.drain(l);
        close(l);
    }

    /// Hard stop: the parked clients are closed with everything else.
    fn close_parked(&mut self) {
        let n = self.parked.len();
        self.parked.clear();
        let live = &self.core.live;
        live.set(live.get().saturating_sub(n));
        self.core.wake_released();
    }

    /// Wait for what keeps clients out: the session rate, or a slot freed
    /// on any core. A hard stop ends the wait too, and so do a stop or a
    /// pause while the listener is `open` (it must close or pause now).
    async fn wait_room(&self, open: bool) {
        self.waited.set(true);
        let core = self.core;
        let wait = async {
            if self.rate_allows() {
                Room::wait(core, || self.slot_free()).await;
            } else {
                let global = core.shared.limits.min_rate_limit();
                let limit = match (self.fe.rate_limit, global) {
                    (0, g) => g,
                    (f, 0) => f,
                    (f, g) => f.min(g),
                };
                let per_session = 1000 / limit.max(1);
                let wait = Duration::from_millis(u64::from(per_session.max(1)));
                timer::sleep(&core.timers, wait).await;
            }
        };
        let wait = std::pin::pin!(wait);
        if open {
            let stop = std::pin::pin!(stop_or_pause(self.core, self.fe_idx));
            let _ = select(wait, stop).await;
        } else {
            let kill = std::pin::pin!(core.kill.wait());
            let _ = select(wait, kill).await;
        }
    }

    /// Start the stream of an admitted client (its slots are taken).
    fn start(&self, client: Client) {
        let fe = self.fe;
        crate::engine::stats::count_session(self.core, self.fe_idx, fe.feconn.get());
        // The listener's own counts (`option socket-stats`, a bind's
        // `maxconn`).
        let li = self.li;
        if let Some(li) = li {
            self.core.shared.stats.li_accepted(self.core.id, li);
        }
        if fe.rate_limit > 0 {
            fe.sess_rate.add(self.core.shared.now_ms());
        }
        if self.core.shared.limits.min_rate_limit() > 0 {
            self.core.shared.limits.count(self.core.shared.now_ms());
        }
        let core = Rc::clone(self.core);
        // Counted before the task first runs, so the core cannot see
        // itself drained in between.
        core.live.set(core.live.get() + 1);
        let fe_idx = self.fe_idx;
        let luid = self.luid;
        // Only a client that may have waited in the accept queue is checked
        // for a reset before its server connection (one recv(2) with
        // MSG_PEEK): the others were accepted as they came.
        let late = self.waited.get();
        if let Conn::Tcp(_) = &client.conn {
            let _ = tune_accepted(socket2::SockRef::from(&client.conn), &self.tuning);
        }
        // One task type per mode: a task's memory is its future's size, and
        // an HTTP session's would otherwise be every TCP connection's too.
        let http = fe.http.is_some();
        let (conn, peer) = (client.conn, client.peer);
        if fe.stream_rules {
            // A TCP stream with rules: its own task type, so that the
            // rules' state is no plain stream's memory.
            crate::engine::runtime::spawn(async move {
                handle_with_rules(&core, fe_idx, luid, conn, peer, late).await;
                stream_ended(&core, fe_idx, li);
            });
        } else if http {
            crate::engine::runtime::spawn(async move {
                crate::engine::stream::http::handle(&core, fe_idx, luid, conn, peer, late).await;
                stream_ended(&core, fe_idx, li);
            });
        } else {
            crate::engine::runtime::spawn(async move {
                handle(&core, fe_idx, luid, conn, peer, late).await;
                stream_ended(&core, fe_idx, li);
            });
        }
    }
}

/// Resolves on a soft stop, a pause or a hard stop, or when frontend
/// `fe` is disabled or shut down (the runtime API).
async fn stop_or_pause(core: &Core, fe: usize) {
    let stop = std::pin::pin!(core.stop_accepting.wait());
    let pause = std::pin::pin!(core.pause.wait());
    let kill = std::pin::pin!(core.kill.wait());
    let disabled = std::pin::pin!(async {
        // The state is stored before the mesh message that notifies the
        // event is sent, and both are read on this core: no change is
        // missed between the look and the wait.
        while core.shared.limits.fe_state(fe) == FrontendState::Ready {
            core.frontends_changed.wait().await;
        }
    });
    let _ = select(select(stop, disabled), select(pause, kill)).await;
}

/// Give back a global connection slot and wake whoever waits for one, on
/// this core and on the others.
fn release_global(core: &Core) {
    core.shared.actconn.dec();
    Room::freed(core);
}

/// Waiting for a connection slot (global `maxconn`, frontend `maxconn`)
/// across cores. A core whose listeners wait raises its flag in the mesh
/// before it looks at the counters one last time; a core that frees a slot
/// looks at the flags after freeing it (both sides behind a SeqCst fence,
/// so one of them sees the other) and wakes each waiting core once, with
/// a `Room` message. On the waiting core the message, or a stream ending
/// there, wakes every listener waiting (`Core::room`).
#[derive(Debug)]
pub struct Room;

impl Room {
    /// Wait until a slot may have freed. Returns at once if one is free now.
    async fn wait(core: &Core, slot_free: impl Fn() -> bool) {
        let woken = core.room.wait();
        core.shared.mesh.want_room(core.id);
        fence(Ordering::SeqCst);
        if slot_free() {
            return;
        }
        woken.await;
    }

    /// A slot was freed on `core`.
    pub fn freed(core: &Core) {
        fence(Ordering::SeqCst);
        core.shared.mesh.room_freed(core.id);
        core.wake_released();
    }
}

/// The socket under a listener.
fn listener_sock(l: &Listener) -> socket2::SockRef<'_> {
    socket2::SockRef::from(&l.0)
}

/// Pause a listener as HAProxy does (tcp_suspend_receiver): connect(2) to
/// `AF_UNSPEC` takes it out of LISTEN and out of its SO_REUSEPORT group,
/// so a new process may bind the address and the kernel routes no more
/// clients to it, while the socket stays bound; an accept pending on it
/// fails; listen(2) makes it accept again. Clients still in its accept
/// queue are reset, as in HAProxy. (shutdown(2) would leave the socket's
/// shutdown flags set, and connections accepted after a resume would
/// inherit them.) For a listener shared by the executors (`noreuseport`),
/// the first executor's call is the one that counts; the others' fail
/// harmlessly. A UNIX listener is left listening, as HAProxy leaves one
/// bound to a path (uxst_suspend_receiver): a shut-down UNIX socket
/// refuses every client for good, even after listen(2); its clients wait
/// in the accept queue, or parked, until it resumes.
fn pause(l: &Listener) {
    if l.0.is_tcp() && ringlb_sys::disconnect(std::os::fd::AsFd::as_fd(&l.0)).is_err() {
        let _ = listener_sock(l).shutdown(std::net::Shutdown::Both);
    }
}

/// Make a paused listener accept again. A TCP socket whose port the kernel
/// chose (bound to port 0, as an inherited `fd@N` may be) loses that port
/// when a pause takes it out of LISTEN, and listen(2) alone would pick
/// another one: it is bound to its address again first. bind(2) fails
/// with EINVAL on a socket that kept its port (the usual case: a port
/// given explicitly stays with the socket), which is fine.
fn resume(l: &Listener, backlog: i32) -> io::Result<()> {
    let sock = listener_sock(l);
    if let Some(addr) = l.1 {
        match sock.bind(&addr.into()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(nix::errno::Errno::EINVAL as i32) => {}
            Err(e) => return Err(e),
        }
    }
    sock.listen(backlog)
}

/// Close a listener for good: out of its group now (see [`pause`]), a
/// UNIX one shut down; the descriptor itself closes when the listener is
/// dropped.
fn close(l: &Listener) {
    if l.0.is_tcp() {
        pause(l);
    } else {
        let _ = listener_sock(l).shutdown(std::net::Shutdown::Both);
    }
}

/// `value` is below `max` (0: no limit).
fn below(value: u32, max: u32) -> bool {
    max == 0 || value < max
}

/// An accepted client connection, with the address accept(2) returned.
struct Client {
    conn: Conn,
    /// None for UNIX.
    peer: Option<SocketAddr>,
}

/// A listening socket on the ring, and for TCP the address it was bound
/// to at start-up (see [`resume`]).
struct Listener(Listening, Option<SocketAddr>);

impl Listener {
    fn new(s: BoundSocket) -> io::Result<Listener> {
        Ok(match s {
            BoundSocket::Tcp(l) => {
                let addr = l.local_addr().ok();
                Listener(Listening::from_std_tcp(l)?, addr)
            }
            BoundSocket::Unix(l) => Listener(Listening::from_std_unix(l)?, None),
        })
    }

    /// One accept through the ring, with the address accept(2) returned.
    async fn accept(&self) -> io::Result<Client> {
        self.0
            .accept()
            .await
            .map(|(conn, peer)| Client { conn, peer })
    }
}

/// A stream's task ended: its counts go.
fn stream_ended(core: &Rc<Core>, fe_idx: usize, li: Option<usize>) {
    core.live.set(core.live.get().saturating_sub(1));
    if let Some(li) = li {
        core.shared.stats.li_closed(li);
    }
    if let Some(fe) = core.shared.plan.frontends.get(fe_idx) {
        fe.feconn.dec();
    }
    release_global(core);
}
