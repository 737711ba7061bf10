//! The actions whose effect is the engine's (timeouts, retries, queue
//! priority, addresses, socket marks, early hints, pauses, waiting for a
//! handshake, logs, stick counters, the cache, and the ends without a
//! reply: `reject`, `silent-drop`, `use-service`). The rules evaluate
//! their arguments and hand the result to [`super::env::Env::apply`] when
//! the rule runs; the engine declares the ones it applies in
//! [`super::http::Setup::engine_actions`], and any other is refused at
//! start-up, so no configuration runs with an action silently ignored.
//! `wait-for-body` stays refused: the rules after it must wait for the
//! body, which needs the rules to resume mid-set.

use std::net::IpAddr;
use std::time::Duration;

use ringlb_config::keywords::SmpType;
use ringlb_config::model::{
    HttpAfterResponseAction as After, HttpRequestAction as Req, HttpResponseAction as Res,
    IntOrExpr, ScOp, ScUpdate, SockOpt, TimeOrExpr, TimeoutName, TrackSc,
};

use super::expr::Expr;
use super::fetch::Ctx;
use super::logfmt::Fmt;
use super::pattern::CompileError;
use super::sample::Smp;

/// An effect for the engine, evaluated when its rule ran.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EngineAction {
    SetTimeout {
        timeout: TimeoutName,
        value: Duration,
    },
    SetRetries(i64),
    DisableL7Retry,
    /// Clamped to HAProxy's range (±2047).
    SetPriorityClass(i64),
    /// Clamped to HAProxy's range (±524287 ms).
    SetPriorityOffset(i64),
    SetNice(i32),
    SetSrc(IpAddr),
    SetSrcPort(u16),
    SetDst(IpAddr),
    SetDstPort(u16),
    SetSockOpt {
        opt: SockOpt,
        value: i64,
    },
    /// `early-hint`: a header for the 103 the engine may send before the
    /// final response.
    EarlyHint {
        name: Vec<u8>,
        value: Vec<u8>,
        /// The last of a run of early-hint rules: the 103 is complete (the
        /// next rule is no unconditional early-hint; HAProxy's
        /// http_action_early_hint).
        last: bool,
    },
    /// `pause`: hold the stream this long (the rules go on at once; the
    /// engine holds what they decided, reply included, for this long).
    Pause(Duration),
    WaitForHandshake,
    /// `do-log` (3.x): emit a log line now.
    DoLog,
    /// `track-sc<n>`: the key fetched, for the stick table.
    TrackSc {
        counter: u8,
        key: Smp,
        table: Option<String>,
    },
    /// `sc-inc-gpc*`, `sc-add-gpc`, `sc-set-gpt*`: the value evaluated.
    ScUpdate {
        op: ScOp,
        idx: u32,
        counter: u8,
        value: Option<i64>,
    },
    CacheUse(String),
    CacheStore(String),
}

/// An end without a reply, for the engine to bring about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stop {
    /// `reject`: close the connection at once (PR in the log).
    Reject,
    /// `silent-drop`: close without telling the client.
    SilentDrop { rst_ttl: Option<u8> },
    /// `use-service <name>`: hand the stream to an applet.
    UseService(String),
}

#[derive(Debug)]
pub(super) enum IntArg {
    Int(i64),
    Expr(Expr),
}

#[derive(Debug)]
pub(super) enum Spec {
    Timeout(TimeoutName, Option<Duration>, Option<Expr>),
    Retries(IntArg),
    DisableL7Retry,
    PriorityClass(Expr),
    PriorityOffset(Expr),
    Nice(i32),
    Src(Expr),
    SrcPort(Expr),
    Dst(Expr),
    DstPort(Expr),
    SockOpt(SockOpt, IntArg),
    /// Name, value, and whether it ends its 103 (set by the compiler
    /// once the rule list is known).
    EarlyHint(Vec<u8>, Fmt, bool),
    Pause(Option<Duration>, Option<Expr>),
    WaitForHandshake,
    DoLog,
    TrackSc(u8, Expr, Option<String>),
    Sc(ScOp, u32, u8, Option<IntArg>),
    CacheUse(String),
    CacheStore(String),
    Stop(Stop),
}

fn int_arg(v: &IntOrExpr) -> Result<IntArg, CompileError> {
    Ok(match v {
        IntOrExpr::Int(n) => IntArg::Int(*n),
        IntOrExpr::Expr(e) => IntArg::Expr(Expr::compile(e)?),
    })
}

