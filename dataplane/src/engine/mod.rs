//! The engine: thread-per-core executors serving TCP-mode proxies.
//!
//! Start-up (main thread, may block): build the [`Plan`] from the checked
//! configuration (server addresses resolved, frontends linked to their
//! backends), bind every listener once per executor (SO_REUSEPORT) so a
//! busy address fails the start before anything is served, then start one
//! pinned executor per core. After that no core blocks, reads a file or
//! takes a lock on the data path.
//!
//! Cross-core state is limited to what HAProxy keeps global: the limits
//! every core must agree on (actconn, feconn, beconn, a server's
//! connections and queue) are relaxed atomics, each on its own cache line;
//! each server's state has one owner (`backend::server`) whose changes
//! reach the cores through the mesh; statistics counters are per core, one
//! writer each, summed when read (`runtime::counters`); everything else is
//! per core.
//!
//! Besides the [`plan`] and the [`runtime`] (executors, placement, mesh,
//! timers, bounded buffers), the folders read in the order a connection travels:
//! [`listener`] (bind, accept), [`session`] (a client connection and its
//! transport, the one type both sides' sockets are), [`stream`] (the
//! TCP-mode stream),
//! [`connect`] (pick, queue, connect, retry), [`backend`] (the queues),
//! [`forward`] (the tunnel pump, splice), [`logging`].

pub mod backend;
pub mod checks;
pub mod cli;
pub mod connect;
pub mod forward;
pub mod limits;
pub mod listener;
pub mod logging;
pub mod mux;
pub mod plan;
pub mod rules;
pub mod runtime;
pub mod session;
pub mod stats;
pub mod stream;

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

pub use plan::Plan;

/// Counters shared by every core. Each sits on a cache line of its own:
/// the limits (actconn, feconn, beconn, a server's connections and queue)
/// are written by every core, and two of them sharing a line would make
/// each core's write evict the other's (false sharing).
#[derive(Debug, Default)]
#[repr(align(64))]
pub struct Counter(AtomicU32);

impl Counter {
    pub fn get(&self) -> u32 {
        self.0.load(Ordering::Relaxed)
    }
    pub fn inc(&self) -> u32 {
        self.0.fetch_add(1, Ordering::Relaxed) + 1
    }
    pub fn dec(&self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
    /// Take a slot if fewer than `max` are taken (`max` 0 = no limit).
    pub fn try_take(&self, max: u32) -> bool {
        if max == 0 {
            self.inc();
            return true;
        }
        self.0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                (v < max).then_some(v + 1)
            })
            .is_ok()
    }
}

/// An events-per-second counter shared by the cores (HAProxy's freq_ctr):
/// the current second's count plus the previous second's, weighted by the
/// part of the previous second still inside the sliding window.
#[derive(Debug, Default)]
pub struct FreqCtr {
    /// The second (since start-up) `curr` counts.
    sec: AtomicU32,
    curr: AtomicU32,
    prev: AtomicU32,
}

impl FreqCtr {
    fn rotate(&self, now_sec: u32) {
        let sec = self.sec.load(Ordering::Relaxed);
        if sec == now_sec {
            return;
        }
        if self
            .sec
            .compare_exchange(sec, now_sec, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            let curr = self.curr.swap(0, Ordering::Relaxed);
            self.prev.store(
                if now_sec == sec.wrapping_add(1) {
                    curr
                } else {
                    0
                },
                Ordering::Relaxed,
            );
        }
    }

    /// The rate over the last second at `now` (ms since start-up).
    pub fn rate(&self, now_ms: u64) -> u32 {
        let now_sec = u32::try_from(now_ms / 1000).unwrap_or(u32::MAX);
        self.rotate(now_sec);
        let into = now_ms % 1000;
        let prev = u64::from(self.prev.load(Ordering::Relaxed)) * (1000 - into) / 1000;
        u32::try_from(prev)
            .unwrap_or(u32::MAX)
            .saturating_add(self.curr.load(Ordering::Relaxed))
    }

    pub fn add(&self, now_ms: u64) {
        self.rotate(u32::try_from(now_ms / 1000).unwrap_or(u32::MAX));
        self.curr.fetch_add(1, Ordering::Relaxed);
    }
}

/// Process-wide state, shared by every core: the plan, the counters, the
/// stop flags, the mesh and the queue heads.
#[derive(Debug)]
pub struct Process {
    pub plan: Plan,
    pub actconn: Counter,
    /// Soft-stop requested: listeners close, live streams finish.
    pub stopping: AtomicBool,
    /// Hard stop: every stream is closed now.
    pub killing: AtomicBool,
    /// The clock `FreqCtr`s count on.
    pub started: std::time::Instant,
    /// One inbox per executor.
    pub mesh: runtime::mesh::Mesh,
    /// Per backend: the heads of its queues on every core.
    pub queue_heads: Vec<backend::queue::QueueHeads>,
    /// Statistics counters, one block per core.
    pub stats: runtime::counters::Stats,
    /// The limits the runtime API changes (global and frontend maxconn,
    /// frontend states, rate limits).
    pub limits: limits::Limits,
}

