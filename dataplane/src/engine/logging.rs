//! From a finished stream to a log line: the frontend's log format rendered
//! over the stream's facts, handed to the frontend's sink (which never
//! blocks the core).
//!
//! Sinks: one for the global section's targets (used by `log global`), one
//! per frontend that declares its own targets. They are opened once at
//! start-up, before chroot.

use std::rc::Rc;
use std::time::Instant;

use ringlb_config::model::{Config, Level, LogTarget, LogTargetSpec};

use super::plan::{FrontendPlan, Plan};
use super::runtime::Core;
use super::stream::tcp::StreamFacts;
use crate::log::fields::StreamLog;
use crate::log::sender::{self, LogSink};

/// Where each proxy logs: one sink per distinct target list, the global
/// section's shared by every `log global`-only proxy.
#[derive(Debug, Default)]
pub struct Sinks {
    /// By frontend index of the plan.
    pub frontends: Vec<Option<LogSink>>,
    /// By backend index of the plan (for the proxy's own events).
    pub backends: Vec<Option<LogSink>>,
}

impl Sinks {
    /// Before the process exits: wait (a bounded time) until every line
    /// queued so far is written, so the last streams' lines and the
    /// "Proxy stopped" reports are not lost.
    pub fn flush(&self, timeout: std::time::Duration) {
        let deadline = std::time::Instant::now() + timeout;
        for sink in self.frontends.iter().chain(&self.backends).flatten() {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            sink.flush(left);
        }
    }
}

struct Opener<'a> {
    global_specs: Vec<LogTargetSpec>,
    global_sink: Option<LogSink>,
    hostname: Option<String>,
    tag: String,
    pid: u32,
    /// Executor cores: one lane each in every sink.
    cores: usize,
    cfg: &'a Config,
}

impl Opener<'_> {
    fn sink_for(&mut self, name: &str) -> std::io::Result<Option<LogSink>> {
        let Some(px) = self.cfg.proxy(name) else {
            return Ok(None);
        };
        if px.no_log {
            return Ok(None);
        }
        let mut specs = Vec::new();
        let mut uses_global = false;
        for l in &px.logs {
            match l {
                LogTarget::Global { .. } => uses_global = true,
                LogTarget::Target(t) => specs.push(t.clone()),
            }
        }
        if specs.is_empty() && (!uses_global || self.global_specs.is_empty()) {
            return Ok(None);
        }
        if specs.is_empty() {
            if self.global_sink.is_none() {
                self.global_sink = Some(sender::spawn(
                    self.global_specs.clone(),
                    self.hostname.clone(),
                    self.tag.clone(),
                    self.pid,
                    self.cores,
                )?);
            }
            return Ok(self.global_sink.clone());
        }
        if uses_global {
            specs.extend(self.global_specs.iter().cloned());
        }
        let tag = px.log_tag.clone().unwrap_or_else(|| self.tag.clone());
        Ok(Some(sender::spawn(
            specs,
            self.hostname.clone(),
            tag,
            self.pid,
            self.cores,
        )?))
    }
}

/// Open the log targets of every proxy, for `cores` executor cores (one
/// lane each into every logger thread).
pub fn open(cfg: &Config, plan: &Plan, cores: usize) -> std::io::Result<Sinks> {
    let g = &cfg.global;
    let mut o = Opener {
        global_specs: g
            .logs
            .iter()
            .filter_map(|l| match l {
                LogTarget::Target(t) => Some(t.clone()),
                LogTarget::Global { .. } => None,
            })
            .collect(),
        global_sink: None,
        hostname: match &g.log_send_hostname {
            Some(Some(h)) => Some(h.clone()),
            Some(None) => Some(plan.hostname.clone()),
            None => None,
        },
        tag: g.log_tag.clone().unwrap_or_else(|| "ringlb".to_string()),
        pid: std::process::id(),
        cores,
        cfg,
    };
    let mut sinks = Sinks::default();
    for fe in &plan.frontends {
        let sink = if fe.log.enabled {
            o.sink_for(&fe.name)?
        } else {
            None
        };
        sinks.frontends.push(sink);
    }
    for be in &plan.backends {
        let sink = o.sink_for(&be.name)?;
        sinks.backends.push(sink);
    }
    Ok(sinks)
}