fn timeout(name: TimeoutName, v: &TimeOrExpr) -> Result<Spec, CompileError> {
    Ok(match v {
        TimeOrExpr::Time(d) => Spec::Timeout(name, Some(*d), None),
        TimeOrExpr::Expr(e) => Spec::Timeout(name, None, Some(Expr::compile(e)?)),
    })
}

/// The engine's part of an http-request action, if it is one.
pub(super) fn request(a: &Req) -> Option<Result<Spec, CompileError>> {
    Some(match a {
        Req::SetTimeout(t) => timeout(t.timeout, &t.value),
        Req::SetRetries(v) => int_arg(v).map(Spec::Retries),
        Req::DisableL7Retry => Ok(Spec::DisableL7Retry),
        Req::SetPriorityClass(e) => Expr::compile(e).map(Spec::PriorityClass),
        Req::SetPriorityOffset(e) => Expr::compile(e).map(Spec::PriorityOffset),
        Req::SetNice(n) => Ok(Spec::Nice(*n)),
        Req::SetSrc(e) => Expr::compile(e).map(Spec::Src),
        Req::SetSrcPort(e) => Expr::compile(e).map(Spec::SrcPort),
        Req::SetDst(e) => Expr::compile(e).map(Spec::Dst),
        Req::SetDstPort(e) => Expr::compile(e).map(Spec::DstPort),
        Req::SetSockOpt(s) => sockopt(s)?,
        Req::EarlyHint(h) => Fmt::compile(&h.value, true)
            .map(|f| Spec::EarlyHint(h.name.as_bytes().to_vec(), f, true)),
        Req::Pause(v) => pause(v),
        Req::WaitForHandshake => Ok(Spec::WaitForHandshake),
        Req::DoLog => Ok(Spec::DoLog),
        Req::TrackSc(t) => track(t),
        Req::Sc(u) => sc(u),
        Req::CacheUse(c) => Ok(Spec::CacheUse(c.clone())),
        Req::Reject => Ok(Spec::Stop(Stop::Reject)),
        Req::SilentDrop(ttl) => Ok(Spec::Stop(Stop::SilentDrop { rst_ttl: *ttl })),
        // The one service the engine runs; Lua's (`lua.<name>`) wait for
        // Lua.
        Req::UseService(s) if s == "prometheus-exporter" => {
            Ok(Spec::Stop(Stop::UseService(s.clone())))
        }
        Req::UseService(s) => Err(CompileError(format!(
            "'http-request use-service {s}': not supported yet"
        ))),
        _ => return None,
    })
}

/// The engine's part of an http-response action, if it is one.
pub(super) fn response(a: &Res) -> Option<Result<Spec, CompileError>> {
    Some(match a {
        Res::SetTimeout(t) => timeout(t.timeout, &t.value),
        Res::SetNice(n) => Ok(Spec::Nice(*n)),
        Res::SetSockOpt(s) => sockopt(s)?,
        Res::SilentDrop(ttl) => Ok(Spec::Stop(Stop::SilentDrop { rst_ttl: *ttl })),
        Res::Pause(v) => pause(v),
        Res::DoLog => Ok(Spec::DoLog),
        Res::TrackSc(t) => track(t),
        Res::Sc(u) => sc(u),
        Res::CacheStore(c) => Ok(Spec::CacheStore(c.clone())),
        _ => return None,
    })
}

/// The engine's part of an http-after-response action, if it is one.
pub(super) fn after(a: &After) -> Option<Result<Spec, CompileError>> {
    Some(match a {
        After::DoLog => Ok(Spec::DoLog),
        After::Sc(u) => sc(u),
        _ => return None,
    })
}

/// `set-mark`, `set-tos` and their 3.x `fc` forms: the client
/// connection's; the server connection's (`set-bc-mark`, `set-bc-tos`)
/// is not the engine's yet (None: refused by name).
fn sockopt(s: &ringlb_config::model::SetSockOpt) -> Option<Result<Spec, CompileError>> {
    use ringlb_config::model::SockOpt;
    if matches!(s.opt, SockOpt::BcMark | SockOpt::BcTos) {
        return None;
    }
    Some(int_arg(&s.value).map(|v| Spec::SockOpt(s.opt, v)))
}

