//! The check tasks: one per checked server, on its owner core.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_util::future::{select, Either};
use ringlb_config::model::{Level, OnError};

use super::health::{self, Counts, Farm, Health, Outcome, Status, Transition};
use super::http::{Reader, Verdict};
use super::observe::Event;
use super::tcpcheck::{self, Action, Connect, Cx, ExpectVerdict, ProxyHeader, TcpCheck, Who};
use super::{CheckPlan, Kind, Target};
use crate::engine::backend::server::{admin, Change, Oper};
use crate::engine::plan::{BackendPlan, ServerPlan};
use crate::engine::rules::env::Vars;
use crate::engine::runtime::buffer::Buffer;
use crate::engine::runtime::{spawn, timer, Core};
use crate::engine::session::transport::{Conn, Connecting};

/// Spawn the checks `core` owns: check i of the plan runs on core
/// i mod cores. A server's agent and its slow start run on the core of its
/// health check (else agent i on core i mod cores, and so on): the tasks
/// that read and write one server's state then never interleave between
/// a read and its write, as HAProxy's per-server lock ensures.
pub fn start(core: &Rc<Core>) {
    let cores = core.shared.mesh.cores().max(1);
    let checks = &core.shared.plan.checks;
    let owner = |b: usize, s: usize, fallback: usize| {
        checks
            .list
            .iter()
            .position(|c| c.backend == b && c.server == s)
            .unwrap_or(fallback)
            % cores
    };
    for i in (0..checks.list.len()).filter(|i| i % cores == core.id) {
        let core = Rc::clone(core);
        spawn(async move { check_loop(&core, i).await });
    }
    for (i, a) in checks.agents.iter().enumerate() {
        if owner(a.backend, a.server, i) == core.id {
            let core = Rc::clone(core);
            spawn(async move { super::agent::agent_loop(&core, i).await });
        }
    }
    let warming = core
        .shared
        .plan
        .backends
        .iter()
        .enumerate()
        .flat_map(|(b, be)| {
            be.servers
                .iter()
                .enumerate()
                // A dynamic backend's configured server (`del server`
                // may free its slot) has a task that waits, without a
                // timer, for `add server ... slowstart`; an added slot gets
                // its own when first filled (`spawn_added`).
                .filter(move |(_, s)| s.weights.slowstart() > 0 || be.dynamic)
                .map(move |(i, _)| (b, i))
        });
    for (n, (b, s)) in warming.enumerate() {
        if owner(b, s, n) == core.id {
            let core = Rc::clone(core);
            spawn(async move { warmup_loop(&core, b, s).await });
        }
    }
}

/// server_warmup: while server (b, s) is Starting, its effective weight
/// (and so its share and connection limit) follows the whole seconds
/// since it came up; the queues are offered the new room as each core
/// follows the change. HAProxy's task runs every second (or 1/20 of the
/// slow start if longer) from the moment the server came up; this one
/// looks four times a second and steps when HAProxy's would have run, so
/// each step lands within 250ms of HAProxy's. At the end the server is
/// Running, and HAProxy says it is UP again.
async fn warmup_loop(core: &Core, b: usize, s: usize) {
    let Some(be) = core.shared.plan.backends.get(b) else {
        return;
    };
    let Some(srv) = be.servers.get(s) else {
        return;
    };
    loop {
        // No slow start (an added slot's, until `add server` gives one):
        // wait without a timer.
        let has = std::pin::pin!(std::future::poll_fn(|cx| srv.weights.poll_slowstart(cx)));
        let stop = std::pin::pin!(core.stop_accepting.wait());
        if let Either::Right(_) = select(has, stop).await {
            return;
        }
        if !warming_up(core, be, b, s, srv).await {
            return;
        }
    }
}

/// [`warmup_loop`] while the server has a slow start: false at a stop,
/// true when `del server` took the slow start away.
async fn warming_up(core: &Core, be: &BackendPlan, b: usize, s: usize, srv: &ServerPlan) -> bool {
    let every = Duration::from_millis(250);
    let mut last_step = None;
    let entry = core.timers.register();
    let mut wake = Instant::now() + every;
    loop {
        entry.set(Some(wake));
        let wait = std::pin::pin!(entry.wait());
        let stop = std::pin::pin!(core.stop_accepting.wait());
        if let Either::Right(_) = select(wait, stop).await {
            return false;
        }
        let ss = srv.weights.slowstart();
        if ss == 0 {
            return true;
        }
        let period = Duration::from_millis(u64::from(ss) * 1000 / 20).max(Duration::from_secs(1));
        // Look again in 250ms, or at the next step if it comes sooner.
        let since = srv.weights.since_up();
        let to_step = period
            .saturating_mul(
                u32::try_from(since.as_millis() / period.as_millis().max(1)).unwrap_or(0) + 1,
            )
            .saturating_sub(since);
        wake = Instant::now() + every.min(to_step.max(Duration::from_millis(1)));
        let now = srv.state.get();
        if now.oper != Oper::Starting {
            last_step = None;
            continue;
        }
        let step = srv.weights.since_up().as_millis() / period.as_millis().max(1);
        // Step 0 is the coming up itself, which set the weight.
        if last_step == Some(step) || step == 0 {
            last_step = Some(step);
            continue;
        }
        last_step = Some(step);
        if now.admin & admin::MAINT != 0 {
            continue;
        }
        let changed = core.shared.recalc_eweight(b, s);
        if !changed && now.maxconn > 0 {
            core.shared.touch_backend(b);
        }
        if changed && srv.state.get().oper == Oper::Running {
            let farm = Farm {
                counts: counts(be),
                sessions: srv.conns.get(),
                requeued: 0,
                queued: srv.queued.get(),
            };
            let line = health::state_line(
                &be.name,
                &srv.conf().name,
                srv.is_backup(),
                Transition::Up,
                None,
                &farm,
            );
            warn(&line);
            send(core, b, Level::Notice, line);
        }
        super::admin::remains_draining(core, b, s);
    }
}

