//! HAProxy's statistics: the rows of `show stat` and of the stats page
//! (one FRONTEND line, one line per server, one BACKEND line per proxy,
//! HAProxy 2.6's fields in their fixed order), in CSV, typed and JSON
//! form (src/stats.c), read from the per-core counters
//! (`runtime::counters`), the shared gauges and the servers' states.
//!
//! Cells HAProxy leaves empty for a kind of row stay empty here; the
//! fields of HAProxy's extra stats modules (ssl, h1, h2 counters printed
//! after the `-` column) are not printed (see docs/differences.md).

pub mod fields;
pub mod page;
pub mod plan;
pub mod prometheus;

use std::borrow::Cow;
use std::fmt::Write as _;

use fields as f;

use crate::engine::backend::server::{admin, Oper};
use crate::engine::checks::health::Status;
use crate::engine::runtime::counters::{Be, Fe, FeRate, Obj, Peak, Stat};
use crate::engine::Process;

pub use plan::{PageConf, StatsPlan};

/// A cell's value (HAProxy's `field` formats).
#[derive(Clone, Debug, Default)]
enum Val {
    #[default]
    Empty,
    U32(u64),
    U64(u64),
    S32(i64),
    Str(Cow<'static, str>),
}

/// A cell: its value and its tags (origin, nature, scope letters, as
/// `stats_emit_field_tags` prints them).
#[derive(Clone, Debug, Default)]
struct Cell {
    val: Val,
    tags: &'static str,
}

/// Row kinds, HAProxy's STATS_TYPE_*.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Fe = 0,
    Be = 1,
    Sv = 2,
    /// A listener (HAProxy's STATS_TYPE_SO).
    So = 3,
}

struct Row {
    kind: Kind,
    iid: u32,
    sid: u32,
    cells: Vec<Cell>,
}

impl Row {
    fn new(kind: Kind, iid: u32, sid: u32) -> Row {
        Row {
            kind,
            iid,
            sid,
            cells: vec![Cell::default(); f::TOTAL],
        }
    }
    fn set(&mut self, i: usize, tags: &'static str, val: Val) {
        if let Some(c) = self.cells.get_mut(i) {
            *c = Cell { val, tags };
        }
    }
    fn u32(&mut self, i: usize, tags: &'static str, v: u64) {
        self.set(i, tags, Val::U32(v));
    }
    fn u64(&mut self, i: usize, tags: &'static str, v: u64) {
        self.set(i, tags, Val::U64(v));
    }
    fn str(&mut self, i: usize, tags: &'static str, v: impl Into<Cow<'static, str>>) {
        self.set(i, tags, Val::Str(v.into()));
    }
    fn get(&self, i: usize) -> Option<&Val> {
        self.cells.get(i).map(|c| &c.val)
    }
}

// Tags, as HAProxy's mkf_*() flags give them.
const KNS: &str = "KNS"; // FO_KEY|FN_NAME|FS_SERVICE
const CGS: &str = "CGS"; // FO_CONFIG|FS_SERVICE
const MGP: &str = "MGP"; // 0
const MMP: &str = "MMP"; // FN_MAX
const CLP: &str = "CLP"; // FO_CONFIG|FN_LIMIT
const MCP: &str = "MCP"; // FN_COUNTER
const SGP: &str = "SGP"; // FO_STATUS
const KGP: &str = "KGP"; // FO_KEY
const KGS: &str = "KGS"; // FO_KEY|FS_SERVICE
const MRP: &str = "MRP"; // FN_RATE
const MAP: &str = "MAP"; // FN_AGE
const MAV: &str = "MaP"; // FN_AVG
const MOP: &str = "MOP"; // FN_OUTPUT
const MDP: &str = "MDP"; // FN_DURATION
const CNS: &str = "CNS"; // FO_CONFIG|FN_NAME|FS_SERVICE

/// Output options (`show stat` words, the page's variants).
#[derive(Clone, Copy, Debug, Default)]
pub struct Opts {
    pub typed: bool,
    pub json: bool,
    pub desc: bool,
    /// `up`: hide servers down and not changing state (and maintenance).
    pub hide_down: bool,
    /// `no-maint`: hide servers in maintenance.
    pub hide_maint: bool,
    /// Show addr, cookie, algo (CLI level operator or admin, or the
    /// page's `stats show-legends`).
    pub legends: bool,
    /// `show stat <iid> <type> <sid>`: (iid or -1, type mask, sid or -1).
    pub bound: Option<(i64, i64, i64)>,
}

/// `show stat [{<iid>|<proxy>} <type> <sid>] [typed|json] [desc] [up|no-maint]`,
/// answered as an operator (addresses shown). The CLI adds its final
/// empty line.
pub fn show_stat(process: &Process, args: &[&str]) -> Result<String, String> {
    show_stat_as(process, args, true)
}

/// `show stat` at a CLI level: `legends` at operator and admin.
pub fn show_stat_as(process: &Process, args: &[&str], legends: bool) -> Result<String, String> {
    let mut args = args;
    if args.first() == Some(&"domain") {
        match args.get(1) {
            Some(&"proxy") => args = args.get(2..).unwrap_or(&[]),
            _ => return Err("Invalid statistics domain.\n".into()),
        }
    }
    let mut o = Opts {
        legends,
        ..Opts::default()
    };
    if let [px, ty, sid, rest @ ..] = args {
        let iid = process
            .plan
            .stats
            .proxies
            .iter()
            .find(|p| p.name == *px)
            .map_or_else(|| atoi(px), |p| i64::from(p.iid));
        if iid == 0 {
            return Err("No such proxy.\n".into());
        }
        o.bound = Some((iid, atoi(ty), atoi(sid)));
        args = rest;
    }
    for a in args {
        match *a {
            "typed" => (o.typed, o.json) = (true, false),
            "json" => (o.typed, o.json) = (false, true),
            "desc" => o.desc = true,
            "no-maint" => o.hide_maint = true,
            "up" => o.hide_down = true,
            _ => {}
        }
    }
    Ok(render(process, &o, &[]))
}

