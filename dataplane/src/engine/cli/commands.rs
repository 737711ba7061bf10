//! The commands of the runtime API (management.txt 9.3), with HAProxy's
//! usage lines, levels and answers.

use std::fmt::Write as _;
use std::rc::Rc;
use std::time::Duration;

use super::table::{Command, Ctx, Later, Level, Run};
use super::{Ask, Mode, Reply, Severity, Static, ASK_WITHIN, LOG_INFO};
use crate::engine::backend::server::{admin, Change, Oper};
use crate::engine::limits::FrontendState;
use crate::engine::runtime::Core;

macro_rules! cmd {
    ($words:expr, $usage:expr, $level:ident, $run:expr) => {
        Command {
            words: $words,
            usage: $usage,
            level: Level::$level,
            run: $run,
        }
    };
}

/// The commands, HAProxy's usage lines padded as its own.
pub static COMMANDS: &[Command] = &[
    cmd!(&["help"], None, User, Run::Now(|c| super::table::usage(c.args))),
    cmd!(&["prompt"], None, User, Run::Now(prompt)),
    cmd!(&["quit"], None, User, Run::Now(|c| {
        c.session.quit = true;
        Reply::Empty
    })),
    cmd!(&["operator"], Some("operator                                : lower the level of the current CLI session to operator"), User, Run::Now(|c| lower(c, Level::Operator))),
    cmd!(&["user"], Some("user                                    : lower the level of the current CLI session to user"), User, Run::Now(|c| lower(c, Level::User))),
    cmd!(&["show", "cli", "level"], Some("show cli level                          : display the level of the current CLI session"), User, Run::Now(|c| Reply::info(format!("{}\n", c.session.level.name())))),
    cmd!(&["set", "severity-output"], Some("set severity-output [none|number|string]: set presence of severity level in feedback information"), User, Run::Now(|c| {
        match Severity::parse(c.arg(2)) {
            Some(s) => {
                c.session.severity = s;
                Reply::Empty
            }
            None => Reply::err("one of 'none', 'number', 'string' is a required argument\n"),
        }
    })),
    cmd!(&["set", "timeout"], Some("set timeout [cli] <delay>               : change a timeout setting"), User, Run::Now(set_timeout)),
    cmd!(&["show", "info"], Some("show info [desc|json|typed|float]*      : report information about the running process"), User, Run::Now(super::commands::show_info)),
    cmd!(&["show", "version"], Some("show version                            : show version of the current process"), User, Run::Now(|_| Reply::info(format!("{}\n", version())))),
    cmd!(&["show", "env"], Some("show env [var]                          : dump environment variables known to the process"), Operator, Run::Now(show_env)),
    cmd!(&["show", "threads"], Some("show threads                            : show some threads debugging information"), User, Run::Later(show_threads)),
    cmd!(&["show", "activity"], Some("show activity                           : show per-thread activity stats (for support/developers)"), User, Run::Later(show_activity)),
    cmd!(&["show", "pools"], Some("show pools                              : report information about the memory pools usage"), User, Run::Later(show_pools)),
    cmd!(&["show", "servers", "state"], Some("show servers state [<backend>]          : dump volatile server information (all or for a single backend)"), User, Run::Now(show_servers_state)),
    cmd!(&["show", "servers", "conn"], Some("show servers conn [<backend>]           : dump server connections status (all or for a single backend)"), User, Run::Now(show_servers_conn)),
    cmd!(&["show", "backend"], Some("show backend                            : list backends in the current running config"), User, Run::Now(|c| {
        let mut out = String::from("# name\n");
        for b in &c.core.shared.plan.backends {
            out.push_str(&b.name);
            out.push('\n');
        }
        Reply::Out(out)
    })),
    cmd!(&["show", "sess"], Some("show sess [id]                          : report the list of current sessions or dump this exact session"), Operator, Run::Later(super::sessions::show_sess)),
    // `all` needs admin: its own entry, found before the other.
    cmd!(&["clear", "counters", "all"], None, Admin, Run::Later(clear_counters)),
    cmd!(&["clear", "counters"], Some("clear counters [all]                    : clear max statistics counters (or all counters)"), Operator, Run::Later(clear_counters)),
    cmd!(&["shutdown", "session"], Some("shutdown session [id]                   : kill a specific session"), Admin, Run::Later(super::sessions::shutdown_session)),
    cmd!(&["show", "errors"], Some("show errors [<px>] [request|response]   : report last request and/or response errors for each proxy"), Operator, Run::Now(show_errors)),
    // The statistics are engine::stats's; the CLI only hands them the
    // words after `show stat` and the session's level (legends from
    // operator up, as HAProxy's STAT_SHLGNDS).
    cmd!(&["show", "stat"], Some("show stat [desc|json|no-maint|typed|up]*: report counters for each proxy and server"), User, Run::Now(show_stat)),
    cmd!(&["show", "schema", "json"], Some("show schema json                        : report schema used for stats"), User, Run::Now(|_| Reply::Out(crate::engine::stats::schema_json()))),
    cmd!(&["disable", "server"], Some("disable server (DEPRECATED)             : disable a server for maintenance (use 'set server' instead)"), Admin, Run::Now(|c| server_admin(c, 2, "maint"))),
    cmd!(&["enable", "server"], Some("enable server  (DEPRECATED)             : enable a disabled server (use 'set server' instead)"), Admin, Run::Now(|c| server_admin(c, 2, "ready"))),
    cmd!(&["set", "server"], Some("set server <bk>/<srv> [opts]            : change a server's state, weight, address or ssl"), Admin, Run::Now(set_server)),
    cmd!(&["set", "weight"], Some("set weight <bk>/<srv>  (DEPRECATED)     : change a server's weight (use 'set server' instead)"), Admin, Run::Now(|c| {
        match find_server(c, 2) {
            Ok((b, s)) => {
                let w = c.arg(3).to_string();
                set_weight(c, b, s, &w)
            }
            Err(r) => r,
        }
    })),
    cmd!(&["get", "weight"], Some("get weight <bk>/<srv>                   : report a server's current weight"), User, Run::Now(get_weight)),
    cmd!(&["set", "maxconn", "server"], Some("set maxconn server <bk>/<srv>           : change a server's maxconn setting"), Admin, Run::Now(set_maxconn_server)),
    cmd!(&["set", "maxconn", "frontend"], Some("set maxconn frontend <frontend> <value> : change a frontend's maxconn setting"), Admin, Run::Now(set_maxconn_frontend)),
    cmd!(&["set", "maxconn", "global"], Some("set maxconn global <value>              : change the per-process maxconn setting"), Admin, Run::Now(set_maxconn_global)),
    cmd!(&["set", "rate-limit"], Some("set rate-limit <setting> <value>        : change a rate limiting value"), Admin, Run::Now(set_rate_limit)),
    cmd!(&["disable", "frontend"], Some("disable frontend <frontend>             : temporarily disable specific frontend"), Admin, Run::Now(|c| frontend_state(c, FrontendState::Paused))),
    cmd!(&["enable", "frontend"], Some("enable frontend <frontend>              : re-enable specific frontend"), Admin, Run::Now(|c| frontend_state(c, FrontendState::Ready))),
    cmd!(&["shutdown", "frontend"], Some("shutdown frontend <frontend>            : stop a specific frontend"), Admin, Run::Now(|c| frontend_state(c, FrontendState::Stopped))),
    cmd!(&["shutdown", "sessions", "server"], Some("shutdown sessions server <bk>/<srv>     : kill sessions on a server"), Admin, Run::Now(|c| {
        match find_server(c, 3) {
            Ok((b, s)) => {
                c.core.shared.shutdown_streams(b, s, crate::log::termination::Cause::Killed);
                Reply::Empty
            }
            Err(r) => r,
        }
    })),
    cmd!(&["disable", "health"], Some("disable health                          : disable health checks"), Admin, Run::Now(|c| super::checks::onoff(c, false, false))),
    cmd!(&["enable", "health"], Some("enable health                           : enable health checks"), Admin, Run::Now(|c| super::checks::onoff(c, false, true))),
    cmd!(&["disable", "agent"], Some("disable agent                           : disable agent checks"), Admin, Run::Now(|c| super::checks::onoff(c, true, false))),
    cmd!(&["enable", "agent"], Some("enable agent                            : enable agent checks"), Admin, Run::Now(|c| super::checks::onoff(c, true, true))),
    cmd!(&["add", "server"], Some("add server <bk>/<srv>                   : create a new server"), Admin, Run::Later(super::servers::add_server)),
    cmd!(&["del", "server"], Some("del server <bk>/<srv>                   : remove a dynamically added server"), Admin, Run::Later(super::servers::del_server)),
    cmd!(&["show", "map"], Some("show map [@ver] [map]                   : report available maps or dump a map's contents"), User, Run::Now(super::maps::show)),
    cmd!(&["show", "acl"], Some("show acl [@<ver>] <acl>]                : report available acls or dump an acl's contents"), User, Run::Now(super::maps::show)),
    cmd!(&["get", "map"], Some("get map <acl> <value>                   : report the keys and values matching a sample for a map"), User, Run::Now(super::maps::get)),
    cmd!(&["get", "acl"], Some("get acl <acl> <value>                   : report the patterns matching a sample for an ACL"), User, Run::Now(super::maps::get)),
    cmd!(&["add", "map"], Some("add map [@<ver>] <map> <key> <val>      : add a map entry (payload supported instead of key/val)"), Operator, Run::LaterWith(super::maps::change)),
    cmd!(&["add", "acl"], Some("add acl [@<ver>] <acl> <pattern>        : add an acl entry"), Operator, Run::LaterWith(super::maps::change)),
    cmd!(&["del", "map"], Some("del map <map> [<key>|#<ref>]            : delete map entries matching <key>"), Operator, Run::LaterWith(super::maps::change)),
    cmd!(&["del", "acl"], Some("del acl <acl> [<key>|#<ref>]            : delete acl entries matching <key>"), Operator, Run::LaterWith(super::maps::change)),
    cmd!(&["set", "map"], Some("set map <map> [<key>|#<ref>] <value>    : modify a map entry"), Operator, Run::LaterWith(super::maps::change)),
    cmd!(&["clear", "map"], Some("clear map [@<ver>] <map>                : clear the contents of this map"), Operator, Run::LaterWith(super::maps::change)),
    cmd!(&["clear", "acl"], Some("clear acl [@<ver>] <acl>                : clear the contents of this acl"), Operator, Run::LaterWith(super::maps::change)),
    cmd!(&["prepare", "map"], Some("prepare map <acl>                       : prepare a new version for atomic map replacement"), Operator, Run::LaterWith(super::maps::change)),
    cmd!(&["prepare", "acl"], Some("prepare acl <acl>                       : prepare a new version for atomic ACL replacement"), Operator, Run::LaterWith(super::maps::change)),
    cmd!(&["commit", "map"], Some("commit map @<ver> <map>                 : commit the map at this version"), Operator, Run::LaterWith(super::maps::change)),
    cmd!(&["commit", "acl"], Some("commit acl @<ver> <acl>                 : commit the ACL at this version"), Operator, Run::LaterWith(super::maps::change)),
    cmd!(&["wait"], Some("wait {-h|<delay>} [<condition> [args...]]: wait the specified delay or condition (-h to see list)"), User, Run::Later(wait)),
];

