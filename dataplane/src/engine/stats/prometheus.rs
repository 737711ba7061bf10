//! `http-request use-service prometheus-exporter`: HAProxy's Prometheus
//! exporter (addons/promex/service-prometheus.c in 2.6), answered by the
//! stream itself as HAProxy's applet answers it.
//!
//! The metrics are HAProxy's, with its names, `# HELP` and `# TYPE` lines,
//! labels and order: `haproxy_process_*` (the `show info` fields), then per
//! field every frontend (`haproxy_frontend_*{proxy=..}`), every backend,
//! every server (`{proxy=..,server=..}`), the values those of `show stat`
//! (an empty cell prints `NaN`, averages and maxima of times in seconds
//! with `%f`). The query string filters as HAProxy's does: `scope=global|
//! frontend|backend|server|listener|sticktable|*` (repeatable; an empty
//! value clears the scopes; no `scope` means all) and `no-maint` (servers
//! in maintenance left out); anything else is answered 400.
//!
//! Beyond HAProxy, each frontend, backend and server section ends with
//! true latency histograms of the stream timers ([`Timer`]), recorded per
//! core (see `runtime::counters`) and merged here:
//! `ringlb_{frontend,backend,server}_{queue,connect,response,total}_time_seconds`
//! with `_bucket{le=..}`, `_sum` and `_count` (docs/differences.md).
//!
//! The body goes out as HAProxy's applet sends it: chunked, in pieces of
//! about [`PIECE`] bytes, each printed once the client took the one before
//! ([`Scrape`]), so a scrape of any size holds one piece and one section's
//! numbers, and a client that stops reading holds nothing more.

use std::fmt::Write as _;

use super::{fields as f, Kind, Row, Val};
use crate::engine::backend::server::{admin, Oper};
use crate::engine::checks::health::Status;
use crate::engine::plan::ServerPlan;
use crate::engine::runtime::counters::{
    hist_bound_ns, Histogram, Obj, StreamTimers, Timer, HIST_BOUNDS,
};
use crate::engine::stream::tcp::StreamFacts;
use crate::engine::Process;
use ringlb_proto::h1::head::{HeadParser, Kind as ParseKind, Options, Progress};
use ringlb_proto::msg::{Head, Method};

/// The service's name in `use-service`.
pub const SERVICE: &str = "prometheus-exporter";

/// What a request asks for (PROMEX_FL_SCOPE_*, PROMEX_FL_NO_MAINT_SRV).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Query {
    pub global: bool,
    pub frontend: bool,
    pub backend: bool,
    pub server: bool,
    pub listener: bool,
    pub sticktable: bool,
    pub no_maint: bool,
}

impl Query {
    const ALL: Query = Query {
        global: true,
        frontend: true,
        backend: true,
        server: true,
        listener: true,
        sticktable: true,
        no_maint: false,
    };
    const NONE: Query = Query {
        global: false,
        frontend: false,
        backend: false,
        server: false,
        listener: false,
        sticktable: false,
        no_maint: false,
    };

    /// promex_parse_uri: the query string of `uri` (None: HAProxy's 400).
    pub fn parse(uri: &[u8]) -> Option<Query> {
        let Some(q) = uri.iter().position(|&c| c == b'?') else {
            return Some(Query::ALL);
        };
        let qs = uri.get(q + 1..).unwrap_or_default();
        let qs = qs.split(|&c| c == b'#').next().unwrap_or_default();
        let mut scopes = Query::NONE;
        let mut any_scope = false;
        let mut no_maint = false;
        for param in qs.split(|&c| c == b'&') {
            if param.is_empty() {
                continue;
            }
            let mut kv = param.splitn(2, |&c| c == b'=');
            let key = url_decode(kv.next().unwrap_or_default())?;
            let value = match kv.next() {
                // A second '=' in the value: HAProxy refuses it.
                Some(v) if v.contains(&b'=') => return None,
                Some(v) => Some(url_decode(v)?),
                None => None,
            };
            match key.as_slice() {
                b"scope" => {
                    any_scope = true;
                    let v = value?;
                    match v.as_slice() {
                        b"" => scopes = Query::NONE,
                        [b'*', ..] => scopes = Query::ALL,
                        b"global" => scopes.global = true,
                        b"server" => scopes.server = true,
                        b"backend" => scopes.backend = true,
                        b"frontend" => scopes.frontend = true,
                        b"listener" => scopes.listener = true,
                        b"sticktable" => scopes.sticktable = true,
                        _ => return None,
                    }
                }
                b"no-maint" => no_maint = true,
                _ => {}
            }
        }
        let mut out = if any_scope { scopes } else { Query::ALL };
        out.no_maint = no_maint;
        Some(out)
    }
}