/// C's atoi: leading digits with a sign, 0 otherwise.
fn atoi(s: &str) -> i64 {
    let s = s.trim_start();
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let v: i64 = digits.parse().unwrap_or(0);
    if neg {
        -v
    } else {
        v
    }
}

/// A connection accepted on frontend `fe` (`feconn` now): conn_tot, the
/// connection rate and smax (HAProxy counts these in the listener, before
/// the `tcp-request connection` rules).
pub fn count_session(core: &crate::engine::runtime::Core, fe: usize, feconn: u32) {
    let st = &core.shared.stats;
    let now = core.shared.now_ms();
    st.add(core.id, Stat::Fe(fe, Fe::ConnTot), 1);
    st.tick(core.id, Obj::Fe(fe), FeRate::Conn, now);
    st.peak(Peak::Sess(Obj::Fe(fe)), feconn);
}

/// A connection past the `tcp-request connection` and `session` rules
/// (HAProxy's session_count_new): stot and the session rate.
pub fn count_admitted(core: &crate::engine::runtime::Core, fe: usize) {
    let st = &core.shared.stats;
    st.add(core.id, Stat::Fe(fe, Fe::SessTot), 1);
    st.tick(core.id, Obj::Fe(fe), FeRate::Sess, core.shared.now_ms());
}

/// `c` on backend `b` and, when one was taken, its server `s`.
pub fn count_be(core: &crate::engine::runtime::Core, b: usize, s: Option<usize>, c: Be) {
    let st = &core.shared.stats;
    st.add(core.id, Stat::Be(b, c), 1);
    if let Some(s) = s {
        st.add(core.id, Stat::Srv(b, s, c), 1);
    }
}

/// `c` on frontend `fe` (and its listener `luid`), and `bc` on its backend and server when the
/// stream reached them (HAProxy counts denials, aborts, failed rewrites
/// and internal errors on the three).
pub fn count_fe_be(
    core: &crate::engine::runtime::Core,
    (fe, luid): (usize, u32),
    be: Option<(usize, Option<usize>)>,
    (c, bc): (Fe, Be),
) {
    core.shared.stats.add_fe(core.id, fe, luid, c, 1);
    if let Some((b, s)) = be {
        count_be(core, b, s, bc);
    }
}

/// A stream assigned to backend `b` (`beconn` now): stot, its rate,
/// smax, lastsess.
pub fn count_backend_stream(core: &crate::engine::runtime::Core, b: usize, beconn: u32) {
    let st = &core.shared.stats;
    let now = core.shared.now_ms();
    st.add(core.id, Stat::Be(b, Be::SessTot), 1);
    st.tick(core.id, Obj::Be(b), FeRate::Sess, now);
    st.touch(core.id, Obj::Be(b), now);
    st.peak(Peak::Sess(Obj::Be(b)), beconn);
}

/// A server of backend `b` taken by a stream, `lb`: chosen by the load
/// balancing (lbtot): its rate, smax, lastsess.
pub fn count_server_pick(core: &crate::engine::runtime::Core, b: usize, s: usize, lb: bool) {
    let st = &core.shared.stats;
    let now = core.shared.now_ms();
    if lb {
        st.add(core.id, Stat::Be(b, Be::LbTot), 1);
        st.add(core.id, Stat::Srv(b, s, Be::LbTot), 1);
    }
    st.tick(core.id, Obj::Srv(b, s), FeRate::Sess, now);
    st.touch(core.id, Obj::Srv(b, s), now);
    if let Some(srv) = core
        .shared
        .plan
        .backends
        .get(b)
        .and_then(|be| be.servers.get(s))
    {
        st.peak(Peak::Sess(Obj::Srv(b, s)), srv.conns.get());
    }
}

/// An HTTP request parsed on frontend `fe`: req_tot and its rate.
pub fn count_request(core: &crate::engine::runtime::Core, fe: usize) {
    let st = &core.shared.stats;
    st.add(core.id, Stat::Fe(fe, Fe::ReqTot), 1);
    st.tick(core.id, Obj::Fe(fe), FeRate::Req, core.shared.now_ms());
}

/// `show schema json`.
pub fn schema_json() -> String {
    include_str!("schema.json").to_string()
}

/// Every row `o` asks for, in HAProxy's order; `scope`: `stats scope`
/// names (empty: every proxy).
fn rows(process: &Process, o: &Opts, scope: &[String]) -> Vec<Row> {
    let mut out = Vec::new();
    let now = process.now_ms();
    for px in &process.plan.stats.proxies {
        // `stats scope` names whole proxies (stats_dump_proxy_to_buffer).
        if !scope.is_empty() && !scope.contains(&px.name) {
            continue;
        }
        let (mask, sid) = match o.bound {
            Some((iid, _, _)) if iid != -1 && iid != i64::from(px.iid) => continue,
            Some((_, t, s)) => (t, s),
            None => (-1, -1),
        };
        let want = |k: Kind| mask == -1 || mask & (1 << k as i64) != 0;
        if let (Some(fe), true) = (px.fe, want(Kind::Fe)) {
            out.push(fe_row(process, px, fe, now));
        }
        // The listeners with counters (stats_dump_proxy_to_buffer's
        // STAT_PX_ST_LI), between the frontend and the servers.
        if let (Some(fe), true) = (px.fe, want(Kind::So)) {
            for (li, l) in process.plan.stats.listeners.iter().enumerate() {
                if !l.row || l.fe != fe || (sid != -1 && i64::from(l.luid) != sid) {
                    continue;
                }
                out.push(li_row(process, px, (li, l), o));
            }
        }
        if let Some(b) = px.be {
            if want(Kind::Sv) {
                if let Some(be) = process.plan.backends.get(b) {
                    for (s, srv) in be.servers.iter().enumerate() {
                        if srv.is_vacant() {
                            continue;
                        }
                        if sid != -1 && i64::from(srv.conf().id) != sid {
                            continue;
                        }
                        if hidden(process, o, b, s) {
                            continue;
                        }
                        out.push(sv_row(process, px, (b, s), o, now));
                    }
                }
            }
            if want(Kind::Be) {
                out.push(be_row(process, px, b, o, now));
            }
        }
    }
    out
}