/// `prompt [n|i|p|timed]*`.
fn prompt(c: &mut Ctx<'_>) -> Reply {
    let s = &mut c.session;
    if c.args.len() == 1 {
        s.mode = if s.mode == Mode::OneShot {
            Mode::Prompt
        } else {
            Mode::OneShot
        };
        return Reply::Empty;
    }
    for a in c.args.iter().skip(1) {
        match a.as_str() {
            "n" => s.mode = Mode::OneShot,
            "i" => s.mode = Mode::Interactive,
            "p" => s.mode = Mode::Prompt,
            "timed" => {
                s.timed = !s.timed;
                s.mode = Mode::Prompt;
            }
            _ => {
                return Reply::info(
                    "Usage: prompt [help | n | i | p | timed]*\n  n: non-interactive mode\n  i: interactive mode\n  p: prompt mode\n  timed: toggle time in prompt\n",
                )
            }
        }
    }
    Reply::Empty
}

/// `operator` / `user`: lower the session's level (never raise it).
fn lower(c: &mut Ctx<'_>, to: Level) -> Reply {
    if c.arg(1) == "-" {
        c.session.no_lf = true;
    }
    if c.session.level < to {
        return Reply::err("Permission denied\n");
    }
    c.session.level = to;
    Reply::Empty
}

