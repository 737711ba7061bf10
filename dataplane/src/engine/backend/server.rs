//! A server's state and its one owner.
//!
//! HAProxy keeps, per server, an administrative state (`cur_admin`: the
//! maintenance and drain flags, set by the configuration, the runtime API
//! or a tracked server), an operational state (`cur_state`: stopped,
//! starting, running, stopping, set by health checks), an effective weight
//! and a connection limit. Here they live in one [`State`] per server, in
//! the process-wide plan, packed into one atomic word so a reader never
//! sees half a change. Every writer (the health checks and the runtime API
//! next) goes through [`Process::set_server`](crate::engine::Process::set_server),
//! which stores the new word, bumps the backend's generation and tells every
//! core with a coalesced message that cannot be lost (see
//! `Mesh::servers_changed`). Each core then brings its balancer up to date;
//! the queues read the state directly.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Instant;

use crate::engine::plan::{BackendPlan, ServerPlan};
use crate::engine::runtime::Core;

/// `SRV_ADMF_*`: why a server is in maintenance or draining. Several may
/// hold at once; the server leaves maintenance when none is left.
pub mod admin {
    /// Forced by the runtime API (`set server ... state maint`).
    pub const FMAINT: u8 = 0x01;
    /// Inherited from a tracked server.
    pub const IMAINT: u8 = 0x02;
    /// From the configuration (`disabled`): a marker that goes with
    /// FMAINT and stays when `enable server` clears it, as HAProxy's; it
    /// is not a maintenance reason itself (not in [`MAINT`]).
    pub const CMAINT: u8 = 0x04;
    /// Forced drain (runtime API, agent).
    pub const FDRAIN: u8 = 0x08;
    /// Inherited drain.
    pub const IDRAIN: u8 = 0x10;
    /// Resolution failed.
    pub const RMAINT: u8 = 0x20;
    /// Host name resolution pending.
    pub const HMAINT: u8 = 0x40;
    /// ringlb's own: the slot holds no server (one `add server` grew and
    /// has not filled yet, or one `del server` emptied). It counts as
    /// maintenance, so nothing picks it; nothing shows it.
    pub const VACANT: u8 = 0x80;
    /// Any maintenance reason (HAProxy's SRV_ADMF_MAINT and ringlb's
    /// VACANT).
    pub const MAINT: u8 = FMAINT | IMAINT | RMAINT | HMAINT | VACANT;
    /// Any drain reason.
    pub const DRAIN: u8 = FDRAIN | IDRAIN;
}

/// `SRV_ST_*`: what the checks say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Oper {
    /// Down.
    Stopped = 0,
    /// Up, its weight ramping (`slowstart`).
    Starting = 1,
    Running = 2,
    /// Up but taking no new traffic (NOLB: a check said 404 under
    /// `http-check disable-on-404`).
    Stopping = 3,
}

impl Oper {
    fn from_bits(b: u8) -> Oper {
        match b {
            0 => Oper::Stopped,
            1 => Oper::Starting,
            3 => Oper::Stopping,
            _ => Oper::Running,
        }
    }
}

/// One reading of a server's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// `admin::*` flags.
    pub admin: u8,
    pub oper: Oper,
    /// Effective weight in HAProxy's eweight units, 16 per unit of weight
    /// (BE_WEIGHT_SCALE), 0..=4096: the user weight (configured, agent,
    /// `set weight`) times the slow start ramp. See [`Snapshot::weight`].
    pub eweight: u16,
    /// Connection limit (0: none). With `minconn`, the upper bound of the
    /// dynamic limit.
    pub maxconn: u32,
}

impl Snapshot {
    /// Whether the load balancing may choose it (HAProxy's
    /// srv_currently_usable): not in maintenance nor draining, up, with a
    /// weight.
    pub fn usable(&self) -> bool {
        self.admin & (admin::MAINT | admin::DRAIN) == 0
            && matches!(self.oper, Oper::Running | Oper::Starting)
            && self.eweight > 0
    }

    /// The effective weight in weight units, rounded up, as HAProxy shows
    /// it (the stats' `weight`, `srv_weight`).
    pub fn weight(&self) -> u32 {
        u32::from(self.eweight).div_ceil(WEIGHT_SCALE)
    }