/// `up` and `no-maint` hide servers (stats_dump_proxy_to_buffer).
fn hidden(process: &Process, o: &Opts, b: usize, s: usize) -> bool {
    let Some(srv) = process
        .plan
        .backends
        .get(b)
        .and_then(|be| be.servers.get(s))
    else {
        return true;
    };
    let st = srv.state.get();
    let maint = st.admin & admin::MAINT != 0;
    if o.hide_maint && maint {
        return true;
    }
    if o.hide_down {
        if maint {
            return true;
        }
        if st.oper == Oper::Stopped {
            // Down and not changing: no enabled check nor agent at the
            // end of the track chain, or one of them at 0.
            let (rb, rs) = tracked_end(process, b, s);
            let checked = check_of(process, rb, rs).filter(|c| c.ctl.enabled());
            let agent = process
                .plan
                .checks
                .agent_of(rb, rs)
                .filter(|a| a.ctl.enabled());
            let health = process
                .stats
                .changes(Obj::Srv(rb, rs))
                .map_or(0, |c| c.health.load(std::sync::atomic::Ordering::Relaxed));
            let agent_down =
                agent.is_some_and(|a| a.health.load(std::sync::atomic::Ordering::Relaxed) == 0);
            if (checked.is_none() && agent.is_none())
                || agent_down
                || (checked.is_some() && health == 0)
            {
                return true;
            }
        }
    }
    false
}

/// The server at the end of `(b, s)`'s `track` chain (itself if none).
fn tracked_end(process: &Process, b: usize, s: usize) -> (usize, usize) {
    let mut at = (b, s);
    for _ in 0..64 {
        match tracks(process, at.0, at.1) {
            Some(next) => at = next,
            None => break,
        }
    }
    at
}

/// The server `(b, s)` tracks directly.
fn tracks(process: &Process, b: usize, s: usize) -> Option<(usize, usize)> {
    fn find(
        ts: &[crate::engine::checks::Tracker],
        via: (usize, usize),
        want: (usize, usize),
    ) -> Option<(usize, usize)> {
        for t in ts {
            if (t.backend, t.server) == want {
                return Some(via);
            }
            if let Some(v) = find(&t.trackers, (t.backend, t.server), want) {
                return Some(v);
            }
        }
        None
    }
    if !crate::engine::checks::track::configured_here(&process.plan, b, s) {
        return crate::engine::checks::track::added_tracked(&process.plan, b, s);
    }
    process
        .plan
        .checks
        .list
        .iter()
        .find_map(|c| find(&c.trackers, (c.backend, c.server), (b, s)))
}

fn check_of(process: &Process, b: usize, s: usize) -> Option<&crate::engine::checks::CheckPlan> {
    process.plan.checks.check_of(b, s)
}

fn mode(px: &plan::ProxyInfo) -> &'static str {
    if px.http {
        "http"
    } else {
        "tcp"
    }
}

fn secs(ms: u64) -> u64 {
    ms / 1000
}

fn fe_row(process: &Process, px: &plan::ProxyInfo, i: usize, now: u64) -> Row {
    let mut r = Row::new(Kind::Fe, px.iid, 0);
    let Some(fe) = process.plan.frontends.get(i) else {
        return r;
    };
    let st = &process.stats;
    let c = |x: Fe| st.sum(Stat::Fe(i, x));
    let obj = Obj::Fe(i);
    r.str(f::PXNAME, KNS, px.name.clone());
    r.str(f::SVNAME, KNS, "FRONTEND");
    r.str(f::MODE, CGS, mode(px));
    r.u32(f::SCUR, MGP, u64::from(fe.feconn.get()));
    r.u32(f::SMAX, MMP, u64::from(st.peak_of(Peak::Sess(obj))));
    let maxconn = if fe.maxconn > 0 {
        fe.maxconn
    } else {
        process.plan.maxconn
    };
    r.u32(f::SLIM, CLP, u64::from(maxconn));
    r.u64(f::STOT, MCP, c(Fe::SessTot));
    r.u64(f::BIN, MCP, c(Fe::BytesIn));
    r.u64(f::BOUT, MCP, c(Fe::BytesOut));
    r.u64(f::DREQ, MCP, c(Fe::DeniedReq));
    r.u64(f::DRESP, MCP, c(Fe::DeniedResp));
    r.u64(f::EREQ, MCP, c(Fe::FailedReq));
    r.u64(f::DCON, MCP, c(Fe::DeniedConn));
    r.u64(f::DSES, MCP, c(Fe::DeniedSess));
    let state = if process.is_stopping() {
        "STOP"
    } else {
        "OPEN"
    };
    r.str(f::STATUS, SGP, state);
    r.u32(f::PID, KGP, 1);
    r.u32(f::IID, KGS, u64::from(px.iid));
    r.u32(f::SID, KGS, 0);
    r.u32(f::TYPE, CGS, Kind::Fe as u64);
    let (rate, rate_max) = st.rate(obj, FeRate::Sess, now);
    r.u32(f::RATE, MRP, rate);
    r.u32(f::RATE_LIM, CLP, u64::from(fe.rate_limit));
    r.u32(f::RATE_MAX, MMP, rate_max);
    r.u64(f::WREW, MCP, c(Fe::FailedRewrites));
    r.u64(f::EINT, MCP, c(Fe::InternalErrors));
    if px.http {
        r.u64(f::HRSP_1XX, MCP, c(Fe::Rsp1));
        r.u64(f::HRSP_2XX, MCP, c(Fe::Rsp2));
        r.u64(f::HRSP_3XX, MCP, c(Fe::Rsp3));
        r.u64(f::HRSP_4XX, MCP, c(Fe::Rsp4));
        r.u64(f::HRSP_5XX, MCP, c(Fe::Rsp5));
        r.u64(f::HRSP_OTHER, MCP, c(Fe::Rsp0));
        r.u64(f::INTERCEPTED, MCP, c(Fe::Intercepted));
        r.u64(f::CACHE_LOOKUPS, MCP, 0);
        r.u64(f::CACHE_HITS, MCP, 0);
    }
    let (req_rate, req_max) = st.rate(obj, FeRate::Req, now);
    r.u32(f::REQ_RATE, MRP, req_rate);
    r.u32(f::REQ_RATE_MAX, MMP, req_max);
    r.u64(f::REQ_TOT, MCP, c(Fe::ReqTot));
    for k in [f::COMP_IN, f::COMP_OUT, f::COMP_BYP, f::COMP_RSP] {
        r.u64(k, MCP, 0);
    }
    let (conn_rate, conn_max) = st.rate(obj, FeRate::Conn, now);
    r.u32(f::CONN_RATE, MRP, conn_rate);
    r.u32(f::CONN_RATE_MAX, MMP, conn_max);
    r.u64(f::CONN_TOT, MCP, c(Fe::ConnTot));
    r
}

