//! The runtime API's hold on the checks (HAProxy's server.c CLI parsers):
//! `enable|disable health|agent`, `set server <b>/<s> health|agent|
//! agent-addr|agent-port|agent-send|check-addr|check-port`, and the check
//! columns of `show servers state`. The checks read what these change at
//! their next run (`checks::control`).

use std::net::IpAddr;

use super::table::Ctx;
use super::{Reply, LOG_WARNING};
use crate::engine::checks::agent::AgentPlan;
use crate::engine::checks::control::parse_port;
use crate::engine::checks::health::Transition;
use crate::engine::checks::CheckPlan;
use crate::engine::runtime::Core;

/// HAProxy's CHK_ST_* bits of `show servers state`.
const CONFIGURED: u8 = 2;
const ENABLED: u8 = 4;
const PAUSED: u8 = 8;
const AGENT: u8 = 16;

/// Where a server added at run time was declared, as HAProxy prints it.
pub const ADDED_LOC: &str = "(null):0";

/// The reason a forced state change gives in its line.
const FROM_CLI: &str = "changed from CLI";

fn check(core: &Core, b: usize, s: usize) -> Option<&CheckPlan> {
    core.shared.plan.checks.check_of(b, s)
}

fn agent(core: &Core, b: usize, s: usize) -> Option<&AgentPlan> {
    core.shared.plan.checks.agent_of(b, s)
}

/// `enable|disable health|agent <b>/<s>` (cli_parse_{en,dis}able_*):
/// the flag only; a disabled check stops running at its next wake-up and
/// no longer drives the server's state (nor holds it down). Disabling a
/// check that was never configured is accepted and does nothing, as
/// HAProxy's.
pub fn onoff(c: &mut Ctx<'_>, agent_check: bool, on: bool) -> Reply {
    let (b, s) = match super::commands::find_server(c, 2) {
        Ok(x) => x,
        Err(r) => return r,
    };
    if crate::engine::checks::enable(c.core, b, s, agent_check, on) || !on {
        Reply::Empty
    } else if agent_check {
        Reply::err("Agent was not configured on this server, cannot enable.\n")
    } else {
        Reply::err("Health check was not configured on this server, cannot enable.\n")
    }
}

/// The `set server <b>/<s>` subcommands about checks (word 3).
pub fn set_server(c: &Ctx<'_>, b: usize, s: usize) -> Reply {
    let what = c.arg(3);
    match what {
        "health" => set_health(c, b, s),
        "agent" => set_agent(c, b, s),
        "agent-send" => match agent(c.core, b, s).filter(|a| a.ctl.enabled()) {
            None => Reply::err("agent checks are not enabled on this server.\n"),
            Some(a) => {
                a.new_send.put(c.arg(4).as_bytes().to_vec());
                Reply::Empty
            }
        },
        "check-addr" | "agent-addr" if c.arg(4).is_empty() => Reply::err(format!(
            "set server <b>/<s> {what} requires an address and optionally a port.\n"
        )),
        "check-port" | "agent-port" if c.arg(4).is_empty() => {
            Reply::err(format!("set server <b>/<s> {what} requires a port.\n"))
        }
        "check-addr" | "check-port" => {
            let (addr, port) = addr_port(c, what == "check-addr");
            let ctl = check(c.core, b, s).map(|k| &k.ctl);
            move_target(ctl, true, addr, port)
        }
        _ => {
            let (addr, port) = addr_port(c, what == "agent-addr");
            let ctl = agent(c.core, b, s).map(|a| &a.ctl);
            move_target(ctl, false, addr, port)
        }
    }
}

/// The address and port words of `check-addr <ip> [port <p>]` or
/// `check-port <p>` (and the agent's).
fn addr_port<'a>(c: &'a Ctx<'_>, with_addr: bool) -> (Option<&'a str>, Option<&'a str>) {
    if with_addr {
        (Some(c.arg(4)), (c.arg(5) == "port").then(|| c.arg(6)))
    } else {
        (None, Some(c.arg(4)))
    }
}

