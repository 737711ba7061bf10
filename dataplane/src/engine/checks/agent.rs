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
use std::sync::atomic::{AtomicU32, Ordering};
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
    pub target: Target,
    /// `agent-inter`, else the server's `inter`.
    pub inter: Duration,
    /// `agent-send` (nothing when absent).
    pub send: Vec<u8>,
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
    /// Whether the agent lets the server be up (agent.health >= rise).
    pub fn allows_up(&self) -> bool {
        self.health.load(Ordering::Relaxed) >= AGENT_RISE
    }
}

/// An admin word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdminWord {
    Ready,
    Drain,
    Maint,
}

/// One agent line, parsed (the words borrow from it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reply<'a> {
    /// The health word as written, and whether it says up.
    pub health: Option<(&'a str, bool)>,
    pub admin: Option<AdminWord>,
    /// The last `N%...` word.
    pub weight: Option<&'a str>,
    /// What follows `maxconn:` in the last such word.
    pub maxconn: Option<&'a str>,
    /// The first word not understood.
    pub error: Option<&'a str>,
    /// The text after `#`.
    pub desc: &'a str,
}

/// The agent's line: up to the first CR or LF, or None while there is
/// none.
pub fn line(data: &[u8]) -> Option<&[u8]> {
    let end = data.iter().position(|&c| c == b'\n' || c == b'\r')?;
    data.get(..end)
}

/// The words of a line (tcpcheck_agent_expect_reply). A NUL ends the line
/// as it ends HAProxy's string.
pub fn parse(line: &str) -> Reply<'_> {
    let line = line.split('\0').next().unwrap_or("");
    let mut r = Reply::default();
    let mut rest = line;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if let Some(d) = rest.strip_prefix('#') {
            r.desc = d.trim_start_matches([' ', '\t']);
            break;
        }
        if rest.is_empty() {
            break;
        }
        let end = rest.find([' ', '\t', ',', '\n']).unwrap_or(rest.len());
        let (word, after) = rest.split_at(end);
        rest = after;
        let is = |w: &str| word.eq_ignore_ascii_case(w);
        if is("up") {
            r.health = Some((word, true));
        } else if is("down") || is("stopped") || is("fail") {
            r.health = Some((word, false));
        } else if is("ready") {
            r.admin = Some(AdminWord::Ready);
        } else if is("drain") {
            r.admin = Some(AdminWord::Drain);
        } else if is("maint") {
            r.admin = Some(AdminWord::Maint);
        } else if word.starts_with(|c: char| c.is_ascii_digit()) && word.contains('%') {
            r.weight = Some(word);
        } else if word.len() >= 8
            && word
                .get(..8)
                .is_some_and(|p| p.eq_ignore_ascii_case("maxconn:"))
        {
            r.maxconn = word.get(8..);
        } else if r.error.is_none() {
            r.error = Some(word);
        }
    }
    r
}

/// strtol's view of `s`: the number its leading digits (after blanks and a
/// sign) make, and what follows; None when no digit.
fn strtol(s: &str) -> Option<(i64, &str)> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, t.get(1..).unwrap_or("")),
        Some(b'+') => (false, t.get(1..).unwrap_or("")),
        _ => (false, t),
    };
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let (num, after) = t.split_at(digits);
    let v = num.bytes().fold(0i64, |v, d| {
        v.saturating_mul(10).saturating_add(i64::from(d - b'0'))
    });
    Some((if neg { -v } else { v }, after))
}

/// server_parse_weight_change_request: the user weight a weight word
/// asks for, from the configured one, or HAProxy's message.
pub fn weight_change(word: &str, iweight: u32, dynamic: bool) -> Result<u32, &'static str> {
    if word.is_empty() {
        return Err("Require <weight> or <weight%>.\n");
    }
    let Some((mut w, end)) = strtol(word) else {
        return Err("Empty weight string empty or preceded by garbage");
    };
    if end == "%" {
        if w < 0 {
            return Err("Relative weight must be positive.\n");
        }
        w = w.min(25600);
        w = (i64::from(iweight) * w / 100).min(256);
    } else if !(0..=256).contains(&w) {
        return Err("Absolute weight can only be between 0 and 256 inclusive.\n");
    } else if !end.is_empty() {
        return Err("Trailing garbage in weight string");
    }
    let w = u32::try_from(w).unwrap_or(0);
    if w != 0 && w != iweight && !dynamic {
        return Err(
            "Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.\n",
        );
    }
    Ok(w)
}