fn set_timeout(c: &mut Ctx<'_>) -> Reply {
    if c.arg(2) != "cli" {
        return Reply::err("'set timeout' only supports 'cli'.\n");
    }
    if c.arg(3).is_empty() {
        return Reply::err("Expects an integer value.\n");
    }
    match ringlb_config::units::parse_duration(c.arg(3), ringlb_config::units::TimeUnit::Seconds) {
        Ok(d) if d >= Duration::from_secs(1) => {
            c.session.timeout = d;
            Reply::Empty
        }
        _ => Reply::err("Invalid timeout value.\n"),
    }
}

pub fn version() -> String {
    format!(
        "{}.0-ringlb-{}",
        ringlb_config::LANGUAGE_LEVEL,
        env!("CARGO_PKG_VERSION")
    )
}

/// One `show info` field: HAProxy's position, name, tags and value.
struct InfoField {
    pos: u32,
    name: &'static str,
    tags: &'static str,
    value: InfoValue,
}

enum InfoValue {
    Str(String),
    U32(u64),
    U64(u64),
}

impl InfoValue {
    fn type_name(&self) -> &'static str {
        match self {
            InfoValue::Str(_) => "str",
            InfoValue::U32(_) => "u32",
            InfoValue::U64(_) => "u64",
        }
    }
    fn text(&self) -> String {
        match self {
            InfoValue::Str(s) => s.clone(),
            InfoValue::U32(n) | InfoValue::U64(n) => n.to_string(),
        }
    }
}

fn info_fields(core: &Core, st: &Static) -> Vec<InfoField> {
    use InfoValue::{Str, U32, U64};
    let shared = &core.shared;
    let plan = &shared.plan;
    let up = shared.started.elapsed().as_secs();
    let conns: u64 = (0..plan.frontends.len())
        .map(|f| {
            shared
                .stats
                .sum(crate::engine::runtime::counters::Stat::FeConnTot(f))
        })
        .sum();
    let bytes_out: u64 = (0..plan.frontends.len())
        .map(|f| {
            shared
                .stats
                .sum(crate::engine::runtime::counters::Stat::FeBytesOut(f))
        })
        .sum();
    let listeners: usize = plan
        .frontends
        .iter()
        .flat_map(|f| &f.binds)
        .map(|b| b.addrs.len())
        .sum();
    let now = shared.now_ms();
    let limits = &shared.limits;
    let actconn = u64::from(shared.actconn.get());
    let maxpipes = u64::from(plan.maxpipes.unwrap_or(0));
    let fields: Vec<(u32, &'static str, &'static str, InfoValue)> = vec![
        (0, "Name", "POS", Str("ringlb".into())),
        (1, "Version", "POS", Str(version())),
        (2, "Release_date", "POS", Str("-".into())),
        (3, "Nbthread", "CGS", U32(shared.mesh.cores() as u64)),
        (4, "Nbproc", "CGS", U32(1)),
        (5, "Process_num", "KGP", U32(1)),
        (6, "Pid", "SGP", U32(u64::from(std::process::id()))),
        (
            7,
            "Uptime",
            "MDP",
            Str(format!(
                "{}d {}h{:02}m{:02}s",
                up / 86400,
                up / 3600 % 24,
                up / 60 % 60,
                up % 60
            )),
        ),
        (8, "Uptime_sec", "MDP", U32(up)),
        (9, "Memmax_MB", "CLP", U32(0)),
        (10, "PoolAlloc_MB", "MGP", U32(0)),
        (11, "PoolUsed_MB", "MGP", U32(0)),
        (12, "PoolFailed", "MCP", U32(0)),
        (13, "Ulimit-n", "CLP", U32(st.ulimit_n)),
        (14, "Maxsock", "CLP", U32(st.ulimit_n)),
        (15, "Maxconn", "CLP", U32(u64::from(limits.maxconn()))),
        (
            16,
            "Hard_maxconn",
            "CLP",
            U32(u64::from(limits.hard_maxconn)),
        ),
        (17, "CurrConns", "MGP", U32(actconn)),
        (18, "CumConns", "MCP", U32(conns)),
        (19, "CumReq", "MCP", U32(conns)),
        (20, "MaxSslConns", "MMP", U32(0)),
        (21, "CurrSslConns", "MGP", U32(0)),
        (22, "CumSslConns", "MCP", U32(0)),
        (23, "Maxpipes", "CLP", U32(maxpipes)),
        (24, "PipesUsed", "MGP", U32(0)),
        (25, "PipesFree", "MGP", U32(0)),
        (
            26,
            "ConnRate",
            "MRP",
            U32(u64::from(limits.conn_rate.rate(now))),
        ),
        (
            27,
            "ConnRateLimit",
            "CLP",
            U32(u64::from(limits.conn_rate_limit())),
        ),
        (28, "MaxConnRate", "MMP", U32(0)),
        (
            29,
            "SessRate",
            "MRP",
            U32(u64::from(limits.sess_rate.rate(now))),
        ),
        (
            30,
            "SessRateLimit",
            "CLP",
            U32(u64::from(limits.sess_rate_limit())),
        ),
        (31, "MaxSessRate", "MRP", U32(0)),
        (32, "SslRate", "MRP", U32(0)),
        (33, "SslRateLimit", "CLP", U32(0)),
        (34, "MaxSslRate", "MMP", U32(0)),
        (35, "SslFrontendKeyRate", "MGP", U32(0)),
        (36, "SslFrontendMaxKeyRate", "MMP", U32(0)),
        (37, "SslFrontendSessionReuse_pct", "MGP", U32(0)),
        (38, "SslBackendKeyRate", "MRP", U32(0)),
        (39, "SslBackendMaxKeyRate", "MMP", U32(0)),
        (40, "SslCacheLookups", "MCP", U32(0)),
        (41, "SslCacheMisses", "MCP", U32(0)),
        (42, "CompressBpsIn", "MRP", U32(0)),
        (43, "CompressBpsOut", "MRP", U32(0)),
        (44, "CompressBpsRateLim", "CLP", U32(0)),
        (47, "Tasks", "MGP", U32(0)),
        (48, "Run_queue", "MGP", U32(0)),
        (49, "Idle_pct", "MaP", U32(100)),
        (50, "node", "COS", Str(st.node.clone())),
    ];
    let mut out: Vec<InfoField> = fields
        .into_iter()
        .map(|(pos, name, tags, value)| InfoField {
            pos,
            name,
            tags,
            value,
        })
        .collect();
    if let Some(d) = &st.description {
        out.push(InfoField {
            pos: 51,
            name: "description",
            tags: "COS",
            value: Str(d.clone()),
        });
    }
    let rest: Vec<(u32, &'static str, &'static str, InfoValue)> = vec![
        (52, "Stopping", "MGP", U32(u64::from(shared.is_stopping()))),
        (53, "Jobs", "MGP", U32(actconn + listeners as u64)),
        (54, "Unstoppable Jobs", "MGP", U32(0)),
        (55, "Listeners", "MGP", U32(listeners as u64)),
        (56, "ActivePeers", "MGP", U32(0)),
        (57, "ConnectedPeers", "MGP", U32(0)),
        (58, "DroppedLogs", "MGP", U32(0)),
        (59, "BusyPolling", "MGP", U32(0)),
        (60, "FailedResolutions", "MGP", U32(0)),
        (61, "TotalBytesOut", "MGP", U64(bytes_out)),
        (62, "TotalSplicdedBytesOut", "MGP", U64(0)),
        (63, "BytesOutRate", "MRP", U64(0)),
        (64, "DebugCommandsIssued", "MGP", U32(0)),
        (65, "CumRecvLogs", "MCP", U32(0)),
        (66, "Build info", "POS", Str(version())),
        (67, "Memmax_bytes", "CLP", U32(0)),
        (68, "PoolAlloc_bytes", "MGP", U64(0)),
        (69, "PoolUsed_bytes", "MGP", U64(0)),
        (70, "Start_time_sec", "MDP", U32(st.start_unix)),
        (71, "Tainted", "SGP", Str("0".into())),
    ];
    out.extend(rest.into_iter().map(|(pos, name, tags, value)| InfoField {
        pos,
        name,
        tags,
        value,
    }));
    out
}