/// HAProxy's soft-stop report, one line per proxy, to stderr as a warning
/// and to the proxy's log targets: "Proxy fe stopped (cumulated conns:
/// FE: 12, BE: 0)." HAProxy prints a proxy's line when its last listener
/// stops: the proxies with listeners first (configuration order), then
/// the runtime API's GLOBAL proxy when there is a stats socket (to stderr
/// only: it has no log target; its counts are the connections the API
/// accepted), then the proxies without listeners.
pub fn report_stopped(cfg: &Config, process: &super::Process, sinks: &Sinks) {
    use super::runtime::counters::Stat;
    let plan = &process.plan;
    let pid = std::process::id();
    let proxies: Vec<_> = cfg.proxies.iter().filter(|p| !p.disabled).collect();
    let fe_of = |name: &str| plan.frontends.iter().position(|f| f.name == name);
    let (listening, rest): (Vec<_>, Vec<_>) = proxies
        .into_iter()
        .partition(|px| px.cap.frontend && fe_of(&px.name).is_some());
    let report = |px: &ringlb_config::model::Proxy| {
        let fe = fe_of(&px.name).filter(|_| px.cap.frontend);
        let be = plan
            .backends
            .iter()
            .position(|b| b.name == px.name && px.cap.backend);
        let fe_conns = fe.map_or(0, |i| process.stats.sum(Stat::FeConnTot(i)));
        let be_sess = be.map_or(0, |i| process.stats.sum(Stat::BeSessTot(i)));
        let line = format!(
            "Proxy {} stopped (cumulated conns: FE: {fe_conns}, BE: {be_sess}).",
            px.name
        );
        crate::stderr_line!("[WARNING]  ({pid}) : {line}");
        let sink = fe
            .and_then(|i| sinks.frontends.get(i))
            .or_else(|| be.and_then(|i| sinks.backends.get(i)))
            .and_then(Option::as_ref);
        if let Some(sink) = sink {
            sink.send(Level::Warning, &line);
        }
    };
    for px in listening {
        report(px);
    }
    if !cfg.global.stats_sockets.is_empty() {
        // Every API connection is a stream of GLOBAL, its own backend.
        let n = process
            .stats
            .cli_conns
            .load(std::sync::atomic::Ordering::Relaxed);
        crate::stderr_line!(
            "[WARNING]  ({pid}) : Proxy GLOBAL stopped (cumulated conns: FE: {n}, BE: {n})."
        );
    }
    for px in rest {
        report(px);
    }
}

