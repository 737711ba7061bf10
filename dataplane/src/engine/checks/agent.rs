//! Agent checks (`agent-check`, HAProxy's check.c agent parts and
//! tcpcheck.c `tcpcheck_agent_expect_reply`): a second check per server
//! that connects to `agent-addr`:`agent-port`, sends `agent-send`, and
//! reads one line of words from the agent:
//!
//! - a health word: `up`, or `down`, `stopped`, `fail` (the server goes
//!   down: the only way an agent marks a server down; an agent that cannot
//!   be reached or answers nothing leaves the server as it is);
//! - an admin word: `ready`, `drain` (FDRAIN), `maint` (FMAINT);
//! - a weight `N%` of the configured weight (the user weight);
//! - `maxconn:N`;
//! - `# text` after the words, which the health word's report carries.
//!
//! Words are separated by spaces, tabs or commas, in any order, the last of
//! each kind winning. The admin word applies first, then the weight and the
//! maxconn, then the health word. Agents run on the cores like the health
//! checks, with `agent-inter` (or the server's `inter`), rise and fall 1.

use std::rc::Rc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::future::{select, Either};
use ringlb_config::model::Level;

use super::health::{self, Health, Outcome, Status, Transition};
use super::run::{self, Deadlines, Why};
use super::{Target, Tracker};
use crate::engine::backend::server::{admin, Change, Oper};
use crate::engine::plan::ServerPlan;
use crate::engine::runtime::buffer::Buffer;
use crate::engine::runtime::{timer, Core};

/// HAProxy's DEF_AGENT_RISETIME / DEF_AGENT_FALLTIME.
pub const AGENT_RISE: u32 = 1;
pub const AGENT_FALL: u32 = 1;

/// One server's agent check, as its owner core runs it.
#[derive(Debug)]
pub struct AgentPlan {
    pub backend: usize,
    pub server: usize,
    /// Enabled or not, and where it connects (the runtime API changes
    /// both).
    pub ctl: super::control::Control,
    /// `agent-inter`, else the server's `inter`, in milliseconds (`add
    /// server` sets an added slot's).
    pub inter_ms: AtomicU64,
    /// `agent-send` (nothing when absent), as configured.
    pub send: Vec<u8>,
    /// A new `agent-send` from the runtime API, until the task takes it.
    pub new_send: super::control::SendSlot,
    pub timeout_check: Option<Duration>,
    pub timeout_connect: Option<Duration>,
    /// When the first agent check starts, after start-up.
    pub first: Duration,
    /// `option log-health-checks`.
    pub log_health: bool,
    /// `spread-checks` (percent).
    pub spread: u32,
    /// The servers that `track` this one.
    pub trackers: Vec<Tracker>,
    /// The agent's health counter (0 or 1), which the health check reads
    /// before it brings the server up.
    pub health: AtomicU32,
    /// The last result (agent_status, agent_code, agent_duration,
    /// last_agt of the stats).
    pub last: health::Last,
}

impl AgentPlan {
    /// `agent-inter`, else the server's `inter`.
    pub fn inter(&self) -> Duration {
        Duration::from_millis(self.inter_ms.load(Ordering::Relaxed))
    }

    pub fn set_inter(&self, d: Duration) {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1);
        self.inter_ms.store(ms, Ordering::Relaxed);
    }

    /// Whether the agent lets the server be up: disabled, or
    /// agent.health >= rise.
    pub fn allows_up(&self) -> bool {
        !self.ctl.enabled() || self.health.load(Ordering::Relaxed) >= AGENT_RISE
    }

    /// Where the next run connects.
    pub fn target(&self) -> Target {
        self.ctl.target()
    }
}

pub use ringlb_proto::agent::{line, maxconn_change, parse, weight_change, AdminWord, Reply};

/// What the health word (or its absence) reports: the status and the
/// check's description.
pub fn report(r: &Reply<'_>, warning: Option<&str>) -> (Status, String) {
    if let Some((word, up)) = r.health {
        let mut msg = r.desc;
        if msg.is_empty() || up {
            if let Some(e) = r.error {
                msg = e;
            } else if let Some(w) = warning {
                msg = w;
            }
        }
        let info = if msg.is_empty() {
            format!("via agent : {word}")
        } else {
            format!("via agent : {word} ({msg})")
        };
        (if up { Status::L7Ok } else { Status::L7Sts }, info)
    } else if let Some(e) = r.error {
        (Status::Checked, format!("agent reports an error : {e}"))
    } else if let Some(w) = warning {
        (Status::Checked, format!("agent warns : {w}"))
    } else {
        (Status::Checked, String::new())
    }
}