fn tag_names(tags: &str) -> (&'static str, &'static str, &'static str) {
    let mut t = tags.chars();
    let origin = match t.next() {
        Some('M') => "Metric",
        Some('S') => "Status",
        Some('K') => "Key",
        Some('C') => "Config",
        _ => "Product",
    };
    let nature = match t.next() {
        Some('G') => "Gauge",
        Some('L') => "Limit",
        Some('m') => "Min",
        Some('M') => "Max",
        Some('R') => "Rate",
        Some('C') => "Counter",
        Some('D') => "Duration",
        Some('a') => "Age",
        Some('T') => "Time",
        Some('N') => "Name",
        _ => "Output",
    };
    let scope = match t.next() {
        Some('P') => "Process",
        Some('S') => "Service",
        Some('s') => "System",
        _ => "Cluster",
    };
    (origin, nature, scope)
}

fn json_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for ch in s.chars() {
        match ch {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// `show info [typed|json|desc|float]`.
pub fn show_info(c: &mut Ctx<'_>) -> Reply {
    let fields = info_fields(c.core, c.st);
    let flags: Vec<&str> = c.args.iter().skip(2).map(String::as_str).collect();
    let mut out = String::new();
    if flags.contains(&"json") {
        out.push('[');
        for (i, f) in fields.iter().enumerate() {
            let (o, n, s) = tag_names(f.tags);
            if i > 0 {
                out.push(',');
            }
            let value = match &f.value {
                InfoValue::Str(s) => json_str(s),
                v => v.text(),
            };
            let _ = write!(
                out,
                "{{\"field\":{{\"pos\":{},\"name\":{}}},\"processNum\":1,\"tags\":{{\"origin\":\"{o}\",\"nature\":\"{n}\",\"scope\":\"{s}\"}},\"value\":{{\"type\":\"{}\",\"value\":{value}}}}}",
                f.pos,
                json_str(f.name),
                f.value.type_name()
            );
        }
        out.push_str("]\n");
    } else if flags.contains(&"typed") {
        for f in &fields {
            let _ = writeln!(
                out,
                "{}.{}.1:{}:{}:{}",
                f.pos,
                f.name,
                f.tags,
                f.value.type_name(),
                f.value.text()
            );
        }
    } else {
        for f in &fields {
            let _ = writeln!(out, "{}: {}", f.name, f.value.text());
        }
    }
    Reply::Out(out)
}

fn show_env(c: &mut Ctx<'_>) -> Reply {
    let want = c.arg(2);
    let mut out = String::new();
    for (k, v) in std::env::vars_os() {
        let (k, v) = (k.to_string_lossy(), v.to_string_lossy());
        if want.is_empty() || k == want {
            let _ = writeln!(out, "{k}={v}");
        }
    }
    if out.is_empty() && !want.is_empty() {
        return Reply::err("Variable not found\n");
    }
    Reply::Out(out)
}

async fn snapshots(core: Rc<Core>) -> Vec<crate::engine::runtime::mesh::CoreSnapshot> {
    let asked = core
        .shared
        .mesh
        .ask_all(|reply| crate::engine::runtime::mesh::Msg::Snapshot {
            reply,
            flush: false,
        });
    let mut s = asked.wait(&core.timers, ASK_WITHIN).await;
    s.sort_by_key(|s| s.core);
    s
}

fn show_threads(core: Rc<Core>, _: Rc<Static>, _: Vec<String>) -> Later {
    Box::pin(async move {
        let snaps = snapshots(Rc::clone(&core)).await;
        let mut out = String::new();
        for s in &snaps {
            let _ = writeln!(
                out,
                "{} Thread {} : cpu={} streams={} timers={}",
                if s.core == core.id { "*" } else { " " },
                s.core + 1,
                s.cpu,
                s.streams,
                s.timers
            );
        }
        Reply::Out(out)
    })
}

/// `show activity`: HAProxy's layout (total, then per thread in
/// brackets) for what the executors count.
fn show_activity(core: Rc<Core>, _: Rc<Static>, _: Vec<String>) -> Later {
    Box::pin(async move {
        let snaps = snapshots(Rc::clone(&core)).await;
        let n = snaps.len();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let mut out = format!(
            "thread_id: {} (1..{})\ndate_now: {}.{:06}\n",
            core.id + 1,
            n,
            now.as_secs(),
            now.subsec_micros()
        );
        let mut line =
            |name: &str, f: &dyn Fn(&crate::engine::runtime::mesh::CoreSnapshot) -> usize| {
                let vals: Vec<usize> = snaps.iter().map(f).collect();
                let _ = write!(out, "{name}: {} [", vals.iter().sum::<usize>());
                for v in &vals {
                    let _ = write!(out, " {v}");
                }
                out.push_str(" ]\n");
            };
        line("streams", &|s| s.streams);
        line("timers", &|s| s.timers);
        line("pool_bufs", &|s| s.bufs);
        line("pool_bulk_bufs", &|s| s.bulk_bufs);
        line("pool_pipes", &|s| s.pipes);
        Reply::Out(out)
    })
}

/// `show pools`: the executors' pools in HAProxy's layout.
fn show_pools(core: Rc<Core>, _: Rc<Static>, _: Vec<String>) -> Later {
    Box::pin(async move {
        let snaps = snapshots(Rc::clone(&core)).await;
        let plan = &core.shared.plan;
        let bufs: usize = snaps.iter().map(|s| s.bufs).sum();
        let bulk: usize = snaps.iter().map(|s| s.bulk_bufs).sum();
        let pipes: usize = snaps.iter().map(|s| s.pipes).sum();
        let mut out = String::from("Dumping pools usage. Use SIGQUIT to flush them.\n");
        let mut total = 0usize;
        for (name, size, count) in [
            ("buffer", plan.bufsize, bufs),
            ("bulk_buffer", super::super::runtime::BULK_BUFSIZE, bulk),
            ("pipe", 0, pipes),
        ] {
            total += size * count;
            let _ = writeln!(
                out,
                "  - Pool {name} ({size} bytes) : {count} allocated ({} bytes), 0 used (~{count} by thread caches), needed_avg 0, 0 failures, 1 users",
                size * count
            );
        }
        let _ = writeln!(
            out,
            "Total: 3 pools, {total} bytes allocated, 0 used (~{total} by thread caches)."
        );
        Reply::Out(out)
    })
}

/// A `<backend>/<server>` argument: its indexes, or HAProxy's refusal.
pub(super) fn find_server(c: &Ctx<'_>, i: usize) -> Result<(usize, usize), Reply> {
    let Some((b, s)) = c.arg(i).split_once('/') else {
        return Err(Reply::err("Require 'backend/server'.\n"));
    };
    let plan = &c.core.shared.plan;
    let Some(bi) = plan.backends.iter().position(|x| x.name == b) else {
        return Err(Reply::err("No such backend.\n"));
    };
    let si = plan
        .backends
        .get(bi)
        .and_then(|be| {
            be.servers
                .iter()
                .position(|x| !x.is_vacant() && x.conf().name == s)
        })
        .ok_or_else(|| Reply::err("No such server.\n"))?;
    Ok((bi, si))
}

fn find_frontend(c: &Ctx<'_>, i: usize) -> Result<usize, Reply> {
    if c.arg(i).is_empty() {
        return Err(Reply::err("A frontend name is expected.\n"));
    }
    c.core
        .shared
        .plan
        .frontends
        .iter()
        .position(|f| f.name == c.arg(i))
        .ok_or_else(|| Reply::err("No such frontend.\n"))
}

/// `disable server` / `enable server`: srv_adm_set_maint / _ready.
fn server_admin(c: &mut Ctx<'_>, i: usize, state: &str) -> Reply {
    match find_server(c, i) {
        Ok((b, s)) => {
            set_admin_state(c, b, s, state);
            Reply::Empty
        }
        Err(r) => r,
    }
}

fn set_admin_state(c: &Ctx<'_>, b: usize, s: usize, state: &str) {
    crate::engine::checks::admin::set_admin_state(c.core, b, s, state);
}

fn set_server(c: &mut Ctx<'_>) -> Reply {
    let (b, s) = match find_server(c, 2) {
        Ok(x) => x,
        Err(r) => return r,
    };
    match c.arg(3) {
        "weight" => {
            let w = c.arg(4).to_string();
            set_weight(c, b, s, &w)
        }
        "state" => {
            let state = c.arg(4).to_string();
            if !matches!(state.as_str(), "ready" | "drain" | "maint") {
                return Reply::err("'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n");
            }
            set_admin_state(c, b, s, &state);
            Reply::Empty
        }
        "health" | "agent" | "agent-send" | "agent-addr" | "agent-port" | "check-addr"
        | "check-port" => super::checks::set_server(c, b, s),
        "addr" => super::servers::set_addr(c, b, s),
        "fqdn" if c.arg(4).is_empty() => Reply::err("set server <b>/<s> fqdn requires a FQDN.\n"),
        // ringlb has no `resolvers` section (refused at start-up).
        "fqdn" => Reply::err("set server <b>/<s> fqdn failed because no resolution is configured.\n"),
        // No server has SSL settings (`ssl` on servers is refused at
        // start-up): HAProxy's answer for that case.
        "ssl" => Reply::err("'set server <srv> ssl' cannot be set.  default-server should define ssl settings\n"),
        _ => Reply::err("usage: set server <backend>/<server> addr | agent | agent-addr | agent-port | agent-send | check-addr | check-port | fqdn | health | ssl | state | weight\n"),
    }
}

/// `set weight` / `set server ... weight`: absolute (0..256) or relative
/// to the initial weight (`50%`), as server_parse_weight_change_request;
/// the user weight, which a slow start ramps (`Process::set_user_weight`).
/// A draining server says so again, as HAProxy 2.6 does.
fn set_weight(c: &mut Ctx<'_>, b: usize, s: usize, text: &str) -> Reply {
    let shared = &c.core.shared;
    let Some(sv) = shared.plan.backends.get(b).and_then(|be| be.servers.get(s)) else {
        return Reply::err("No such server.\n");
    };
    match crate::engine::checks::agent::weight_change(text, sv.conf().weight, sv.weights.dynamic) {
        Ok(w) => {
            shared.set_user_weight(b, s, w);
            crate::engine::checks::admin::remains_draining(c.core, b, s);
            Reply::Empty
        }
        Err(e) => Reply::err(e),
    }
}

fn get_weight(c: &mut Ctx<'_>) -> Reply {
    match find_server(c, 2) {
        Ok((b, s)) => {
            let plan = &c.core.shared.plan;
            let Some(sv) = plan.backends.get(b).and_then(|be| be.servers.get(s)) else {
                return Reply::err("No such server.\n");
            };
            Reply::info(format!(
                "{} (initial {})\n",
                sv.weights.user(),
                sv.conf().weight
            ))
        }
        Err(r) => r,
    }
}

fn set_maxconn_server(c: &mut Ctx<'_>) -> Reply {
    let (b, s) = match find_server(c, 3) {
        Ok(x) => x,
        Err(r) => return r,
    };
    if c.arg(4).is_empty() {
        return Reply::err("Require <maxconn>.\n");
    }
    match c.arg(4).parse::<u32>() {
        Ok(n) => {
            c.core.shared.set_server(b, s, Change::Maxconn(n));
            Reply::Empty
        }
        Err(_) => Reply::err("maxconn string empty or preceded by garbage\n"),
    }
}

fn set_maxconn_frontend(c: &mut Ctx<'_>) -> Reply {
    let fe = match find_frontend(c, 3) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let Some(n) = c.arg(4).parse::<u32>().ok() else {
        return Reply::err("Integer value expected.\n");
    };
    let shared = &c.core.shared;
    if let Some(f) = shared.limits.frontends.get(fe) {
        f.set_maxconn(n);
    }
    shared
        .mesh
        .broadcast(&crate::engine::runtime::mesh::Msg::Frontends);
    Reply::Empty
}

fn set_maxconn_global(c: &mut Ctx<'_>) -> Reply {
    let Some(n) = c.arg(3).parse::<u32>().ok() else {
        return Reply::err("Expects an integer value.\n");
    };
    let shared = &c.core.shared;
    let hard = shared.limits.hard_maxconn;
    if n > hard && hard > 0 {
        return Reply::err("Value out of range.\n");
    }
    // 0 means "back to the hard limit", as HAProxy.
    shared.limits.set_maxconn(if n == 0 { hard } else { n });
    shared
        .mesh
        .broadcast(&crate::engine::runtime::mesh::Msg::Frontends);
    Reply::Empty
}

fn set_rate_limit(c: &mut Ctx<'_>) -> Reply {
    const USAGE: &str = "'set rate-limit' only supports :\n   - 'connections global' to set the per-process maximum connection rate\n   - 'sessions global' to set the per-process maximum session rate\n   - 'ssl-sessions global' to set the per-process maximum SSL session rate\n   - 'http-compression global' to set the per-process maximum compression speed in kB/s\n";
    let limits = &c.core.shared.limits;
    let set: fn(&crate::engine::limits::Limits, u32) = match (c.arg(2), c.arg(3)) {
        ("connections", "global") => crate::engine::limits::Limits::set_conn_rate_limit,
        ("sessions", "global") => crate::engine::limits::Limits::set_sess_rate_limit,
        ("ssl-sessions" | "http-compression", "global") => {
            return Reply::err(format!(
                "'set rate-limit {} global' is not supported yet.\n",
                c.arg(2)
            ))
        }
        _ => return Reply::err(USAGE),
    };
    let Some(n) = c.arg(4).parse::<u32>().ok() else {
        return Reply::err("Expects an integer value.\n");
    };
    set(limits, n);
    c.core
        .shared
        .mesh
        .broadcast(&crate::engine::runtime::mesh::Msg::Frontends);
    Reply::Empty
}

/// `enable|disable|shutdown frontend`, with HAProxy's answers.
fn frontend_state(c: &mut Ctx<'_>, to: FrontendState) -> Reply {
    let fe = match find_frontend(c, 2) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let shared = &c.core.shared;
    let Some(f) = shared.limits.frontends.get(fe) else {
        return Reply::err("No such frontend.\n");
    };
    let now = f.state();
    let refusal = match (now, to) {
        (FrontendState::Stopped, FrontendState::Stopped) => {
            Some("Frontend was already shut down.\n")
        }
        (FrontendState::Stopped, FrontendState::Ready) => {
            Some("Frontend was previously shut down, cannot enable.\n")
        }
        (FrontendState::Stopped, FrontendState::Paused) => {
            Some("Frontend was previously shut down, cannot disable.\n")
        }
        (FrontendState::Paused, FrontendState::Paused) => {
            Some("All sockets are already disabled.\n")
        }
        (FrontendState::Ready, FrontendState::Ready) => Some("All sockets are already enabled.\n"),
        _ => None,
    };
    if let Some(r) = refusal {
        return Reply::err(r);
    }
    f.set_state(to);
    shared
        .mesh
        .broadcast(&crate::engine::runtime::mesh::Msg::Frontends);
    // pause_proxy / resume_proxy: a warning and the same words in the
    // frontend's log.
    let said = match to {
        FrontendState::Paused => Some("Paused"),
        FrontendState::Ready => Some("Resumed"),
        FrontendState::Stopped => None,
    };
    if let Some(verb) = said {
        let line = format!("{verb} frontend {}.", c.arg(2));
        crate::stderr_line!("[WARNING]  ({}) : {line}", std::process::id());
        if let Some(sink) = shared.plan.frontends.get(fe).and_then(|f| f.sink.as_ref()) {
            sink.send_from(c.core.id, ringlb_config::model::Level::Warning, line);
        }
    } else {
        crate::stderr_line!(
            "[WARNING] Proxy {} stopped (cumulated conns: FE: {}).",
            c.arg(2),
            shared
                .stats
                .sum(crate::engine::runtime::counters::Stat::FeConnTot(fe))
        );
    }
    Reply::Empty
}

/// `show servers state [<backend>]`: HAProxy's format version 1.
fn show_servers_state(c: &mut Ctx<'_>) -> Reply {
    let plan = &c.core.shared.plan;
    let only = c.arg(3);
    if !only.is_empty() && !plan.backends.iter().any(|b| b.name == only) {
        return Reply::err("Can't find backend.\n");
    }
    let up = c.core.shared.started.elapsed().as_secs();
    let mut out = String::from("1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n");
    for (bi, be) in plan.backends.iter().enumerate() {
        if !only.is_empty() && be.name != only {
            continue;
        }
        let (be_id, be_forced) = c.st.backend_ids.get(bi).copied().unwrap_or((0, false));
        for (si, sv) in be.servers.iter().enumerate() {
            if sv.is_vacant() {
                continue;
            }
            let now = sv.state.get();
            let check = plan.checks.check_of(bi, si);
            let (addr, port) = match &sv.conf().addr {
                crate::engine::plan::ServerAddr::Fixed(a) => (a.ip().to_string(), a.port()),
                crate::engine::plan::ServerAddr::Unix(_) => ("-".to_string(), 0),
                crate::engine::plan::ServerAddr::SamePort(ip) => (ip.to_string(), 0),
                crate::engine::plan::ServerAddr::PortOffset(ip, _) => (ip.to_string(), 0),
            };
            // HAProxy stops a server it puts in maintenance: its
            // operational state reads 0 there, and its health 0.
            let maint = now.admin & admin::MAINT != 0;
            let up_now =
                !maint && matches!(now.oper, Oper::Running | Oper::Starting | Oper::Stopping);
            let oper = if maint { 0 } else { now.oper as u8 };
            let cols = super::checks::state_columns(c.core, bi, si, maint);
            let (status, result, health) = match check {
                Some(k) => {
                    let (st, _, _) = k.last.get();
                    let status = check_status_code(st);
                    let result = check_result_code(st);
                    // Maintenance zeroes an enabled check's counter.
                    let health = if k.ctl.enabled() && k.ctl.paused(maint) {
                        0
                    } else {
                        k.health_now.load(std::sync::atomic::Ordering::Relaxed)
                    };
                    (status, result, health)
                }
                // Without a check, the health is `rise` (2) from the
                // start, 0 from `disabled` (srv_parse_disabled), and
                // `enable server` leaves it so (the CMAINT marker stays).
                None => {
                    let health = if up_now && now.admin & admin::CMAINT == 0 {
                        2
                    } else {
                        0
                    };
                    (1, 0, health)
                }
            };
            // `disabled` pauses even a check that is not configured
            // (srv_parse_disabled sets CHK_ST_PAUSED).
            let check_state = if check.is_none() && now.admin & admin::CMAINT != 0 {
                cols.check_state | 8
            } else {
                cols.check_state
            };
            let forced = sv.conf().forced_id;
            // Seconds since its state last changed (HAProxy's last_change:
            // start-up, a state change, or `add server`).
            let now_ms = c.core.shared.now_ms();
            let since = c
                .core
                .shared
                .stats
                .changes(crate::engine::runtime::counters::Obj::Srv(bi, si))
                .map_or(up, |ch| {
                    now_ms.saturating_sub(ch.last_change.load(std::sync::atomic::Ordering::Relaxed))
                        / 1000
                });
            let _ = writeln!(
                out,
                "{be_id} {} {} {} {addr} {} {} {} {} {since} {status} {result} {health} {} {} {} {} - {port} - 0 {} {} {} {}",
                be.name,
                sv.conf().id,
                sv.conf().name,
                oper,
                now.admin,
                sv.weights.user(),
                sv.conf().weight,
                check_state,
                cols.agent_state,
                u8::from(be_forced),
                u8::from(forced),
                cols.check_port,
                cols.check_addr,
                cols.agent_addr,
                cols.agent_port,
            );
        }
    }
    Reply::Out(out)
}

/// HAProxy's CHK_RES_* of the last check (check_statuses[].result):
/// unknown before the first, neutral, failed, passed, or passed with the
/// server stopping.
fn check_result_code(s: crate::engine::checks::health::Status) -> u32 {
    use crate::engine::checks::health::Status;
    match s {
        Status::Ini => 0,
        Status::Checked => 1,
        Status::L4Ok | Status::L6Ok | Status::L7Ok => 3,
        Status::L7OkC => 4,
        _ => 2,
    }
}

/// HAProxy's HCHK_STATUS_* number of a check status.
fn check_status_code(s: crate::engine::checks::health::Status) -> u32 {
    use crate::engine::checks::health::Status;
    match s {
        Status::Ini => 1,
        Status::Checked => 3,
        Status::Hana => 4,
        Status::SockErr => 5,
        Status::L4Ok => 6,
        Status::L4Tout => 7,
        Status::L4Con => 8,
        Status::L6Ok => 9,
        Status::L6Tout => 10,
        Status::L6Rsp => 11,
        Status::L7Tout => 12,
        Status::L7Rsp => 13,
        Status::L7Ok => 15,
        Status::L7OkC => 16,
        Status::L7Sts => 17,
    }
}

/// `show servers conn [<backend>]`.
fn show_servers_conn(c: &mut Ctx<'_>) -> Reply {
    let plan = &c.core.shared.plan;
    let only = c.arg(3);
    if !only.is_empty() && !plan.backends.iter().any(|b| b.name == only) {
        return Reply::err("Can't find backend.\n");
    }
    let cores = c.core.shared.mesh.cores();
    let mut out = format!("# bkname/svname bkid/svid addr port - purge_delay used_cur used_max need_est unsafe_nb safe_nb idle_lim idle_cur idle_per_thr[{cores}]\n");
    for (bi, be) in plan.backends.iter().enumerate() {
        if !only.is_empty() && be.name != only {
            continue;
        }
        let be_id = c.st.backend_ids.get(bi).map_or(0, |x| x.0);
        for sv in be.servers.iter().filter(|x| !x.is_vacant()) {
            let (addr, port) = match &sv.conf().addr {
                crate::engine::plan::ServerAddr::Fixed(a) => (a.ip().to_string(), a.port()),
                crate::engine::plan::ServerAddr::Unix(p) => (p.display().to_string(), 0),
                crate::engine::plan::ServerAddr::SamePort(ip)
                | crate::engine::plan::ServerAddr::PortOffset(ip, _) => (ip.to_string(), 0),
            };
            let idle_lim = sv.pool.max().map_or(-1, |n| i64::try_from(n).unwrap_or(-1));
            let _ = write!(
                out,
                "{}/{} {be_id}/{} {addr} {port} - {} {} 0 0 0 0 {idle_lim} 0",
                be.name,
                sv.conf().name,
                sv.conf().id,
                sv.pool.purge_delay().as_millis(),
                sv.conns.get(),
            );
            for _ in 0..cores {
                out.push_str(" 0");
            }
            out.push('\n');
        }
    }
    Reply::Out(out)
}

/// `show errors`: ringlb captures no faulty message yet: HAProxy's header
/// with nothing after it.
fn show_stat(c: &mut Ctx<'_>) -> Reply {
    let args: Vec<&str> = c.args.iter().skip(2).map(String::as_str).collect();
    let legends = c.session.level >= Level::Operator;
    match crate::engine::stats::show_stat_as(&c.core.shared, &args, legends) {
        Ok(out) => Reply::Out(out),
        Err(e) => Reply::err(e),
    }
}

fn show_errors(_: &mut Ctx<'_>) -> Reply {
    let mut now = String::new();
    crate::log::time::DateTime::new(std::time::SystemTime::now(), crate::log::time::local_zone())
        .write_clf_ms(&mut now);
    Reply::Out(format!("Total events captured on [{now}] : 0\n"))
}

/// `clear counters [all]`: the peaks (`smax`, `qmax`) at once; with
/// `all` (admin only), every core zeroes its own counter block, asked
/// through the mesh, and the answer waits for them.
fn clear_counters(core: Rc<Core>, _: Rc<Static>, args: Vec<String>) -> Later {
    Box::pin(async move {
        if args.get(2).map(String::as_str) != Some("all") {
            core.shared.stats.clear_peaks();
            return Reply::Empty;
        }
        let asked = core
            .shared
            .mesh
            .ask_all(|reply| crate::engine::runtime::mesh::Msg::Cli(Ask::ClearCounters(reply)));
        let _ = asked.wait(&core.timers, ASK_WITHIN).await;
        Reply::Empty
    })
}

/// `wait <delay>` / `wait <delay> srv-removable <b>/<s>`.
fn wait(core: Rc<Core>, _: Rc<Static>, args: Vec<String>) -> Later {
    Box::pin(async move {
        let delay = args.get(1).map(String::as_str).unwrap_or("");
        if delay.is_empty() || delay == "-h" {
            return Reply::err("Usage: wait {-h|<duration>} [condition [args...]]\n  - '-h' displays this help\n  - <duration> is the maximum wait time, optionally suffixed by the unit among\n    'us', 'ms', 's', 'm', 'h', and 'd'. ; the default unit is milliseconds.\n  - <condition> indicates what to wait for. By default, no condition is applied,\n    and the delay is always respected. Valid conditions are:\n    - srv-removable <proxy>/<server> : wait for the specified server to be\n      removable by the 'del server' command, i.e. be in maintenance and no\n      longer have any connection on it (neither active or idle).\n");
        }
        let Ok(d) =
            ringlb_config::units::parse_duration(delay, ringlb_config::units::TimeUnit::Millis)
        else {
            return Reply::err("Invalid duration.\n");
        };
        let server = match args.get(2).map(String::as_str) {
            None => None,
            Some("srv-removable") => {
                let plan = &core.shared.plan;
                let target = args.get(3).and_then(|a| a.split_once('/'));
                let found = target.and_then(|(b, s)| {
                    let bi = plan.backends.iter().position(|x| x.name == b)?;
                    let si = plan
                        .backends
                        .get(bi)?
                        .servers
                        .iter()
                        .position(|x| !x.is_vacant() && x.conf().name == s)?;
                    Some((bi, si))
                });
                match found {
                    Some(x) => Some(x),
                    None => return Reply::err("Failed. No such server.\n"),
                }
            }
            Some(_) => return Reply::err("Unsupported condition.\n"),
        };
        let deadline = std::time::Instant::now() + d;
        // HAProxy 3.x's answers: `Done.`, `Failed. <why>` when waiting
        // cannot help, `Wait delay expired. <why>` at the deadline.
        let mut why = String::new();
        loop {
            if let Some((b, s)) = server {
                match super::servers::srv_removable(&core, b, s).await {
                    Ok(()) => return Reply::Msg(LOG_INFO, "Done.\n".into()),
                    Err((false, w)) => return Reply::err(format!("Failed. {w}\n")),
                    Err((true, w)) => why = w,
                }
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                break;
            }
            crate::engine::runtime::timer::sleep(&core.timers, left.min(super::servers::WAIT_STEP))
                .await;
        }
        if server.is_some() {
            Reply::err(format!("Wait delay expired. {why}\n"))
        } else {
            Reply::Msg(LOG_INFO, "Done.\n".into())
        }
    })
}