/// A listener's row (stats_fill_li_stats): its own counters, its
/// connections against the bind's `maxconn`.
fn li_row(
    process: &Process,
    px: &plan::ProxyInfo,
    (li, l): (usize, &plan::ListenerInfo),
    o: &Opts,
) -> Row {
    let mut r = Row::new(Kind::So, px.iid, l.luid);
    let st = &process.stats;
    let c = |x: Fe| st.sum_li(li, x);
    let (cur, max) = st.li_conns(li);
    r.str(f::PXNAME, KNS, px.name.clone());
    r.str(f::SVNAME, KNS, l.name.clone());
    r.str(f::MODE, CGS, mode(px));
    r.u32(f::SCUR, MGP, u64::from(cur));
    r.u32(f::SMAX, MMP, u64::from(max));
    r.u32(f::SLIM, CLP, u64::from(l.maxconn));
    r.u64(f::STOT, MCP, c(Fe::ConnTot));
    r.u64(f::BIN, MCP, c(Fe::BytesIn));
    r.u64(f::BOUT, MCP, c(Fe::BytesOut));
    r.u64(f::DREQ, MCP, c(Fe::DeniedReq));
    r.u64(f::DRESP, MCP, c(Fe::DeniedResp));
    r.u64(f::EREQ, MCP, c(Fe::FailedReq));
    r.u64(f::DCON, MCP, c(Fe::DeniedConn));
    r.u64(f::DSES, MCP, c(Fe::DeniedSess));
    r.str(f::STATUS, SGP, li_status(process, l, cur));
    r.u32(f::PID, KGP, 1);
    r.u32(f::IID, KGS, u64::from(px.iid));
    r.u32(f::SID, KGS, u64::from(l.luid));
    r.u32(f::TYPE, CGS, Kind::So as u64);
    r.u64(f::WREW, MCP, c(Fe::FailedRewrites));
    r.u64(f::EINT, MCP, c(Fe::InternalErrors));
    if o.legends {
        if let Some(a) = l.addr.get() {
            r.str(f::ADDR, CGS, a.clone());
        }
    }
    r
}

/// HAProxy's get_li_status: FULL at the bind's `maxconn`, WAITING while
/// the frontend's or the process's limit holds it back (the listener is
/// LI_LIMITED), OPEN otherwise.
fn li_status(process: &Process, l: &plan::ListenerInfo, cur: u32) -> &'static str {
    if l.maxconn > 0 && cur >= l.maxconn {
        return "FULL";
    }
    let limits = &process.limits;
    let full = |v: u32, max: u32| max > 0 && v >= max;
    let fe_full = process
        .plan
        .frontends
        .get(l.fe)
        .is_some_and(|fe| full(fe.feconn.get(), limits.fe_maxconn(l.fe)));
    if fe_full || full(process.actconn.get(), limits.maxconn()) {
        "WAITING"
    } else {
        "OPEN"
    }
}

/// HAProxy's srv_hlt_st[] with the health figures.
fn server_status(process: &Process, b: usize, s: usize) -> String {
    let Some(srv) = process
        .plan
        .backends
        .get(b)
        .and_then(|be| be.servers.get(s))
    else {
        return String::new();
    };
    let st = srv.state.get();
    if st.admin & admin::IMAINT != 0 {
        if let Some((vb, vs)) = tracks(process, b, s) {
            let be = process.plan.backends.get(vb);
            let name = be
                .and_then(|be| be.servers.get(vs))
                .map_or(String::new(), |x| x.conf().name.clone());
            return format!(
                "MAINT (via {}/{})",
                be.map_or("", |be| be.name.as_str()),
                name
            );
        }
    }
    if st.admin & admin::MAINT != 0 {
        return "MAINT".into();
    }
    let (rb, rs) = tracked_end(process, b, s);
    let ref_oper = process
        .plan
        .backends
        .get(rb)
        .and_then(|be| be.servers.get(rs))
        .map_or(st.oper, |x| x.state.get().oper);
    // The checked server's (the end of the track chain) check and agent:
    // enabled or not, and their counters. A server without a check has
    // HAProxy's defaults (rise 2, fall 3, health = rise).
    let check = check_of(process, rb, rs).map(|c| {
        let t = c.tune();
        let health = process
            .stats
            .changes(Obj::Srv(rb, rs))
            .map_or(t.rise, |ch| {
                ch.health.load(std::sync::atomic::Ordering::Relaxed)
            });
        (c.ctl.enabled(), health, t.rise.max(1), t.fall.max(1))
    });
    let (check_on, health, rise, fall) = check.unwrap_or((false, 2, 2, 3));
    let agent = process
        .plan
        .checks
        .agent_of(rb, rs)
        .filter(|a| a.ctl.enabled());
    let own_check_on = check_of(process, b, s).is_some_and(|c| c.ctl.enabled());
    let tracking = (rb, rs) != (b, s);
    let full = rise + fall - 1;
    let drain = st.admin & admin::DRAIN != 0;
    // stats_fill_sv_stats_computestate: the word, and whether the
    // counter follows it ("UP 2/3", "DOWN 1/2").
    let (word, counted) = match st.oper {
        Oper::Running | Oper::Starting => {
            let going_down = check_on && health < full;
            if drain && agent.is_some() {
                ("DRAIN (agent)", false)
            } else if drain {
                ("DRAIN", going_down)
            } else if going_down {
                ("UP", true)
            } else if !check_on {
                ("no check", false)
            } else {
                ("UP", false)
            }
        }
        Oper::Stopping => ("NOLB", !((!own_check_on && !tracking) || health == full)),
        Oper::Stopped => {
            if agent.is_some_and(|a| a.health.load(std::sync::atomic::Ordering::Relaxed) == 0) {
                ("DOWN (agent)", false)
            } else if check_on && health == 0 {
                ("DOWN", false)
            } else if agent.is_some() || check_on {
                ("DOWN", true)
            } else {
                ("DOWN", false)
            }
        }
    };
    if !counted {
        return word.into();
    }
    let (x, y) = if ref_oper != Oper::Stopped {
        ((health + 1).saturating_sub(rise), fall)
    } else {
        (health, rise)
    };
    format!("{word} {x}/{y}")
}