/// srv_update_check_addr_port / srv_update_agent_addr_port: a warning
/// (not an error) when refused, nothing changed; else the next run
/// connects there.
fn move_target(
    ctl: Option<&crate::engine::checks::control::Control>,
    health: bool,
    addr: Option<&str>,
    port: Option<&str>,
) -> Reply {
    let warn = |m: String| Reply::Msg(LOG_WARNING, m);
    let Some(ctl) = ctl.filter(|x| x.enabled()) else {
        let kind = if health { "health" } else { "agent" };
        return warn(format!("{kind} checks are not enabled on this server"));
    };
    // HAProxy resolves an agent's host name here (str2ip); ringlb takes
    // an IP address only: no blocking lookup on a core.
    let ip = match addr {
        Some(a) => match a.parse::<IpAddr>() {
            Ok(ip) => Some(ip),
            Err(_) => return warn(format!("invalid addr '{a}'")),
        },
        None => None,
    };
    let port = match port.map(parse_port) {
        Some(Err(e)) => return warn(e.to_string()),
        Some(Ok(0)) if health && ctl.maps_ports() => {
            return warn("can't unset 'port' since MAPPORTS is in use".to_string())
        }
        Some(Ok(p)) => Some(p),
        None => None,
    };
    ctl.change(ip, port);
    Reply::Empty
}

/// `set server <b>/<s> health up|stopping|down`: the check's counter to
/// fully up (or 0) and the server's state with "changed from CLI", its
/// trackers following; refused on a server that tracks another.
fn set_health(c: &Ctx<'_>, b: usize, s: usize) -> Reply {
    let core = c.core;
    if crate::engine::checks::admin::tracked(core, b, s).is_some() {
        return Reply::err("cannot change health on a tracking server.\n");
    }
    let to = match c.arg(4) {
        "up" => Transition::Up,
        "stopping" => Transition::Stopping,
        "down" => Transition::Down,
        _ => return Reply::err("'set server <srv> health' expects 'up', 'stopping', or 'down'.\n"),
    };
    crate::engine::checks::force_health(core, b, s, to, FROM_CLI);
    Reply::Empty
}

/// `set server <b>/<s> agent up|down`: the agent's counter, then the
/// server's state, as `health` does.
fn set_agent(c: &Ctx<'_>, b: usize, s: usize) -> Reply {
    let core = c.core;
    if agent(core, b, s).filter(|a| a.ctl.enabled()).is_none() {
        return Reply::err("agent checks are not enabled on this server.\n");
    }
    let up = match c.arg(4) {
        "up" => true,
        "down" => false,
        _ => return Reply::err("'set server <srv> agent' expects 'up' or 'down'.\n"),
    };
    crate::engine::checks::force_agent(core, b, s, up, FROM_CLI);
    Reply::Empty
}

/// `show servers state`'s check columns of server (b, s):
/// srv_check_state, srv_agent_state, srv_check_port, srv_check_addr,
/// srv_agent_addr, srv_agent_port.
#[derive(Debug)]
pub struct StateColumns {
    pub check_state: u8,
    pub agent_state: u8,
    pub check_port: u16,
    pub check_addr: String,
    pub agent_addr: String,
    pub agent_port: u16,
}

pub fn state_columns(core: &Core, b: usize, s: usize, maint: bool) -> StateColumns {
    let addr = |a: Option<IpAddr>| a.map_or_else(|| "-".to_string(), |ip| ip.to_string());
    // A check enabled when its server went into maintenance is paused;
    // an agent is never paused (HAProxy 2.6 goes on asking it).
    let bits = |enabled: bool, paused: bool| {
        CONFIGURED | if enabled { ENABLED } else { 0 } | if enabled && paused { PAUSED } else { 0 }
    };
    let conf = core.shared.plan.checks.configured_of(b, s).cloned();
    // A server added at run time: its own line's (the slot may have held
    // a configured server before).
    let added = core
        .shared
        .plan
        .backends
        .get(b)
        .and_then(|be| be.servers.get(s))
        .map(crate::engine::plan::ServerPlan::conf)
        .filter(|c| c.loc == ADDED_LOC);
    let conf = match added {
        Some(c) => c.probes.as_deref().cloned(),
        None => conf,
    }
    .unwrap_or_default();
    let (check_state, check_port, check_addr) = match check(core, b, s) {
        Some(k) => (
            bits(k.ctl.enabled(), k.ctl.paused(maint)),
            k.ctl.port(),
            addr(k.ctl.addr()),
        ),
        None => (0, conf.check_port, addr(conf.check_addr)),
    };
    let (agent_state, agent_addr, agent_port) = match agent(core, b, s) {
        Some(a) => (
            bits(a.ctl.enabled(), false) | AGENT,
            addr(a.ctl.addr()),
            a.ctl.port(),
        ),
        None => (0, addr(conf.agent_addr), conf.agent_port),
    };
    StateColumns {
        check_state,
        agent_state,
        check_port,
        check_addr,
        agent_addr,
        agent_port,
    }
}
