//! The arguments of rule actions, typed once (manual 4.3, 4.4). Verdicts
//! and messages follow HAProxy's action parsers (2.6 checked with
//! `haproxy -c`, 3.2 forms from the manual); an argument after the ones
//! an action takes is refused as HAProxy does ("expects either 'if' or
//! 'unless' followed by a condition but found ...").

mod counters;
mod http;
mod reply;

use std::time::Duration;

use super::Line;
use crate::diag::Diagnostic;
use crate::keywords::RuleSet;
use crate::logformat::{parse_log_format, LogFormat};
use crate::model::*;
use crate::sample::{parse_sample, parse_var_name, SampleExpr};
use crate::units::{parse_duration, parse_size, TimeUnit};

/// The words of one action: `line` word `start` is the action's name,
/// its arguments run up to `end` (the condition or the end of the line).
pub(super) struct Words<'l, 'a> {
    pub line: &'l Line<'a>,
    pub start: usize,
    pub end: usize,
    pub set: RuleSet,
    /// `http-request`, `tcp-request content` ...
    pub setname: &'static str,
    /// The action as written (`set-var(txn.x)`).
    pub written: &'a str,
    /// Without its parenthesised argument (`set-var`).
    pub base: &'l str,
    /// The parenthesised argument (`txn.x`).
    pub param: Option<&'l str>,
}

impl Words<'_, '_> {
    /// Argument `i` (0: the first word after the action's name).
    fn arg(&self, i: usize) -> Option<&str> {
        let at = self.start + 1 + i;
        (at < self.end).then(|| self.line.word(at))
    }

    fn nargs(&self) -> usize {
        self.end.saturating_sub(self.start + 1)
    }

    /// An error at argument `i` (or at the action's name past the end).
    fn err(&self, i: usize, msg: impl Into<String>) -> Diagnostic {
        self.line.err(self.start + 1 + i, msg)
    }

    /// An error about the action as a whole, worded as HAProxy's
    /// "error detected ... while parsing '<set> <action>' rule : <msg>".
    fn rule_err(&self, i: usize, msg: impl std::fmt::Display) -> Diagnostic {
        self.err(
            i,
            format!("'{} {}' rule : {msg}", self.setname, self.written),
        )
    }

    /// Refuse any argument from `i` on.
    fn no_more(&self, i: usize) -> Result<(), Diagnostic> {
        match self.arg(i) {
            None => Ok(()),
            Some(_) => Err(self.extra(i)),
        }
    }

    /// HAProxy's refusal of argument `i`, one the action does not take.
    fn extra(&self, i: usize) -> Diagnostic {
        self.err(
            i,
            format!(
                "'{} {}' expects either 'if' or 'unless' followed by a condition but found '{}'",
                self.setname,
                self.written,
                self.arg(i).unwrap_or("")
            ),
        )
    }

    /// The existing arity message of the header and path actions.
    fn exactly(&self, want: usize) -> Result<(), Diagnostic> {
        let n = self.nargs();
        // HAProxy's argument list ends at an empty word ("").
        let n = (0..n).find(|i| self.arg(*i) == Some("")).unwrap_or(n);
        if n != want || self.nargs() != want {
            return Err(self.err(
                want.min(n),
                format!(
                    "'{}' expects exactly {want} argument{} (got {n})",
                    self.base,
                    if want == 1 { "" } else { "s" }
                ),
            ));
        }
        Ok(())
    }

    fn word(&self, i: usize, what: &str) -> Result<String, Diagnostic> {
        match self.arg(i) {
            Some(w) if !w.is_empty() => Ok(w.to_string()),
            _ => Err(self.rule_err(i, format!("missing {what}"))),
        }
    }

    fn fmt(&self, i: usize) -> Result<LogFormat, Diagnostic> {
        let text = self
            .arg(i)
            .ok_or_else(|| self.err(i, format!("'{}' expects more arguments", self.base)))?;
        parse_log_format(text).map_err(|e| self.err(i, format!("'{}': {}", self.base, e.message)))
    }

