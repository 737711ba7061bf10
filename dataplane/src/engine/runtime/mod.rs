//! Executors: one single-threaded compio runtime per core, pinned to it,
//! with the io_uring flags that measured best on this machine
//! (single_issuer + coop_taskrun + defer_taskrun: 1.20x -> 0.85x HAProxy's
//! CPU per request on tiny keep-alive, see the engine issue).
//!
//! Where they run is decided in [`topology`].

pub mod buffer;
pub mod counters;
pub mod grow;
pub mod mesh;
pub mod registry;
pub mod timer;
pub mod topology;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::task::Waker;

use compio::driver::ProactorBuilder;
use compio::runtime::RuntimeBuilder;

use futures_util::future::{select, Either};

use self::buffer::{BufferPool, Class};
use self::mesh::{CoreSnapshot, Msg};
use self::topology::Placement;
use super::backend::queue;
use super::listener::Bound;
use super::Process;
use crate::balance::{Balancer, ServerState};
pub use registry::{Registered, StreamEntry};

/// Buffer size for flows that proved bulk: four default buffers per I/O.
pub const BULK_BUFSIZE: usize = 64 * 1024;

/// A per-core event: tasks wait on it, `fire` wakes them all; `reset`
/// arms it again (pause and resume). Each waiter owns one slot, updated in
/// place when it is polled again, so waiting costs no allocation per poll
/// (every live stream waits on the core's kill event). A firing empties
/// the slots and starts a new generation, so a waiter from before never
/// touches a slot reused after.
#[derive(Debug, Default)]
pub struct LocalEvent {
    fired: Cell<bool>,
    generation: Cell<u64>,
    waiters: RefCell<slab::Slab<Waker>>,
}

impl LocalEvent {
    pub fn fire(&self) {
        self.fired.set(true);
        self.generation.set(self.generation.get().wrapping_add(1));
        let waiters: Vec<Waker> = self.waiters.borrow_mut().drain().collect();
        for w in waiters {
            w.wake();
        }
    }

    pub fn is_fired(&self) -> bool {
        self.fired.get()
    }

    /// Wake the current waiters without firing: the next `wait`s wait
    /// again (a notification, for conditions the waiter re-checks).
    pub fn notify(&self) {
        self.generation.set(self.generation.get().wrapping_add(1));
        let waiters: Vec<Waker> = self.waiters.borrow_mut().drain().collect();
        for w in waiters {
            w.wake();
        }
    }

    /// Arm the event again: the next `wait`s wait for the next `fire`.
    pub fn reset(&self) {
        self.fired.set(false);
    }

    pub fn wait(&self) -> EventWait<'_> {
        EventWait {
            event: self,
            slot: None,
        }
    }
}

/// The future of [`LocalEvent::wait`].
#[derive(Debug)]
pub struct EventWait<'a> {
    event: &'a LocalEvent,
    /// Its slot, and the generation it was taken in.
    slot: Option<(usize, u64)>,
}

impl std::future::Future for EventWait<'_> {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        let generation = self.event.generation.get();
        if self.event.fired.get() || self.slot.is_some_and(|(_, g)| g != generation) {
            // Fired (maybe reset since): this waiter was woken.
            return std::task::Poll::Ready(());
        }
        let mut waiters = self.event.waiters.borrow_mut();
        match self.slot.and_then(|(k, _)| waiters.get_mut(k)) {
            Some(w) if w.will_wake(cx.waker()) => {}
            Some(w) => w.clone_from(cx.waker()),
            None => {
                let k = waiters.insert(cx.waker().clone());
                drop(waiters);
                self.slot = Some((k, generation));
            }
        }
        std::task::Poll::Pending
    }
}

impl Drop for EventWait<'_> {
    fn drop(&mut self) {
        if let Some((k, g)) = self.slot {
            if g != self.event.generation.get() {
                return;
            }
            if let Ok(mut w) = self.event.waiters.try_borrow_mut() {
                w.try_remove(k);
            }
        }
    }
}