/// Render and send the log line of a finished stream.
///
/// The names come from the core's [`LogNames`](super::runtime::LogNames)
/// (an `Rc` clone each), and the line moves to the log thread without a
/// copy, on the core's own lane (no lock).
#[allow(clippy::too_many_arguments)]
pub fn log_stream(
    sink: &LogSink,
    core: &Core,
    fe_idx: usize,
    be_idx: Option<usize>,
    fe: &FrontendPlan,
    facts: &StreamFacts,
    start: Instant,
    http: Option<&super::stream::http::HttpFacts>,
    tcp_captures: Option<&crate::engine::rules::env::Captures>,
    eval: &dyn Fn(&crate::engine::rules::expr::Expr) -> Option<Vec<u8>>,
) {
    let names = &core.names;
    let Some(fe_name) = names.frontends.get(fe_idx) else {
        return;
    };
    let mut f = StreamLog::new(
        Rc::clone(fe_name),
        Rc::clone(&names.hostname),
        facts.accept_date,
        start,
    );
    f.client = Some(
        facts
            .client
            .map_or(crate::log::fields::LogAddr::Unix, Into::into),
    );
    f.listener_id = facts.listener_id;
    f.frontend_addr = facts.frontend_addr.map(Into::into);
    f.backend = Rc::clone(
        be_idx
            .and_then(|i| names.backends.get(i))
            .unwrap_or(fe_name),
    );
    f.server = be_idx
        .zip(facts.server)
        .and_then(|(b, s)| names.servers.get(b)?.borrow().get(s).map(Rc::clone));
    f.server_addr = facts.server_addr.map(Into::into);
    f.pid = std::process::id();
    f.request_counter = facts.uniq_id;
    f.partial = fe.log.logasap;
    let ms = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    f.t_queue = facts.tw.map(ms);
    f.t_connect = facts.tc.map(|tc| ms(tc) + facts.tw.map_or(0, ms));
    f.t_close = ms(facts.tt);
    f.bytes_in = facts.bytes_in;
    f.bytes_out = facts.bytes_out;
    f.termination = facts.termination;
    f.actconn = facts.actconn;
    f.feconn = facts.feconn;
    f.beconn = facts.beconn;
    f.srv_conn = facts.srv_conn;
    f.retries = facts.retries;
    f.redispatched = facts.redispatched;
    f.srv_queue = facts.queue.server;
    f.backend_queue = facts.queue.backend;
    if let Some(h) = http {
        // HTTP timers count from the transaction's start (its accept
        // date): idle, then the request, then queue and connect from the
        // request's end (manual 8.4).
        f.http = true;
        f.status = h.status;
        f.request_line = h.request_line.clone();
        f.t_idle = Some(u64::from(h.t_idle));
        f.t_request = h.t_request.map(ms);
        if let Some(req) = f.t_request {
            f.t_queue = facts.tw.map(|tw| req + ms(tw));
            f.t_connect = facts.tc.map(|tc| req + ms(tc) + facts.tw.map_or(0, ms));
        }
        f.t_data = h.t_data.map(ms);
        if let Some(a) = h.applet {
            f.server = Some(Rc::from(a));
        }
        f.cookie = h.cookie;
        if let Some(c) = &h.captured {
            f.captured_request_cookie.clone_from(&c.req_cookie);
            f.captured_response_cookie.clone_from(&c.res_cookie);
            f.request_captures.clone_from(&c.req_captures);
            f.response_captures.clone_from(&c.res_captures);
        }
        f.request_counter = h.uniq_id;
        f.unique_id.clone_from(&h.unique_id);
    }
    if let Some(caps) = tcp_captures {
        // `tcp-request content capture` slots (`%hr`).
        f.request_captures = caps
            .req
            .iter()
            .map(|c| c.as_ref().map(|b| String::from_utf8_lossy(b).into_owned()))
            .collect();
    }
    let mut line = String::with_capacity(256);
    // `log-format-sd`: the structured data first, then the message, in
    // one string (the sender splits them).
    let zone = crate::log::time::local_zone();
    let samples = |list: &[Option<crate::engine::rules::expr::Expr>], n: usize| {
        list.get(n).and_then(Option::as_ref).and_then(eval)
    };
    if let Some(sd) = &fe.log.format_sd {
        let mut s = |n| samples(&fe.log.sd_samples, n);
        crate::log::format::render_with(sd, &f, zone, &mut line, &mut s);
    }
    let sd = line.len();
    match &fe.log.format {
        Some(fmt) => {
            let mut s = |n| samples(&fe.log.samples, n);
            crate::log::format::render_with(fmt, &f, zone, &mut line, &mut s);
        }
        None => crate::log::format::render_connect(&f, &mut line),
    }
    // HAProxy's strm_log(): `err` for the streams it counts as errors
    // under `option log-separate-errors`.
    let level = if fe.log.separate_errors && f.is_error() {
        Level::Err
    } else {
        Level::Info
    };
    sink.send_sd_from(core.id, level, line, sd);
}