/// A small xorshift for `spread-checks` (HAProxy's ha_random32 use).
pub(super) fn jitter(seed: &mut u32, inter: Duration, percent: u32) -> Duration {
    if percent == 0 {
        return inter;
    }
    *seed ^= *seed << 13;
    *seed ^= *seed >> 17;
    *seed ^= *seed << 5;
    let ms = u64::try_from(inter.as_millis()).unwrap_or(u64::MAX);
    let rv = ms.saturating_mul(u64::from(percent)) / 100;
    // inter + rv - 2·rv·random, in [inter - rv, inter + rv].
    let r = u64::from(*seed) % (2 * rv + 1);
    Duration::from_millis(ms.saturating_add(rv).saturating_sub(r))
}

/// Wait until an added slot's check (or agent) is configured by `add
/// server`, holding no timer; false at a stop.
pub(super) async fn configured(core: &Core, ctl: &super::control::Control) -> bool {
    let conf = std::pin::pin!(std::future::poll_fn(|cx| ctl.poll_configured(cx)));
    let stop = std::pin::pin!(core.stop_accepting.wait());
    matches!(select(conf, stop).await, Either::Left(_))
}

/// Added slot (b, s) was filled (`add server`, on every core) by a
/// server that needs `tasks` (`TASK_*`): its owner core (`s % cores`)
/// spawns those the slot does not run yet. Each then runs while a server
/// has the slot and waits, without a timer, for the next one (as a
/// configured server's after a `del server`).
pub fn spawn_added(core: &Rc<Core>, b: usize, s: usize, tasks: u8) {
    let cores = core.shared.mesh.cores().max(1);
    if s % cores != core.id {
        return;
    }
    let tasks = core.shared.plan.checks.take_spawn(b, s, tasks);
    // A seed of its own for the spread of its runs.
    let seed = b.wrapping_mul(0x9e37).wrapping_add(s);
    if tasks & super::TASK_CHECK != 0 {
        let core = Rc::clone(core);
        spawn(async move {
            if let Some(plan) = core.shared.plan.checks.slot_check(b, s) {
                run_check(&core, seed, plan).await;
            }
        });
    }
    if tasks & super::TASK_AGENT != 0 {
        let core = Rc::clone(core);
        spawn(async move {
            if let Some(plan) = core.shared.plan.checks.slot_agent(b, s) {
                super::agent::run_agent(&core, seed, plan).await;
            }
        });
    }
    if tasks & super::TASK_WARMUP != 0 {
        let core = Rc::clone(core);
        spawn(async move { warmup_loop(&core, b, s).await });
    }
}

async fn check_loop(core: &Core, idx: usize) {
    let Some(plan) = core.shared.plan.checks.list.get(idx) else {
        return;
    };
    run_check(core, idx, plan).await;
}

async fn run_check(core: &Core, idx: usize, plan: &CheckPlan) {
    let shared = &core.shared;
    let Some(be) = shared.plan.backends.get(plan.backend) else {
        return;
    };
    let Some(srv) = be.servers.get(plan.server) else {
        return;
    };
    // A configured server's check runs until the stop; an added slot's
    // runs while a server has the slot, and waits for the next one.
    while configured(core, &plan.ctl).await {
        if !checking(core, idx, plan, srv).await {
            return;
        }
    }
}