/// What one core owns: its balancers, buffers, and live stream count.
#[derive(Debug)]
pub struct Core {
    pub id: usize,
    /// The CPU it runs on.
    pub cpu: usize,
    pub shared: Arc<Process>,
    pub balancers: Vec<RefCell<Balancer>>,
    /// The core's bounded buffers, standard and bulk (see forward::pump).
    pub bufs: BufferPool,
    /// The core's share of `maxpipes`.
    pub pipes: super::forward::splice::PipePool,
    /// The core's timer (timerfd + min-heap).
    pub timers: self::timer::Timers,
    /// Scratch space for server loads when picking (reused, never shrunk).
    pub scratch_conns: RefCell<Vec<u32>>,
    pub live: Cell<usize>,
    /// The names a log line prints, shared by the core's lines (cloning an
    /// `Rc` allocates nothing): frontends, backends, their servers, the
    /// host.
    pub names: LogNames,
    /// The live streams of this core (the slab reuses its slots: no
    /// allocation per stream once it has grown): what a snapshot reports.
    pub streams: RefCell<slab::Slab<StreamEntry>>,
    /// Soft stop: stop accepting.
    pub stop_accepting: LocalEvent,
    /// SIGTTOU: listeners paused (they release their address) until
    /// `resume` fires (SIGTTIN).
    pub pause: LocalEvent,
    pub resume: LocalEvent,
    /// Hard stop: close every stream.
    pub kill: LocalEvent,
    /// Per backend: the streams queued on this core (see `queue`).
    pub queues: Vec<RefCell<queue::LocalQueues>>,
    /// Per backend: the server-state generation its balancer follows
    /// (see `backend::server::follow`).
    pub generations: Vec<Cell<u64>>,
    /// Notified whenever a connection slot may have freed: a stream ended
    /// on this core, or another core sent `Room` (accept loops waiting for
    /// a slot look again; see `accept::Room`).
    pub room: LocalEvent,
    /// Accept loops still running (each closes its listener before it
    /// ends).
    pub accepting: Cell<usize>,
    /// Fired when the core stopped accepting, its listeners are closed and
    /// its last stream ended.
    pub drained: LocalEvent,
    /// Idle server connections kept for reuse (HTTP).
    pub idle: crate::engine::backend::idle::IdleConns,
    /// Streams this core numbered (see [`Core::next_stream_id`]).
    pub stream_ids: Cell<u32>,
    /// The executor cores of the process.
    pub cores: u32,
    /// Notified when a frontend's state or a limit changed (the runtime
    /// API): listeners look at `Process::limits` again.
    pub frontends_changed: LocalEvent,
    /// Per backend and server: this core's streams on that server wait on
    /// it to be killed together (`Process::shutdown_streams`).
    pub shutdowns: Vec<grow::Slots<super::backend::server::Shutdown>>,
}

/// See [`Core::names`].
#[derive(Debug)]
pub struct LogNames {
    pub frontends: Vec<Rc<str>>,
    pub backends: Vec<Rc<str>>,
    /// By backend, by server slot: `add server` names a slot anew (see
    /// `cli::servers`), on every core.
    pub servers: Vec<RefCell<Vec<Rc<str>>>>,
    pub hostname: Rc<str>,
}

impl LogNames {
    fn new(plan: &super::Plan) -> LogNames {
        LogNames {
            frontends: plan
                .frontends
                .iter()
                .map(|f| Rc::from(f.name.as_str()))
                .collect(),
            backends: plan
                .backends
                .iter()
                .map(|b| Rc::from(b.name.as_str()))
                .collect(),
            servers: plan
                .backends
                .iter()
                .map(|b| {
                    RefCell::new(
                        b.servers
                            .iter()
                            .map(|s| Rc::from(s.conf().name.as_str()))
                            .collect(),
                    )
                })
                .collect(),
            hostname: Rc::from(plan.hostname.as_str()),
        }
    }
}

impl Core {
    /// The next stream's number (HAProxy's `uniq_id`, `%rt`): the core's
    /// own count interleaved with the other cores' (core `i` of `n` gives
    /// `i`, `i + n`, `i + 2n` ...), so the numbers stay unique in the
    /// process without a shared counter. With one core they are HAProxy's
    /// 0, 1, 2 ...; they wrap as HAProxy's 32-bit counter does.
    pub fn next_stream_id(&self) -> u32 {
        let n = self.stream_ids.get();
        self.stream_ids.set(n.wrapping_add(1));
        n.wrapping_mul(self.cores)
            .wrapping_add(u32::try_from(self.id).unwrap_or(0))
    }