fn addr_text(a: &crate::engine::plan::ServerAddr) -> Option<String> {
    use crate::engine::plan::ServerAddr as A;
    match a {
        A::Fixed(sa) => Some(sa.to_string()),
        A::Unix(_) => Some("unix".into()),
        A::SamePort(ip) | A::PortOffset(ip, _) => Some(match ip {
            std::net::IpAddr::V4(v) => format!("{v}:0"),
            std::net::IpAddr::V6(v) => format!("[{v}]:0"),
        }),
    }
}

fn sv_row(
    process: &Process,
    px: &plan::ProxyInfo,
    (b, s): (usize, usize),
    o: &Opts,
    now: u64,
) -> Row {
    let plan = &process.plan;
    let (Some(be), Some(srv)) = (
        plan.backends.get(b),
        plan.backends.get(b).and_then(|be| be.servers.get(s)),
    ) else {
        return Row::new(Kind::Sv, px.iid, 0);
    };
    let mut r = Row::new(Kind::Sv, px.iid, srv.conf().id);
    let st = &process.stats;
    let c = |x: Be| st.sum(Stat::Srv(b, s, x));
    let obj = Obj::Srv(b, s);
    let state = srv.state.get();
    let check = check_of(process, b, s);
    let changes = st.changes(obj);
    r.str(f::PXNAME, KNS, px.name.clone());
    r.str(f::SVNAME, KNS, srv.conf().name.clone());
    r.str(f::MODE, CGS, mode(px));
    r.u32(f::QCUR, MGP, u64::from(srv.queued.get()));
    r.u32(f::QMAX, MMP, u64::from(st.peak_of(Peak::Queue(obj))));
    r.u32(f::SCUR, MGP, u64::from(srv.conns.get()));
    r.u32(f::SMAX, MMP, u64::from(st.peak_of(Peak::Sess(obj))));
    if state.maxconn > 0 {
        r.u32(f::SLIM, CLP, u64::from(state.maxconn));
    }
    r.u32(f::SRV_ICUR, MGP, 0);
    if let Some(m) = srv.pool.max() {
        r.u32(f::SRV_ILIM, CLP, m as u64);
    }
    r.u64(f::STOT, MCP, c(Be::SessTot));
    r.u64(f::BIN, MCP, c(Be::BytesIn));
    r.u64(f::BOUT, MCP, c(Be::BytesOut));
    r.u64(f::DRESP, MCP, c(Be::DeniedResp));
    r.u64(f::ECON, MCP, c(Be::ConnErr));
    r.u64(f::ERESP, MCP, c(Be::FailedResp));
    r.u64(f::WRETR, MCP, c(Be::Retries));
    r.u64(f::WREDIS, MCP, c(Be::Redispatches));
    r.u64(f::WREW, MCP, c(Be::FailedRewrites));
    r.u64(f::EINT, MCP, c(Be::InternalErrors));
    r.u64(f::CONNECT, MCP, c(Be::Connect));
    r.u64(f::REUSE, MCP, c(Be::Reuse));
    for k in [
        f::IDLE_CONN_CUR,
        f::SAFE_CONN_CUR,
        f::USED_CONN_CUR,
        f::NEED_CONN_EST,
    ] {
        r.u32(k, MGP, 0);
    }
    r.str(f::STATUS, SGP, server_status(process, b, s));
    let last_change = changes.map_or(0, |c| {
        c.last_change.load(std::sync::atomic::Ordering::Relaxed)
    });
    r.u32(f::LASTCHG, MAP, secs(now.saturating_sub(last_change)));
    r.u32(f::WEIGHT, MAV, u64::from(state.weight()));
    r.u32(f::UWEIGHT, MAV, u64::from(srv.conf().weight));
    r.u32(f::ACT, SGP, u64::from(!srv.is_backup()));
    r.u32(f::BCK, SGP, u64::from(srv.is_backup()));
    // A disabled check's columns are empty, and so are a paused one's
    // (maintenance) where HAProxy says so.
    let maint = state.admin & admin::MAINT != 0;
    let check = check.filter(|k| k.ctl.enabled());
    if let (Some(_), Some(ch)) = (check, changes) {
        let ld = std::sync::atomic::Ordering::Relaxed;
        r.u64(f::CHKFAIL, MCP, ch.failed_checks.load(ld));
        r.u64(f::CHKDOWN, MCP, ch.down_trans.load(ld));
        r.u32(f::DOWNTIME, MCP, secs(ch.downtime(now)));
    }
    if srv.maxqueue() > 0 {
        r.u32(f::QLIMIT, CGS, u64::from(srv.maxqueue()));
    }
    r.u32(f::PID, KGP, 1);
    r.u32(f::IID, KGS, u64::from(px.iid));
    r.u32(f::SID, KGS, u64::from(srv.conf().id));
    r.u64(f::LBTOT, MCP, c(Be::LbTot));
    if let Some((tb, ts)) = tracks(process, b, s) {
        if let Some(tbe) = plan.backends.get(tb) {
            let name = tbe
                .servers
                .get(ts)
                .map_or(String::new(), |x| x.conf().name.clone());
            r.str(f::TRACKED, CNS, format!("{}/{}", tbe.name, name));
        }
    }
    r.u32(f::TYPE, CGS, Kind::Sv as u64);
    let (rate, rate_max) = st.rate(obj, FeRate::Sess, now);
    r.u32(f::RATE, MRP, rate);
    r.u32(f::RATE_MAX, MMP, rate_max);
    if let Some(ch) = check.filter(|k| !k.ctl.paused(maint)) {
        let (status, code, duration) = ch.last.get();
        r.str(f::CHECK_STATUS, MOP, status.code());
        if matches!(
            status,
            Status::L7Ok | Status::L7OkC | Status::L7Sts | Status::L7Rsp | Status::L7Tout
        ) {
            r.u32(f::CHECK_CODE, MOP, u64::from(code));
        }
        if status != Status::Ini {
            r.u64(f::CHECK_DURATION, MDP, duration.as_millis() as u64);
        }
        r.str(f::CHECK_DESC, MOP, status.description());
        r.str(f::LAST_CHK, MOP, ch.last.desc());
        let health = changes.map_or(0, |c| c.health.load(std::sync::atomic::Ordering::Relaxed));
        r.u32(f::CHECK_RISE, CGS, u64::from(ch.tune().rise));
        r.u32(f::CHECK_FALL, CGS, u64::from(ch.tune().fall));
        r.u32(f::CHECK_HEALTH, CGS, u64::from(health));
    }
    // The agent's fields, as stats_fill_sv_stats prints them for an
    // enabled agent (the code from L7 data on).
    if let Some(ag) = plan.checks.agent_of(b, s).filter(|a| a.ctl.enabled()) {
        let (status, code, duration) = ag.last.get();
        r.str(f::AGENT_STATUS, MOP, status.code());
        if matches!(status, Status::L7Ok | Status::L7OkC | Status::L7Sts) {
            r.u32(f::AGENT_CODE, MOP, u64::from(code));
        }
        r.u64(f::AGENT_DURATION, MDP, duration.as_millis() as u64);
        r.str(f::AGENT_DESC, MOP, status.description());
        r.str(f::LAST_AGT, MOP, ag.last.desc());
        r.u32(
            f::AGENT_RISE,
            CGS,
            u64::from(crate::engine::checks::agent::AGENT_RISE),
        );
        r.u32(
            f::AGENT_FALL,
            CGS,
            u64::from(crate::engine::checks::agent::AGENT_FALL),
        );
        r.u32(
            f::AGENT_HEALTH,
            CGS,
            u64::from(ag.health.load(std::sync::atomic::Ordering::Relaxed)),
        );
    }
    if px.http {
        r.u64(f::REQ_TOT, MCP, c(Be::ReqTot));
        r.u64(f::HRSP_1XX, MCP, c(Be::Rsp1));
        r.u64(f::HRSP_2XX, MCP, c(Be::Rsp2));
        r.u64(f::HRSP_3XX, MCP, c(Be::Rsp3));
        r.u64(f::HRSP_4XX, MCP, c(Be::Rsp4));
        r.u64(f::HRSP_5XX, MCP, c(Be::Rsp5));
        r.u64(f::HRSP_OTHER, MCP, c(Be::Rsp0));
    }
    r.u64(f::CLI_ABRT, MCP, c(Be::CliAbrt));
    r.u64(f::SRV_ABRT, MCP, c(Be::SrvAbrt));
    r.set(f::LASTSESS, MAP, Val::S32(lastsess(st.last(obj), now)));
    times(&mut r, st, obj);
    if o.legends {
        if let Some(a) = addr_text(&srv.conf().addr) {
            r.str(f::ADDR, CGS, a);
        }
        if let Some(ck) = &srv.cookie {
            r.str(f::COOKIE, CNS, ck.clone());
        }
    }
    let _ = be;
    r
}

