//! A server's admin flags (maintenance, drain) set and cleared with
//! HAProxy's lines (server.c `srv_set_admin_flag`, `srv_clr_admin_flag`
//! and the admin half of `srv_update_status`): entering maintenance takes
//! the server down, leaving it brings it back up (with its slow start)
//! unless its agent or the server it tracks is down; the inherited flag
//! (IMAINT, IDRAIN) follows to the servers that track it. The agent uses
//! it for `maint`, `drain` and `ready`; the runtime API's `set server
//! state` can too.

use std::fmt::Write as _;

use ringlb_config::model::Level;

use super::agent::AdminWord;
use super::run;
use super::Tracker;
use crate::engine::backend::server::{admin, Change, Oper, Snapshot};
use crate::engine::runtime::Core;

/// srv_adm_set_maint / srv_adm_set_drain / srv_adm_set_ready.
pub fn agent_admin(core: &Core, b: usize, s: usize, word: AdminWord) {
    match word {
        AdminWord::Maint => {
            set_admin_flag(core, b, s, admin::FMAINT, None);
            clr_admin_flag(core, b, s, admin::FDRAIN);
        }
        AdminWord::Drain => {
            set_admin_flag(core, b, s, admin::FDRAIN, None);
            clr_admin_flag(core, b, s, admin::FMAINT);
        }
        AdminWord::Ready => {
            clr_admin_flag(core, b, s, admin::FDRAIN);
            clr_admin_flag(core, b, s, admin::FMAINT);
        }
    }
}

/// The servers that track (b, s): those added at run time first (see
/// `run::follow_trackers`), then the configured ones.
fn trackers(core: &Core, b: usize, s: usize) -> Vec<Tracker> {
    let plan = &core.shared.plan;
    let checks = &plan.checks;
    let added = super::track::added_trackers(plan, b, s)
        .into_iter()
        .map(|(backend, server)| Tracker {
            backend,
            server,
            trackers: Vec::new(),
        });
    let configured = checks
        .list
        .iter()
        .filter(|c| c.backend == b && c.server == s)
        .map(|c| &c.trackers)
        .chain(
            checks
                .agents
                .iter()
                .filter(|a| a.backend == b && a.server == s)
                .map(|a| &a.trackers),
        )
        .next()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|t| super::track::configured_here(plan, t.backend, t.server));
    added.chain(configured).collect()
}

/// The server (b, s) tracks, if any.
pub(crate) fn tracked(core: &Core, b: usize, s: usize) -> Option<(usize, usize)> {
    fn find(ts: &[Tracker], me: (usize, usize), parent: (usize, usize)) -> Option<(usize, usize)> {
        for t in ts {
            if (t.backend, t.server) == me {
                return Some(parent);
            }
            if let Some(p) = find(&t.trackers, me, (t.backend, t.server)) {
                return Some(p);
            }
        }
        None
    }
    if !super::track::configured_here(&core.shared.plan, b, s) {
        return super::track::added_tracked(&core.shared.plan, b, s);
    }
    let checks = &core.shared.plan.checks;
    let roots = checks
        .list
        .iter()
        .map(|c| (c.backend, c.server, &c.trackers))
        .chain(
            checks
                .agents
                .iter()
                .map(|a| (a.backend, a.server, &a.trackers)),
        );
    for (pb, ps, ts) in roots {
        if let Some(p) = find(ts, (b, s), (pb, ps)) {
            return Some(p);
        }
    }
    super::track::added_tracked(&core.shared.plan, b, s)
}