    /// This core's state; with `flush`, its pools are emptied first.
    pub fn snapshot(&self, flush: bool) -> CoreSnapshot {
        let (flushed_bufs, flushed_pipes) = if flush {
            (self.bufs.flush(), self.pipes.flush())
        } else {
            (0, 0)
        };
        let streams = self.streams.borrow();
        CoreSnapshot {
            core: self.id,
            cpu: self.cpu,
            streams: streams.len(),
            oldest: streams.iter().map(|(_, e)| e.accepted.elapsed()).max(),
            bufs: self.bufs.pooled(Class::Std),
            bulk_bufs: self.bufs.pooled(Class::Bulk),
            pipes: self.pipes.pooled(),
            flushed_bufs,
            flushed_pipes,
            timers: self.timers.live(),
        }
    }

    /// Stopped accepting, every listener closed, every stream ended: the
    /// executor may end. (Ending with a listener still open would leave it
    /// to io_uring's ring teardown, after the thread is gone, and the
    /// kernel would route clients of a reloaded process to it meanwhile.)
    pub fn is_drained(&self) -> bool {
        self.stop_accepting.is_fired() && self.live.get() == 0 && self.accepting.get() == 0
    }

    /// A stream (or an accept loop) ended on this core.
    pub fn wake_released(&self) {
        self.room.notify();
        if self.is_drained() {
            self.drained.fire();
        }
    }
}

/// One message from the mesh.
fn handle_msg(core: &Rc<Core>, msg: Msg) {
    let shared = &core.shared;
    match msg {
        Msg::Released { backend, server } => {
            shared.mesh.released_seen(core.id, backend, server);
            queue::wake_oldest_local(core, backend, server);
        }
        Msg::Grant { backend, server } => queue::granted_here(core, backend, server),
        Msg::Room => core.room.notify(),
        Msg::Pause(true) => {
            core.resume.reset();
            core.pause.fire();
        }
        Msg::Pause(false) => {
            core.pause.reset();
            core.resume.fire();
        }
        Msg::Servers => {
            shared.mesh.servers_seen(core.id);
            super::backend::server::follow(core);
        }
        Msg::ShutdownStreams {
            backend,
            server,
            why,
        } => super::backend::server::shutdown_here(core, backend, server, why),
        Msg::Snapshot { reply, flush } => {
            let _ = reply.try_send(core.snapshot(flush));
        }
        Msg::Frontends => {
            core.frontends_changed.notify();
            core.room.notify();
        }
        Msg::Cli(ask) => super::cli::answer(core, ask),
        Msg::Stop => {
            shared.mesh.stop_seen(core.id);
            if shared.killing.load(std::sync::atomic::Ordering::Relaxed) {
                core.stop_accepting.fire();
                core.kill.fire();
            } else if shared.is_stopping() {
                core.stop_accepting.fire();
            }
        }
    }
}

fn balancers(shared: &Process, core: usize) -> Vec<RefCell<Balancer>> {
    shared
        .plan
        .backends
        .iter()
        .map(|be| {
            let states: Vec<ServerState> = be
                .servers
                .iter()
                .map(|s| super::backend::server::balancer_view(s, be))
                .collect();
            RefCell::new(Balancer::new(
                &be.balance,
                be.hash_type,
                be.hash_balance_factor,
                be.allbackups,
                &states,
                core,
            ))
        })
        .collect()
}

/// An executor's word at start-up: its ring, its timer and its inbox are
/// up (`Ok`), or why it could not start.
pub type Readiness = Result<usize, String>;

/// The executors of a process: their threads, each one's readiness (one
/// message per executor), and the word that lets them serve. An executor
/// that reported ready accepts nothing until it is told to go (`true`), or
/// ends without serving (`false`, or the sender dropped): a process never
/// serves with an executor missing.
#[derive(Debug)]
pub struct Executors {
    pub handles: Vec<std::thread::JoinHandle<()>>,
    pub ready: flume::Receiver<Readiness>,
    pub go: Vec<flume::Sender<bool>>,
}

impl Executors {
    /// Wait for every executor's readiness; the failures, if any.
    pub fn wait_ready(&self, within: std::time::Duration) -> Vec<String> {
        let deadline = std::time::Instant::now() + within;
        let mut failed = Vec::new();
        for _ in 0..self.handles.len() {
            match self.ready.recv_deadline(deadline) {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => failed.push(e),
                Err(_) => {
                    failed.push("an executor did not report ready in time".into());
                    break;
                }
            }
        }
        failed
    }

    /// Let every executor serve (`true`) or end (`false`).
    pub fn go(&self, serve: bool) {
        for g in &self.go {
            let _ = g.send(serve);
        }
    }
}