fn lastsess(last: Option<u64>, now: u64) -> i64 {
    last.map_or(-1, |t| {
        i64::try_from(secs(now.saturating_sub(t))).unwrap_or(i64::MAX)
    })
}

fn times(r: &mut Row, st: &crate::engine::runtime::counters::Stats, obj: Obj) {
    let t = st.averages(obj);
    r.u32(f::QTIME, MAV, u64::from(t.queue));
    r.u32(f::CTIME, MAV, u64::from(t.connect));
    r.u32(f::RTIME, MAV, u64::from(t.data));
    r.u32(f::TTIME, MAV, u64::from(t.total));
    let m = st.time_max(obj);
    r.u32(f::QT_MAX, MMP, u64::from(m.queue));
    r.u32(f::CT_MAX, MMP, u64::from(m.connect));
    r.u32(f::RT_MAX, MMP, u64::from(m.data));
    r.u32(f::TT_MAX, MMP, u64::from(m.total));
}

fn be_row(process: &Process, px: &plan::ProxyInfo, b: usize, o: &Opts, now: u64) -> Row {
    let mut r = Row::new(Kind::Be, px.iid, 0);
    let Some(be) = process.plan.backends.get(b) else {
        return r;
    };
    let st = &process.stats;
    let c = |x: Be| st.sum(Stat::Be(b, x));
    let obj = Obj::Be(b);
    r.str(f::PXNAME, KNS, px.name.clone());
    r.str(f::SVNAME, KNS, "BACKEND");
    r.str(f::MODE, CGS, mode(px));
    // The backend's own queue, as HAProxy's (its servers' queues are
    // in their rows).
    r.u32(
        f::QCUR,
        MGP,
        u64::from(crate::engine::backend::queue::backend_queue_len(be)),
    );
    r.u32(f::QMAX, MMP, u64::from(st.peak_of(Peak::Queue(obj))));
    r.u32(f::SCUR, MGP, u64::from(be.beconn.get()));
    r.u32(f::SMAX, MMP, u64::from(st.peak_of(Peak::Sess(obj))));
    r.u32(f::SLIM, CLP, u64::from(be.fullconn));
    r.u64(f::STOT, MCP, c(Be::SessTot));
    r.u64(f::BIN, MCP, c(Be::BytesIn));
    r.u64(f::BOUT, MCP, c(Be::BytesOut));
    r.u64(f::DREQ, MCP, c(Be::DeniedReq));
    r.u64(f::DRESP, MCP, c(Be::DeniedResp));
    r.u64(f::ECON, MCP, c(Be::ConnErr));
    r.u64(f::ERESP, MCP, c(Be::FailedResp));
    r.u64(f::WRETR, MCP, c(Be::Retries));
    r.u64(f::WREDIS, MCP, c(Be::Redispatches));
    r.u64(f::WREW, MCP, c(Be::FailedRewrites));
    r.u64(f::EINT, MCP, c(Be::InternalErrors));
    r.u64(f::CONNECT, MCP, c(Be::Connect));
    r.u64(f::REUSE, MCP, c(Be::Reuse));
    // HAProxy's lbprm.tot_weight: the usable active servers' weights, or
    // the backups' when no active one is usable (first backup only
    // without `allbackups`).
    let (mut act_w, mut bck_w, mut act, mut bck, mut up, mut uw) =
        (0u64, 0u64, 0u64, 0u64, 0u64, 0u64);
    let mut first_bck = None;
    for srv in &be.servers {
        let s = srv.state.get();
        let usable = s.usable();
        if usable {
            up += 1;
        }
        if usable && !srv.is_backup() {
            act += 1;
            act_w += u64::from(s.weight());
            uw += u64::from(srv.conf().weight);
        } else if usable && srv.is_backup() {
            bck += 1;
            bck_w += u64::from(s.weight());
            if first_bck.is_none() {
                first_bck = Some(u64::from(s.weight()));
            }
        }
    }
    let tot = if act > 0 {
        act_w
    } else if be.allbackups {
        bck_w
    } else {
        first_bck.unwrap_or(0)
    };
    let present = be.servers.iter().filter(|x| !x.is_vacant()).count();
    let mut status = String::from(if tot > 0 || present == 0 {
        "UP"
    } else {
        "DOWN"
    });
    if o.hide_down || o.hide_maint {
        let _ = write!(status, " ({up}/{present})");
    }
    r.str(f::STATUS, SGP, status);
    r.u32(f::AGG_SRV_CHECK_STATUS, MGP, 0);
    r.u32(f::AGG_SRV_STATUS, MGP, 0);
    r.u32(f::AGG_CHECK_STATUS, MGP, 0);
    r.u32(f::WEIGHT, MAV, tot);
    r.u32(f::UWEIGHT, MAV, uw);
    r.u32(f::ACT, MGP, act);
    r.u32(f::BCK, MGP, bck);
    let ld = std::sync::atomic::Ordering::Relaxed;
    let changes = st.changes(obj);
    r.u64(
        f::CHKDOWN,
        MCP,
        changes.map_or(0, |c| c.down_trans.load(ld)),
    );
    let last_change = changes.map_or(0, |c| c.last_change.load(ld));
    r.u32(f::LASTCHG, MAP, secs(now.saturating_sub(last_change)));
    if present > 0 {
        r.u32(
            f::DOWNTIME,
            MCP,
            secs(changes.map_or(0, |c| c.downtime(now))),
        );
    }
    r.u32(f::PID, KGP, 1);
    r.u32(f::IID, KGS, u64::from(px.iid));
    r.u32(f::SID, KGS, 0);
    r.u64(f::LBTOT, MCP, c(Be::LbTot));
    r.u32(f::TYPE, CGS, Kind::Be as u64);
    let (rate, rate_max) = st.rate(obj, FeRate::Sess, now);
    r.u32(f::RATE, MGP, rate);
    r.u32(f::RATE_MAX, MGP, rate_max);
    if o.legends {
        if let Some(ck) = be.http.as_deref().and_then(|h| h.cookie.as_ref()) {
            r.str(f::COOKIE, CNS, ck.name.clone());
        }
        let algo = process
            .plan
            .stats
            .algos
            .get(b)
            .copied()
            .unwrap_or("roundrobin");
        r.str(f::ALGO, CGS, algo);
    }
    if px.http {
        r.u64(f::REQ_TOT, MCP, c(Be::ReqTot));
        r.u64(f::HRSP_1XX, MCP, c(Be::Rsp1));
        r.u64(f::HRSP_2XX, MCP, c(Be::Rsp2));
        r.u64(f::HRSP_3XX, MCP, c(Be::Rsp3));
        r.u64(f::HRSP_4XX, MCP, c(Be::Rsp4));
        r.u64(f::HRSP_5XX, MCP, c(Be::Rsp5));
        r.u64(f::HRSP_OTHER, MCP, c(Be::Rsp0));
        r.u64(f::CACHE_LOOKUPS, MCP, 0);
        r.u64(f::CACHE_HITS, MCP, 0);
    }
    r.u64(f::CLI_ABRT, MCP, c(Be::CliAbrt));
    r.u64(f::SRV_ABRT, MCP, c(Be::SrvAbrt));
    for k in [f::COMP_IN, f::COMP_OUT, f::COMP_BYP, f::COMP_RSP] {
        r.u64(k, MCP, 0);
    }
    r.set(f::LASTSESS, MAP, Val::S32(lastsess(st.last(obj), now)));
    times(&mut r, st, obj);
    r
}