    fn pack(&self) -> u64 {
        u64::from(self.maxconn)
            | u64::from(self.eweight) << 32
            | (self.oper as u64) << 48
            | u64::from(self.admin) << 56
    }

    fn unpack(w: u64) -> Snapshot {
        let byte = |shift: u32| u8::try_from((w >> shift) & 0xff).unwrap_or(0);
        Snapshot {
            maxconn: u32::try_from(w & 0xffff_ffff).unwrap_or(0),
            eweight: u16::try_from((w >> 32) & 0xffff).unwrap_or(0),
            oper: Oper::from_bits(byte(48)),
            admin: byte(56),
        }
    }
}

/// A change to a server's state, as the checks and the runtime API will
/// ask for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Set these admin flags (`set server ... state maint|drain`).
    AdminSet(u8),
    /// Clear these admin flags (`state ready`).
    AdminClear(u8),
    Oper(Oper),
    /// The effective weight, in eweight units (see [`Snapshot::eweight`]);
    /// the runtime API changes the user weight instead, through
    /// [`Process::set_user_weight`], which recomputes this one.
    EWeight(u16),
    /// The effective weight and the operational state at once (a server
    /// coming up with a slow start).
    OperEWeight(Oper, u16),
    Maxconn(u32),
}

/// A server's state (see the module): one atomic word, written only
/// through [`State::apply`] by its owner.
#[derive(Debug)]
pub struct State(AtomicU64);

impl State {
    pub fn new(initial: Snapshot) -> State {
        State(AtomicU64::new(initial.pack()))
    }

    pub fn get(&self) -> Snapshot {
        Snapshot::unpack(self.0.load(Ordering::Acquire))
    }

    /// Apply `change`; whether the state changed.
    pub(crate) fn apply(&self, change: Change) -> bool {
        let step = |w: u64| {
            let mut s = Snapshot::unpack(w);
            match change {
                Change::AdminSet(f) => s.admin |= f,
                Change::AdminClear(f) => s.admin &= !f,
                Change::Oper(o) => s.oper = o,
                Change::EWeight(x) => s.eweight = x.min(EWEIGHT_MAX),
                Change::OperEWeight(o, x) => {
                    s.oper = o;
                    s.eweight = x.min(EWEIGHT_MAX);
                }
                Change::Maxconn(m) => s.maxconn = m,
            }
            let n = s.pack();
            (n != w).then_some(n)
        };
        self.0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, step)
            .is_ok()
    }
}

/// HAProxy's BE_WEIGHT_SCALE: eweight units per unit of weight.
pub const WEIGHT_SCALE: u32 = 16;
/// HAProxy's SRV_EWGHT_MAX.
pub const EWEIGHT_MAX: u16 = 256 * 16;

/// A server's user weight and slow start (HAProxy's `uweight`,
/// `slowstart` and the `last_change` the ramp counts from). The effective
/// weight in [`State`] is derived from these by [`Weights::eweight`];
/// only the owner ([`Process::set_user_weight`], the checks and the
/// warm-up task) writes them.
#[derive(Debug)]
pub struct Weights {
    /// HAProxy's uweight: the configured weight, as the agent and `set
    /// weight` changed it (0..=256).
    user: AtomicU32,
    /// `slowstart`, in whole seconds (HAProxy rounds it up); 0: none. A
    /// lone atomic, as `add server` sets an added slot's.
    slowstart: AtomicU32,
    /// Wakes an added slot's warm-up task (which waits without a timer)
    /// when `add server` gives the slot a slow start.
    slowstart_waker: futures_util::task::AtomicWaker,
    /// Whether the backend's algorithm takes dynamic weights
    /// (BE_LB_PROP_DYN): the slow start ramps the weight only then (the
    /// connection limit ramps either way).
    pub dynamic: bool,
    /// When the server last came up, in ms since `base`.
    since_ms: AtomicU64,
    base: Instant,
}

impl Weights {
    pub fn new(weight: u32, slowstart: u32, dynamic: bool) -> Weights {
        Weights {
            user: AtomicU32::new(weight.min(crate::balance::MAX_WEIGHT)),
            slowstart: AtomicU32::new(slowstart),
            slowstart_waker: futures_util::task::AtomicWaker::new(),
            dynamic,
            since_ms: AtomicU64::new(0),
            base: Instant::now(),
        }
    }

