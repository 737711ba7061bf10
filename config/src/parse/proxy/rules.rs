//! `http-request`, `http-response`, `http-after-response`, `tcp-request`
//! and `tcp-response` rules (manual 4.3, 4.4): an action with its
//! arguments and an optional condition.

use super::{allowed_kw, cond_at, Ctx, Line};
use crate::diag::{did_you_mean, Diagnostic};
use crate::keywords::{self, RuleSet};
use crate::logformat::{parse_log_format, LogFormat};
use crate::model::{Action, Rule};
use crate::sample::{parse_sample, SampleExpr};
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
    if matches!(rule.action.name.as_str(), "normalize-uri" | "attach-srv") && !cx.experimental {
        return Err(line.err(start, format!("'{}' action is experimental, must be allowed via a global 'expose-experimental-directives'", rule.action.name)));
    }
    let r = &mut cx.px.rules;
    match set {
        RuleSet::HttpRequest => r.http_request.push(rule),
        RuleSet::HttpResponse => r.http_response.push(rule),
        RuleSet::HttpAfterResponse => r.http_after_response.push(rule),
        RuleSet::TcpRequestConnection => r.tcp_request_connection.push(rule),
        RuleSet::TcpRequestSession => r.tcp_request_session.push(rule),
        RuleSet::TcpRequestContent => r.tcp_request_content.push(rule),
        RuleSet::TcpResponseContent | RuleSet::QuicInitial => r.tcp_response_content.push(rule),
    }
    Ok(())
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