    fn expr(&self, i: usize) -> Result<SampleExpr, Diagnostic> {
        let text = self
            .arg(i)
            .ok_or_else(|| self.rule_err(i, "missing fetch method"))?;
        parse_sample(text).map_err(|e| self.err(i, format!("'{}': {}", self.base, e.message)))
    }

    /// A single sample expression and nothing after it.
    fn only_expr(&self) -> Result<SampleExpr, Diagnostic> {
        let e = self.expr(0)?;
        self.no_more(1)?;
        Ok(e)
    }

    fn int_or_expr(&self, i: usize) -> Result<IntOrExpr, Diagnostic> {
        let text = self
            .arg(i)
            .ok_or_else(|| self.rule_err(i, "missing fetch method"))?;
        match int_value(text) {
            Some(n) => Ok(IntOrExpr::Int(n)),
            None => self.expr(i).map(IntOrExpr::Expr),
        }
    }

    fn time_or_expr(&self, i: usize, what: &str) -> Result<TimeOrExpr, Diagnostic> {
        let text = self
            .arg(i)
            .ok_or_else(|| self.rule_err(i, format!("missing {what}")))?;
        if text.starts_with(|c: char| c.is_ascii_digit()) {
            parse_duration(text, TimeUnit::Millis)
                .map(TimeOrExpr::Time)
                .map_err(|e| self.rule_err(i, format!("{e} in rule '{}'", self.written)))
        } else {
            self.expr(i).map(TimeOrExpr::Expr)
        }
    }

    /// The variable of `set-var(<var>[,<cond>...])` and its conditions.
    fn var(&self) -> Result<(VarName, Vec<VarCond>), Diagnostic> {
        let Some(param) = self.param else {
            return Err(self.line.err(
                self.start,
                format!(
                    "'{}' expects a variable name in parentheses, e.g. {}(txn.foo)",
                    self.base, self.base
                ),
            ));
        };
        let mut parts = param.split(',');
        let (scope, name) = parse_var_name(parts.next().unwrap_or("")).map_err(|e| {
            self.line.err(
                self.start,
                format!("'{} {}' rule : {e}", self.setname, self.written),
            )
        })?;
        let mut conds = Vec::new();
        for c in parts {
            let cond = VarCond::from_keyword(c.trim()).ok_or_else(|| {
                self.line.err(
                    self.start,
                    format!(
                        "'{} {}' rule : unknown condition '{c}'",
                        self.setname, self.written
                    ),
                )
            })?;
            conds.push(cond);
        }
        Ok((VarName { scope, name }, conds))
    }
}

/// An integer as HAProxy's `set-mark`/`set-tos` read it: decimal, or
/// hexadecimal after `0x`.
fn int_value(text: &str) -> Option<i64> {
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        return i64::from_str_radix(hex, 16).ok();
    }
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// C's `atoi`: the sign and leading digits, 0 when there are none.
fn atoi(text: &str) -> i64 {
    let (neg, rest) = match text.trim_start().strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text.trim_start().trim_start_matches('+')),
    };
    let n = rest.bytes().take_while(u8::is_ascii_digit).count();
    let v: i64 = rest
        .get(..n.min(18))
        .and_then(|d| d.parse().ok())
        .unwrap_or(0);
    if neg {
        -v
    } else {
        v
    }
}

/// Parse the action of `w` into its typed form.
/// The arguments of `http-error` (from word 1): the reply grammar of
/// `return` (HAProxy parses both with http_parse_http_reply).
pub(super) fn http_error_reply(line: &Line<'_>) -> Result<Reply, Diagnostic> {
    let w = Words {
        line,
        start: 0,
        end: line.len(),
        set: RuleSet::HttpRequest,
        setname: "http-error",
        written: "http-error",
        base: "http-error",
        param: None,
    };
    reply::reply(&w)
}