/// srv_set_admin_flag: set `mode` (one flag) on (b, s), then the inherited
/// flag on its trackers.
pub fn set_admin_flag(core: &Core, b: usize, s: usize, mode: u8, cause: Option<&str>) {
    let Some(before) = snapshot(core, b, s) else {
        return;
    };
    if before.admin & mode != 0 {
        return;
    }
    update(core, b, s, before, before.admin | mode, cause);
    if (mode & admin::MAINT != 0 && before.admin & admin::MAINT != 0)
        || (mode & admin::DRAIN != 0 && before.admin & admin::DRAIN != 0)
    {
        return;
    }
    let inherited = if mode & admin::MAINT != 0 {
        admin::IMAINT
    } else {
        admin::IDRAIN
    };
    for t in trackers(core, b, s) {
        set_admin_flag(core, t.backend, t.server, inherited, cause);
    }
}

/// srv_clr_admin_flag: clear `mode` (one flag) on (b, s), then the
/// inherited flag on its trackers.
pub fn clr_admin_flag(core: &Core, b: usize, s: usize, mode: u8) {
    let Some(before) = snapshot(core, b, s) else {
        return;
    };
    if before.admin & mode == 0 {
        return;
    }
    let next = before.admin & !mode;
    update(core, b, s, before, next, None);
    if (mode & admin::MAINT != 0 && next & admin::MAINT != 0)
        || (mode & admin::DRAIN != 0 && next & admin::DRAIN != 0)
    {
        return;
    }
    let inherited = if mode & admin::MAINT != 0 {
        admin::IMAINT
    } else {
        admin::IDRAIN
    };
    for t in trackers(core, b, s) {
        clr_admin_flag(core, t.backend, t.server, inherited);
    }
}

fn snapshot(core: &Core, b: usize, s: usize) -> Option<Snapshot> {
    Some(
        core.shared
            .plan
            .backends
            .get(b)?
            .servers
            .get(s)?
            .state
            .get(),
    )
}