/// Run `plan` until the stop (false) or until `del server` takes its
/// server (true).
async fn checking(core: &Core, idx: usize, plan: &CheckPlan, srv: &ServerPlan) -> bool {
    let maint = |s: &ServerPlan| s.state.get().admin & admin::MAINT != 0;
    let mut health = plan.initial;
    let mut prev = Status::Ini;
    let mut was_maint = maint(srv);
    let mut seed = 0x9e37_79b9u32 ^ u32::try_from(idx).unwrap_or(0).wrapping_mul(0x85eb_ca6b) | 1;
    let entry = core.timers.register();
    let mut next = Instant::now() + plan.first;
    // An added slot's check (given a server once at least) starts afresh
    // at once.
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
            let tripped = std::pin::pin!(std::future::poll_fn(|cx| srv.observe.poll_tripped(cx)));
            match select(wait, select(stop, tripped)).await {
                Either::Left(_) => {}
                Either::Right((Either::Left(_), _)) => return false,
                Either::Right((Either::Right((ev, _)), _)) => {
                    health.health = plan.counted(&health);
                    observed(core, plan, srv, &mut health, &mut prev, ev);
                    plan.health_now
                        .store(health.health, std::sync::atomic::Ordering::Relaxed);
                    // Every on-error mode checks again within `fastinter`.
                    if let Some(fast) = plan.tune().intervals.fastinter {
                        next = next.min(Instant::now() + fast);
                    }
                    continue;
                }
            }
        }
        // An added slot's check given to a new server (`add server ...
        // check`) starts afresh: not checked yet, its server in
        // maintenance.
        let e = plan.ctl.epoch();
        if e != epoch {
            epoch = e;
            let t = plan.tune();
            health = Health::new(t.rise, t.fall, false);
            prev = Status::Ini;
            was_maint = true;
            plan.last.reset();
        }
        // A disabled check (`disable health`) does not run and leaves the
        // server's state alone; it looks again every `inter` (process_chk
        // reschedules it). An added slot's check that no server has is
        // disabled too.
        if !plan.ctl.enabled() {
            next = Instant::now() + plan.tune().intervals.inter;
            continue;
        }
        // Maintenance pauses the check and zeroes the counter; leaving it
        // starts "OK but check immediately" (srv_update_status).
        let in_maint = maint(srv);
        if !in_maint {
            plan.ctl.left_maint();
        }
        if plan.ctl.paused(in_maint) {
            was_maint = true;
            health.health = 0;
            plan.health_now
                .store(0, std::sync::atomic::Ordering::Relaxed);
            next = Instant::now() + plan.tune().intervals.inter;
            continue;
        }
        if was_maint && !in_maint {
            was_maint = false;
            health.health = health.rise;
            plan.health_now
                .store(health.health, std::sync::atomic::Ordering::Relaxed);
        }
        // A stop does not wait for a check under way (its socket closes
        // with the dropped future).
        let outcome = {
            let check = std::pin::pin!(check_once(core, plan, srv, &health));
            let stop = std::pin::pin!(core.stop_accepting.wait());
            match select(check, stop).await {
                Either::Left((o, _)) => o,
                Either::Right(_) => return false,
            }
        };
        // The runtime API may have set the counter meanwhile (`set server
        // health`): the result counts from there, as HAProxy's.
        health.health = plan.counted(&health);
        apply(core, plan, srv, &mut health, &mut prev, (&outcome, 0));
        plan.health_now
            .store(health.health, std::sync::atomic::Ordering::Relaxed);
        let stopped = srv.state.get().oper == Oper::Stopped;
        let inter = plan.tune().intervals.next(&health, stopped);
        next = Instant::now() + jitter(&mut seed, inter, plan.spread);
    }
}

/// Usable active and backup servers (srv_act, srv_bck).
pub(super) fn counts(be: &BackendPlan) -> Counts {
    let mut c = Counts::default();
    for s in &be.servers {
        if s.state.get().usable() {
            if s.is_backup() {
                c.backup += 1;
            } else {
                c.active += 1;
            }
        }
    }
    c
}

/// A line to stderr as ha_warning / ha_alert write it. Not eprintln!,
/// which panics when stderr is gone (a closed pipe): a core must not.
fn to_stderr(tag: &str, line: &str) {
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr().lock(),
        "{tag} ({}) : {line}",
        std::process::id()
    );
}

pub(super) fn warn(line: &str) {
    to_stderr("[WARNING] ", line);
}

