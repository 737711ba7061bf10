//! The limits the runtime API may change while the process runs: the
//! global `maxconn`, each frontend's `maxconn` and administrative state
//! (enabled, disabled, shut down), the process-wide connection and session
//! rate limits (`set rate-limit connections|sessions global`).
//!
//! The plan keeps what the configuration said; these atomics start from it
//! and are what the accept loops read (one relaxed load each, no lock). A
//! frontend's state change also reaches every core through the mesh
//! (`Msg::Frontends`) so that a listener waiting for a client or paused
//! looks again at once.

use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};

use super::{FreqCtr, Plan};

/// A frontend's administrative state (HAProxy's PR_FL_PAUSED /
/// PR_FL_STOPPED).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrontendState {
    Ready = 0,
    /// `disable frontend`: its listeners release their addresses until
    /// `enable frontend`.
    Paused = 1,
    /// `shutdown frontend`: its listeners are closed for good.
    Stopped = 2,
}

#[derive(Debug)]
pub struct FrontendLimits {
    maxconn: AtomicU32,
    state: AtomicU8,
}

impl FrontendLimits {
    pub fn maxconn(&self) -> u32 {
        self.maxconn.load(Ordering::Relaxed)
    }

    pub fn set_maxconn(&self, n: u32) {
        self.maxconn.store(n, Ordering::Relaxed);
    }

    pub fn state(&self) -> FrontendState {
        match self.state.load(Ordering::Acquire) {
            1 => FrontendState::Paused,
            2 => FrontendState::Stopped,
            _ => FrontendState::Ready,
        }
    }

    /// Store `to`; the state it replaced.
    pub fn set_state(&self, to: FrontendState) -> FrontendState {
        match self.state.swap(to as u8, Ordering::AcqRel) {
            1 => FrontendState::Paused,
            2 => FrontendState::Stopped,
            _ => FrontendState::Ready,
        }
    }
}

/// See the module.
#[derive(Debug)]
pub struct Limits {
    maxconn: AtomicU32,
    /// What the process was sized for (`Hard_maxconn`): `set maxconn
    /// global` cannot go above it.
    pub hard_maxconn: u32,
    conn_rate_limit: AtomicU32,
    sess_rate_limit: AtomicU32,
    /// Process-wide rates, counted only while a limit is set (an atomic
    /// every core writes would otherwise cost every accept a shared cache
    /// line for nothing).
    pub conn_rate: FreqCtr,
    pub sess_rate: FreqCtr,
    pub frontends: Vec<FrontendLimits>,
}

impl Limits {
    pub fn new(plan: &Plan) -> Limits {
        Limits {
            maxconn: AtomicU32::new(plan.maxconn),
            hard_maxconn: plan.maxconn,
            conn_rate_limit: AtomicU32::new(0),
            sess_rate_limit: AtomicU32::new(0),
            conn_rate: FreqCtr::default(),
            sess_rate: FreqCtr::default(),
            frontends: plan
                .frontends
                .iter()
                .map(|f| FrontendLimits {
                    maxconn: AtomicU32::new(f.maxconn),
                    state: AtomicU8::new(FrontendState::Ready as u8),
                })
                .collect(),
        }
    }

    /// The global `maxconn` now (0: none).
    pub fn maxconn(&self) -> u32 {
        self.maxconn.load(Ordering::Relaxed)
    }

    pub fn set_maxconn(&self, n: u32) {
        self.maxconn.store(n, Ordering::Relaxed);
    }

    /// Frontend `fe`'s `maxconn` now (0: none).
    pub fn fe_maxconn(&self, fe: usize) -> u32 {
        self.frontends.get(fe).map_or(0, FrontendLimits::maxconn)
    }

    pub fn fe_state(&self, fe: usize) -> FrontendState {
        self.frontends
            .get(fe)
            .map_or(FrontendState::Ready, FrontendLimits::state)
    }

    pub fn conn_rate_limit(&self) -> u32 {
        self.conn_rate_limit.load(Ordering::Relaxed)
    }

    pub fn sess_rate_limit(&self) -> u32 {
        self.sess_rate_limit.load(Ordering::Relaxed)
    }

    pub fn set_conn_rate_limit(&self, n: u32) {
        self.conn_rate_limit.store(n, Ordering::Relaxed);
    }

    pub fn set_sess_rate_limit(&self, n: u32) {
        self.sess_rate_limit.store(n, Ordering::Relaxed);
    }

    /// The process-wide rate limits allow one more client at `now_ms`.
    pub fn rate_allows(&self, now_ms: u64) -> bool {
        let below = |limit: u32, ctr: &FreqCtr| limit == 0 || ctr.rate(now_ms) < limit;
        below(self.conn_rate_limit(), &self.conn_rate)
            && below(self.sess_rate_limit(), &self.sess_rate)
    }

    /// The smallest process-wide limit set (0: none), for the wait
    /// between two clients.
    pub fn min_rate_limit(&self) -> u32 {
        match (self.conn_rate_limit(), self.sess_rate_limit()) {
            (0, b) => b,
            (a, 0) => a,
            (a, b) => a.min(b),
        }
    }

    /// A client was admitted at `now_ms`.
    pub fn count(&self, now_ms: u64) {
        if self.conn_rate_limit() > 0 {
            self.conn_rate.add(now_ms);
        }
        if self.sess_rate_limit() > 0 {
            self.sess_rate.add(now_ms);
        }
    }
}