/// HAProxy's url_decode with `in_form`: `%XX` and `+`; a bad escape fails.
fn url_decode(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&c) = s.get(i) {
        match c {
            b'%' => {
                let h = s.get(i + 1..i + 3)?;
                let v = std::str::from_utf8(h)
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())?;
                out.push(v);
                i += 3;
                continue;
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    Some(out)
}

/// The body text a piece of the answer holds before it goes out as one
/// chunk: HAProxy's applet fills its 16 kB buffer, then waits for the
/// client to take it (its chunks are a little under 16 kB).
pub const PIECE: usize = 16 * 1024;

/// What a request for `uri` asks for (None: HAProxy's 400, which the
/// proxy's error page answers).
pub fn serve(uri: &[u8]) -> Option<Query> {
    Query::parse(uri)
}

/// The head of a 200 answer as promex_send_headers sends it: HTTP/1.1,
/// chunked, to HTTP/1.0 clients too (haproxy 2.6 does the same). The body
/// follows in pieces ([`Scrape`]).
pub fn head() -> Option<Head> {
    let mut raw = b"HTTP/1.1 200 OK\r\ncache-control: no-cache\r\ncontent-type: text/plain; version=0.0.4\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
    let mut head = Head::new();
    let parser = HeadParser::new(ParseKind::Response(Method::Get), Options::default());
    let Ok(Progress::Done(_)) = { parser }.parse(&mut raw, &mut head) else {
        return None;
    };
    Some(head)
}

/// Record one finished stream's timers in the latency histograms of its
/// frontend, backend and server, on the executor's own block. `http`: the
/// transaction's request and response head dates (since it began), for
/// `Tr`; TCP streams have none.
pub fn record(
    core: &crate::engine::runtime::Core,
    fe: usize,
    be: Option<usize>,
    facts: &StreamFacts,
    http: Option<(Option<std::time::Duration>, Option<std::time::Duration>)>,
) {
    // The server timers belong to streams that went to a server (an
    // applet's stream has zeros there, and no server).
    let (tw, tc) = match facts.server {
        Some(_) => (facts.tw, facts.tc),
        None => (None, None),
    };
    let connected = tc.map(|tc| tc + tw.unwrap_or_default());
    let response = match (http, connected) {
        (Some((req, Some(data))), Some(conn)) => {
            Some(data.saturating_sub(req.unwrap_or_default() + conn))
        }
        _ => None,
    };
    let t = StreamTimers {
        queue: tw,
        connect: tc,
        response,
        total: Some(facts.tt),
    };
    let mut objs = [Obj::Fe(fe); 3];
    let mut n = 1;
    if let Some(b) = be {
        objs[1] = Obj::Be(b);
        n = 2;
        if let Some(s) = facts.server {
            objs[2] = Obj::Srv(b, s);
            n = 3;
        }
    }
    core.shared
        .stats
        .observe(core.id, objs.get(..n).unwrap_or_default(), &t);
}

// Which sections print a field (PROMEX_FL_*_METRIC).
const FE: u8 = 1;
const BE: u8 = 2;
const SV: u8 = 4;
/// The listener section (`option socket-stats`).
const LI: u8 = 8;

/// A field's metric: (field, name, counter, sections), in HAProxy's field
/// order (promex_st_metrics).
const METRICS: &[(usize, &str, bool, u8)] = &[
    (f::QCUR, "current_queue", false, BE | SV),
    (f::QMAX, "max_queue", false, BE | SV),
    (f::SCUR, "current_sessions", false, FE | LI | BE | SV),
    (f::SMAX, "max_sessions", false, FE | LI | BE | SV),
    (f::SLIM, "limit_sessions", false, FE | LI | BE | SV),
    (f::STOT, "sessions_total", true, FE | LI | BE | SV),
    (f::BIN, "bytes_in_total", true, FE | LI | BE | SV),
    (f::BOUT, "bytes_out_total", true, FE | LI | BE | SV),
    (f::DREQ, "requests_denied_total", true, FE | LI | BE),
    (f::DRESP, "responses_denied_total", true, FE | LI | BE | SV),
    (f::EREQ, "request_errors_total", true, FE | LI),
    (f::ECON, "connection_errors_total", true, BE | SV),
    (f::ERESP, "response_errors_total", true, BE | SV),
    (f::WRETR, "retry_warnings_total", true, BE | SV),
    (f::WREDIS, "redispatch_warnings_total", true, BE | SV),
    (f::STATUS, "status", false, FE | LI | BE | SV),
    (f::WEIGHT, "weight", false, BE | SV),
    (f::ACT, "active_servers", false, BE),
    (f::BCK, "backup_servers", false, BE),
    (f::CHKFAIL, "check_failures_total", true, SV),
    (f::CHKDOWN, "check_up_down_total", true, BE | SV),
    (f::LASTCHG, "check_last_change_seconds", false, BE | SV),
    (f::DOWNTIME, "downtime_seconds_total", true, BE | SV),
    (f::QLIMIT, "queue_limit", false, SV),
    (f::THROTTLE, "current_throttle", false, SV),
    (f::LBTOT, "loadbalanced_total", true, BE | SV),
    (f::RATE_LIM, "limit_session_rate", false, FE),
    (f::RATE_MAX, "max_session_rate", false, FE | BE | SV),
    (f::CHECK_STATUS, "check_status", false, SV),
    (f::CHECK_CODE, "check_code", false, SV),
    (f::CHECK_DURATION, "check_duration_seconds", false, SV),
    (f::HRSP_1XX, "http_responses_total", true, FE | BE | SV),
    (f::HRSP_2XX, "http_responses_total", true, FE | BE | SV),
    (f::HRSP_3XX, "http_responses_total", true, FE | BE | SV),
    (f::HRSP_4XX, "http_responses_total", true, FE | BE | SV),
    (f::HRSP_5XX, "http_responses_total", true, FE | BE | SV),
    (f::HRSP_OTHER, "http_responses_total", true, FE | BE | SV),
    (f::REQ_RATE_MAX, "http_requests_rate_max", false, FE),
    (f::REQ_TOT, "http_requests_total", true, FE | BE),
    (f::CLI_ABRT, "client_aborts_total", true, BE | SV),
    (f::SRV_ABRT, "server_aborts_total", true, BE | SV),
    (f::COMP_IN, "http_comp_bytes_in_total", true, FE | BE),
    (f::COMP_OUT, "http_comp_bytes_out_total", true, FE | BE),
    (f::COMP_BYP, "http_comp_bytes_bypassed_total", true, FE | BE),
    (f::COMP_RSP, "http_comp_responses_total", true, FE | BE),
    (f::LASTSESS, "last_session_seconds", false, BE | SV),
    (f::QTIME, "queue_time_average_seconds", false, BE | SV),
    (f::CTIME, "connect_time_average_seconds", false, BE | SV),
    (f::RTIME, "response_time_average_seconds", false, BE | SV),
    (f::TTIME, "total_time_average_seconds", false, BE | SV),
    (f::CONN_RATE_MAX, "connections_rate_max", false, FE),
    (f::CONN_TOT, "connections_total", true, FE),
    (f::INTERCEPTED, "intercepted_requests_total", true, FE),
    (f::DCON, "denied_connections_total", true, FE | LI),
    (f::DSES, "denied_sessions_total", true, FE | LI),
    (
        f::WREW,
        "failed_header_rewriting_total",
        true,
        FE | LI | BE | SV,
    ),
    (f::CONNECT, "connection_attempts_total", true, BE | SV),
    (f::REUSE, "connection_reuses_total", true, BE | SV),
    (f::CACHE_LOOKUPS, "http_cache_lookups_total", true, FE | BE),
    (f::CACHE_HITS, "http_cache_hits_total", true, FE | BE),
    (f::SRV_ICUR, "idle_connections_current", false, SV),
    (f::SRV_ILIM, "idle_connections_limit", false, SV),
    (f::QT_MAX, "max_queue_time_seconds", false, BE | SV),
    (f::CT_MAX, "max_connect_time_seconds", false, BE | SV),
    (f::RT_MAX, "max_response_time_seconds", false, BE | SV),
    (f::TT_MAX, "max_total_time_seconds", false, BE | SV),
    (f::EINT, "internal_errors_total", true, FE | LI | BE | SV),
    (
        f::IDLE_CONN_CUR,
        "unsafe_idle_connections_current",
        false,
        SV,
    ),
    (f::SAFE_CONN_CUR, "safe_idle_connections_current", false, SV),
    (f::USED_CONN_CUR, "used_connections_current", false, SV),
    (f::NEED_CONN_EST, "need_connections_current", false, SV),
    (f::UWEIGHT, "uweight", false, BE | SV),
    (f::AGG_SRV_STATUS, "agg_server_status", false, BE),
    (
        f::AGG_SRV_CHECK_STATUS,
        "agg_server_check_status",
        false,
        BE,
    ),
    (f::AGG_CHECK_STATUS, "agg_check_status", false, BE),
];

/// promex_st_metric_desc: the descriptions promex overrides.
fn help(field: usize) -> &'static str {
    match field {
        f::STATUS => "Current status of the service, per state label value.",
        f::CHECK_STATUS => "Status of last health check, per state label value.",
        f::CHECK_CODE => "layer5-7 code, if available of the last health check.",
        f::CHECK_DURATION => "Total duration of the latest server health check, in seconds.",
        f::QTIME => "Avg. queue time for last 1024 successful connections.",
        f::CTIME => "Avg. connect time for last 1024 successful connections.",
        f::RTIME => "Avg. response time for last 1024 successful connections.",
        f::TTIME => "Avg. total time for last 1024 successful connections.",
        f::QT_MAX => "Maximum observed time spent in the queue",
        f::CT_MAX => "Maximum observed time spent waiting for a connection to complete",
        f::RT_MAX => "Maximum observed time spent waiting for a server response",
        f::TT_MAX => "Maximum observed total request+response time (request+queue+connect+response+processing)",
        _ => f::FIELDS.get(field).map_or("", |x| x.1),
    }
}

