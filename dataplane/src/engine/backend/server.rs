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

use std::sync::atomic::{AtomicU64, Ordering};

use crate::engine::plan::{BackendPlan, ServerPlan};
use crate::engine::runtime::Core;

/// `SRV_ADMF_*`: why a server is in maintenance or draining. Several may
/// hold at once; the server leaves maintenance when none is left.
pub mod admin {
    /// Forced by the runtime API (`set server ... state maint`).
    pub const FMAINT: u8 = 0x01;
    /// Inherited from a tracked server.
    pub const IMAINT: u8 = 0x02;
    /// From the configuration (`disabled`).
    pub const CMAINT: u8 = 0x04;
    /// Forced drain (runtime API, agent).
    pub const FDRAIN: u8 = 0x08;
    /// Inherited drain.
    pub const IDRAIN: u8 = 0x10;
    /// Resolution failed.
    pub const RMAINT: u8 = 0x20;
    /// Host name resolution pending.
    pub const HMAINT: u8 = 0x40;
    /// Any maintenance reason.
    pub const MAINT: u8 = FMAINT | IMAINT | CMAINT | RMAINT | HMAINT;
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
    /// Effective weight, 0..=256 (after slow start, agent, `set weight`).
    pub weight: u16,
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
            && self.weight > 0
    }

    fn pack(&self) -> u64 {
        u64::from(self.maxconn)
            | u64::from(self.weight) << 32
            | (self.oper as u64) << 48
            | u64::from(self.admin) << 56
    }

    fn unpack(w: u64) -> Snapshot {
        let byte = |shift: u32| u8::try_from((w >> shift) & 0xff).unwrap_or(0);
        Snapshot {
            maxconn: u32::try_from(w & 0xffff_ffff).unwrap_or(0),
            weight: u16::try_from((w >> 32) & 0xffff).unwrap_or(0),
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
    Weight(u16),
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
                Change::Weight(x) => s.weight = x.min(crate::balance::MAX_WEIGHT as u16),
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

/// What the balancer knows of `s`: usable or not, its effective weight,
/// its connection limit now.
pub fn balancer_view(s: &ServerPlan, be: &BackendPlan) -> crate::balance::ServerState {
    let now = s.state.get();
    crate::balance::ServerState {
        weight: u32::from(now.weight),
        backup: s.backup,
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
            for (i, s) in be.servers.iter().enumerate() {
                let view = balancer_view(s, be);
                balancer.set_up(i, view.up);
                balancer.set_weight(i, view.weight);
                balancer.set_maxconn(i, view.maxconn);
            }
        }
        // A server no longer usable hands its queue back to the dispatcher
        // (pendconn_redistribute); then every server offers its free slots
        // (pendconn_grab_from_px).
        if super::queue::redistributes(be) {
            for (i, s) in be.servers.iter().enumerate() {
                if !s.state.get().usable() && s.queued.get() > 0 {
                    super::queue::redistribute_local(core, b, i);
                }
            }
        }
        for i in 0..be.servers.len() {
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
            weight,
            maxconn: 0,
        }
    }

    #[test]
    fn a_word_keeps_every_field() {
        let s = Snapshot {
            admin: admin::CMAINT | admin::FDRAIN,
            oper: Oper::Stopping,
            weight: 256,
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
        s.admin = admin::CMAINT;
        assert!(!s.usable(), "maintenance");
    }

    #[test]
    fn maintenance_ends_when_every_reason_is_gone() {
        let st = State::new(running(1));
        assert!(st.apply(Change::AdminSet(admin::CMAINT)));
        assert!(st.apply(Change::AdminSet(admin::FMAINT)));
        assert!(st.apply(Change::AdminClear(admin::FMAINT)));
        assert!(!st.get().usable(), "still CMAINT");
        assert!(st.apply(Change::AdminClear(admin::CMAINT)));
        assert!(st.get().usable());
        assert!(!st.apply(Change::AdminClear(admin::CMAINT)), "no change");
    }

    #[test]
    fn weight_is_capped_at_haproxys_maximum() {
        let st = State::new(running(1));
        assert!(st.apply(Change::Weight(1000)));
        assert_eq!(st.get().weight, 256);
        assert!(st.apply(Change::Maxconn(7)));
        assert_eq!(st.get().maxconn, 7);
    }
}