/// Start one executor thread per CPU of the placement. Each thread reports
/// its readiness on `Executors::ready`, then serves until the process
/// stops.
pub fn start(
    shared: &Arc<Process>,
    placement: &Placement,
    mut bound: Vec<Vec<Bound>>,
    mut cli: Option<super::cli::Cli>,
) -> Result<Executors, String> {
    let mut handles = Vec::new();
    let (ready_tx, ready) = flume::bounded(placement.cpus.len());
    let mut go = Vec::new();
    for (idx, cpu) in placement.cpus.iter().copied().enumerate() {
        let listeners = std::mem::take(
            bound
                .get_mut(idx)
                .ok_or("internal error: fewer listener sets than executors")?,
        );
        let shared = Arc::clone(shared);
        // The runtime API is served by the first executor.
        let cli = cli.take();
        let ready = ready_tx.clone();
        let (go_tx, go_rx) = flume::bounded(1);
        let h = std::thread::Builder::new()
            .name(format!("ringlb-exec-{idx}"))
            .spawn(move || executor(idx, cpu, listeners, cli, shared, &ready, &go_rx))
            .map_err(|e| format!("cannot start executor thread {idx}: {e}"))?;
        handles.push(h);
        go.push(go_tx);
    }
    Ok(Executors { handles, ready, go })
}

/// Core `idx`'s share of a per-process `total`: shares differ by one at
/// most and add up to it.
fn share(total: u32, cores: usize, idx: usize) -> u32 {
    let cores = u32::try_from(cores.max(1)).unwrap_or(u32::MAX);
    let idx = u32::try_from(idx).unwrap_or(u32::MAX);
    total / cores + u32::from(idx < total % cores)
}

/// A core's buffer pool, bounded by its share of `tune.buffers.limit`, or
/// else of maxconn (see [`BufferPool::limit_for`]).
fn core_buffers(shared: &Process, idx: usize) -> BufferPool {
    let plan = &shared.plan;
    let cores = shared.mesh.cores();
    let limit = BufferPool::limit_for(
        share(plan.maxconn, cores, idx),
        plan.buffers_limit.map(|n| share(n, cores, idx)),
    );
    BufferPool::new(plan.bufsize, BULK_BUFSIZE, plan.maxrewrite, limit)
}

/// A core's share of `maxpipes` (when `serve` did not set it, as
/// HAProxy's default: maxconn/4, unbounded without a maxconn).
fn core_pipes(shared: &Process, idx: usize) -> usize {
    let plan = &shared.plan;
    let maxpipes = plan.maxpipes.unwrap_or(if plan.maxconn == 0 {
        u32::MAX
    } else {
        crate::process::ideal_maxpipes(plan.maxconn)
    });
    usize::try_from(share(maxpipes, shared.mesh.cores(), idx)).unwrap_or(usize::MAX)
}

/// Spawn a task on the current executor, detached.
pub fn spawn(fut: impl std::future::Future<Output = ()> + 'static) {
    compio::runtime::spawn(fut).detach();
}

/// Run `fut` to its end on a runtime of its own (unit tests).
#[cfg(test)]
pub(crate) fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    #[allow(clippy::unwrap_used)]
    compio::runtime::Runtime::new().unwrap().block_on(fut)
}

/// Test hook: `RINGLB_TEST_FAIL_EXECUTOR=<n>` makes executor n fail its
/// start-up as if its ring could not be created, so the tests can show
/// that a process never serves with an executor missing.
fn injected_failure(idx: usize) -> bool {
    std::env::var("RINGLB_TEST_FAIL_EXECUTOR")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        == Some(idx)
}

