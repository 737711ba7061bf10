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

/// The whole answer: the status and the body (`head`: HEAD, no body).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// Answer a request for `uri`.
pub fn serve(process: &Process, uri: &[u8], head: bool) -> Answer {
    let Some(q) = Query::parse(uri) else {
        return Answer {
            status: 400,
            body: String::new(),
        };
    };
    Answer {
        status: 200,
        body: if head {
            String::new()
        } else {
            render(process, &q)
        },
    }
}

/// The response of a 200 answer as promex_send_headers sends it (its
/// headers, chunked, the body in one chunk); None for a 400, which the
/// proxy's error page answers. `head_only`: HEAD, headers alone.
pub fn message(a: &Answer, head_only: bool) -> Option<(Head, Vec<u8>)> {
    if a.status != 200 {
        return None;
    }
    let mut raw = b"HTTP/1.1 200 OK\r\ncache-control: no-cache\r\ncontent-type: text/plain; version=0.0.4\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
    let mut head = Head::new();
    let parser = HeadParser::new(ParseKind::Response(Method::Get), Options::default());
    let Ok(Progress::Done(_)) = { parser }.parse(&mut raw, &mut head) else {
        return None;
    };
    let mut body = Vec::with_capacity(a.body.len() + 16);
    if !head_only {
        if !a.body.is_empty() {
            let _ = std::io::Write::write_fmt(&mut body, format_args!("{:x}\r\n", a.body.len()));
            body.extend_from_slice(a.body.as_bytes());
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"0\r\n\r\n");
    }
    Some((head, body))
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
fn value_text(v: Option<&Val>) -> String {
    match v {
        Some(Val::U32(x) | Val::U64(x)) => x.to_string(),
        Some(Val::S32(x)) => x.to_string(),
        _ => "NaN".into(),
    }
}

/// A time in milliseconds as seconds, `%f`.
fn ms_secs(v: Option<&Val>) -> String {
    match v {
        Some(Val::U32(x) | Val::U64(x)) => format!("{:.6}", *x as f64 / 1000.0),
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

/// A row's place: its proxy and, for a server, its index.
struct Placed<'a> {
    row: &'a Row,
    px: &'a super::plan::ProxyInfo,
    /// (backend, server) of a server row, backend of a backend row.
    be: Option<usize>,
    srv: Option<usize>,
}

fn place<'a>(process: &'a Process, rows: &'a [Row]) -> Vec<Placed<'a>> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let Some(px) = process.plan.stats.proxies.iter().find(|p| p.iid == row.iid) else {
            continue;
        };
        let srv = match (row.kind, px.be) {
            (Kind::Sv, Some(b)) => process.plan.backends.get(b).and_then(|be| {
                be.servers
                    .iter()
                    .position(|s| !s.is_vacant() && s.conf().id == row.sid)
            }),
            _ => None,
        };
        out.push(Placed {
            row,
            px,
            be: px.be,
            srv,
        });
    }
    out
}

/// Every metric `q` asks for.
pub fn render(process: &Process, q: &Query) -> String {
    let mut out = Out {
        text: String::with_capacity(64 * 1024),
        header: true,
    };
    if q.global {
        global(process, &mut out);
    }
    let o = super::Opts {
        hide_maint: q.no_maint,
        ..super::Opts::default()
    };
    let rows = super::rows(process, &o, &[]);
    let placed = place(process, &rows);
    if q.frontend {
        section(process, &placed, Kind::Fe, &mut out);
    }
    if q.listener {
        section(process, &placed, Kind::So, &mut out);
    }
    if q.backend {
        section(process, &placed, Kind::Be, &mut out);
    }
    if q.server {
        section(process, &placed, Kind::Sv, &mut out);
    }
    out.text
}

