//! `http-request`, `http-response`, `http-after-response`, `tcp-request`
//! and `tcp-response` rules (manual 4.3, 4.4): an action with its
//! arguments and an optional condition.

use super::actions::{parse_action, Words};
use super::{allowed_kw, cond_at, Ctx, Line};
use crate::diag::{did_you_mean, Diagnostic};
use crate::keywords::{self, RuleSet};
use crate::model::*;
use crate::units::TimeUnit;

pub(crate) fn parse_rule_line(cx: &mut Ctx<'_>, line: &Line<'_>) -> Result<(), Diagnostic> {
    let kw = line.kw();
    let (set, kwname, start) = match kw {
        "http-request" => (RuleSet::HttpRequest, kw.to_string(), 1),
        "http-response" => (RuleSet::HttpResponse, kw.to_string(), 1),
        "http-after-response" => (RuleSet::HttpAfterResponse, kw.to_string(), 1),
        "tcp-request" | "tcp-response" => {
            let sub = line.word(1);
            let set = match (kw, sub) {
                ("tcp-request", "connection") => RuleSet::TcpRequestConnection,
                ("tcp-request", "session") => RuleSet::TcpRequestSession,
                ("tcp-request", "content") => RuleSet::TcpRequestContent,
                ("tcp-response", "content") => RuleSet::TcpResponseContent,
                (_, "inspect-delay") => {
                    let name = format!("{kw} inspect-delay");
                    if !allowed_kw(cx, line, &name)? {
                        return Ok(());
                    }
                    let d = line.duration(2, &name, TimeUnit::Millis)?;
                    line.no_more_than(2, 1, &name)?;
                    if kw == "tcp-request" {
                        cx.px.rules.tcp_request_inspect_delay = Some(d);
                    } else {
                        cx.px.rules.tcp_response_inspect_delay = Some(d);
                    }
                    return Ok(());
                }
                _ => {
                    let subs = if kw == "tcp-request" {
                        "'connection', 'session', 'content' or 'inspect-delay'"
                    } else {
                        "'content' or 'inspect-delay'"
                    };
                    return Err(line.err(1, format!("'{kw}' expects {subs} (got '{sub}')")));
                }
            };
            (set, format!("{kw} {sub}"), 2)
        }
        _ => return Err(line.err(0, format!("unknown rule keyword '{kw}'"))),
    };
    if !allowed_kw(cx, line, &kwname)? {
        return Ok(());
    }
    let rule = parse_rule(line, start, set)?;
    // Experimental actions need `expose-experimental-directives` first.
    if matches!(
        rule.action,
        AnyAction::NormalizeUri(_) | AnyAction::AttachSrv(_)
    ) && !cx.experimental
    {
        return Err(line.err(start, format!("'{}' action is experimental, must be allowed via a global 'expose-experimental-directives'", rule.action.name())));
    }
    // The server and tunnel timeouts belong to the backend side.
    if let AnyAction::SetTimeout(SetTimeout {
        timeout: TimeoutName::Server | TimeoutName::Tunnel,
        ..
    }) = &rule.action
    {
        if !cx.px.cap.backend {
            return Err(line.err(
                start,
                format!(
                    "'{kwname} set-timeout' rule : proxy '{}' has no backend capability",
                    cx.px.name
                ),
            ));
        }
    }
    if set == RuleSet::HttpRequest && !cx.px.rules.redirect.is_empty() {
        let w = line.warn(
            0,
            "a 'http-request' rule placed after a 'redirect' rule will still be processed before.",
        );
        cx.push(w);
    }
    let r = &mut cx.px.rules;
    match set {
        RuleSet::HttpRequest => r.http_request.push(for_set(
            rule,
            line,
            start,
            set,
            HttpRequestAction::from_any,
        )?),
        RuleSet::HttpResponse => r.http_response.push(for_set(
            rule,
            line,
            start,
            set,
            HttpResponseAction::from_any,
        )?),
        RuleSet::HttpAfterResponse => r.http_after_response.push(for_set(
            rule,
            line,
            start,
            set,
            HttpAfterResponseAction::from_any,
        )?),
        RuleSet::TcpRequestConnection => r.tcp_request_connection.push(for_set(
            rule,
            line,
            start,
            set,
            TcpRequestConnectionAction::from_any,
        )?),
        RuleSet::TcpRequestSession => r.tcp_request_session.push(for_set(
            rule,
            line,
            start,
            set,
            TcpRequestSessionAction::from_any,
        )?),
        RuleSet::TcpRequestContent => r.tcp_request_content.push(for_set(
            rule,
            line,
            start,
            set,
            TcpRequestContentAction::from_any,
        )?),
        RuleSet::TcpResponseContent => r.tcp_response_content.push(for_set(
            rule,
            line,
            start,
            set,
            TcpResponseContentAction::from_any,
        )?),
        // Never produced above: quic-initial rules belong to a bind-less
        // section ringlb does not read as rules.
        RuleSet::QuicInitial => {
            return Err(line.err(0, "quic-initial rules are not supported here"))
        }
    }
    Ok(())
}