/// promex_srv_st.
const SRV_STATES: [&str; 5] = ["DOWN", "UP", "MAINT", "DRAIN", "NOLB"];

/// The check statuses promex lists (result at least CHK_RES_FAILED), as
/// HAProxy orders them.
const CHECK_STATES: [&str; 16] = [
    "HANA", "SOCKERR", "L4OK", "L4TOUT", "L4CON", "L6OK", "L6TOUT", "L6RSP", "L7TOUT", "L7RSP",
    "L7OK", "L7OKC", "L7STS", "PROCERR", "PROCTOUT", "PROCOK",
];

/// The text being built, with the pending `# HELP`/`# TYPE` header of the
/// current metric (printed before its first line, as PROMEX_FL_METRIC_HDR).
struct Out {
    text: String,
    header: bool,
}

impl Out {
    fn line(&mut self, name: &str, help: &str, kind: &str, labels: &[(&str, &str)], value: &str) {
        if self.header {
            let _ = write!(self.text, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
            self.header = false;
        }
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let _ = write!(self.text, "{k}=\"");
                label_value(v, &mut self.text);
                self.text.push('"');
            }
            self.text.push('}');
        }
        self.text.push(' ');
        self.text.push_str(value);
        self.text.push('\n');
    }
}

/// A label value as the text format escapes it (HAProxy's names never
/// need it).
fn label_value(v: &str, out: &mut String) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// promex_metric_to_str.
fn value_text(v: Num) -> String {
    match v {
        Num::U(x) => x.to_string(),
        Num::S(x) => x.to_string(),
        Num::NaN => "NaN".into(),
    }
}

/// A time in milliseconds as seconds, `%f`.
fn ms_secs(v: Num) -> String {
    match v {
        Num::U(x) => format!("{:.6}", x as f64 / 1000.0),
        _ => "0.000000".into(),
    }
}

/// A server's promex state (promex_srv_status): an index in SRV_STATES.
fn srv_state(process: &Process, b: usize, s: usize) -> usize {
    let Some(srv) = process
        .plan
        .backends
        .get(b)
        .and_then(|be| be.servers.get(s))
    else {
        return 0;
    };
    let st = srv.state.get();
    let mut state = match st.oper {
        Oper::Running | Oper::Starting if st.admin & admin::DRAIN != 0 => 3,
        Oper::Running | Oper::Starting => 1,
        Oper::Stopping => 4,
        Oper::Stopped => 0,
    };
    if st.admin & admin::MAINT != 0 {
        state = 2;
    }
    state
}

/// A server's own check: its last status, code and duration (None: no
/// check of its own).
fn check(process: &Process, b: usize, s: usize) -> Option<(Status, u16, std::time::Duration)> {
    super::check_of(process, b, s).map(|c| c.last.get())
}

/// Whether a server's check runs (HAProxy pauses it in maintenance; the
/// runtime API may disable it).
fn check_running(process: &Process, b: usize, s: usize) -> bool {
    let maint = process
        .plan
        .backends
        .get(b)
        .and_then(|be| be.servers.get(s))
        .is_some_and(|srv| srv.state.get().admin & admin::MAINT != 0);
    super::check_of(process, b, s).is_some_and(|c| c.ctl.enabled() && !c.ctl.paused(maint))
}

/// A number of a row, as promex prints it (promex_metric_to_str: an empty
/// or text cell is `NaN`).
#[derive(Clone, Copy, Debug)]
enum Num {
    NaN,
    U(u64),
    S(i64),
}

impl Num {
    fn of(v: Option<&Val>) -> Num {
        match v {
            Some(Val::U32(x) | Val::U64(x)) => Num::U(*x),
            Some(Val::S32(x)) => Num::S(*x),
            _ => Num::NaN,
        }
    }
}

