//! The engine: thread-per-core executors serving TCP-mode proxies.
//!
//! Start-up (main thread, may block): build the [`Plan`] from the checked
//! configuration (server addresses resolved, frontends linked to their
//! backends), bind every listener once per executor (SO_REUSEPORT) so a
//! busy address fails the start before anything is served, then start one
//! pinned executor per core. After that no core blocks, reads a file or
//! takes a lock on the data path.
//!
//! Cross-core state is limited to what HAProxy keeps global: connection
//! counters (actconn, feconn, beconn, per-server connections) are relaxed
//! atomics — the one exception to "state crosses cores by message" the
//! design allows for per-server counts, extended here to the proxy counters
//! the log line prints; everything else is per core.

pub mod listener;
pub mod logging;
pub mod plan;
pub mod pool;
pub mod runtime;
pub mod splice;
pub mod stream;
pub mod timer;

#[cfg(test)]
mod alloc_tests;

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

pub use plan::Plan;

/// Counters shared by every core.
#[derive(Debug, Default)]
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

/// Process-wide state: the plan, the counters, the stop flag.
#[derive(Debug)]
pub struct Shared {
    pub plan: Plan,
    pub actconn: Counter,
    /// Slots held by accept loops waiting for their next client.
    pub accept_waiting: Counter,
    /// Soft-stop requested: listeners close, live streams finish.
    pub stopping: AtomicBool,
    /// Hard stop: every stream is closed now.
    pub killing: AtomicBool,
}

impl Shared {
    pub fn new(plan: Plan) -> Arc<Self> {
        Arc::new(Shared {
            plan,
            actconn: Counter::default(),
            accept_waiting: Counter::default(),
            stopping: AtomicBool::new(false),
            killing: AtomicBool::new(false),
        })
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }
}