impl Process {
    /// The process-wide state of `cores` executors.
    pub fn new(plan: Plan, cores: usize) -> Arc<Self> {
        let servers: Vec<usize> = plan.backends.iter().map(|b| b.servers.len()).collect();
        // (The slots `add server` grows get no latency histograms.)
        let configured: Vec<usize> = plan
            .backends
            .iter()
            .map(|b| b.live.load(Ordering::Relaxed))
            .collect();
        let stats = runtime::counters::Stats::with_histograms(
            cores,
            plan.frontends.len(),
            &servers,
            &configured,
        )
        .with_listeners(&plan.stats.listener_luids(plan.frontends.len()));
        for c in &plan.checks.list {
            if let Some(ch) = stats.changes(runtime::counters::Obj::Srv(c.backend, c.server)) {
                ch.health.store(c.initial.health, Ordering::Relaxed);
            }
        }
        Arc::new(Process {
            mesh: runtime::mesh::Mesh::new(cores, &servers),
            queue_heads: servers
                .iter()
                .map(|&n| backend::queue::QueueHeads::new(n, cores))
                .collect(),
            stats,
            limits: limits::Limits::new(&plan),
            plan,
            actconn: Counter::default(),
            stopping: AtomicBool::new(false),
            killing: AtomicBool::new(false),
            started: std::time::Instant::now(),
        })
    }

    /// Milliseconds since start-up, for `FreqCtr`s.
    pub fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Soft stop: listeners close, live streams finish.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::Relaxed);
        self.mesh.stop_all();
    }

    /// Hard stop: every stream is closed now.
    pub fn kill(&self) {
        self.killing.store(true, Ordering::Relaxed);
        self.mesh.stop_all();
    }

    /// Change a server's state: the one way to write it (checks, the
    /// runtime API). Every core learns of it through the mesh; the
    /// balancers follow and the queues offer what became usable. Whether
    /// anything changed (false also for an unknown server).
    pub fn set_server(
        &self,
        backend: usize,
        server: usize,
        change: backend::server::Change,
    ) -> bool {
        let Some(be) = self.plan.backends.get(backend) else {
            return false;
        };
        let Some(s) = be.servers.get(server) else {
            return false;
        };
        let before = s.state.get();
        if !s.state.apply(change) {
            return false;
        }
        // Entering maintenance (runtime API, stats page, a tracked server)
        // kills the server's streams under `on-marked-down
        // shutdown-sessions`, as HAProxy's srv_update_status does; the
        // checks' own DOWN transition does it in checks::run. A server
        // already down has nothing to kill.
        if before.admin & backend::server::admin::MAINT == 0
            && before.oper != backend::server::Oper::Stopped
            && s.state.get().admin & backend::server::admin::MAINT != 0
        {
            if s.shutdown_on.down() {
                self.shutdown_streams(backend, server, crate::log::termination::Cause::Down);
            }
            // Its idle connections are closed (srv_update_status calls
            // srv_cleanup_connections): on every core, nobody waiting.
            let _ = self.mesh.ask_all(|reply| {
                runtime::mesh::Msg::Cli(cli::Ask::Slot(
                    backend,
                    server,
                    cli::servers::SlotOp::DropIdle,
                    reply,
                ))
            });
        }
        // lastchg, downtime, chkdown (the statistics).
        let now = self.now_ms();
        let snap = s.state.get();
        let down = snap.oper == backend::server::Oper::Stopped
            || snap.admin & backend::server::admin::MAINT != 0;
        use runtime::counters::Obj;
        if let Some(c) = self.stats.changes(Obj::Srv(backend, server)) {
            c.changed(now, down);
        }
        let be_down = !be.live_servers().any(|x| x.state.get().usable());
        if let Some(c) = self.stats.changes(Obj::Be(backend)) {
            if be_down != c.is_down() {
                c.changed(now, be_down);
            }
        }
        be.generation.fetch_add(1, Ordering::AcqRel);
        self.mesh.servers_changed();
        true
    }

    /// Kill the streams of server `server` of backend `backend` on every
    /// core (HAProxy's srv_shutdown_streams): each ends now, its log
    /// saying `why` (`D` for `on-marked-down shutdown-sessions`, `U` for
    /// `on-marked-up shutdown-backup-sessions`, `K` for the runtime API's
    /// `shutdown sessions server`). It travels on the mesh's command lane,
    /// which never drops a message; the cores act on it as they read it.
    pub fn shutdown_streams(
        &self,
        backend: usize,
        server: usize,
        why: crate::log::termination::Cause,
    ) {
        self.mesh.broadcast(&runtime::mesh::Msg::ShutdownStreams {
            backend,
            server,
            why,
        });
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::{Counter, FreqCtr};

    #[test]
    fn shared_counters_do_not_share_a_cache_line() {
        assert_eq!(std::mem::align_of::<Counter>(), 64);
        let two = [Counter::default(), Counter::default()];
        let gap = std::ptr::from_ref(&two[1]) as usize - std::ptr::from_ref(&two[0]) as usize;
        assert!(gap >= 64);
    }

    #[test]
    fn freq_ctr_slides_over_the_last_second() {
        let f = FreqCtr::default();
        for _ in 0..10 {
            f.add(1500);
        }
        assert_eq!(f.rate(1500), 10);
        // Half way into the next second, half of the previous one counts.
        assert_eq!(f.rate(2500), 5);
        f.add(2500);
        assert_eq!(f.rate(2500), 6);
        // Two seconds later nothing is left.
        assert_eq!(f.rate(4200), 0);
    }
}