/// What one agent check ended with.
enum Ending {
    /// A line (owned: the buffer goes away).
    Line(String),
    /// EOF before a line end: "Ignoring incomplete line from agent".
    Incomplete,
    /// A failure to reach the agent or to read it.
    Failed(Status, String),
}

pub async fn agent_loop(core: &Rc<Core>, idx: usize) {
    let Some(plan) = core.shared.plan.checks.agents.get(idx) else {
        return;
    };
    run_agent(core, idx, plan).await;
}

pub async fn run_agent(core: &Rc<Core>, idx: usize, plan: &AgentPlan) {
    let shared = &core.shared;
    let Some(srv) = shared
        .plan
        .backends
        .get(plan.backend)
        .and_then(|be| be.servers.get(plan.server))
    else {
        return;
    };
    // An added slot's agent runs while a server has the slot.
    while run::configured(core, &plan.ctl).await {
        if !asking(core, idx, plan, srv).await {
            return;
        }
    }
}

/// Run the agent until the stop (false) or until `del server` takes its
/// server (true).
async fn asking(core: &Core, idx: usize, plan: &AgentPlan, srv: &ServerPlan) -> bool {
    let mut prev = Status::Ini;
    let mut send = plan.send.clone();
    let mut seed = 0x2545_f491u32 ^ u32::try_from(idx).unwrap_or(0).wrapping_mul(0x9e37_79b9) | 1;
    let entry = core.timers.register();
    let mut next = Instant::now() + plan.first;
    // An added slot's agent (given a server once at least) starts afresh.
    let mut epoch = if plan.ctl.epoch() == 0 {
        0
    } else {
        plan.ctl.epoch().wrapping_sub(1)
    };
    loop {
        if !plan.ctl.configured() {
            return true;
        }
        entry.set(Some(next));
        {
            let wait = std::pin::pin!(entry.wait());
            let stop = std::pin::pin!(core.stop_accepting.wait());
            if let Either::Right(_) = select(wait, stop).await {
                return false;
            }
        }
        // An added slot's agent given to a new server starts afresh (its
        // `agent-send` comes through `new_send`).
        let e = plan.ctl.epoch();
        if e != epoch {
            epoch = e;
            prev = Status::Ini;
            send = plan.send.clone();
            plan.last.reset();
        }
        // A disabled agent (`disable agent`) does not run; it looks again
        // every `agent-inter`.
        if !plan.ctl.enabled() {
            next = Instant::now() + plan.inter();
            continue;
        }
        if let Some(s) = plan.new_send.take() {
            send = s;
        }
        let start = Instant::now();
        let ending = {
            let check = std::pin::pin!(agent_once(core, plan, srv, &send));
            let stop = std::pin::pin!(core.stop_accepting.wait());
            match select(check, stop).await {
                Either::Left((e, _)) => e,
                Either::Right(_) => return false,
            }
        };
        apply(core, plan, srv, &mut prev, ending, start.elapsed());
        // srv_getinter with rise = fall = 1: always `inter`.
        next = Instant::now() + run::jitter(&mut seed, plan.inter(), plan.spread);
    }
}

async fn agent_once(core: &Core, plan: &AgentPlan, srv: &ServerPlan, send: &[u8]) -> Ending {
    let d = Deadlines::with(plan.inter(), plan.timeout_check, plan.timeout_connect);
    let target = plan.target();
    let connecting = run::connect(&target, srv, false);
    let conn = match timer::timeout(&core.timers, run::left(d.connect), connecting).await {
        Err(()) => return Ending::Failed(Status::L4Tout, String::new()),
        Ok(Err(e)) => return Ending::Failed(Status::L4Con, run::strerror(&e)),
        Ok(Ok(c)) => c,
    };
    let until = d.connected();
    let bufsize = core.shared.plan.bufsize;
    let exchange = async {
        if !send.is_empty() {
            let (res, _) = conn.write_vec(send.to_vec()).await;
            if let Err(e) = res {
                return Ending::Failed(Status::SockErr, run::strerror(&e));
            }
        }
        let mut buf = Buffer::new(bufsize, 0);
        loop {
            let n = match conn.read(&mut buf).await {
                Ok(n) => n,
                // An error after data: the data decides.
                Err(e) if buf.is_empty() => {
                    return Ending::Failed(Status::SockErr, run::strerror(&e))
                }
                Err(_) => 0,
            };
            if let Some(l) = line(buf.data()) {
                return Ending::Line(String::from_utf8_lossy(l).into_owned());
            }
            if n == 0 && buf.is_empty() {
                // tcpcheck_eval_recv: the agent's expect rule is step 2
                // (after the implicit connect and the send).
                return Ending::Failed(
                    Status::L7Rsp,
                    "TCPCHK got an empty response at step 2".to_string(),
                );
            }
            if n == 0 || buf.room() == 0 {
                return Ending::Incomplete;
            }
        }
    };
    match timer::timeout(&core.timers, run::left(until), exchange).await {
        Ok(e) => e,
        Err(()) => Ending::Failed(Status::L7Tout, String::new()),
    }
}