/// server_parse_maxconn_change_request: the limit a `maxconn:` word asks
/// for, or HAProxy's message.
pub fn maxconn_change(v: &str) -> Result<u32, &'static str> {
    if v.is_empty() {
        return Err("Require <maxconn>.\n");
    }
    match strtol(v) {
        None => Err("maxconn string empty or preceded by garbage"),
        Some((_, end)) if !end.is_empty() => Err("Trailing garbage in maxconn string"),
        // A negative limit is no limit here (HAProxy would store it as a
        // huge unsigned one).
        Some((n, _)) => Ok(u32::try_from(n).unwrap_or(if n < 0 { 0 } else { u32::MAX })),
    }
}

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
    let shared = &core.shared;
    let Some(plan) = shared.plan.checks.agents.get(idx) else {
        return;
    };
    let Some(srv) = shared
        .plan
        .backends
        .get(plan.backend)
        .and_then(|be| be.servers.get(plan.server))
    else {
        return;
    };
    let mut prev = Status::Ini;
    let mut seed = 0x2545_f491u32 ^ u32::try_from(idx).unwrap_or(0).wrapping_mul(0x9e37_79b9) | 1;
    let entry = core.timers.register();
    let mut next = Instant::now() + plan.first;
    loop {
        entry.set(Some(next));
        {
            let wait = std::pin::pin!(entry.wait());
            let stop = std::pin::pin!(core.stop_accepting.wait());
            if let Either::Right(_) = select(wait, stop).await {
                return;
            }
        }
        let start = Instant::now();
        let ending = {
            let check = std::pin::pin!(agent_once(core, plan, srv));
            let stop = std::pin::pin!(core.stop_accepting.wait());
            match select(check, stop).await {
                Either::Left((e, _)) => e,
                Either::Right(_) => return,
            }
        };
        apply(core, plan, srv, &mut prev, ending, start.elapsed());
        // srv_getinter with rise = fall = 1: always `inter`.
        next = Instant::now() + run::jitter(&mut seed, plan.inter, plan.spread);
    }
}

async fn agent_once(core: &Core, plan: &AgentPlan, srv: &ServerPlan) -> Ending {
    let d = Deadlines::with(plan.inter, plan.timeout_check, plan.timeout_connect);
    let connecting = run::connect(&plan.target, srv, false);
    let conn = match timer::timeout(&core.timers, run::left(d.connect), connecting).await {
        Err(()) => return Ending::Failed(Status::L4Tout, String::new()),
        Ok(Err(e)) => return Ending::Failed(Status::L4Con, run::strerror(&e)),
        Ok(Ok(c)) => c,
    };
    let until = d.connected();
    let bufsize = core.shared.plan.bufsize;
    let exchange = async {
        if !plan.send.is_empty() {
            let (res, _) = conn.write_vec(plan.send.clone()).await;
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
                match weight_change(w, srv.weight, srv.weights.dynamic) {
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
                &srv.name,
                srv.backup,
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
    if let Some(c) = shared
        .plan
        .checks
        .list
        .iter()
        .find(|c| c.backend == b && c.server == s)
    {
        if c.health_now.load(Ordering::Relaxed) < c.rise {
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
    fn words_as_haproxy_reads_them() {
        let r = parse("up 75%,maxconn:30\tdrain # all good  ");
        assert_eq!(r.health, Some(("up", true)));
        assert_eq!(r.weight, Some("75%"));
        assert_eq!(r.maxconn, Some("30"));
        assert_eq!(r.admin, Some(AdminWord::Drain));
        assert_eq!(r.desc, "all good  ");
        let r = parse("DOWN bogus other fail");
        assert_eq!(r.health, Some(("fail", false)), "the last one wins");
        assert_eq!(r.error, Some("bogus"), "the first error is kept");
        assert_eq!(parse("").health, None);
        assert_eq!(parse("x%").error, Some("x%"));
        assert_eq!(parse("#up").health, None, "a comment only");
        assert_eq!(parse("ready\0up").health, None, "a NUL ends the line");
        assert_eq!(line(b"up\r\nx"), Some(&b"up"[..]));
        assert_eq!(line(b"up"), None);
    }

    #[test]
    fn weights_and_limits_as_haproxy_parses_them() {
        assert_eq!(weight_change("50%", 10, true), Ok(5));
        assert_eq!(weight_change("300%", 100, true), Ok(256), "capped");
        assert_eq!(weight_change("100%", 10, false), Ok(10));
        assert_eq!(weight_change("0%", 10, false), Ok(0));
        assert!(weight_change("50%", 10, false)
            .unwrap_err()
            .starts_with("Backend is using a static LB algorithm"));
        assert_eq!(
            weight_change("5%x", 10, true),
            Err("Trailing garbage in weight string")
        );
        assert_eq!(maxconn_change("30"), Ok(30));
        assert_eq!(maxconn_change(""), Err("Require <maxconn>.\n"));
        assert_eq!(
            maxconn_change("x"),
            Err("maxconn string empty or preceded by garbage")
        );
        assert_eq!(
            maxconn_change("3x"),
            Err("Trailing garbage in maxconn string")
        );
    }

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