pub(super) fn parse_action(w: &Words<'_, '_>) -> Result<AnyAction, Diagnostic> {
    if let Some(name) = w.written.strip_prefix("lua.") {
        return Ok(AnyAction::Lua(LuaAction {
            name: name.to_string(),
            args: (0..w.nargs())
                .filter_map(|i| w.arg(i).map(str::to_string))
                .collect(),
        }));
    }
    if w.base.starts_with("track-sc") {
        return counters::track_sc(w).map(AnyAction::TrackSc);
    }
    if w.base.starts_with("sc-") {
        return counters::sc_update(w).map(AnyAction::Sc);
    }
    let unit = |a: AnyAction| -> Result<AnyAction, Diagnostic> {
        w.no_more(0)?;
        Ok(a)
    };
    Ok(match w.base {
        "accept" => unit(AnyAction::Accept)?,
        "allow" => unit(AnyAction::Allow)?,
        "reject" => unit(AnyAction::Reject)?,
        "close" => unit(AnyAction::Close)?,
        "dgram-drop" => unit(AnyAction::DgramDrop)?,
        "disable-l7-retry" => unit(AnyAction::DisableL7Retry)?,
        "do-log" => unit(AnyAction::DoLog)?,
        "send-retry" => unit(AnyAction::SendRetry)?,
        "wait-for-handshake" => unit(AnyAction::WaitForHandshake)?,
        "expect-proxy" | "expect-netscaler-cip" => {
            let v = w.arg(0).unwrap_or("");
            if v != "layer4" {
                return Err(w.err(
                    0,
                    format!(
                        "'{} {}' only supports 'layer4' (got '{v}')",
                        w.setname, w.base
                    ),
                ));
            }
            w.no_more(1)?;
            if w.base == "expect-proxy" {
                AnyAction::ExpectProxy
            } else {
                AnyAction::ExpectNetscalerCip
            }
        }
        "add-acl" | "del-acl" | "del-map" | "set-map" => {
            // haproxy 2.6 accepts a missing `(<file>)` (an empty name).
            let file = w.param.unwrap_or("").to_string();
            let key = w.fmt(0)?;
            let value = if w.base == "set-map" {
                Some(w.fmt(1)?)
            } else {
                None
            };
            w.no_more(if value.is_some() { 2 } else { 1 })?;
            let u = MapUpdate { file, key, value };
            match w.base {
                "add-acl" => AnyAction::AddAcl(u),
                "del-acl" => AnyAction::DelAcl(u),
                "del-map" => AnyAction::DelMap(u),
                _ => AnyAction::SetMap(u),
            }
        }
        "add-header" | "set-header" | "early-hint" => {
            w.exactly(2)?;
            let h = SetHeader {
                name: w.word(0, "header name")?,
                value: w.fmt(1)?,
            };
            match w.base {
                "add-header" => AnyAction::AddHeader(h),
                "set-header" => AnyAction::SetHeader(h),
                _ => AnyAction::EarlyHint(h),
            }
        }
        "del-header" => AnyAction::DelHeader(http::del_header(w)?),
        "replace-header" | "replace-value" => {
            w.exactly(3)?;
            let r = ReplaceHeader {
                name: w.word(0, "header name")?,
                regex: regex(w, 1)?,
                replace: w.fmt(2)?,
            };
            if w.base == "replace-header" {
                AnyAction::ReplaceHeader(r)
            } else {
                AnyAction::ReplaceValue(r)
            }
        }
        "replace-path" | "replace-pathq" | "replace-uri" => {
            w.exactly(2)?;
            let r = Replace {
                regex: regex(w, 0)?,
                replace: w.fmt(1)?,
            };
            match w.base {
                "replace-path" => AnyAction::ReplacePath(r),
                "replace-pathq" => AnyAction::ReplacePathq(r),
                _ => AnyAction::ReplaceUri(r),
            }
        }
        "set-path" | "set-pathq" | "set-uri" | "set-query" | "set-method" => {
            w.exactly(1)?;
            let f = w.fmt(0)?;
            match w.base {
                "set-path" => AnyAction::SetPath(f),
                "set-pathq" => AnyAction::SetPathq(f),
                "set-uri" => AnyAction::SetUri(f),
                "set-query" => AnyAction::SetQuery(f),
                _ => AnyAction::SetMethod(f),
            }
        }
        "set-status" => AnyAction::SetStatus(http::set_status(w)?),
        "normalize-uri" => AnyAction::NormalizeUri(http::normalizer(w)?),
        "attach-srv" => {
            let server = w.word(0, "server name")?;
            let name = match w.arg(1) {
                None => None,
                Some("name") => Some(w.expr(2)?),
                Some(_) => return Err(w.extra(1)),
            };
            w.no_more(if name.is_some() { 3 } else { 1 })?;
            AnyAction::AttachSrv(AttachSrv { server, name })
        }
        "auth" => {
            let realm = match w.arg(0) {
                None => None,
                Some("realm") => Some(w.word(1, "realm value")?),
                Some(_) => return Err(w.extra(0)),
            };
            w.no_more(if realm.is_some() { 2 } else { 0 })?;
            AnyAction::Auth(realm)
        }
        "cache-use" | "cache-store" => {
            let name = w.word(0, "cache name")?;
            w.no_more(1)?;
            if w.base == "cache-use" {
                AnyAction::CacheUse(name)
            } else {
                AnyAction::CacheStore(name)
            }
        }
        "capture" => AnyAction::Capture(http::capture(w)?),
        "deny" => AnyAction::Deny(reply::reply(w)?),
        "tarpit" => AnyAction::Tarpit(reply::reply(w)?),
        "return" => AnyAction::Return(reply::reply(w)?),
        "redirect" => AnyAction::Redirect(reply::redirect(w)?),
        "do-resolve" => AnyAction::DoResolve(http::do_resolve(w)?),
        "pause" => {
            let v = w.time_or_expr(0, "time or expression")?;
            w.no_more(1)?;
            AnyAction::Pause(v)
        }
        "send-spoe-group" => {
            let (Some(engine), Some(group)) = (w.arg(0), w.arg(1)) else {
                return Err(w.rule_err(0, "expects 2 arguments: <engine-id> <group-id>"));
            };
            w.no_more(2)?;
            AnyAction::SendSpoeGroup(SpoeGroup {
                engine: engine.to_string(),
                group: group.to_string(),
            })
        }
        "set-bandwidth-limit" => AnyAction::SetBandwidthLimit(bandwidth_limit(w)?),
        "set-mark" | "set-tos" | "set-fc-mark" | "set-fc-tos" | "set-bc-mark" | "set-bc-tos" => {
            AnyAction::SetSockOpt(sock_opt(w)?)
        }
        "set-dst" => AnyAction::SetDst(w.only_expr()?),
        "set-dst-port" => AnyAction::SetDstPort(w.only_expr()?),
        "set-src" => AnyAction::SetSrc(w.only_expr()?),
        "set-src-port" => AnyAction::SetSrcPort(w.only_expr()?),
        "set-priority-class" => AnyAction::SetPriorityClass(w.only_expr()?),
        "set-priority-offset" => AnyAction::SetPriorityOffset(w.only_expr()?),
        "set-log-level" => {
            let level = match w.arg(0) {
                Some("silent") => None,
                Some(l) if Level::from_keyword(l).is_some() => Level::from_keyword(l),
                _ => {
                    return Err(
                        w.rule_err(0, "expects exactly 1 argument (log level name or 'silent')")
                    )
                }
            };
            w.no_more(1)?;
            AnyAction::SetLogLevel(level)
        }
        "set-nice" => {
            let v = w
                .arg(0)
                .ok_or_else(|| w.rule_err(0, "expects exactly 1 argument (integer value)"))?;
            w.no_more(1)?;
            // atoi(), then clamped to -1024..1024 as HAProxy does.
            let n = atoi(v).clamp(-1024, 1024);
            AnyAction::SetNice(i32::try_from(n).unwrap_or(0))
        }
        "set-retries" => {
            let v = w.int_or_expr(0)?;
            w.no_more(1)?;
            AnyAction::SetRetries(v)
        }
        "set-timeout" => AnyAction::SetTimeout(set_timeout(w)?),
        "set-var" => {
            let (var, conds) = w.var()?;
            if w.arg(0).is_none() {
                return Err(w.err(0, "'set-var' expects a sample expression"));
            }
            let value = w.only_expr()?;
            AnyAction::SetVar(SetVar { var, conds, value })
        }
        "set-var-fmt" => {
            let (var, conds) = w.var()?;
            w.exactly(1)?;
            let value = w.fmt(0)?;
            AnyAction::SetVarFmt(SetVar { var, conds, value })
        }
        "unset-var" => {
            let (var, _) = w.var()?;
            w.no_more(0)?;
            AnyAction::UnsetVar(var)
        }
        "silent-drop" => {
            let ttl = match w.arg(0) {
                None => None,
                Some("rst-ttl") => {
                    let v = w.arg(1).unwrap_or("");
                    let ttl = v.parse::<u8>().ok().filter(|t| *t > 0).ok_or_else(|| {
                        w.rule_err(
                            1,
                            format!("'rst-ttl' expects a TTL between 1 and 255 (got '{v}')"),
                        )
                    })?;
                    Some(ttl)
                }
                Some(_) => return Err(w.extra(0)),
            };
            w.no_more(if ttl.is_some() { 2 } else { 0 })?;
            AnyAction::SilentDrop(ttl)
        }
        "strict-mode" => {
            let on = match w.arg(0) {
                Some("on") => true,
                Some("off") => false,
                v => {
                    return Err(w.rule_err(
                        0,
                        format!(
                            "Unexpected value '{}'. Only 'on' and 'off' are supported.",
                            v.unwrap_or("")
                        ),
                    ))
                }
            };
            w.no_more(1)?;
            AnyAction::StrictMode(on)
        }
        "switch-mode" => {
            let mode = w.arg(0).unwrap_or("");
            if mode != "http" {
                return Err(w.err(
                    0,
                    format!(
                        "'{} switch-mode' expects a valid mode (got '{mode}')",
                        w.setname
                    ),
                ));
            }
            let proto = match w.arg(1) {
                Some("proto") => Some(w.word(2, "protocol name")?),
                _ => None,
            };
            w.no_more(if proto.is_some() { 3 } else { 1 })?;
            AnyAction::SwitchMode(SwitchMode { proto })
        }
        "use-service" => {
            let name = w.word(0, "service name")?;
            // HAProxy knows the services registered at build time
            // (prometheus-exporter) and by Lua scripts (lua.<name>).
            if name != "prometheus-exporter" && !name.starts_with("lua.") {
                return Err(w.rule_err(0, format!("'{name}' unknown service name.")));
            }
            if name == "prometheus-exporter" && w.set != RuleSet::HttpRequest {
                return Err(w.rule_err(
                    0,
                    "Prometheus exporter service only available on 'http-request' rulesets",
                ));
            }
            w.no_more(1)?;
            AnyAction::UseService(name)
        }
        "wait-for-body" => AnyAction::WaitForBody(wait_for_body(w)?),
        other => {
            return Err(w.line.err(
                w.start,
                format!(
                    "'{} {other}' : this action is not supported in {} rules",
                    w.setname, w.setname
                ),
            ))
        }
    })
}