fn executor(
    idx: usize,
    cpu: usize,
    listeners: Vec<Bound>,
    cli: Option<super::cli::Cli>,
    shared: Arc<Process>,
    ready: &flume::Sender<Readiness>,
    go: &flume::Receiver<bool>,
) {
    let _ = core_affinity::set_for_current(core_affinity::CoreId { id: cpu });
    let mut pb = ProactorBuilder::new();
    pb.capacity(4096)
        .single_issuer(true)
        .coop_taskrun(true)
        .defer_taskrun(true);
    // The ring's provided buffers (kernel buffer selection): reads take a
    // buffer only when data arrives, so idle connections hold none.
    pb.buffer_pool_size(
        std::num::NonZero::new(shared.plan.provided_buffers)
            .unwrap_or(std::num::NonZero::<u16>::MIN),
    )
    .buffer_pool_buffer_len(shared.plan.bufsize);
    let built = if injected_failure(idx) {
        Err(std::io::Error::other(
            "failure injected by RINGLB_TEST_FAIL_EXECUTOR",
        ))
    } else {
        RuntimeBuilder::new().with_proactor(pb).build()
    };
    let rt = match built {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.send(Err(format!(
                "executor {idx}: cannot create the io_uring runtime: {e} (is RLIMIT_MEMLOCK too low? try `ulimit -l unlimited`)"
            )));
            return;
        }
    };
    rt.block_on(async move {
        let timers = match self::timer::Timers::new() {
            Ok(t) => t,
            Err(e) => {
                let _ = ready.send(Err(format!("executor {idx}: cannot create its timer: {e}")));
                return;
            }
        };
        // The inbox before anything is served: without it the core could
        // not be stopped.
        let Some(inbox) = shared.mesh.take_inbox(idx) else {
            let _ = ready.send(Err(format!("executor {idx}: no inbox")));
            return;
        };
        let core = Rc::new(Core {
            timers,
            id: idx,
            cpu,
            // Read before the balancers are built: a change in between is
            // seen again at the next `Servers` message.
            generations: shared
                .plan
                .backends
                .iter()
                .map(|b| Cell::new(b.generation.load(std::sync::atomic::Ordering::Acquire)))
                .collect(),
            balancers: balancers(&shared, idx),
            bufs: core_buffers(&shared, idx),
            pipes: super::forward::splice::PipePool::new(core_pipes(&shared, idx)),
            scratch_conns: RefCell::new(Vec::new()),
            shared: Arc::clone(&shared),
            live: Cell::new(0),
            streams: RefCell::new(slab::Slab::new()),
            names: LogNames::new(&shared.plan),
            stop_accepting: LocalEvent::default(),
            pause: LocalEvent::default(),
            resume: LocalEvent::default(),
            kill: LocalEvent::default(),
            room: LocalEvent::default(),
            queues: shared
                .plan
                .backends
                .iter()
                .map(|b| RefCell::new(queue::LocalQueues::new(b.servers.len())))
                .collect(),
            accepting: Cell::new(0),
            drained: LocalEvent::default(),
            idle: crate::engine::backend::idle::IdleConns::new(
                shared.plan.backends.iter().map(|b| b.servers.len()),
            ),
            stream_ids: Cell::new(0),
            shutdowns: shared
                .plan
                .backends
                .iter()
                .map(|b| {
                    b.servers
                        .iter()
                        .map(|_| super::backend::server::Shutdown::default())
                        .collect()
                })
                .collect(),
            cores: u32::try_from(shared.mesh.cores()).unwrap_or(1).max(1),
            frontends_changed: LocalEvent::default(),
        });
        {
            let core = Rc::clone(&core);
            compio::runtime::spawn(async move { core.timers.run().await }).detach();
        }
        if shared.plan.backends.iter().any(|b| b.http.is_some()) {
            let core = Rc::clone(&core);
            compio::runtime::spawn(crate::engine::backend::idle::purge_loop(core)).detach();
        }
        let _ = ready.send(Ok(idx));
        // Nothing is served before every executor is up (blocking here is
        // fine: this core has nothing to do yet).
        if go.recv() != Ok(true) {
            return;
        }
        for b in listeners {
            let core = Rc::clone(&core);
            core.accepting.set(core.accepting.get() + 1);
            compio::runtime::spawn(async move {
                super::listener::accept::accept_loop(Rc::clone(&core), b).await;
                core.accepting.set(core.accepting.get().saturating_sub(1));
                core.wake_released();
            })
            .detach();
        }
        // The health checks this core owns.
        super::checks::start(&core);
        if let Some(cli) = cli {
            super::cli::start(&core, cli);
        }
        // Serve the inbox: wake-ups from other cores' queues, stop
        // requests, server changes. The executor ends once it stops
        // accepting and its last stream ended.
        loop {
            if core.is_drained() {
                core.idle.clear();
                break;
            }
            let msg = {
                let msg = std::pin::pin!(inbox.recv());
                let drained = std::pin::pin!(core.drained.wait());
                match select(msg, drained).await {
                    Either::Left((Ok(m), _)) => m,
                    // Every sender is gone (the process is ending), or
                    // the last stream ended after a stop.
                    Either::Left((Err(_), _)) | Either::Right(_) => continue,
                }
            };
            handle_msg(&core, msg);
        }
    });
}
