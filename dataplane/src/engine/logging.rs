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

use super::plan::{BackendPlan, FrontendPlan, Plan};
use super::stream::StreamFacts;
use crate::log::fields::StreamLog;
use crate::log::sender::{self, LogSink};

/// The sinks of every frontend, by frontend index (None: not logged).
pub fn open(cfg: &Config, plan: &Plan) -> std::io::Result<Vec<Option<LogSink>>> {
    let g = &cfg.global;
    let tag = g.log_tag.clone().unwrap_or_else(|| "ringlb".to_string());
    let hostname = match &g.log_send_hostname {
        Some(Some(h)) => Some(h.clone()),
        Some(None) => Some(plan.hostname.clone()),
        None => None,
    };
    let pid = std::process::id();
    let global_specs: Vec<LogTargetSpec> = g
        .logs
        .iter()
        .filter_map(|l| match l {
            LogTarget::Target(t) => Some(t.clone()),
            LogTarget::Global { .. } => None,
        })
        .collect();
    let mut global_sink: Option<LogSink> = None;
    let mut out = Vec::new();
    for fe in &plan.frontends {
        let Some(px) = cfg.proxy(&fe.name) else {
            out.push(None);
            continue;
        };
        if !fe.log.enabled {
            out.push(None);
            continue;
        }
        let mut specs = Vec::new();
        let mut uses_global = false;
        for l in &px.logs {
            match l {
                LogTarget::Global { .. } => uses_global = true,
                LogTarget::Target(t) => specs.push(t.clone()),
            }
        }
        let sink = if specs.is_empty() && uses_global {
            if global_sink.is_none() {
                global_sink = Some(sender::spawn(
                    global_specs.clone(),
                    hostname.clone(),
                    tag.clone(),
                    pid,
                )?);
            }
            global_sink.clone()
        } else {
            if uses_global {
                specs.extend(global_specs.iter().cloned());
            }
            let tag = px.log_tag.clone().unwrap_or_else(|| tag.clone());
            Some(sender::spawn(specs, hostname.clone(), tag, pid)?)
        };
        out.push(sink);
    }
    Ok(out)
}

/// Render and send the log line of a finished stream.
pub fn log_stream(
    sink: &LogSink,
    plan: &Plan,
    fe: &FrontendPlan,
    be: Option<&BackendPlan>,
    facts: &StreamFacts,
    start: Instant,
) {
    let mut f = StreamLog::new(Rc::from(fe.name.as_str()), facts.accept_date, start);
    f.client = Some(facts.client.into());
    f.frontend_addr = facts.frontend_addr.map(Into::into);
    f.backend = Rc::from(be.map_or(fe.name.as_str(), |b| b.name.as_str()));
    f.server = facts
        .server
        .and_then(|i| be.and_then(|b| b.servers.get(i)))
        .map(|s| Rc::from(s.name.as_str()));
    f.server_addr = facts.server_addr.map(Into::into);
    f.hostname = Rc::from(plan.hostname.as_str());
    f.pid = std::process::id();
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
    f.backend_queue = facts.be_queue;
    let mut line = String::with_capacity(256);
    match &fe.log.format {
        Some(fmt) => crate::log::format::render(fmt, &f, &mut line),
        None => crate::log::format::render_connect(&f, &mut line),
    }
    sink.send(Level::Info, &line);
}