/// Parse `<action> [args] [if|unless cond]` from word `start`.
pub(crate) fn parse_rule(line: &Line<'_>, start: usize, set: RuleSet) -> Result<Rule, Diagnostic> {
    let setname = set_name(set);
    let Some(name) = line.arg(start) else {
        return Err(line.err(start, format!("'{setname}' expects an action")));
    };
    let cond_idx = (start + 1..line.len()).find(|&i| matches!(line.word(i), "if" | "unless"));
    let end = cond_idx.unwrap_or(line.len());
    let args: Vec<String> = (start + 1..end).map(|i| line.word(i).to_string()).collect();
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
    let (base, param) = match (name.split_once('('), param) {
        (Some((b, _)), p) => (b.to_string(), p),
        (None, p) => (name.to_string(), p),
    };
    let mut action = Action {
        name: base.clone(),
        param,
        args,
        formats: Vec::new(),
        exprs: Vec::new(),
    };
    type_action(line, start, &mut action)?;
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

/// Parse the values of the actions whose arguments are log-format strings
/// or sample expressions, so the engine never re-reads them.
fn type_action(line: &Line<'_>, start: usize, a: &mut Action) -> Result<(), Diagnostic> {
    let fmt = |i: usize| -> Result<LogFormat, Diagnostic> {
        let w = start + 1 + i;
        let text = line
            .arg(w)
            .ok_or_else(|| line.err(w, format!("'{}' expects more arguments", a.name)))?;
        parse_log_format(text).map_err(|e| line.err(w, format!("'{}': {}", a.name, e.message)))
    };
    let expr = |i: usize| -> Result<SampleExpr, Diagnostic> {
        let w = start + 1 + i;
        let text = line
            .arg(w)
            .ok_or_else(|| line.err(w, format!("'{}' expects a sample expression", a.name)))?;
        parse_sample(text).map_err(|e| line.err(w, format!("'{}': {}", a.name, e.message)))
    };
    let n = a.args.len();
    let exactly = |want: usize| -> Result<(), Diagnostic> {
        if n != want {
            let w = start + 1 + want.min(n);
            return Err(line.err(
                w,
                format!(
                    "'{}' expects exactly {want} argument{} (got {n})",
                    a.name,
                    if want == 1 { "" } else { "s" }
                ),
            ));
        }
        Ok(())
    };
    match a.name.as_str() {
        "add-header" | "set-header" | "early-hint" => {
            exactly(2)?;
            a.formats.push(fmt(1)?);
        }
        // `del-header <name> [-m <meth>]`.
        "del-header" if n != 1 && n != 3 => {
            return Err(line.err(
                start + 1,
                format!(
                    "'{}' expects a header name, optionally followed by '-m <method>'",
                    a.name
                ),
            ));
        }
        "replace-header" | "replace-value" => {
            exactly(3)?;
            a.formats.push(fmt(2)?);
        }
        "replace-path" | "replace-pathq" | "replace-uri" => {
            exactly(2)?;
            a.formats.push(fmt(1)?);
        }
        "set-path" | "set-pathq" | "set-uri" | "set-query" | "set-method" | "set-var-fmt" => {
            exactly(1)?;
            a.formats.push(fmt(0)?);
        }
        "set-var" => {
            if a.param.is_none() {
                return Err(line.err(
                    start,
                    "'set-var' expects a variable name in parentheses, e.g. set-var(txn.foo)",
                ));
            }
            if n < 1 {
                return Err(line.err(start + 1, "'set-var' expects a sample expression"));
            }
            a.exprs.push(expr(0)?);
        }
        "track-sc0" | "track-sc1" | "track-sc2" | "track-sc" => {
            if n < 1 {
                return Err(line.err(start + 1, format!("'{}' expects a key expression", a.name)));
            }
            a.exprs.push(expr(0)?);
            match a.args.get(1).map(String::as_str) {
                None => {}
                Some("table") if n == 3 => {}
                Some(_) => {
                    return Err(line.err(
                        start + 2,
                        format!("'{}' expects 'table <name>' after the key", a.name),
                    ))
                }
            }
        }
        // deny/tarpit take the same response arguments as return, plus
        // the older `deny_status` (http_parse_http_reply). The payload
        // sources are exclusive; the errorfile-based ones only know the
        // status codes HAProxy has an error message for.
        "deny" | "tarpit" | "return" => {
            let name = a.name.clone();
            let mut i = 0;
            let mut status = None;
            let mut source: Option<(usize, &str)> = None;
            let mut implied = None;
            while let Some(w) = a.args.get(i) {
                let w = w.as_str();
                match w {
                    // `deny_status <code>` (deny/tarpit, first only) is
                    // `status <code>` with default-errorfiles unless a
                    // payload follows.
                    "status" | "deny_status" if w == "status" || (i == 0 && name != "return") => {
                        let code = a
                            .args
                            .get(i + 1)
                            .and_then(|c| c.parse::<u16>().ok())
                            .filter(|c| (200..600).contains(c));
                        if code.is_none() {
                            return Err(line.err(
                                start + 2 + i,
                                format!(
                                    "'{name}' : '{w}' expects a valid HTTP status code (200-599)"
                                ),
                            ));
                        }
                        status = code;
                        if w == "deny_status" {
                            implied = Some((i, "default-errorfiles"));
                        }
                        i += 2;
                        continue;
                    }
                    "content-type" => {}
                    "default-errorfiles" | "errorfile" | "errorfiles" | "file" | "lf-file"
                    | "string" | "lf-string" => {
                        if let Some((_, first)) = source {
                            return Err(line.err(
                                start + 1 + i,
                                format!(
                                    "'{name}' : unexpected '{w}' argument, '{first}' already defined"
                                ),
                            ));
                        }
                        source = Some((i, w));
                        if w == "default-errorfiles" {
                            i += 1;
                            continue;
                        }
                    }
                    "hdr" => {
                        if a.args.get(i + 2).is_none() {
                            return Err(line.err(
                                start + 2 + i,
                                format!("'{name}' : 'hdr' expects <name> <fmt>"),
                            ));
                        }
                        a.formats.push(fmt(i + 2)?);
                        i += 3;
                        continue;
                    }
                    o => {
                        return Err(line.err(
                            start + 1 + i,
                            format!("'{name}' : unexpected argument '{o}'"),
                        ));
                    }
                }
                if a.args.get(i + 1).is_none() {
                    return Err(line.err(
                        start + 2 + i,
                        format!("'{name}' : '{w}' expects an argument"),
                    ));
                }
                if w == "lf-string" {
                    a.formats.push(fmt(i + 1)?);
                }
                i += 2;
            }
            if let (
                Some((at, kw @ ("default-errorfiles" | "errorfile" | "errorfiles"))),
                Some(code),
            ) = (source.or(implied), status)
            {
                if !crate::parse::sections::ERRORFILE_CODES.contains(&code) {
                    return Err(line.err(
                        start + 1 + at,
                        format!(
                            "'{name}' : status code '{code}' not handled by default with '{kw}' argument"
                        ),
                    ));
                }
            }
        }
        // `redirect {location|prefix|scheme} <dst> [code <n>] <option>*`,
        // options in any order before or after the destination, the last
        // destination winning (http_parse_redirect_rule). `formats[0]` is
        // the destination; a `set-cookie-fmt` value follows it.
        "redirect" => {
            let mut dest = None;
            let mut cookie_fmt = None;
            let mut i = 0;
            while let Some(w) = a.args.get(i) {
                let w = w.as_str();
                let takes_value = matches!(
                    w,
                    "location"
                        | "prefix"
                        | "scheme"
                        | "code"
                        | "set-cookie"
                        | "set-cookie-fmt"
                        | "clear-cookie"
                );
                if takes_value && a.args.get(i + 1).is_none() {
                    return Err(line.err(
                        start + 2 + i,
                        format!("'redirect': missing argument for '{w}'"),
                    ));
                }
                match w {
                    "location" | "prefix" | "scheme" => dest = Some(i + 1),
                    "set-cookie-fmt" => cookie_fmt = Some(i + 1),
                    "code" => {
                        let v = a.args.get(i + 1).map_or("", String::as_str);
                        if !matches!(atol(v), 301..=303 | 307 | 308) {
                            return Err(line.err(
                                start + 2 + i,
                                format!("'redirect': 'code': unsupported HTTP code '{v}' (must be one of 301, 302, 303, 307 or 308)"),
                            ));
                        }
                    }
                    "set-cookie" | "clear-cookie" => {}
                    "drop-query" | "append-slash" | "ignore-empty" | "keep-query" => {
                        i += 1;
                        continue;
                    }
                    o => return Err(line.err(start + 1 + i, format!("'redirect': expects 'code', 'prefix', 'location', 'scheme', 'set-cookie', 'set-cookie-fmt', 'clear-cookie', 'drop-query', 'ignore-empty', 'append-slash' or 'keep-query' (got '{o}')"))),
                }
                i += 2;
            }
            let Some(dest) = dest else {
                return Err(line.err(
                    start + 1,
                    "'redirect': redirection type expected ('prefix', 'location', or 'scheme')",
                ));
            };
            a.formats.push(fmt(dest)?);
            if let Some(c) = cookie_fmt {
                a.formats.push(fmt(c)?);
            }
        }
        _ => {}
    }
    Ok(())
}

/// C's `atol` on a status code: the leading digits (HAProxy reads
/// `code 301x` as 301), 0 when there are none.
fn atol(text: &str) -> u64 {
    let t = text.trim_start();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    t.get(..digits.min(6))
        .and_then(|d| d.parse().ok())
        .unwrap_or(0)
}