/// The CSV header line.
pub fn csv_header() -> String {
    let mut out = String::from("# ");
    for (name, _) in f::FIELDS {
        out.push_str(name);
        out.push(',');
    }
    out.push_str("-,\n");
    out
}

/// csv_enc_append: a value with a comma, a quote or a line break is
/// quoted, its quotes doubled.
fn csv_enc(s: &str, out: &mut String) {
    if s.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

fn raw(v: &Val, out: &mut String) {
    match v {
        Val::Empty => {}
        Val::U32(x) | Val::U64(x) => {
            let _ = write!(out, "{x}");
        }
        Val::S32(x) => {
            let _ = write!(out, "{x}");
        }
        Val::Str(s) => csv_enc(s, out),
    }
}

/// The stats of `o` in its format (CSV, typed or JSON), as the CLI and the
/// page's `;csv`/`;json` print them.
pub fn render(process: &Process, o: &Opts, scope: &[String]) -> String {
    let rows = rows(process, o, scope);
    let mut out = String::with_capacity(1024 * (rows.len() + 1));
    if o.json {
        out.push('[');
        for (n, row) in rows.iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            json_row(row, &mut out);
        }
        out.push_str("]\n");
    } else if o.typed {
        for row in &rows {
            typed_row(row, o.desc, &mut out);
        }
    } else {
        out.push_str(&csv_header());
        for row in &rows {
            for c in &row.cells {
                raw(&c.val, &mut out);
                out.push(',');
            }
            out.push_str("-,\n");
        }
    }
    out
}