fn regex(w: &Words<'_, '_>, i: usize) -> Result<String, Diagnostic> {
    let re = w.arg(i).unwrap_or("");
    crate::sample::check_regex(re).map_err(|e| w.rule_err(i, format!("regex '{re}': {e}")))?;
    Ok(re.to_string())
}

/// `set-bandwidth-limit <name> [limit {<expr>|<size>}] [period
/// {<expr>|<time>}]`.
fn bandwidth_limit(w: &Words<'_, '_>) -> Result<BandwidthLimit, Diagnostic> {
    let mut b = BandwidthLimit {
        filter: w.word(0, "filter name")?,
        limit: None,
        period: None,
    };
    let mut i = 1;
    while let Some(kw) = w.arg(i) {
        match kw {
            "limit" => {
                let v = w.arg(i + 1).unwrap_or("");
                b.limit = Some(if v.starts_with(|c: char| c.is_ascii_digit()) {
                    SizeOrExpr::Size(
                        parse_size(v)
                            .map_err(|e| w.rule_err(i + 1, format!("invalid limit: {e}")))?,
                    )
                } else {
                    SizeOrExpr::Expr(w.expr(i + 1)?)
                });
            }
            "period" => b.period = Some(w.time_or_expr(i + 1, "period")?),
            _ => return Err(w.extra(i)),
        }
        i += 2;
    }
    Ok(b)
}