/// The admin half of srv_update_status: apply `next`, change the
/// operational state as maintenance demands, and log HAProxy's line.
fn update(core: &Core, b: usize, s: usize, before: Snapshot, next: u8, cause: Option<&str>) {
    let shared = &core.shared;
    let Some(be) = shared.plan.backends.get(b) else {
        return;
    };
    let Some(srv) = be.servers.get(s) else {
        return;
    };
    let word = shared
        .plan
        .checks
        .backends
        .get(b)
        .map_or("backend", |l| l.word);
    let set = next & !before.admin;
    let clear = before.admin & !next;
    let mut head = String::with_capacity(160);
    let _ = write!(
        head,
        "{}Server {}/{}",
        if srv.is_backup() { "Backup " } else { "" },
        be.name,
        srv.conf().name
    );
    let cause = cause.map(|c| format!(" ({c})")).unwrap_or_default();
    let via = tracked(core, b, s).and_then(|(tb, ts)| {
        let tbe = shared.plan.backends.get(tb)?;
        Some(format!(
            " via {}/{}",
            tbe.name,
            tbe.servers.get(ts)?.conf().name
        ))
    });
    let via_unless = |forced: bool| match (&via, forced) {
        (Some(v), false) => v.as_str(),
        _ => "",
    };
    let was_stopping = before.oper == Oper::Stopping || before.admin & admin::DRAIN != 0;
    let had_servers = {
        let c = run::counts(be);
        c.active + c.backup > 0
    };
    let apply = |change| {
        shared.set_server(b, s, change);
    };
    let mut lines: Vec<(Level, String)> = Vec::new();
    let mut went_down = false;
    let before_maint = before.admin & admin::MAINT != 0;
    let next_maint = next & admin::MAINT != 0;
    if !before_maint && next_maint {
        let forced = next & admin::FMAINT != 0;
        apply(Change::AdminSet(set));
        if before.oper == Oper::Stopped {
            lines.push((
                Level::Notice,
                format!(
                    "{head} was DOWN and now enters maintenance{cause}{}",
                    via_unless(forced)
                ),
            ));
        } else {
            apply(Change::Oper(Oper::Stopped));
            went_down = true;
            let c = run::counts(be);
            lines.push((
                if was_stopping {
                    Level::Notice
                } else {
                    Level::Alert
                },
                format!(
                    "{head} is going DOWN for maintenance{cause}{}. {} active and {} backup servers left.{} {} sessions active, 0 requeued, {} remaining in queue",
                    via_unless(forced),
                    c.active,
                    c.backup,
                    on_backup(c),
                    srv.conns.get(),
                    srv.queued.get()
                ),
            ));
        }
    } else if before_maint && !next_maint {
        apply(Change::AdminClear(clear));
        // Leaving maintenance: up at once (more or less the slow start)
        // unless the tracked server or the agent is down; the health check
        // restarts "up but checked at once": its counter is `rise` from
        // now (srv_update_status), as `show stat` and `show servers state`
        // print it before the check task next wakes.
        if let Some(c) = shared
            .plan
            .checks
            .check_of(b, s)
            .filter(|c| c.ctl.enabled())
        {
            let rise = c.tune().rise;
            c.health_now
                .store(rise, std::sync::atomic::Ordering::Relaxed);
            if let Some(ch) = shared
                .stats
                .changes(crate::engine::runtime::counters::Obj::Srv(b, s))
            {
                ch.health.store(rise, std::sync::atomic::Ordering::Relaxed);
            }
        }
        let tracked_oper = tracked(core, b, s).and_then(|(tb, ts)| {
            Some(
                shared
                    .plan
                    .backends
                    .get(tb)?
                    .servers
                    .get(ts)?
                    .state
                    .get()
                    .oper,
            )
        });
        let agent_ok = shared
            .plan
            .checks
            .agent_of(b, s)
            .is_none_or(super::agent::AgentPlan::allows_up);
        if tracked_oper != Some(Oper::Stopped) && agent_ok {
            if tracked_oper == Some(Oper::Stopping) {
                apply(Change::Oper(Oper::Stopping));
            } else {
                shared.bring_up(b, s);
            }
        }
        let now = srv.state.get();
        let updown = if now.oper == Oper::Stopped {
            "DOWN"
        } else {
            "UP"
        };
        let drain = if next & admin::DRAIN != 0 {
            "DRAIN"
        } else {
            "READY"
        };
        if clear & admin::FMAINT != 0 {
            lines.push((
                Level::Notice,
                format!("{head} is {updown}/{drain} (leaving forced maintenance)"),
            ));
        } else if clear & admin::IMAINT != 0 {
            lines.push((
                Level::Notice,
                format!("{head} is {updown}/{drain} (leaving maintenance)"),
            ));
        }
    } else if next_maint {
        if set != 0 {
            apply(Change::AdminSet(set));
        }
        if clear != 0 {
            apply(Change::AdminClear(clear));
        }
        if clear & admin::FMAINT != 0 {
            lines.push((
                Level::Notice,
                format!(
                    "{head} is leaving forced maintenance but remains in maintenance{}",
                    via.as_deref().unwrap_or("")
                ),
            ));
        } else if clear & admin::IMAINT != 0 {
            lines.push((
                Level::Notice,
                format!("{head} remains in forced maintenance"),
            ));
        }
    } else {
        if set != 0 {
            apply(Change::AdminSet(set));
        }
        if clear != 0 {
            apply(Change::AdminClear(clear));
        }
    }
    if !next_maint {
        let before_drain = before.admin & admin::DRAIN != 0;
        let next_drain = next & admin::DRAIN != 0;
        if !before_drain && next_drain {
            let c = run::counts(be);
            let via = via_unless(next & admin::FDRAIN != 0);
            // srv_append_status says "left" of a server that is down.
            let line = if srv.state.get().oper == Oper::Stopped {
                format!(
                    "{head} enters drain state{cause}{via}. {} active and {} backup servers left.{} {} sessions active, 0 requeued, {} remaining in queue",
                    c.active,
                    c.backup,
                    on_backup(c),
                    srv.conns.get(),
                    srv.queued.get()
                )
            } else {
                format!(
                    "{head} enters drain state{cause}{via}. {} active and {} backup servers online.{} 0 sessions requeued, {} total in queue",
                    c.active,
                    c.backup,
                    on_backup(c),
                    srv.queued.get()
                )
            };
            lines.push((Level::Notice, line));
            went_down = true;
        } else if before_drain && !next_drain {
            let updown = if srv.state.get().oper == Oper::Stopped {
                "DOWN"
            } else {
                "UP"
            };
            if next & admin::FDRAIN == 0 {
                lines.push((
                    Level::Notice,
                    format!("{head} is {updown} (leaving forced drain)"),
                ));
            } else {
                lines.push((
                    Level::Notice,
                    format!(
                        "{head} is {updown} (leaving drain){}",
                        via.as_deref().unwrap_or("")
                    ),
                ));
            }
        } else if next_drain {
            if next & admin::FDRAIN == 0 {
                lines.push((
                    Level::Notice,
                    format!(
                        "{head} is leaving forced drain but remains in drain mode{}",
                        via.as_deref().unwrap_or("")
                    ),
                ));
            } else {
                lines.push((
                    Level::Notice,
                    format!("{head} remains in forced drain mode"),
                ));
            }
        }
    }
    for (level, mut line) in lines {
        line.push('.');
        run::warn(&line);
        run::send(core, b, level, line);
    }
    let c = run::counts(be);
    if went_down && had_servers && c.active + c.backup == 0 {
        run::no_server_left(core, b, word, &be.name);
    }
}