    /// `slowstart` in seconds (0: none).
    pub fn slowstart(&self) -> u32 {
        self.slowstart.load(Ordering::Relaxed)
    }

    /// `add server ... slowstart` (0: none, `del server`).
    pub fn set_slowstart(&self, secs: u32) {
        self.slowstart.store(secs, Ordering::Relaxed);
        if secs > 0 {
            self.slowstart_waker.wake();
        }
    }

    /// Ready once the server has a slow start.
    pub fn poll_slowstart(&self, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        if self.slowstart() > 0 {
            return std::task::Poll::Ready(());
        }
        self.slowstart_waker.register(cx.waker());
        if self.slowstart() > 0 {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    }

    pub fn user(&self) -> u32 {
        self.user.load(Ordering::Relaxed)
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whole seconds since the server came up (HAProxy's now.tv_sec -
    /// last_change, as its warm-up task sees it every second after).
    fn elapsed_s(&self) -> u64 {
        self.now_ms()
            .saturating_sub(self.since_ms.load(Ordering::Relaxed))
            / 1000
    }

    /// How long since the server last came up.
    pub fn since_up(&self) -> std::time::Duration {
        std::time::Duration::from_millis(
            self.now_ms()
                .saturating_sub(self.since_ms.load(Ordering::Relaxed)),
        )
    }

    /// The server comes up now: the ramp starts.
    fn mark_up(&self) {
        self.since_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    /// Whether a server in `oper` is still warming up.
    pub fn warming(&self, oper: Oper) -> bool {
        let ss = self.slowstart();
        oper == Oper::Starting && ss > 0 && self.elapsed_s() < u64::from(ss)
    }

    /// server_recalc_eweight: the user weight times the ramp
    /// `(16 × elapsed + slowstart) / slowstart` while warming up under a
    /// dynamic algorithm, times 16 otherwise.
    pub fn eweight(&self, oper: Oper) -> u16 {
        let w = if self.dynamic && self.warming(oper) {
            let ss = u64::from(self.slowstart()).max(1);
            (u64::from(WEIGHT_SCALE) * self.elapsed_s() + ss) / ss
        } else {
            u64::from(WEIGHT_SCALE)
        };
        let e = u64::from(self.user()) * w;
        u16::try_from(e.min(u64::from(EWEIGHT_MAX))).unwrap_or(EWEIGHT_MAX)
    }

    /// srv_dynamic_maxconn's slow start part: a limit `max` (not 0) is
    /// scaled by the part of the slow start elapsed, at least 1.
    pub fn ramp_maxconn(&self, oper: Oper, max: u32) -> u32 {
        if max == 0 || !self.warming(oper) {
            return max;
        }
        let ratio = 100 * self.elapsed_s() / u64::from(self.slowstart()).max(1);
        let m = u64::from(max) * ratio / 100;
        u32::try_from(m).unwrap_or(u32::MAX).max(1)
    }
}

impl crate::engine::Process {
    /// Set server (b, s)'s user weight (HAProxy's uweight: `set weight`,
    /// an agent's percentage), capped at 256; the effective weight follows
    /// (with the slow start ramp if it is warming up). Whether the
    /// effective weight changed (false for an unknown server).
    pub fn set_user_weight(&self, backend: usize, server: usize, weight: u32) -> bool {
        let Some(s) = self
            .plan
            .backends
            .get(backend)
            .and_then(|b| b.servers.get(server))
        else {
            return false;
        };
        s.weights
            .user
            .store(weight.min(crate::balance::MAX_WEIGHT), Ordering::Relaxed);
        self.recalc_eweight(backend, server)
    }

    /// Server (b, s)'s user weight (None for an unknown server).
    pub fn user_weight(&self, backend: usize, server: usize) -> Option<u32> {
        let s = self.plan.backends.get(backend)?.servers.get(server)?;
        Some(s.weights.user())
    }

    /// server_recalc_eweight: the effective weight again from the user
    /// weight and the ramp; a server whose slow start is over becomes
    /// Running. Whether the state changed.
    pub fn recalc_eweight(&self, backend: usize, server: usize) -> bool {
        let Some(s) = self
            .plan
            .backends
            .get(backend)
            .and_then(|b| b.servers.get(server))
        else {
            return false;
        };
        let now = s.state.get();
        let oper = if now.oper == Oper::Starting && !s.weights.warming(now.oper) {
            Oper::Running
        } else {
            now.oper
        };
        self.set_server(
            backend,
            server,
            Change::OperEWeight(oper, s.weights.eweight(oper)),
        )
    }

    /// Tell every core that backend `b`'s servers changed without a new
    /// state word: a slow start step grew a connection limit
    /// (srv_dynamic_maxconn reads the clock), so the balancers take the new
    /// limit and the queues are offered the room (pendconn_grab_from_px).
    pub fn touch_backend(&self, backend: usize) {
        if let Some(be) = self.plan.backends.get(backend) {
            be.generation.fetch_add(1, Ordering::AcqRel);
            self.mesh.servers_changed();
        }
    }

    /// Server (b, s) comes up (a check, leaving maintenance): Starting
    /// with its weight at the bottom of the ramp when it has a slow start,
    /// else Running. Whether the state changed.
    pub fn bring_up(&self, backend: usize, server: usize) -> bool {
        let Some(s) = self
            .plan
            .backends
            .get(backend)
            .and_then(|b| b.servers.get(server))
        else {
            return false;
        };
        s.weights.mark_up();
        let oper = if s.weights.slowstart() > 0 {
            Oper::Starting
        } else {
            Oper::Running
        };
        self.set_server(
            backend,
            server,
            Change::OperEWeight(oper, s.weights.eweight(oper)),
        )
    }
}

/// What the balancer knows of `s`: usable or not, its effective weight,
/// its connection limit now.
pub fn balancer_view(s: &ServerPlan, be: &BackendPlan) -> crate::balance::ServerState {
    let now = s.state.get();
    crate::balance::ServerState {
        weight: now.weight(),
        backup: s.is_backup(),
        up: now.usable(),
        maxconn: Some(s.max_now(be)).filter(|m| *m > 0),
    }
}

/// A `Servers` message reached `core`: each backend whose generation moved
/// since its balancer last followed gets its servers' states again, and
/// every server of it offers its free slots to the queued streams (a
/// server that came back, or whose limit grew, serves the waiters; each
/// core offers, and the slot counts keep the limits).
pub fn follow(core: &Core) {
    let plan = &core.shared.plan;
    for (b, be) in plan.backends.iter().enumerate() {
        let (Some(seen), Some(balancer)) = (core.generations.get(b), core.balancers.get(b)) else {
            continue;
        };
        let now = be.generation.load(Ordering::Acquire);
        if seen.get() == now {
            continue;
        }
        seen.set(now);
        {
            let mut balancer = balancer.borrow_mut();
            // Ids follow the slots `add server` filled (consistent hashing
            // places a server's points from its id, `first` orders by it).
            if be.dynamic {
                let ids: Vec<u32> = be.servers.iter().map(|s| s.conf().id).collect();
                balancer.set_ids(&ids);
            }
            for (i, s) in be.live_servers().enumerate() {
                let view = balancer_view(s, be);
                let backup = be.dynamic.then_some(view.backup);
                balancer.follow(i, backup, view.up, u32::from(s.state.get().eweight));
                balancer.set_maxconn(i, view.maxconn);
            }
        }
        // A server no longer usable hands its queue back to the dispatcher
        // (pendconn_redistribute); then every server offers its free slots
        // (pendconn_grab_from_px).
        if super::queue::redistributes(be) {
            for (i, s) in be.live_servers().enumerate() {
                if !s.state.get().usable() && s.queued.get() > 0 {
                    super::queue::redistribute_local(core, b, i);
                }
            }
        }
        for i in 0..be.live_len() {
            super::queue::offer(core, b, i, false);
        }
    }
}

/// One core's streams on one server, killed together: each waits on
/// `event` for as long as it uses the server; `notify` ends the waits of
/// those there now (a stream that comes later waits anew), and `why` says
/// what their log says.
#[derive(Debug, Default)]
pub struct Shutdown {
    pub event: crate::engine::runtime::LocalEvent,
    pub why: std::cell::Cell<crate::log::termination::Cause>,
}

impl Shutdown {
    /// Resolves with the cause when this core's streams on the server are
    /// killed.
    pub async fn wait(&self) -> crate::log::termination::Cause {
        self.event.wait().await;
        self.why.get()
    }
}

/// This core's [`Shutdown`] of server `s` of backend `b`: what a stream
/// on that server waits on.
pub fn shutdown_of(core: &Core, b: usize, s: usize) -> Option<&Shutdown> {
    core.shutdowns.get(b).and_then(|v| v.get(s))
}

/// A `ShutdownStreams` message: this core's streams on (b, s) end now.
pub fn shutdown_here(core: &Core, b: usize, s: usize, why: crate::log::termination::Cause) {
    if let Some(sh) = shutdown_of(core, b, s) {
        sh.why.set(why);
        sh.event.notify();
    }
}

#[cfg(test)]
mod tests {
    use super::{admin, Change, Oper, Snapshot, State};

    fn running(weight: u16) -> Snapshot {
        Snapshot {
            admin: 0,
            oper: Oper::Running,
            eweight: weight * 16,
            maxconn: 0,
        }
    }

    #[test]
    fn a_word_keeps_every_field() {
        let s = Snapshot {
            admin: admin::CMAINT | admin::FDRAIN,
            oper: Oper::Stopping,
            eweight: 4096,
            maxconn: u32::MAX,
        };
        assert_eq!(Snapshot::unpack(s.pack()), s);
    }

    #[test]
    fn usable_as_haproxy_says() {
        assert!(running(1).usable());
        assert!(!running(0).usable(), "no weight");
        let mut s = running(1);
        s.oper = Oper::Starting;
        assert!(s.usable(), "slow start still takes traffic");
        s.oper = Oper::Stopping;
        assert!(!s.usable(), "NOLB");
        s.oper = Oper::Stopped;
        assert!(!s.usable());
        let mut s = running(1);
        s.admin = admin::FDRAIN;
        assert!(!s.usable(), "drain");
        s.admin = admin::CMAINT | admin::FMAINT;
        assert!(!s.usable(), "maintenance");
        s.admin = admin::CMAINT;
        assert!(
            s.usable(),
            "CMAINT alone is a marker (`disabled`, then enabled)"
        );
    }

    #[test]
    fn maintenance_ends_when_every_reason_is_gone() {
        let st = State::new(running(1));
        assert!(st.apply(Change::AdminSet(admin::IMAINT)));
        assert!(st.apply(Change::AdminSet(admin::FMAINT)));
        assert!(st.apply(Change::AdminClear(admin::FMAINT)));
        assert!(!st.get().usable(), "still IMAINT");
        assert!(st.apply(Change::AdminClear(admin::IMAINT)));
        assert!(st.get().usable());
        assert!(!st.apply(Change::AdminClear(admin::IMAINT)), "no change");
    }

    #[test]
    fn a_slow_start_begins_at_a_sixteenth() {
        use super::Weights;
        let w = Weights::new(10, 4, true);
        w.mark_up();
        assert!(w.warming(Oper::Starting));
        assert!(!w.warming(Oper::Running));
        // (16 x 0 + 4) / 4 = 1 sixteenth of the user weight.
        assert_eq!(w.eweight(Oper::Starting), 10);
        assert_eq!(w.eweight(Oper::Running), 160);
        // The limit starts at 1; no limit stays none.
        assert_eq!(w.ramp_maxconn(Oper::Starting, 50), 1);
        assert_eq!(w.ramp_maxconn(Oper::Starting, 0), 0);
        assert_eq!(w.ramp_maxconn(Oper::Running, 50), 50);
        // Static algorithms take the full weight at once.
        let st = Weights::new(10, 4, false);
        st.mark_up();
        assert_eq!(st.eweight(Oper::Starting), 160);
        assert_eq!(st.ramp_maxconn(Oper::Starting, 50), 1);
        // No slow start: never warming.
        let none = Weights::new(10, 0, true);
        none.mark_up();
        assert!(!none.warming(Oper::Starting));
        assert_eq!(none.eweight(Oper::Starting), 160);
    }

    #[test]
    fn weight_is_capped_at_haproxys_maximum() {
        let st = State::new(running(1));
        assert!(st.apply(Change::EWeight(10000)));
        assert_eq!(st.get().eweight, 4096);
        assert_eq!(st.get().weight(), 256);
        assert!(st.apply(Change::EWeight(17)));
        assert_eq!(st.get().weight(), 2, "rounded up");
        assert!(st.apply(Change::Maxconn(7)));
        assert_eq!(st.get().maxconn, 7);
    }
}