/// One object of a section (a frontend, listener, backend or server) as
/// the section's metrics need it: its place and the numbers of its row.
struct Entry {
    /// Its proxy, an index in `plan.stats.proxies`.
    px: usize,
    be: Option<usize>,
    srv: Option<usize>,
    /// A server's or listener's name (its `server`/`listener` label).
    name: String,
    /// A backend's or listener's status cell.
    status: String,
}

/// The section being printed: its objects and, per object, the numbers
/// of its metrics (`stride` of them, in [`METRICS`] order). Taken once
/// when the section starts, as compact numbers: 16 bytes a metric, not
/// the whole `show stat` rows nor the text.
struct Table {
    kind: Kind,
    entries: Vec<Entry>,
    vals: Vec<Num>,
    stride: usize,
}

/// The sections in HAProxy's order.
const SECTIONS: [Kind; 4] = [Kind::Fe, Kind::So, Kind::Be, Kind::Sv];

fn flag_of(kind: Kind) -> u8 {
    match kind {
        Kind::Fe => FE,
        Kind::Be => BE,
        Kind::Sv => SV,
        Kind::So => LI,
    }
}

fn prefix_of(kind: Kind) -> &'static str {
    match kind {
        Kind::Fe => "haproxy_frontend_",
        Kind::Be => "haproxy_backend_",
        Kind::Sv => "haproxy_server_",
        Kind::So => "haproxy_listener_",
    }
}

/// The objects of `kind` in `show stat`'s order (stats::rows, one kind).
fn table(process: &Process, kind: Kind, o: &super::Opts) -> Table {
    let flag = flag_of(kind);
    let cols: Vec<usize> = METRICS
        .iter()
        .filter(|m| m.3 & flag != 0)
        .map(|m| m.0)
        .collect();
    // Sized once (at most every server of every backend): grown by
    // doubling, the table would leave the allocator twice its size.
    let most: usize = process
        .plan
        .stats
        .proxies
        .iter()
        .map(|px| match (kind, px.fe, px.be) {
            (Kind::Fe, Some(_), _) | (Kind::Be, _, Some(_)) => 1,
            (Kind::So, Some(fe), _) => process
                .plan
                .stats
                .listeners
                .iter()
                .filter(|l| l.row && l.fe == fe)
                .count(),
            (Kind::Sv, _, Some(b)) => process
                .plan
                .backends
                .get(b)
                .map_or(0, |be| be.servers.iter().filter(|s| !s.is_vacant()).count()),
            _ => 0,
        })
        .sum();
    let mut t = Table {
        kind,
        entries: Vec::with_capacity(most),
        vals: Vec::with_capacity(most * cols.len()),
        stride: cols.len(),
    };
    let now = process.now_ms();
    let push = |row: Row, px: usize, srv: Option<usize>, t: &mut Table| {
        let named = matches!(kind, Kind::Sv | Kind::So);
        let be = process.plan.stats.proxies.get(px).and_then(|p| p.be);
        t.entries.push(Entry {
            px,
            be,
            srv,
            name: if named {
                super::row_text(&row, f::SVNAME)
            } else {
                String::new()
            },
            status: if matches!(kind, Kind::Be | Kind::So) {
                super::row_text(&row, f::STATUS)
            } else {
                String::new()
            },
        });
        t.vals.extend(cols.iter().map(|&c| Num::of(row.get(c))));
    };
    for (pi, px) in process.plan.stats.proxies.iter().enumerate() {
        match (kind, px.fe, px.be) {
            (Kind::Fe, Some(fe), _) => push(super::fe_row(process, px, fe, now), pi, None, &mut t),
            (Kind::So, Some(fe), _) => {
                for (li, l) in process.plan.stats.listeners.iter().enumerate() {
                    if l.row && l.fe == fe {
                        push(super::li_row(process, px, (li, l), o), pi, None, &mut t);
                    }
                }
            }
            (Kind::Be, _, Some(b)) => push(super::be_row(process, px, b, o, now), pi, None, &mut t),
            (Kind::Sv, _, Some(b)) => {
                let Some(be) = process.plan.backends.get(b) else {
                    continue;
                };
                for (s, srv) in be.servers.iter().enumerate() {
                    if srv.is_vacant() || super::hidden(process, o, b, s) {
                        continue;
                    }
                    let row = super::sv_row(process, px, (b, s), o, now);
                    push(row, pi, Some(s), &mut t);
                }
            }
            _ => {}
        }
    }
    t
}

/// Where a scrape is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum At {
    Global,
    /// In section `SECTIONS[section]`: the metric (an index in [`METRICS`], then
    /// `METRICS.len() + timer` for the histograms), its column among the
    /// section's metrics, the next object.
    Section {
        section: usize,
        metric: usize,
        col: usize,
        obj: usize,
    },
    Done,
}

/// A scrape being answered, one piece at a time (HAProxy's applet and its
/// context: the section, the field, the object it is at). Each piece is
/// about [`PIECE`] bytes of text; what the scrape keeps in between is the
/// current section's [`Table`]. Counters are read as the section starts
/// (HAProxy reads each as it prints it), the servers' states and checks
/// as their lines print.
pub struct Scrape<'p> {
    process: &'p Process,
    q: Query,
    at: At,
    table: Option<Table>,
    out: Out,
    name: String,
}

impl std::fmt::Debug for Scrape<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scrape").field("at", &self.at).finish()
    }
}