/// A rule read as any action, as a rule of `set`. The keyword table said
/// the set offers the action; its enum must agree.
pub(crate) fn for_set<A>(
    rule: Rule<AnyAction>,
    line: &Line<'_>,
    start: usize,
    set: RuleSet,
    from_any: fn(AnyAction) -> Result<A, &'static str>,
) -> Result<Rule<A>, Diagnostic> {
    let Rule { action, cond, loc } = rule;
    match from_any(action) {
        Ok(action) => Ok(Rule { action, cond, loc }),
        Err(name) => {
            let setname = set_name(set);
            Err(line.err(
                start,
                format!("'{setname} {name}' : this action is not supported in {setname} rules"),
            ))
        }
    }
}

fn set_name(set: RuleSet) -> &'static str {
    match set {
        RuleSet::QuicInitial => "quic-initial",
        RuleSet::TcpRequestConnection => "tcp-request connection",
        RuleSet::TcpRequestSession => "tcp-request session",
        RuleSet::TcpRequestContent => "tcp-request content",
        RuleSet::TcpResponseContent => "tcp-response content",
        RuleSet::HttpRequest => "http-request",
        RuleSet::HttpResponse => "http-response",
        RuleSet::HttpAfterResponse => "http-after-response",
    }
}

/// Look an action up by its written name: exact, then without the
/// parenthesised argument, then with a trailing counter number folded
/// (`track-sc1` -> `track-sc0`? no: the tables list each), then `lua.*`.
fn find_action(name: &str) -> Option<(&'static keywords::ActionDef, Option<String>)> {
    if let Some(d) = keywords::action(name) {
        return Some((d, None));
    }
    if let Some((base, rest)) = name.split_once('(') {
        let param = rest.strip_suffix(')').unwrap_or(rest).to_string();
        for cand in [
            format!("{base}()"),
            base.to_string(),
            format!("{base}(<var-name>)"),
        ] {
            if let Some(d) = keywords::action(&cand) {
                return Some((d, Some(param)));
            }
        }
        if let Some(d) = keywords::ACTIONS
            .iter()
            .find(|a| a.name.split('(').next() == Some(base))
        {
            return Some((d, Some(param)));
        }
    }
    // Families spelled with a counter number (`track-sc0`, `sc-inc-gpc0`).
    let stripped = name.trim_end_matches(|c: char| c.is_ascii_digit());
    if stripped != name {
        if let Some(d) = keywords::ACTIONS.iter().find(|a| {
            let n = a.name.split('(').next().unwrap_or(a.name);
            n.trim_end_matches(|c: char| c.is_ascii_digit() || c == '<' || c == '>' || c == 'X')
                .trim_end_matches('-')
                == stripped.trim_end_matches('-')
                || n.strip_suffix("<X>").is_some_and(|p| p == stripped)
                || n.strip_suffix("X").is_some_and(|p| p == stripped)
        }) {
            return Some((d, None));
        }
    }
    None
}

/// `redirect location|prefix|scheme <to> [options] [if|unless cond]`:
/// a proxy's own redirect rules, parsed as `http-request redirect` is
/// (HAProxy's one http_parse_redirect_rule) and kept apart, since they run
/// after the proxy's `http-request` rules, an `allow` among those
/// included.
pub(crate) fn parse_redirect_line(cx: &mut Ctx<'_>, line: &Line<'_>) -> Result<(), Diagnostic> {
    if !allowed_kw(cx, line, "redirect")? {
        return Ok(());
    }
    let rule = parse_rule(line, 0, RuleSet::HttpRequest)?;
    let AnyAction::Redirect(action) = rule.action else {
        return Err(line.err(0, "'redirect' expects 'location', 'prefix' or 'scheme'"));
    };
    cx.px.rules.redirect.push(Rule {
        action,
        cond: rule.cond,
        loc: rule.loc,
    });
    Ok(())
}

/// Parse `<action> [args] [if|unless cond]` from word `start`.
pub(crate) fn parse_rule(
    line: &Line<'_>,
    start: usize,
    set: RuleSet,
) -> Result<Rule<AnyAction>, Diagnostic> {
    let setname = set_name(set);
    let Some(name) = line.arg(start) else {
        return Err(line.err(start, format!("'{setname}' expects an action")));
    };
    let cond_idx = (start + 1..line.len()).find(|&i| matches!(line.word(i), "if" | "unless"));
    let end = cond_idx.unwrap_or(line.len());
    let (def, param) = if name.starts_with("lua.") {
        (None, None)
    } else {
        match find_action(name) {
            Some((d, p)) => (Some(d), p),
            None => {
                let names = keywords::ACTIONS
                    .iter()
                    .filter(|a| a.allowed_in(set))
                    .map(|a| a.name.split('(').next().unwrap_or(a.name));
                let mut d = line.err(start, format!("'{setname}' unknown action '{name}'"));
                if let Some(h) = did_you_mean(name.split('(').next().unwrap_or(name), names) {
                    d = d.with_hint(format!("did you mean '{h}'?"));
                }
                return Err(d);
            }
        }
    };
    if let Some(d) = def {
        if !d.allowed_in(set) {
            return Err(line.err(
                start,
                format!("'{setname} {name}' : this action is not supported in {setname} rules"),
            ));
        }
    }
    let base = name.split_once('(').map_or(name, |(b, _)| b);
    let words = Words {
        line,
        start,
        end,
        set,
        setname,
        written: name,
        base,
        param: param.as_deref(),
    };
    let action = parse_action(&words)?;
    let cond = match cond_idx {
        Some(i) => cond_at(line, i)?,
        None => None,
    };
    Ok(Rule {
        action,
        cond,
        loc: line.loc.clone(),
    })
}