fn pause(v: &TimeOrExpr) -> Result<Spec, CompileError> {
    Ok(match v {
        TimeOrExpr::Time(d) => Spec::Pause(Some(*d), None),
        TimeOrExpr::Expr(e) => Spec::Pause(None, Some(Expr::compile(e)?)),
    })
}

fn track(t: &TrackSc) -> Result<Spec, CompileError> {
    Ok(Spec::TrackSc(
        t.counter,
        Expr::compile(&t.key)?,
        t.table.clone(),
    ))
}

fn sc(u: &ScUpdate) -> Result<Spec, CompileError> {
    let value = u.value.as_ref().map(int_arg).transpose()?;
    Ok(Spec::Sc(u.op, u.idx, u.counter, value))
}

fn int(e: &Expr, cx: &Ctx<'_>) -> Option<i64> {
    match e.eval(cx)?.cast(SmpType::Int)? {
        Smp::Int(n) => Some(n),
        _ => None,
    }
}

fn addr(e: &Expr, cx: &Ctx<'_>) -> Option<IpAddr> {
    match e.eval(cx)?.cast(SmpType::Addr)? {
        Smp::Ipv4(a) => Some(a.into()),
        Smp::Ipv6(a) => Some(a.into()),
        _ => None,
    }
}

fn port(e: &Expr, cx: &Ctx<'_>) -> Option<u16> {
    u16::try_from(int(e, cx)?).ok()
}

/// What the action gives the engine (None: its sample was missing, the
/// action does nothing, as in HAProxy), or the end it asks for.
pub(super) fn eval(spec: &Spec, cx: &Ctx<'_>) -> Option<Result<EngineAction, Stop>> {
    let int_of = |a: &IntArg| match a {
        IntArg::Int(n) => Some(*n),
        IntArg::Expr(e) => int(e, cx),
    };
    Some(Ok(match spec {
        Spec::Timeout(timeout, fixed, expr) => {
            let value = match (fixed, expr) {
                (Some(d), _) => *d,
                // An expression gives milliseconds.
                (None, Some(e)) => Duration::from_millis(u64::try_from(int(e, cx)?).ok()?),
                (None, None) => return None,
            };
            EngineAction::SetTimeout {
                timeout: *timeout,
                value,
            }
        }
        Spec::Retries(a) => EngineAction::SetRetries(int_of(a)?),
        Spec::DisableL7Retry => EngineAction::DisableL7Retry,
        Spec::PriorityClass(e) => EngineAction::SetPriorityClass(int(e, cx)?.clamp(-0x7ff, 0x7ff)),
        Spec::PriorityOffset(e) => {
            EngineAction::SetPriorityOffset(int(e, cx)?.clamp(-0x7ffff, 0x7ffff))
        }
        Spec::Nice(n) => EngineAction::SetNice(*n),
        Spec::Src(e) => EngineAction::SetSrc(addr(e, cx)?),
        Spec::SrcPort(e) => EngineAction::SetSrcPort(port(e, cx)?),
        Spec::Dst(e) => EngineAction::SetDst(addr(e, cx)?),
        Spec::DstPort(e) => EngineAction::SetDstPort(port(e, cx)?),
        Spec::SockOpt(opt, a) => EngineAction::SetSockOpt {
            opt: *opt,
            value: int_of(a)?,
        },
        Spec::EarlyHint(name, f, last) => EngineAction::EarlyHint {
            name: name.clone(),
            value: f.render(cx),
            last: *last,
        },
        Spec::Pause(fixed, expr) => EngineAction::Pause(match (fixed, expr) {
            (Some(d), _) => *d,
            (None, Some(e)) => Duration::from_millis(u64::try_from(int(e, cx)?).ok()?),
            (None, None) => return None,
        }),
        Spec::WaitForHandshake => EngineAction::WaitForHandshake,
        Spec::DoLog => EngineAction::DoLog,
        Spec::TrackSc(counter, key, table) => EngineAction::TrackSc {
            counter: *counter,
            key: key.eval(cx)?,
            table: table.clone(),
        },
        Spec::Sc(op, idx, counter, value) => EngineAction::ScUpdate {
            op: *op,
            idx: *idx,
            counter: *counter,
            value: match value {
                Some(v) => Some(int_of(v)?),
                None => None,
            },
        },
        Spec::CacheUse(c) => EngineAction::CacheUse(c.clone()),
        Spec::CacheStore(c) => EngineAction::CacheStore(c.clone()),
        Spec::Stop(s) => return Some(Err(s.clone())),
    }))
}