/// `set-mark`/`set-tos <int>` (deprecated: a number only) and
/// `set-{fc,bc}-{mark,tos} {<int>|<expr>}`.
fn sock_opt(w: &Words<'_, '_>) -> Result<SetSockOpt, Diagnostic> {
    let opt = match w.base {
        "set-mark" => SockOpt::Mark,
        "set-tos" => SockOpt::Tos,
        "set-fc-mark" => SockOpt::FcMark,
        "set-fc-tos" => SockOpt::FcTos,
        "set-bc-mark" => SockOpt::BcMark,
        _ => SockOpt::BcTos,
    };
    let value = if matches!(opt, SockOpt::Mark | SockOpt::Tos) {
        let v = w.arg(0).unwrap_or("");
        IntOrExpr::Int(int_value(v).ok_or_else(|| {
            w.rule_err(
                0,
                format!("invalid character starting at '{v}' (integer/hex value expected)"),
            )
        })?)
    } else {
        w.int_or_expr(0)?
    };
    w.no_more(1)?;
    Ok(SetSockOpt { opt, value })
}

/// `set-timeout {server|tunnel|client} {<time>|<expr>}`.
fn set_timeout(w: &Words<'_, '_>) -> Result<SetTimeout, Diagnostic> {
    let timeout = match w.arg(0).unwrap_or("") {
        "server" => TimeoutName::Server,
        "tunnel" => TimeoutName::Tunnel,
        "client" => TimeoutName::Client,
        o => {
            return Err(w.rule_err(
                0,
                format!("'set-timeout' rule supports 'server'/'tunnel'/'client' (got '{o}')"),
            ))
        }
    };
    let value = w.time_or_expr(1, "timeout value")?;
    w.no_more(2)?;
    Ok(SetTimeout { timeout, value })
}

/// `wait-for-body time <time> [at-least <bytes>]`.
fn wait_for_body(w: &Words<'_, '_>) -> Result<WaitForBody, Diagnostic> {
    let usage = || w.rule_err(0, "expects time <time> [ at-least <bytes> ]");
    if w.arg(0) != Some("time") {
        return Err(usage());
    }
    let t = w.arg(1).ok_or_else(usage)?;
    let time: Duration = parse_duration(t, TimeUnit::Millis).map_err(|e| w.rule_err(1, e))?;
    let at_least = match w.arg(2) {
        Some("at-least") => {
            let v = w.arg(3).unwrap_or("");
            Some(parse_size(v).map_err(|e| w.rule_err(3, e))?)
        }
        _ => None,
    };
    w.no_more(if at_least.is_some() { 4 } else { 2 })?;
    Ok(WaitForBody { time, at_least })
}

#[cfg(test)]
mod tests;