fn kind_letter(k: Kind) -> char {
    match k {
        Kind::Fe => 'F',
        Kind::Be => 'B',
        Kind::Sv => 'S',
        Kind::So => 'L',
    }
}

fn typed_row(row: &Row, desc: bool, out: &mut String) {
    for (i, c) in row.cells.iter().enumerate() {
        if matches!(c.val, Val::Empty) {
            continue;
        }
        let (name, d) = f::FIELDS.get(i).copied().unwrap_or(("", ""));
        let _ = write!(
            out,
            "{}.{}.{}.{}.{}.1:{}:",
            kind_letter(row.kind),
            row.iid,
            row.sid,
            i,
            name,
            c.tags
        );
        match &c.val {
            Val::Empty => {}
            Val::U32(x) => {
                let _ = write!(out, "u32:{x}");
            }
            Val::U64(x) => {
                let _ = write!(out, "u64:{x}");
            }
            Val::S32(x) => {
                let _ = write!(out, "s32:{x}");
            }
            Val::Str(s) => {
                let _ = write!(out, "str:{s}");
            }
        }
        if desc {
            let _ = write!(out, ":\"{d}\"");
        }
        out.push('\n');
    }
}

fn tag_words(tags: &str) -> (&'static str, &'static str, &'static str) {
    let b = tags.as_bytes();
    let origin = match b.first() {
        Some(b'M') => "Metric",
        Some(b'S') => "Status",
        Some(b'K') => "Key",
        Some(b'C') => "Config",
        Some(b'P') => "Product",
        _ => "Unknown",
    };
    let nature = match b.get(1) {
        Some(b'G') => "Gauge",
        Some(b'L') => "Limit",
        Some(b'm') => "Min",
        Some(b'M') => "Max",
        Some(b'R') => "Rate",
        Some(b'C') => "Counter",
        Some(b'D') => "Duration",
        Some(b'A') => "Age",
        Some(b'T') => "Time",
        Some(b'N') => "Name",
        Some(b'O') => "Output",
        Some(b'a') => "Avg",
        _ => "Unknown",
    };
    let scope = match b.get(2) {
        Some(b'P') => "Process",
        Some(b'S') => "Service",
        Some(b's') => "System",
        Some(b'C') => "Cluster",
        _ => "Unknown",
    };
    (origin, nature, scope)
}

/// A JSON string's content: HAProxy prints the value as is; quotes and
/// backslashes are escaped here so the output stays JSON.
fn json_str(s: &str, out: &mut String) {
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
}

fn json_row(row: &Row, out: &mut String) {
    let obj = match row.kind {
        Kind::Fe => "Frontend",
        Kind::Be => "Backend",
        Kind::Sv => "Server",
        Kind::So => "Listener",
    };
    out.push('[');
    let mut first = true;
    for (i, c) in row.cells.iter().enumerate() {
        if matches!(c.val, Val::Empty) {
            continue;
        }
        if !first {
            out.push(',');
        }
        first = false;
        let name = f::FIELDS.get(i).map_or("", |x| x.0);
        let (origin, nature, scope) = tag_words(c.tags);
        let _ = write!(
            out,
            "{{\"objType\":\"{obj}\",\"proxyId\":{},\"id\":{},\"field\":{{\"pos\":{i},\"name\":\"{name}\"}},\"processNum\":1,\"tags\":{{\"origin\":\"{origin}\",\"nature\":\"{nature}\",\"scope\":\"{scope}\"}}",
            row.iid, row.sid
        );
        match &c.val {
            Val::Empty => {}
            Val::U32(x) => {
                let _ = write!(out, ",\"value\":{{\"type\":\"u32\",\"value\":{x}}}");
            }
            Val::U64(x) => {
                let _ = write!(out, ",\"value\":{{\"type\":\"u64\",\"value\":{x}}}");
            }
            Val::S32(x) => {
                let _ = write!(out, ",\"value\":{{\"type\":\"s32\",\"value\":{x}}}");
            }
            Val::Str(s) => {
                out.push_str(",\"value\":{\"type\":\"str\",\"value\":\"");
                json_str(s, out);
                out.push_str("\"}");
            }
        }
        out.push('}');
    }
    out.push(']');
}

/// One row as (field name, value text) pairs, for the page.
fn row_text(row: &Row, i: usize) -> String {
    let mut s = String::new();
    if let Some(v) = row.get(i) {
        raw(v, &mut s);
    }
    s
}