fn section(process: &Process, placed: &[Placed<'_>], kind: Kind, out: &mut Out) {
    let (prefix, flag) = match kind {
        Kind::Fe => ("haproxy_frontend_", FE),
        Kind::Be => ("haproxy_backend_", BE),
        Kind::Sv => ("haproxy_server_", SV),
        Kind::So => ("haproxy_listener_", LI),
    };
    let rows: Vec<&Placed<'_>> = placed.iter().filter(|p| p.row.kind == kind).collect();
    let mut name = String::with_capacity(64);
    for &(field, metric, counter, flags) in METRICS {
        if flags & flag == 0 {
            continue;
        }
        name.clear();
        name.push_str(prefix);
        name.push_str(metric);
        let kind_word = if counter { "counter" } else { "gauge" };
        let desc = help(field);
        // The status classes share one metric: one header for the six.
        out.header = !(f::HRSP_2XX..=f::HRSP_OTHER).contains(&field);
        for p in &rows {
            field_lines(process, p, field, (&name, desc, kind_word), out);
        }
    }
    histograms(process, &rows, kind, out);
}

/// One field's lines for one row (the switch of promex_dump_*_metrics).
fn field_lines(
    process: &Process,
    p: &Placed<'_>,
    field: usize,
    (name, desc, kind_word): (&str, &str, &str),
    out: &mut Out,
) {
    let row = p.row;
    let px = p.px.name.as_str();
    let srv_name = super::row_text(row, f::SVNAME);
    let mut labels: Vec<(&str, &str)> = vec![("proxy", px)];
    match row.kind {
        Kind::Sv => labels.push(("server", &srv_name)),
        Kind::So => labels.push(("listener", &srv_name)),
        _ => {}
    }
    let http_only = match row.kind {
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
    if http_only && !p.px.http {
        return;
    }
    let line = |out: &mut Out, extra: Option<(&str, &str)>, value: &str| {
        let mut l = labels.clone();
        if let Some(e) = extra {
            l.push(e);
        }
        out.line(name, desc, kind_word, &l, value);
    };
    let cell = row.get(field);
    match (row.kind, field) {
        (Kind::Fe, f::STATUS) => {
            let up = !process.is_stopping();
            line(out, Some(("state", "DOWN")), if up { "0" } else { "1" });
            line(out, Some(("state", "UP")), if up { "1" } else { "0" });
        }
        (Kind::So, f::STATUS) => {
            // li_status_st, in its order.
            let st = super::row_text(row, f::STATUS);
            for word in ["WAITING", "OPEN", "FULL"] {
                line(
                    out,
                    Some(("state", word)),
                    if st == word { "1" } else { "0" },
                );
            }
        }
        (Kind::Be, f::STATUS) => {
            let up = super::row_text(row, f::STATUS).starts_with("UP");
            line(out, Some(("state", "DOWN")), if up { "0" } else { "1" });
            line(out, Some(("state", "UP")), if up { "1" } else { "0" });
        }
        (Kind::Sv, f::STATUS) => {
            let (Some(b), Some(s)) = (p.be, p.srv) else {
                return;
            };
            let st = srv_state(process, b, s);
            for (i, word) in SRV_STATES.iter().enumerate() {
                line(out, Some(("state", word)), if i == st { "1" } else { "0" });
            }
        }
        (Kind::Be, f::AGG_SRV_STATUS | f::AGG_SRV_CHECK_STATUS) => {
            let Some(be) =
                p.be.and_then(|b| process.plan.backends.get(b).map(|x| (b, x)))
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
                p.be.and_then(|b| process.plan.backends.get(b).map(|x| (b, x)))
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
            let (Some(b), Some(s)) = (p.be, p.srv) else {
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
            let (Some(b), Some(s)) = (p.be, p.srv) else {
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
            let (Some(b), Some(s)) = (p.be, p.srv) else {
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

/// The latency histograms of a section's objects.
fn histograms(process: &Process, rows: &[&Placed<'_>], kind: Kind, out: &mut Out) {
    let prefix = match kind {
        Kind::Fe => "ringlb_frontend_",
        Kind::Be => "ringlb_backend_",
        Kind::Sv => "ringlb_server_",
        // No histograms of listeners.
        Kind::So => return,
    };
    let objs: Vec<(Obj, &str, String)> = rows
        .iter()
        .filter_map(|p| {
            let obj = match kind {
                Kind::Fe => Obj::Fe(p.px.fe?),
                Kind::Be => Obj::Be(p.be?),
                Kind::Sv => Obj::Srv(p.be?, p.srv?),
                Kind::So => return None,
            };
            Some((obj, p.px.name.as_str(), super::row_text(p.row, f::SVNAME)))
        })
        .collect();
    if objs.is_empty() {
        return;
    }
    let mut le = String::with_capacity(16);
    for t in Timer::ALL {
        let (metric, desc) = timer_metric(t);
        let name = format!("{prefix}{metric}");
        let _ = write!(out.text, "# HELP {name} {desc}\n# TYPE {name} histogram\n");
        out.header = false;
        for (obj, px, sv) in &objs {
            let h: Histogram = process.stats.histogram(*obj, t);
            let mut labels: Vec<(&str, &str)> = vec![("proxy", px)];
            if kind == Kind::Sv {
                labels.push(("server", sv));
            }
            let bucket = format!("{name}_bucket");
            let mut cumulative = 0u64;
            for (i, n) in h.buckets.iter().enumerate() {
                cumulative = cumulative.wrapping_add(*n);
                le.clear();
                if i < HIST_BOUNDS {
                    ns_secs(hist_bound_ns(i), &mut le);
                } else {
                    le.push_str("+Inf");
                }
                let mut l = labels.clone();
                l.push(("le", &le));
                out.line(&bucket, "", "", &l, &cumulative.to_string());
            }
            let mut sum = String::new();
            ns_secs(h.sum_ns, &mut sum);
            out.line(&format!("{name}_sum"), "", "", &labels, &sum);
            out.line(
                &format!("{name}_count"),
                "",
                "",
                &labels,
                &cumulative.to_string(),
            );
        }
    }
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