impl<'p> Scrape<'p> {
    pub fn new(process: &'p Process, q: Query) -> Scrape<'p> {
        Scrape {
            process,
            q,
            at: At::Global,
            table: None,
            out: Out {
                text: String::new(),
                header: true,
            },
            name: String::with_capacity(64),
        }
    }

    /// The next piece of the body as one chunk (its size line, its text,
    /// its CRLF), and the last chunk once the text ends, appended to
    /// `buf`; false once the answer is whole.
    pub fn chunk(&mut self, buf: &mut Vec<u8>) -> bool {
        let more = self.fill();
        let text = &self.out.text;
        if !text.is_empty() {
            let _ = std::io::Write::write_fmt(buf, format_args!("{:x}\r\n", text.len()));
            buf.extend_from_slice(text.as_bytes());
            buf.extend_from_slice(b"\r\n");
        }
        if !more {
            buf.extend_from_slice(b"0\r\n\r\n");
        }
        more
    }

    /// The next piece of text in `self.out.text`; false once it is the
    /// last.
    fn fill(&mut self) -> bool {
        self.out.text.clear();
        let process = self.process;
        while self.out.text.len() < PIECE {
            match self.at {
                At::Done => return false,
                At::Global => {
                    if self.q.global {
                        global(process, &mut self.out);
                    }
                    self.at = At::Section {
                        section: 0,
                        metric: 0,
                        col: 0,
                        obj: 0,
                    };
                }
                At::Section {
                    section,
                    metric,
                    col,
                    obj,
                } => {
                    let Some(&kind) = SECTIONS.get(section) else {
                        self.at = At::Done;
                        continue;
                    };
                    let wanted = match kind {
                        Kind::Fe => self.q.frontend,
                        Kind::So => self.q.listener,
                        Kind::Be => self.q.backend,
                        Kind::Sv => self.q.server,
                    };
                    let next_section = At::Section {
                        section: section + 1,
                        metric: 0,
                        col: 0,
                        obj: 0,
                    };
                    if !wanted {
                        self.at = next_section;
                        continue;
                    }
                    if self.table.as_ref().map(|t| t.kind) != Some(kind) {
                        let o = super::Opts {
                            hide_maint: self.q.no_maint,
                            ..super::Opts::default()
                        };
                        self.table = Some(table(process, kind, &o));
                    }
                    let Some(t) = self.table.as_ref() else {
                        continue;
                    };
                    let step = |metric, col, obj| At::Section {
                        section,
                        metric,
                        col,
                        obj,
                    };
                    if let Some(&(field, m, counter, flags)) = METRICS.get(metric) {
                        if flags & flag_of(kind) == 0 {
                            self.at = step(metric + 1, col, 0);
                            continue;
                        }
                        if obj == 0 {
                            self.name.clear();
                            self.name.push_str(prefix_of(kind));
                            self.name.push_str(m);
                            // The status classes share one metric: one
                            // header for the six.
                            self.out.header = !(f::HRSP_2XX..=f::HRSP_OTHER).contains(&field);
                        }
                        let Some(e) = t.entries.get(obj) else {
                            self.at = step(metric + 1, col + 1, 0);
                            continue;
                        };
                        let cell = t
                            .vals
                            .get(obj * t.stride + col)
                            .copied()
                            .unwrap_or(Num::NaN);
                        let kind_word = if counter { "counter" } else { "gauge" };
                        let what = (self.name.as_str(), help(field), kind_word);
                        field_lines(process, kind, e, field, cell, what, &mut self.out);
                        self.at = step(metric, col, obj + 1);
                    } else if let Some(&timer) = Timer::ALL.get(metric - METRICS.len()) {
                        // No histograms of listeners.
                        if kind == Kind::So || t.entries.is_empty() {
                            self.at = next_section;
                            continue;
                        }
                        if obj == 0 {
                            histogram_header(kind, timer, &mut self.out);
                        }
                        let Some(e) = t.entries.get(obj) else {
                            self.at = step(metric + 1, col, 0);
                            continue;
                        };
                        histogram_lines(process, kind, timer, e, &mut self.out);
                        self.at = step(metric, col, obj + 1);
                    } else {
                        self.table = None;
                        self.at = next_section;
                    }
                }
            }
        }
        true
    }
}

/// One field's lines for one object (the switch of promex_dump_*_metrics).
fn field_lines(
    process: &Process,
    kind: Kind,
    e: &Entry,
    field: usize,
    cell: Num,
    (name, desc, kind_word): (&str, &str, &str),
    out: &mut Out,
) {
    let Some(pxi) = process.plan.stats.proxies.get(e.px) else {
        return;
    };
    let px = pxi.name.as_str();
    let mut labels: Vec<(&str, &str)> = vec![("proxy", px)];
    match kind {
        Kind::Sv => labels.push(("server", &e.name)),
        Kind::So => labels.push(("listener", &e.name)),
        _ => {}
    }
    let http_only = match kind {
        Kind::Fe => matches!(
            field,
            f::REQ_RATE_MAX
                | f::REQ_TOT
                | f::INTERCEPTED
                | f::CACHE_LOOKUPS
                | f::CACHE_HITS
                | f::COMP_IN
                | f::COMP_OUT
                | f::COMP_BYP
                | f::COMP_RSP
        ),
        Kind::Be => matches!(
            field,
            f::REQ_TOT
                | f::CACHE_LOOKUPS
                | f::CACHE_HITS
                | f::COMP_IN
                | f::COMP_OUT
                | f::COMP_BYP
                | f::COMP_RSP
        ),
        Kind::Sv | Kind::So => false,
    } || (f::HRSP_1XX..=f::HRSP_OTHER).contains(&field);
    if http_only && !pxi.http {
        return;
    }
    let line = |out: &mut Out, extra: Option<(&str, &str)>, value: &str| {
        let mut l = labels.clone();
        if let Some(e) = extra {
            l.push(e);
        }
        out.line(name, desc, kind_word, &l, value);
    };
    match (kind, field) {
        (Kind::Fe, f::STATUS) => {
            let up = !process.is_stopping();
            line(out, Some(("state", "DOWN")), if up { "0" } else { "1" });
            line(out, Some(("state", "UP")), if up { "1" } else { "0" });
        }
        (Kind::So, f::STATUS) => {
            // li_status_st, in its order.
            let st = e.status.as_str();
            for word in ["WAITING", "OPEN", "FULL"] {
                line(
                    out,
                    Some(("state", word)),
                    if st == word { "1" } else { "0" },
                );
            }
        }
        (Kind::Be, f::STATUS) => {
            let up = e.status.starts_with("UP");
            line(out, Some(("state", "DOWN")), if up { "0" } else { "1" });
            line(out, Some(("state", "UP")), if up { "1" } else { "0" });
        }
        (Kind::Sv, f::STATUS) => {
            let (Some(b), Some(s)) = (e.be, e.srv) else {
                return;
            };
            let st = srv_state(process, b, s);
            for (i, word) in SRV_STATES.iter().enumerate() {
                line(out, Some(("state", word)), if i == st { "1" } else { "0" });
            }
        }
        (Kind::Be, f::AGG_SRV_STATUS | f::AGG_SRV_CHECK_STATUS) => {
            let Some(be) =
                e.be.and_then(|b| process.plan.backends.get(b).map(|x| (b, x)))
            else {
                return;
            };
            if be.1.servers.iter().all(ServerPlan::is_vacant) {
                return;
            }
            let mut counts = [0u64; SRV_STATES.len()];
            for s in 0..be.1.servers.len() {
                if be.1.servers.get(s).is_some_and(ServerPlan::is_vacant) {
                    continue;
                }
                if let Some(c) = counts.get_mut(srv_state(process, be.0, s)) {
                    *c += 1;
                }
            }
            for (word, n) in SRV_STATES.iter().zip(counts) {
                line(out, Some(("state", word)), &n.to_string());
            }
        }
        (Kind::Be, f::AGG_CHECK_STATUS) => {
            let Some(be) =
                e.be.and_then(|b| process.plan.backends.get(b).map(|x| (b, x)))
            else {
                return;
            };
            if be.1.servers.iter().all(ServerPlan::is_vacant) {
                return;
            }
            let mut counts = [0u64; CHECK_STATES.len()];
            for s in 0..be.1.servers.len() {
                if be.1.servers.get(s).is_some_and(ServerPlan::is_vacant) {
                    continue;
                }
                if let Some((st, _, _)) = check(process, be.0, s) {
                    if let Some(i) = CHECK_STATES.iter().position(|w| *w == st.code()) {
                        if let Some(c) = counts.get_mut(i) {
                            *c += 1;
                        }
                    }
                }
            }
            for (word, n) in CHECK_STATES.iter().zip(counts) {
                line(out, Some(("state", word)), &n.to_string());
            }
        }
        (Kind::Sv, f::CHECK_STATUS) => {
            let (Some(b), Some(s)) = (e.be, e.srv) else {
                return;
            };
            if !check_running(process, b, s) {
                return;
            }
            let Some((st, _, _)) = check(process, b, s) else {
                return;
            };
            for word in CHECK_STATES {
                line(
                    out,
                    Some(("state", word)),
                    if word == st.code() { "1" } else { "0" },
                );
            }
        }
        (Kind::Sv, f::CHECK_CODE) => {
            let (Some(b), Some(s)) = (e.be, e.srv) else {
                return;
            };
            if !check_running(process, b, s) {
                return;
            }
            let Some((st, code, _)) = check(process, b, s) else {
                return;
            };
            // HCHK_STATUS_L57DATA and above: the layer 7 statuses.
            let l7 = matches!(
                st,
                Status::L7Tout | Status::L7Rsp | Status::L7Ok | Status::L7OkC | Status::L7Sts
            );
            line(out, None, &if l7 { code.to_string() } else { "0".into() });
        }
        (Kind::Sv, f::CHECK_DURATION) => {
            let (Some(b), Some(s)) = (e.be, e.srv) else {
                return;
            };
            let Some((st, _, d)) = check(process, b, s) else {
                return;
            };
            if st == Status::Ini {
                return;
            }
            line(out, None, &format!("{:.6}", d.as_millis() as f64 / 1000.0));
        }
        (Kind::Be | Kind::Sv, f::QTIME | f::CTIME | f::RTIME | f::TTIME) => {
            line(out, None, &ms_secs(cell));
        }
        (Kind::Be | Kind::Sv, f::QT_MAX | f::CT_MAX | f::RT_MAX | f::TT_MAX) => {
            line(out, None, &ms_secs(cell));
        }
        (_, f::HRSP_1XX..=f::HRSP_OTHER) => {
            let code = ["1xx", "2xx", "3xx", "4xx", "5xx", "other"]
                .get(field - f::HRSP_1XX)
                .copied()
                .unwrap_or("other");
            line(out, Some(("code", code)), &value_text(cell));
        }
        _ => line(out, None, &value_text(cell)),
    }
}

/// The timers' metric names and descriptions.
fn timer_metric(t: Timer) -> (&'static str, &'static str) {
    match t {
        Timer::Queue => (
            "queue_time_seconds",
            "Time spent waiting in the queues (Tw), over every stream that left them.",
        ),
        Timer::Connect => (
            "connect_time_seconds",
            "Time to establish the server connection (Tc), over every connected stream.",
        ),
        Timer::Response => (
            "response_time_seconds",
            "Time from the server connection to the response headers (Tr, HTTP), over every response.",
        ),
        Timer::Total => (
            "total_time_seconds",
            "Whole stream duration as logged (Tt), over every stream.",
        ),
    }
}

/// Seconds from nanoseconds, as short as exact (`0.000001`, `67.108864`).
fn ns_secs(ns: u64, out: &mut String) {
    let (s, frac) = (ns / 1_000_000_000, ns % 1_000_000_000);
    let _ = write!(out, "{s}");
    if frac != 0 {
        let digits = format!("{frac:09}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
}

/// The `# HELP` and `# TYPE` lines of a section's histogram of `t`.
fn histogram_header(kind: Kind, t: Timer, out: &mut Out) {
    let (metric, desc) = timer_metric(t);
    let prefix = hist_prefix(kind);
    let _ = write!(
        out.text,
        "# HELP {prefix}{metric} {desc}\n# TYPE {prefix}{metric} histogram\n"
    );
    out.header = false;
}

fn hist_prefix(kind: Kind) -> &'static str {
    match kind {
        Kind::Fe => "ringlb_frontend_",
        Kind::Be => "ringlb_backend_",
        Kind::Sv => "ringlb_server_",
        Kind::So => "ringlb_listener_",
    }
}

/// One object's histogram of `t`: its buckets, sum and count.
fn histogram_lines(process: &Process, kind: Kind, t: Timer, e: &Entry, out: &mut Out) {
    let obj = match (kind, e.be, e.srv) {
        (Kind::Fe, _, _) => match process.plan.stats.proxies.get(e.px).and_then(|p| p.fe) {
            Some(fe) => Obj::Fe(fe),
            None => return,
        },
        (Kind::Be, Some(b), _) => Obj::Be(b),
        (Kind::Sv, Some(b), Some(s)) => Obj::Srv(b, s),
        _ => return,
    };
    let Some(px) = process.plan.stats.proxies.get(e.px) else {
        return;
    };
    let (metric, _) = timer_metric(t);
    let prefix = hist_prefix(kind);
    let h: Histogram = process.stats.histogram(obj, t);
    // Written straight into the text, as Out::line would (the header
    // went out before the first object): the buckets are most of a
    // scrape's lines.
    debug_assert!(!out.header);
    let mut labels = String::with_capacity(64);
    labels.push_str("proxy=\"");
    label_value(&px.name, &mut labels);
    labels.push('"');
    if kind == Kind::Sv {
        labels.push_str(",server=\"");
        label_value(&e.name, &mut labels);
        labels.push('"');
    }
    let mut le = String::with_capacity(16);
    let mut cumulative = 0u64;
    for (i, n) in h.buckets.iter().enumerate() {
        cumulative = cumulative.wrapping_add(*n);
        le.clear();
        if i < HIST_BOUNDS {
            ns_secs(hist_bound_ns(i), &mut le);
        } else {
            le.push_str("+Inf");
        }
        let _ = writeln!(
            out.text,
            "{prefix}{metric}_bucket{{{labels},le=\"{le}\"}} {cumulative}"
        );
    }
    le.clear();
    ns_secs(h.sum_ns, &mut le);
    let _ = writeln!(out.text, "{prefix}{metric}_sum{{{labels}}} {le}");
    let _ = writeln!(out.text, "{prefix}{metric}_count{{{labels}}} {cumulative}");
}

/// A global metric: (name, counter, description, value).
type Global = (&'static str, bool, &'static str, String);

/// `haproxy_process_*`, in HAProxy 2.6's `info_fields` order, with the
/// values `show info` gives.
fn global(process: &Process, out: &mut Out) {
    let plan = &process.plan;
    let st = &process.stats;
    let now = process.now_ms();
    let limits = &process.limits;
    let up = process.started.elapsed().as_secs();
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        .saturating_sub(up);
    let nofile = crate::process::current_nofile().map_or(0, |(soft, _)| soft);
    let frontends = 0..plan.frontends.len();
    use crate::engine::runtime::counters::{Fe, Stat};
    let conns: u64 = frontends
        .clone()
        .map(|i| st.sum(Stat::Fe(i, Fe::ConnTot)))
        .sum();
    let bytes_out: u64 = frontends
        .clone()
        .map(|i| st.sum(Stat::Fe(i, Fe::BytesOut)))
        .sum();
    // HAProxy's CumReq counts streams: a transaction in HTTP, a session in
    // TCP.
    let streams: u64 = plan
        .stats
        .proxies
        .iter()
        .filter_map(|p| Some((p.fe?, p.http)))
        .map(|(i, http)| st.sum(Stat::Fe(i, if http { Fe::ReqTot } else { Fe::SessTot })))
        .sum();
    let listeners: usize = plan
        .frontends
        .iter()
        .flat_map(|f| &f.binds)
        .map(|b| b.addrs.len())
        .sum();
    let actconn = u64::from(process.actconn.get());
    let n = |v: u64| v.to_string();
    let zero = || "0".to_string();
    let fields: Vec<Global> = vec![
        ("nbthread", false, "Number of started threads (global.nbthread)", n(process.mesh.cores() as u64)),
        ("nbproc", false, "Number of started worker processes (historical, always 1)", n(1)),
        ("relative_process_id", false, "Relative worker process number (1)", n(1)),
        ("uptime_seconds", false, "How long ago this worker process was started (seconds)", n(up)),
        ("pool_failures_total", true, "Number of failed pool allocations since this worker was started", zero()),
        ("max_fds", false, "Hard limit on the number of per-process file descriptors", n(nofile)),
        ("max_sockets", false, "Hard limit on the number of per-process sockets", n(nofile)),
        ("max_connections", false, "Hard limit on the number of per-process connections (configured or imposed by Ulimit-n)", n(u64::from(limits.maxconn()))),
        ("hard_max_connections", false, "Hard limit on the number of per-process connections (imposed by Memmax_MB or Ulimit-n)", n(u64::from(limits.hard_maxconn))),
        ("current_connections", false, "Current number of connections on this worker process", n(actconn)),
        ("connections_total", true, "Total number of connections on this worker process since started", n(conns)),
        ("requests_total", true, "Total number of requests on this worker process since started", n(streams)),
        ("max_ssl_connections", false, "Hard limit on the number of per-process SSL endpoints (front+back), 0=unlimited", zero()),
        ("current_ssl_connections", false, "Current number of SSL endpoints on this worker process (front+back)", zero()),
        ("ssl_connections_total", true, "Total number of SSL endpoints on this worker process since started (front+back)", zero()),
        ("max_pipes", false, "Hard limit on the number of pipes for splicing, 0=unlimited", n(u64::from(plan.maxpipes.unwrap_or(0)))),
        ("pipes_used_total", true, "Current number of pipes in use in this worker process", zero()),
        ("pipes_free_total", true, "Current number of allocated and available pipes in this worker process", zero()),
        ("current_connection_rate", false, "Number of front connections created on this worker process over the last second", n(u64::from(limits.conn_rate.rate(now)))),
        ("limit_connection_rate", false, "Hard limit for ConnRate (global.maxconnrate)", n(u64::from(limits.conn_rate_limit()))),
        ("max_connection_rate", false, "Highest ConnRate reached on this worker process since started (in connections per second)", zero()),
        ("current_session_rate", false, "Number of sessions created on this worker process over the last second", n(u64::from(limits.sess_rate.rate(now)))),
        ("limit_session_rate", false, "Hard limit for SessRate (global.maxsessrate)", n(u64::from(limits.sess_rate_limit()))),
        ("max_session_rate", false, "Highest SessRate reached on this worker process since started (in sessions per second)", zero()),
        ("current_ssl_rate", false, "Number of SSL connections created on this worker process over the last second", zero()),
        ("limit_ssl_rate", false, "Hard limit for SslRate (global.maxsslrate)", zero()),
        ("max_ssl_rate", false, "Highest SslRate reached on this worker process since started (in connections per second)", zero()),
        ("current_frontend_ssl_key_rate", false, "Number of SSL keys created on frontends in this worker process over the last second", zero()),
        ("max_frontend_ssl_key_rate", false, "Highest SslFrontendKeyRate reached on this worker process since started (in SSL keys per second)", zero()),
        ("frontend_ssl_reuse", false, "Percent of frontend SSL connections which did not require a new key", zero()),
        ("current_backend_ssl_key_rate", false, "Number of SSL keys created on backends in this worker process over the last second", zero()),
        ("max_backend_ssl_key_rate", false, "Highest SslBackendKeyRate reached on this worker process since started (in SSL keys per second)", zero()),
        ("ssl_cache_lookups_total", true, "Total number of SSL session ID lookups in the SSL session cache on this worker since started", zero()),
        ("ssl_cache_misses_total", true, "Total number of SSL session ID lookups that didn't find a session in the SSL session cache on this worker since started", zero()),
        ("http_comp_bytes_in_total", true, "Number of bytes submitted to the HTTP compressor in this worker process over the last second", zero()),
        ("http_comp_bytes_out_total", true, "Number of bytes emitted by the HTTP compressor in this worker process over the last second", zero()),
        ("limit_http_comp", false, "Limit of CompressBpsOut beyond which HTTP compression is automatically disabled", zero()),
        // No zlib: HAProxy built with libslz prints these empty.
        ("current_zlib_memory", false, "Amount of memory currently used by HTTP compression on the current worker process (in bytes)", "NaN".into()),
        ("max_zlib_memory", false, "Limit on the amount of memory used by HTTP compression above which it is automatically disabled (in bytes, see global.maxzlibmem)", "NaN".into()),
        ("current_tasks", false, "Total number of tasks in the current worker process (active + sleeping)", zero()),
        ("current_run_queue", false, "Total number of active tasks+tasklets in the current worker process", zero()),
        ("idle_time_percent", false, "Percentage of last second spent waiting in the current worker thread", n(100)),
        ("stopping", false, "1 if the worker process is currently stopping, otherwise zero", n(u64::from(process.is_stopping()))),
        ("jobs", false, "Current number of active jobs on the current worker process (frontend connections, master connections, listeners)", n(actconn + listeners as u64)),
        ("unstoppable_jobs", false, "Current number of unstoppable jobs on the current worker process (master connections)", zero()),
        ("listeners", false, "Current number of active listeners on the current worker process", n(listeners as u64)),
        ("active_peers", false, "Current number of verified active peers connections on the current worker process", zero()),
        ("connected_peers", false, "Current number of peers having passed the connection step on the current worker process", zero()),
        ("dropped_logs_total", true, "Total number of dropped logs for current worker process since started", zero()),
        ("busy_polling_enabled", false, "1 if busy-polling is currently in use on the worker process, otherwise zero (config.busy-polling)", zero()),
        ("failed_resolutions", true, "Total number of failed DNS resolutions in current worker process since started", zero()),
        ("bytes_out_total", true, "Total number of bytes emitted by current worker process since started", n(bytes_out)),
        ("spliced_bytes_out_total", true, "Total number of bytes emitted by current worker process through a kernel pipe since started", zero()),
        ("bytes_out_rate", false, "Number of bytes emitted by current worker process over the last second", zero()),
        ("recv_logs_total", true, "Total number of log messages received by log-forwarding listeners on this worker process since started", zero()),
    ];
    let print = |out: &mut Out, (name, counter, desc, value): &Global, labels: &[(&str, &str)]| {
        out.header = true;
        let full = format!("haproxy_process_{name}");
        out.line(
            &full,
            desc,
            if *counter { "counter" } else { "gauge" },
            labels,
            value,
        );
    };
    for g in &fields {
        print(out, g, &[]);
    }
    let version = crate::engine::cli::commands::version();
    print(
        out,
        &("build_info", false, "Build info", n(1)),
        &[("version", &version)],
    );
    let tail: Vec<Global> = vec![
        (
            "max_memory_bytes",
            false,
            "Worker process's hard limit on memory usage in byes (-m on command line)",
            zero(),
        ),
        (
            "pool_allocated_bytes",
            false,
            "Amount of memory allocated in pools (in bytes)",
            zero(),
        ),
        (
            "pool_used_bytes",
            false,
            "Amount of pool memory currently used (in bytes)",
            zero(),
        ),
        (
            "start_time_seconds",
            false,
            "Start time in seconds",
            n(start),
        ),
    ];
    for g in &tail {
        print(out, g, &[]);
    }
}

#[cfg(test)]
mod tests {
    use super::{ns_secs, Query};

    #[test]
    fn the_query_string_filters_as_haproxys() {
        let all = Query::parse(b"/metrics").unwrap();
        assert!(all.global && all.frontend && all.backend && all.server && !all.no_maint);
        let q = Query::parse(b"/metrics?scope=backend&scope=server&no-maint").unwrap();
        assert!(!q.global && !q.frontend && q.backend && q.server && q.no_maint);
        let q = Query::parse(b"/metrics?scope=global&scope=").unwrap();
        assert!(!q.global && !q.backend, "an empty scope clears them");
        let q = Query::parse(b"/metrics?scope=*").unwrap();
        assert!(q.global && q.server);
        let q = Query::parse(b"/metrics?scope=%66rontend").unwrap();
        assert!(q.frontend && !q.backend);
        let q = Query::parse(b"/metrics?foo=bar").unwrap();
        assert!(q.global, "other parameters are ignored");
        for bad in [
            &b"/metrics?scope"[..],
            b"/metrics?scope=bogus",
            b"/metrics?scope=a=b",
            b"/metrics?scope=%zz",
        ] {
            assert!(
                Query::parse(bad).is_none(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn bounds_print_as_short_decimal_seconds() {
        let p = |ns| {
            let mut s = String::new();
            ns_secs(ns, &mut s);
            s
        };
        assert_eq!(p(1000), "0.000001");
        assert_eq!(p(1_048_576_000), "1.048576");
        assert_eq!(p(67_108_864_000), "67.108864");
        assert_eq!(p(0), "0");
        assert_eq!(p(2_000_000_000), "2");
    }
}