/// A result (tcpcheck_agent_expect_reply, set_server_check_status,
/// check_notify_failure / check_notify_success for an agent).
fn apply(
    core: &Core,
    plan: &AgentPlan,
    srv: &ServerPlan,
    prev: &mut Status,
    ending: Ending,
    took: Duration,
) {
    let (b, s) = (plan.backend, plan.server);
    let shared = &core.shared;
    let mut health = Health {
        health: plan.health.load(Ordering::Relaxed),
        rise: AGENT_RISE,
        fall: AGENT_FALL,
    };
    let (status, info) = match ending {
        Ending::Failed(status, info) => (status, info),
        Ending::Incomplete => {
            // The status stays; only the description changes.
            let o = Outcome::new(*prev, 0, "Ignoring incomplete line from agent", took);
            plan.last.set(&o);
            return;
        }
        Ending::Line(text) => {
            let r = parse(&text);
            // The admin word first, then the weight and the limit.
            if let Some(a) = r.admin {
                super::admin::agent_admin(core, b, s, a);
            }
            let mut warning: Option<&str> = None;
            if let Some(w) = r.weight {
                match weight_change(w, srv.conf().weight, srv.weights.dynamic) {
                    Ok(w) => {
                        shared.set_user_weight(b, s, w);
                        super::admin::remains_draining(core, b, s);
                    }
                    Err(m) => warning = warning.or(Some(m)),
                }
            }
            if let Some(m) = r.maxconn {
                match maxconn_change(m) {
                    Ok(m) => {
                        shared.set_server(b, s, Change::Maxconn(m));
                    }
                    Err(m) => warning = warning.or(Some(m)),
                }
            }
            if let Some((_, up)) = r.health {
                health.health = if up { health.rise + health.fall - 1 } else { 0 };
            }
            report(&r, warning)
        }
    };
    let o = Outcome::new(status, 0, info, took);
    plan.last.set(&o);
    if status == Status::Checked {
        // CHK_RES_NEUTRAL: no count, no line, no change.
        *prev = status;
        return;
    }
    // Failures count only with agent data (status past L57DATA): an agent
    // that cannot be reached changes nothing.
    let passed = status.passed();
    let report = if passed || status == Status::L7Sts {
        health.count(passed)
    } else {
        false
    };
    plan.health.store(health.health, Ordering::Relaxed);
    let log_health = plan.log_health;
    if log_health && (status != *prev || report) {
        if let Some(be) = shared.plan.backends.get(b) {
            let line = health::check_line(
                "Agent",
                &be.name,
                &srv.conf().name,
                srv.is_backup(),
                &o,
                &health,
                srv.weights.user(),
            );
            run::warn(&line);
            run::send(core, b, Level::Notice, line);
        }
    }
    *prev = status;
    let why = if log_health {
        Why::Quiet
    } else {
        Why::Check(&o)
    };
    if !passed {
        // check_notify_failure: only an agent that said down/stopped/fail.
        if status == Status::L7Sts
            && health.health == 0
            && run::set_state(core, b, s, Transition::Down, why, 0)
        {
            run::follow_trackers(core, &plan.trackers, (b, s), Transition::Down);
        }
        return;
    }
    // check_notify_success: not in maintenance, the health check (if any)
    // up, and an agent does not take a server out of NOLB.
    let now = srv.state.get();
    if now.admin & admin::MAINT != 0 || now.oper == Oper::Stopping {
        return;
    }
    if let Some(c) = shared.plan.checks.check_of(b, s) {
        if c.ctl.enabled() && c.health_now.load(Ordering::Relaxed) < c.tune().rise {
            return;
        }
    }
    if run::set_state(core, b, s, Transition::Up, why, 0) {
        run::follow_trackers(core, &plan.trackers, (b, s), Transition::Up);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_say_what_haproxy_says() {
        let r = parse("down #bad disk");
        assert_eq!(
            report(&r, None),
            (Status::L7Sts, "via agent : down (bad disk)".to_string())
        );
        let r = parse("up bogus # fine");
        assert_eq!(
            report(&r, None),
            (Status::L7Ok, "via agent : up (bogus)".to_string()),
            "an error before the description for up"
        );
        assert_eq!(
            report(&parse("bogus"), None),
            (
                Status::Checked,
                "agent reports an error : bogus".to_string()
            )
        );
        assert_eq!(
            report(&parse("50%"), Some("w")),
            (Status::Checked, "agent warns : w".to_string())
        );
        assert_eq!(
            report(&parse("drain"), None),
            (Status::Checked, String::new())
        );
    }
}