/// The tail of srv_update_status for a draining server whose drain did
/// not change (a state change, a weight change, a slow start step):
/// HAProxy 2.6 says it again each time.
pub fn remains_draining(core: &Core, b: usize, s: usize) {
    let Some(now) = snapshot(core, b, s) else {
        return;
    };
    if now.admin & admin::MAINT != 0 || now.admin & admin::DRAIN == 0 {
        return;
    }
    let Some(be) = core.shared.plan.backends.get(b) else {
        return;
    };
    let Some(srv) = be.servers.get(s) else {
        return;
    };
    let head = format!(
        "{}Server {}/{}",
        if srv.is_backup() { "Backup " } else { "" },
        be.name,
        srv.conf().name
    );
    let line = if now.admin & admin::FDRAIN == 0 {
        let via = tracked(core, b, s)
            .and_then(|(tb, ts)| {
                let tbe = core.shared.plan.backends.get(tb)?;
                Some(format!(
                    " via {}/{}",
                    tbe.name,
                    tbe.servers.get(ts)?.conf().name
                ))
            })
            .unwrap_or_default();
        format!("{head} is leaving forced drain but remains in drain mode{via}.")
    } else {
        format!("{head} remains in forced drain mode.")
    };
    run::warn(&line);
    run::send(core, b, Level::Notice, line);
}

fn on_backup(c: super::health::Counts) -> &'static str {
    if c.backup > 0 && c.active == 0 {
        " Running on backup."
    } else {
        ""
    }
}

/// srv_adm_set_ready|drain|maint (`state`: "ready", "drain", anything
/// else is maint), as the runtime API and the stats page ask: the flag
/// functions above log HAProxy's lines, pass the inherited flags to the
/// trackers and bring a server leaving maintenance up with its slow start.
pub fn set_admin_state(core: &Core, b: usize, s: usize, state: &str) {
    match state {
        "ready" => {
            clr_admin_flag(core, b, s, admin::FMAINT);
            clr_admin_flag(core, b, s, admin::FDRAIN);
        }
        "drain" => {
            set_admin_flag(core, b, s, admin::FDRAIN, None);
            clr_admin_flag(core, b, s, admin::FMAINT);
        }
        _ => {
            set_admin_flag(core, b, s, admin::FMAINT, None);
            clr_admin_flag(core, b, s, admin::FDRAIN);
        }
    }
}