/// Why a server's state changes, as its line says it.
#[derive(Clone, Copy)]
pub(super) enum Why<'a> {
    /// Its own check (the reason part of the line).
    Check(&'a Outcome),
    /// Its own check under `option log-health-checks`, whose own line said
    /// why: nothing more.
    Quiet,
    /// The server it tracks: " via be/s".
    Via(&'a str, &'a str),
    /// A reason given by whoever forced it (srv_set_running's `reason`):
    /// ", changed from CLI".
    Said(&'a str),
}

/// Send a line to backend `b`'s log targets from this core.
pub(super) fn send(core: &Core, b: usize, level: Level, line: String) {
    if let Some(sink) = core
        .shared
        .plan
        .checks
        .backends
        .get(b)
        .and_then(|l| l.sink.as_ref())
    {
        sink.send_from(core.id, level, line);
    }
}

/// Mark server (b, s) up or down (srv_set_running / srv_set_stopped and
/// srv_update_status): nothing for a server in maintenance or already so;
/// else the state changes through the one owner, the line is logged, and
/// the servers that track it follow. Whether it changed.
pub(super) fn set_state(
    core: &Core,
    b: usize,
    s: usize,
    to: Transition,
    why: Why<'_>,
    held: u32,
) -> bool {
    let shared = &core.shared;
    let (Some(be), Some(log)) = (
        shared.plan.backends.get(b),
        shared.plan.checks.backends.get(b),
    ) else {
        return false;
    };
    let Some(srv) = be.servers.get(s) else {
        return false;
    };
    let now = srv.state.get();
    let already = match to {
        Transition::Up => matches!(now.oper, Oper::Running | Oper::Starting),
        Transition::Down => now.oper == Oper::Stopped,
        Transition::Stopping => now.oper == Oper::Stopping,
    };
    if now.admin & admin::MAINT != 0 || already {
        return false;
    }
    let before = counts(be);
    let was_stopping = now.oper == Oper::Stopping || now.admin & admin::DRAIN != 0;
    let oper = match to {
        Transition::Up => Oper::Running,
        Transition::Down => Oper::Stopped,
        Transition::Stopping => Oper::Stopping,
    };
    let changed = if to == Transition::Up {
        shared.bring_up(b, s)
    } else {
        shared.set_server(b, s, Change::Oper(oper))
    };
    if !changed {
        return false;
    }
    let after = counts(be);
    // What the line says is read before the streams are touched: HAProxy
    // counts the sessions before the ones it kills have ended.
    let queued = srv.queued.get();
    let (requeued, queued) = match to {
        // pendconn_redistribute: every stream in its queue chooses again
        // (each core moves its own when it follows the change).
        Transition::Down | Transition::Stopping
            if super::super::backend::queue::redistributes(be) =>
        {
            (queued, 0)
        }
        Transition::Down | Transition::Stopping => (0, queued),
        Transition::Up => (grabbed(be, s), queued),
    };
    let farm = Farm {
        counts: after,
        sessions: srv.conns.get().saturating_add(held),
        requeued,
        queued,
    };
    match to {
        Transition::Down if srv.shutdown_on.down() => {
            shared.shutdown_streams(b, s, crate::log::termination::Cause::Down);
        }
        // An active server that takes traffic again: the backup servers'
        // streams go (srv_shutdown_backup_streams).
        Transition::Up
            if srv.shutdown_on.up() && !srv.is_backup() && srv.state.get().weight() > 0 =>
        {
            for (i, x) in be.servers.iter().enumerate() {
                if x.is_backup() {
                    shared.shutdown_streams(b, i, crate::log::termination::Cause::Up);
                }
            }
        }
        _ => {}
    }
    let mut line = health::state_line(
        &be.name,
        &srv.conf().name,
        srv.is_backup(),
        to,
        match why {
            Why::Check(o) => Some(o),
            Why::Quiet | Why::Via(..) | Why::Said(_) => None,
        },
        &farm,
    );
    // srv_append_status: " via be/s" or ", <reason>" where a check's
    // reason would be.
    let said = match why {
        Why::Via(vb, vs) => Some(format!(" via {vb}/{vs}")),
        Why::Said(r) => Some(format!(", {r}")),
        Why::Check(_) | Why::Quiet => None,
    };
    if let Some(said) = said {
        let at = line.find(". ").unwrap_or(line.len());
        line.insert_str(at, &said);
    }
    warn(&line);
    let level = if to != Transition::Down || was_stopping {
        Level::Notice
    } else {
        Level::Alert
    };
    send(core, b, level, line);
    if before.active + before.backup > 0 && after.active + after.backup == 0 {
        no_server_left(core, b, log.word, &be.name);
    }
    super::admin::remains_draining(core, b, s);
    true
}

/// pendconn_grab_from_px: the streams of the backend queue that server
/// `s`, now up, takes (as many as its limit allows; none for a backup
/// server while an active one, or another backup, serves). The cores hand
/// them over when they follow the change (`server::follow`).
fn grabbed(be: &BackendPlan, s: usize) -> u32 {
    let Some(srv) = be.servers.get(s) else {
        return 0;
    };
    let now = srv.state.get();
    if !now.usable() {
        return 0;
    }
    if srv.is_backup() {
        let active = be
            .servers
            .iter()
            .any(|x| !x.is_backup() && x.state.get().usable());
        let first = be
            .servers
            .iter()
            .position(|x| x.is_backup() && x.state.get().usable());
        if active || (first != Some(s) && !be.allbackups) {
            return 0;
        }
    }
    let own: u32 = be.servers.iter().map(|x| x.queued.get()).sum();
    let waiting = be.queued.get().saturating_sub(own);
    match srv.max_now(be) {
        0 => waiting,
        max => waiting.min(max.saturating_sub(srv.conns.get())),
    }
}

/// set_backend_down's lines: backend `b` lost its last usable server.
pub(super) fn no_server_left(core: &Core, b: usize, word: &str, name: &str) {
    to_stderr(
        "[ALERT]   ",
        &format!("{word} '{name}' has no server available!"),
    );
    send(
        core,
        b,
        Level::Emerg,
        format!("{word} {name} has no server available!"),
    );
}

/// The trackers of a server that changed follow it, depth first.
pub(super) fn follow_trackers(
    core: &Core,
    trackers: &[super::Tracker],
    via: (usize, usize),
    to: Transition,
) {
    let plan = &core.shared.plan;
    let Some((vb, vs)) = plan
        .backends
        .get(via.0)
        .and_then(|be| Some((be.name.as_str(), be.servers.get(via.1)?.conf().name.clone())))
    else {
        return;
    };
    let vs = vs.as_str();
    // Servers added at run time first: HAProxy puts a new tracker at the
    // head of the list (srv_apply_track). Nothing tracks them in turn.
    for (tb, ts) in super::track::added_trackers(plan, via.0, via.1) {
        set_state(core, tb, ts, to, Why::Via(vb, vs), 0);
    }
    for t in trackers {
        if !super::track::configured_here(plan, t.backend, t.server) {
            continue;
        }
        if set_state(core, t.backend, t.server, to, Why::Via(vb, vs), 0) {
            follow_trackers(core, &t.trackers, (t.backend, t.server), to);
        }
    }
}

/// A result: the counter moves, `option log-health-checks` says so, and
/// the server goes down at 0 or up at `rise` (check_notify_failure /
/// check_notify_success), its trackers with it. `held`: streams that
/// HAProxy would still count on the server (see `observed`).
fn apply(
    core: &Core,
    plan: &CheckPlan,
    srv: &ServerPlan,
    health: &mut Health,
    prev: &mut Status,
    (o, held): (&Outcome, u32),
) {
    plan.last.set(o);
    let passed = o.status.passed();
    if passed {
        // A passed check ends a run of errors the traffic saw.
        srv.observe.clear();
    }
    let report = health.count(passed);
    if let Some(c) = core
        .shared
        .stats
        .changes(crate::engine::runtime::counters::Obj::Srv(
            plan.backend,
            plan.server,
        ))
    {
        c.health
            .store(health.health, std::sync::atomic::Ordering::Relaxed);
        if report && !passed {
            c.failed_checks
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
    let log_health = core
        .shared
        .plan
        .checks
        .backends
        .get(plan.backend)
        .is_some_and(|l| l.log_health);
    if let Some(be) = core.shared.plan.backends.get(plan.backend) {
        if log_health && (o.status != *prev || report) {
            let line = health::health_line(
                &be.name,
                &srv.conf().name,
                srv.is_backup(),
                o,
                health,
                srv.weights.user(),
            );
            warn(&line);
            send(core, plan.backend, Level::Notice, line);
        }
    }
    *prev = o.status;
    // check_notify_stopping / _success / _failure; an agent that said down
    // keeps the server down.
    let agent_down = || {
        core.shared
            .plan
            .checks
            .agent_of(plan.backend, plan.server)
            .is_some_and(|a| !a.allows_up())
    };
    let to = if !passed && health.health == 0 {
        Transition::Down
    } else if passed && health.is_up() && !agent_down() {
        if o.status == Status::L7OkC {
            Transition::Stopping
        } else {
            Transition::Up
        }
    } else {
        return;
    };
    let why = if log_health {
        Why::Quiet
    } else {
        Why::Check(o)
    };
    if set_state(core, plan.backend, plan.server, to, why, held) {
        follow_trackers(core, &plan.trackers, (plan.backend, plan.server), to);
    }
}

/// The traffic saw `error-limit` consecutive errors of the server
/// (`observe`): `on-error` says what that does to its health
/// (__health_adjust). The check's status becomes HANA.
fn observed(
    core: &Core,
    plan: &CheckPlan,
    srv: &ServerPlan,
    health: &mut Health,
    prev: &mut Status,
    last: Event,
) {
    let info = format!(
        "Detected {} consecutive errors, last one was: {}",
        srv.observe.limit().max(1),
        last.description()
    );
    match srv.observe.on_error() {
        // Only the next check comes sooner.
        OnError::FastInter => return,
        // One failure short of down.
        OnError::SuddenDeath if health.health > health.rise => health.health = health.rise + 1,
        OnError::SuddenDeath | OnError::FailCheck => {}
        // The next failure takes it down.
        OnError::MarkDown => health.health = health.rise,
    }
    let o = Outcome::new(Status::Hana, 0, info, Duration::ZERO);
    // HAProxy adjusts the health from the stream whose connect failed
    // before it releases the server (back_handle_st_cer): that stream is
    // in the line's "sessions active". Here it released its slot right
    // after reporting, before this task ran.
    let held = u32::from(last == Event::L4Err);
    apply(core, plan, srv, health, prev, (&o, held));
}

/// strerror(errno) of an I/O error ("Connection refused").
pub(super) fn strerror(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => nix::errno::Errno::from_raw(n).desc().to_string(),
        None => e.to_string(),
    }
}

/// Connect to the check's target. A pure TCP check (`quiet`) delays the
/// handshake's last ACK (TCP_QUICKACK off before connect, as HAProxy's
/// CONNECT_DELACK_ALWAYS) and then resets the connection, so the server's
/// application never sees it.
pub(super) async fn connect(
    target: &Target,
    srv: &ServerPlan,
    quiet: bool,
) -> std::io::Result<Conn> {
    match target {
        Target::Unix(p) => Conn::connect_unix(p).await,
        Target::Inet(addr) => {
            let sock = Connecting::new(addr).await?;
            let _ = socket2::SockRef::from(&sock).set_tcp_nodelay(true);
            if quiet {
                let _ = socket2::SockRef::from(&sock).set_tcp_quickack(false);
            }
            let source = srv.conf().source.clone();
            if let Some(src) = source.as_deref() {
                // Checks come from the server's `source` address, as its
                // connections do (without a client to present).
                let (local, transparent) = src.bind_for(None);
                if let Some(name) = &src.interface {
                    let _ = sock.bind_device(name.as_bytes());
                }
                let s = socket2::SockRef::from(&sock);
                if transparent {
                    if addr.is_ipv4() {
                        s.set_ip_transparent_v4(true)?;
                    } else {
                        s.set_ip_transparent_v6(true)?;
                    }
                }
                if local.port() != 0 || !local.ip().is_unspecified() || transparent {
                    sock.bind(local).await?;
                }
            }
            sock.connect(*addr).await
        }
    }
}

/// Seconds since the epoch (the time field of an SSL hello).
fn unix_time() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
}

/// The check's target, with a connect rule's port.
fn with_port(target: &Target, port: Option<u16>) -> Target {
    match (target, port) {
        (Target::Inet(a), Some(p)) => Target::Inet(SocketAddr::new(a.ip(), p)),
        _ => target.clone(),
    }
}

/// One check, from connect to verdict.
async fn check_once(core: &Core, plan: &CheckPlan, srv: &ServerPlan, health: &Health) -> Outcome {
    let start = Instant::now();
    let (status, code, info) = match &plan.kind {
        Kind::TcpCheck(tc) => tcp_check(core, plan, srv, tc, health).await,
        Kind::Tcp if plan.tune().send_proxy.is_some() => {
            // The PROXY header makes it a connect-and-send.
            let tc = TcpCheck::with_implicit_connect(Vec::new(), false);
            tcp_check(core, plan, srv, &tc, health).await
        }
        Kind::Tcp => simple_check(core, plan, srv).await,
    };
    Outcome::new(status, code, info, start.elapsed())
}

/// When a connection started now must be up, and when the check must end
/// once it is (HAProxy's check task expiry, see `simple_check`).
pub(super) struct Deadlines {
    pub(super) connect: Instant,
    timeout_check: Option<Duration>,
}

impl Deadlines {
    /// tcpcheck_eval_connect: `inter` for the whole check, or with
    /// `timeout check` min(inter, timeout connect) to connect.
    fn new(plan: &CheckPlan) -> Deadlines {
        Deadlines::with(
            plan.tune().intervals.inter,
            plan.timeout_check,
            plan.timeout_connect,
        )
    }

    pub(super) fn with(
        inter: Duration,
        timeout_check: Option<Duration>,
        timeout_connect: Option<Duration>,
    ) -> Deadlines {
        let connect_for = match (timeout_check, timeout_connect) {
            (Some(_), Some(c)) => inter.min(c),
            _ => inter,
        };
        Deadlines {
            connect: Instant::now() + connect_for,
            timeout_check,
        }
    }

    /// Connected: `timeout check` from now on, or the rest of `inter`.
    /// HAProxy moves its check task's expiry to now + `timeout check`
    /// without queueing the task again, so the task still wakes at the
    /// connect deadline first: a check ends at the later of the two
    /// (observed on 2.6: timeout check 150ms, inter 1s -> L7TOUT at 1s).
    pub(super) fn connected(&self) -> Instant {
        match self.timeout_check {
            Some(t) => self.connect.max(Instant::now() + t),
            None => self.connect,
        }
    }
}

pub(super) fn left(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

/// A TCP connect check.
async fn simple_check(core: &Core, plan: &CheckPlan, srv: &ServerPlan) -> (Status, u16, String) {
    let d = Deadlines::new(plan);
    let target = plan.target();
    let connecting = connect(&target, srv, true);
    let conn = match timer::timeout(&core.timers, left(d.connect), connecting).await {
        Err(()) => return (Status::L4Tout, 0, String::new()),
        Ok(Err(e)) => return (Status::L4Con, 0, strerror(&e)),
        Ok(Ok(c)) => c,
    };
    // Closed with a reset (no FIN, no TIME_WAIT), as HAProxy does.
    let _ = socket2::SockRef::from(&conn).set_linger(Some(Duration::ZERO));
    (Status::L4Ok, 0, String::new())
}

/// Where a connect rule goes (tcpcheck_eval_connect): its `addr`, else the
/// check's address; its `port`, else its address's port, else the
/// check's port.
fn connect_target(target: &Target, c: &Connect, port_expr: Option<u16>) -> Target {
    let port = c.port.or(port_expr).or(c.addr_port);
    match (target, c.addr) {
        (Target::Inet(a), Some(ip)) => Target::Inet(SocketAddr::new(ip, port.unwrap_or(a.port()))),
        (Target::Unix(_), Some(ip)) => Target::Inet(SocketAddr::new(ip, port.unwrap_or(0))),
        (t, None) => with_port(t, port),
    }
}

/// `send-lf` / `send-binary-lf`: the format rendered, and for the binary
/// form read as hexadecimal digits (None: not valid hex).
fn render_send(
    cx: &Cx<'_>,
    fmt: &crate::engine::rules::logfmt::Fmt,
    binary: bool,
) -> Option<Vec<u8>> {
    let text = cx.render(fmt, &[]);
    if !binary {
        return Some(text);
    }
    let t = std::str::from_utf8(&text).ok()?;
    if t.len() % 2 != 0 {
        return None;
    }
    (0..t.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(t.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The X-Haproxy-Server-State value (httpchk_build_status_header).
fn server_state(core: &Core, plan: &CheckPlan, srv: &ServerPlan, health: &Health) -> String {
    let st = srv.state.get();
    let checked = srv.state.get().admin & admin::MAINT == 0;
    let be = core.shared.plan.backends.get(plan.backend);
    let mut out = String::with_capacity(128);
    let (h, rise, fall) = (health.health, health.rise, health.fall);
    use std::fmt::Write as _;
    if !checked {
        out.push_str("no check");
    } else if st.oper != Oper::Stopped {
        let stopping = st.oper == Oper::Stopping;
        if h == rise + fall - 1 {
            out.push_str(if stopping { "NOLB" } else { "UP" });
        } else {
            let _ = write!(
                out,
                "{} {}/{}",
                if stopping { "NOLB" } else { "UP" },
                (h + 1).saturating_sub(rise),
                fall
            );
        }
    } else if h > 0 {
        let _ = write!(out, "DOWN {h}/{rise}");
    } else {
        out.push_str("DOWN");
    }
    let (addr, port) = match &plan.target() {
        Target::Inet(_) => match &srv.conf().addr {
            crate::engine::plan::ServerAddr::Fixed(a) => (a.ip().to_string(), a.port().to_string()),
            crate::engine::plan::ServerAddr::SamePort(ip)
            | crate::engine::plan::ServerAddr::PortOffset(ip, _) => (ip.to_string(), "0".into()),
            crate::engine::plan::ServerAddr::Unix(p) => (p.display().to_string(), String::new()),
        },
        Target::Unix(p) => (p.display().to_string(), String::new()),
    };
    let (tot, beconn, queued) = be.map_or((0, 0, 0), |b| {
        let c = counts(b);
        let usable = |s: &&ServerPlan| s.state.get().usable();
        // lbprm.tot_weight: the active servers' weights, or the backups'
        // when no active server is usable.
        let tot: u32 = b
            .servers
            .iter()
            .filter(usable)
            .filter(|s| s.is_backup() == (c.active == 0))
            .map(|s| s.state.get().weight())
            .sum();
        let conns: u64 = b.servers.iter().map(|s| u64::from(s.conns.get())).sum();
        let queued: u64 = b.servers.iter().map(|s| u64::from(s.queued.get())).sum();
        (tot, conns, queued)
    });
    let node = core.shared.plan.checks.node.as_str();
    let _ = write!(
        out,
        "; address={addr}; port={port}; name={}/{}; node={node}; weight={}/{tot}; scur={}/{}; qcur={}",
        be.map_or("", |b| b.name.as_str()),
        srv.conf().name,
        if st.usable() { st.weight() } else { 0 },
        srv.conns.get(),
        beconn.saturating_sub(queued),
        srv.queued.get()
    );
    out
}

/// Rules of a check (tcpcheck_main): connect, send, expect, set-var, in
/// order.
async fn tcp_check(
    core: &Core,
    plan: &CheckPlan,
    srv: &ServerPlan,
    tc: &TcpCheck,
    health: &Health,
) -> (Status, u16, String) {
    let timers = &core.timers;
    // One target for the whole run, even if the runtime API moves it.
    let target = plan.target();
    let vars = Vars::for_check();
    let be_name = core
        .shared
        .plan
        .backends
        .get(plan.backend)
        .map_or("", |b| b.name.as_str());
    let cx = Cx {
        who: Who {
            backend: be_name,
            backend_id: None,
            server: &srv.conf().name,
            server_id: Some(i64::from(srv.conf().id)),
        },
        vars: &vars,
    };
    let mut deadline = Instant::now();
    let mut conn: Option<Conn> = None;
    let mut buf = Buffer::new(core.shared.plan.bufsize, 0);
    let mut must_read = true;
    let mut eof = false;
    // The last HTTP response's verdict, and its reader.
    let mut http_result: Option<(Status, u16, String)> = None;
    // disable-on-404 applies to a server that is not down.
    let up = srv.state.get().oper != Oper::Stopped;
    for (i, rule) in tc.rules.iter().enumerate() {
        match &rule.action {
            Action::Connect(c) => {
                drop(conn.take());
                buf.clear();
                must_read = true;
                eof = false;
                let header = if c.send_proxy {
                    Some(if plan.tune().proxy_v2 {
                        ProxyHeader::V2
                    } else {
                        ProxyHeader::V1
                    })
                } else if c.default || c.implicit {
                    plan.tune().send_proxy
                } else {
                    None
                };
                // Nothing to send: hold back the handshake's last ACK.
                let quiet = i + 1 == tc.rules.len() && header.is_none();
                let d = Deadlines::new(plan);
                let port_expr = c.port_expr.as_ref().and_then(|e| {
                    cx.int(e, &[])
                        .and_then(|p| u16::try_from(p).ok())
                        .filter(|p| *p != 0)
                });
                let target = connect_target(&target, c, port_expr);
                match timer::timeout(timers, left(d.connect), connect(&target, srv, quiet)).await {
                    Err(()) => return (Status::L4Tout, 0, tcpcheck::conn_err_info(tc, rule, "")),
                    Ok(Err(e)) => {
                        let info = tcpcheck::conn_err_info(tc, rule, &strerror(&e));
                        return (Status::L4Con, 0, info);
                    }
                    Ok(Ok(c)) => {
                        if quiet {
                            let _ = socket2::SockRef::from(&c).set_linger(Some(Duration::ZERO));
                        }
                        conn = Some(c);
                    }
                }
                deadline = d.connected();
                if let (Some(h), Some(c)) = (header, &conn) {
                    let sock = socket2::SockRef::from(c);
                    let addr = |a: std::io::Result<socket2::SockAddr>| a.ok()?.as_socket();
                    let bytes = h.bytes(addr(sock.local_addr()), addr(sock.peer_addr()));
                    match timer::timeout(timers, left(deadline), c.write_vec(bytes)).await {
                        Err(()) => {
                            return (Status::L4Tout, 0, tcpcheck::conn_err_info(tc, rule, ""))
                        }
                        Ok((Err(e), _)) => {
                            let info = tcpcheck::conn_err_info(tc, rule, &strerror(&e));
                            return (Status::SockErr, 0, info);
                        }
                        Ok((Ok(()), _)) => {}
                    }
                }
            }
            Action::Send(_)
            | Action::SendLf { .. }
            | Action::SendSslHello
            | Action::HttpSend(_) => {
                let Some(c) = &conn else { break };
                // A send starts a new exchange: what came before is dropped.
                buf.clear();
                must_read = true;
                let bytes = match &rule.action {
                    Action::Send(b) => b.clone(),
                    Action::SendLf { fmt, binary } => match render_send(&cx, fmt, *binary) {
                        // An empty rendering sends nothing (as HAProxy's).
                        Some(b) if b.is_empty() => continue,
                        Some(b) => b,
                        None => {
                            let mut m = format!(
                                "tcp-check send : failed to build binary data from log-format string at step {}",
                                rule.step
                            );
                            if let Some(c) = &rule.comment {
                                m.push_str(&format!(" comment: '{c}'"));
                            }
                            return (Status::L7Rsp, 0, m);
                        }
                    },
                    Action::HttpSend(req) => {
                        let state = req
                            .send_state
                            .then(|| server_state(core, plan, srv, health));
                        req.bytes(&cx, state.as_deref())
                    }
                    _ => tcpcheck::ssl_hello(unix_time()),
                };
                match timer::timeout(timers, left(deadline), c.write_vec(bytes)).await {
                    Err(()) => return (Status::L7Tout, 0, tcpcheck::conn_err_info(tc, rule, "")),
                    Ok((Err(e), _)) => {
                        let info = tcpcheck::conn_err_info(tc, rule, &strerror(&e));
                        return (Status::SockErr, 0, info);
                    }
                    Ok((Ok(()), _)) => {}
                }
            }
            Action::SetVar { .. } | Action::UnsetVar { .. } => cx.run_var(&rule.action, buf.data()),
            Action::HttpExpect(expects) => {
                let Some(c) = &conn else { break };
                let tout = expects.list.last().map_or(Status::L7Tout, |e| e.opts.tout);
                let mut reader = Reader::new(expects.method);
                loop {
                    if must_read && !eof && buf.room() > 0 {
                        match timer::timeout(timers, left(deadline), c.read(&mut buf)).await {
                            Err(()) => return (tout, 0, String::new()),
                            Ok(Err(e)) if buf.is_empty() => {
                                return (Status::SockErr, 0, strerror(&e));
                            }
                            Ok(Err(_) | Ok(0)) => eof = true,
                            Ok(Ok(_)) => {}
                        }
                        must_read = false;
                    }
                    let last = eof || buf.room() == 0;
                    match reader.verdict(expects, buf.data_mut(), last, up, &cx) {
                        Verdict::Done(s, code, info) if s.passed() && s != Status::L7OkC => {
                            http_result = Some((s, code, info));
                            break;
                        }
                        Verdict::Done(s, code, info) => return (s, code, info),
                        Verdict::More if last => return (Status::L7Rsp, 0, String::new()),
                        Verdict::More => must_read = true,
                    }
                }
            }
            Action::Expect { opts, .. } => {
                let Some(c) = &conn else { break };
                loop {
                    if must_read && !eof && buf.room() > 0 {
                        match timer::timeout(timers, left(deadline), c.read(&mut buf)).await {
                            Err(()) => {
                                return (opts.tout, 0, tcpcheck::conn_err_info(tc, rule, ""))
                            }
                            // An error after data: the data decides.
                            Ok(Err(e)) if buf.is_empty() => {
                                let info = tcpcheck::conn_err_info(tc, rule, &strerror(&e));
                                return (Status::SockErr, 0, info);
                            }
                            Ok(Err(_) | Ok(0)) => eof = true,
                            Ok(Ok(_)) => {}
                        }
                        must_read = false;
                        if eof && buf.is_empty() {
                            let (status, info) = tcpcheck::empty_response(rule);
                            return (status, 0, info);
                        }
                    }
                    let last = eof || buf.room() == 0;
                    match tcpcheck::expect_in(&cx, tc.user, rule, buf.data(), last) {
                        ExpectVerdict::Pass => break,
                        ExpectVerdict::Fail(status, code, info) => return (status, code, info),
                        ExpectVerdict::More => must_read = true,
                    }
                }
            }
        }
    }
    // Closed gracefully (`linger`, and ringlb's default: see
    // docs/differences.md).
    drop(conn);
    let Some(last) = tc
        .rules
        .iter()
        .rev()
        .find(|r| !matches!(r.action, Action::SetVar { .. } | Action::UnsetVar { .. }))
    else {
        return (Status::L4Ok, 0, String::new());
    };
    if let (Action::HttpExpect(_), Some(r)) = (&last.action, http_result) {
        return r;
    }
    tcpcheck::success_in(&cx, tc.user, last, buf.data())
}

#[cfg(test)]
mod tests {
    use super::jitter;
    use std::time::Duration;

    #[test]
    fn spread_checks_stays_within_its_percentage() {
        let mut seed = 12345;
        let inter = Duration::from_millis(1000);
        assert_eq!(jitter(&mut seed, inter, 0), inter);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            let d = jitter(&mut seed, inter, 10);
            assert!(d >= Duration::from_millis(900) && d <= Duration::from_millis(1100));
            seen.insert(d);
        }
        assert!(seen.len() > 50, "it moves");
    }
}
