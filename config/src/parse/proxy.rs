//! Proxy sections: defaults, frontend, backend, listen (manual section 4).
//!
//! Keywords the engine acts on are parsed into typed fields; every other
//! keyword of the manual is recognised through the keyword tables, checked
//! for where it may appear and how many words it takes, and kept as a
//! `Directive`. Capability rules follow HAProxy: a keyword not allowed in
//! `defaults` is an error there; a frontend-only keyword in a backend (or
//! the reverse) is a warning and is ignored.

use std::time::Duration;

use super::common::{parse_log, Line};
use super::{invalid_name_char, words_from, Cur, Parser};
use crate::acl::{parse_acl, parse_condition, Condition};
use crate::diag::{did_you_mean, Diagnostic, Diagnostics};
use crate::keywords::{self, InDefaults};
use crate::logformat::{parse_log_format, parse_log_format_with, LogFormatOptions};
use crate::model::*;
use crate::units::TimeUnit;
use crate::Host;
use balance::{parse_balance, parse_hash_type, parse_log_hash};
use capture::parse_capture;
pub(crate) use defaults::open;
use errorfile::parse_errorfile;
use filters::{check_filter, parse_compression};
use options::parse_option;
pub(crate) use persistence::parse_stick_table;
use persistence::{parse_cookie, parse_stick};
use stats::parse_stats;
use timeouts::parse_timeout;

mod actions;
mod balance;
mod bind;
mod capture;
mod checks;
mod defaults;
mod errorfile;
mod filters;
mod options;
mod persistence;
mod rules;
mod server;
pub(crate) mod source;
mod stats;
mod tcpka;
#[cfg(test)]
mod tests;
mod timeouts;

/// Keywords HAProxy removed, with the message it prints (it refuses them).
const REMOVED: &[(&str, &str)] = &[
    ("contimeout", "the 'contimeout' directive is not supported anymore since HAProxy 2.1. Use 'timeout connect'."),
    ("clitimeout", "the 'clitimeout' directive is not supported anymore since HAProxy 2.1. Use 'timeout client'."),
    ("srvtimeout", "the 'srvtimeout' directive is not supported anymore since HAProxy 2.1. Use 'timeout server'."),
    ("redisp", "the 'redisp' directive is not supported anymore since HAProxy 2.1. Use 'option redispatch'."),
    ("redispatch", "the 'redispatch' directive is not supported anymore since HAProxy 2.1. Use 'option redispatch'."),
    ("reqadd", "The 'reqadd' directive is not supported anymore since HAProxy 2.1. Use 'http-request add-header' instead."),
    ("reqrep", "The 'reqrep' directive is not supported anymore since HAProxy 2.1. Use 'http-request replace-path', 'http-request replace-uri' or 'http-request replace-header' instead."),
    ("reqirep", "The 'reqirep' directive is not supported anymore since HAProxy 2.1. Use 'http-request replace-path', 'http-request replace-uri' or 'http-request replace-header' instead."),
    ("reqdel", "The 'reqdel' directive is not supported anymore since HAProxy 2.1. Use 'http-request del-header' instead."),
    ("reqidel", "The 'reqidel' directive is not supported anymore since HAProxy 2.1. Use 'http-request del-header' instead."),
    ("reqdeny", "The 'reqdeny' directive is not supported anymore since HAProxy 2.1. Use 'http-request deny' instead."),
    ("reqideny", "The 'reqideny' directive is not supported anymore since HAProxy 2.1. Use 'http-request deny' instead."),
    ("reqpass", "The 'reqpass' directive is not supported anymore since HAProxy 2.1."),
    ("reqipass", "The 'reqipass' directive is not supported anymore since HAProxy 2.1."),
    ("reqallow", "The 'reqallow' directive is not supported anymore since HAProxy 2.1. Use 'http-request allow' instead."),
    ("reqiallow", "The 'reqiallow' directive is not supported anymore since HAProxy 2.1. Use 'http-request allow' instead."),
    ("reqtarpit", "The 'reqtarpit' directive is not supported anymore since HAProxy 2.1. Use 'http-request tarpit' instead."),
    ("reqitarpit", "The 'reqitarpit' directive is not supported anymore since HAProxy 2.1. Use 'http-request tarpit' instead."),
    ("reqsetbe", "The 'reqsetbe' directive is not supported anymore since HAProxy 2.1. Use 'use_backend' instead."),
    ("reqisetbe", "The 'reqisetbe' directive is not supported anymore since HAProxy 2.1. Use 'use_backend' instead."),
    ("rspadd", "The 'rspadd' directive is not supported anymore since HAProxy 2.1. Use 'http-response add-header' instead."),
    ("rsprep", "The 'rsprep' directive is not supported anymore since HAProxy 2.1. Use 'http-response replace-header' instead."),
    ("rspirep", "The 'rspirep' directive is not supported anymore since HAProxy 2.1. Use 'http-response replace-header' instead."),
    ("rspdel", "The 'rspdel' directive is not supported anymore since HAProxy 2.1. Use 'http-response del-header' instead."),
    ("rspidel", "The 'rspidel' directive is not supported anymore since HAProxy 2.1. Use 'http-response del-header' instead."),
    ("rspdeny", "The 'rspdeny' directive is not supported anymore since HAProxy 2.1. Use 'http-response deny' instead."),
    ("rspideny", "The 'rspideny' directive is not supported anymore since HAProxy 2.1. Use 'http-response deny' instead."),
    ("block", "The 'block' directive is not supported anymore since HAProxy 2.1. Use 'http-request deny' which uses the exact same syntax."),
    ("monitor-net", "The 'monitor-net' directive is not supported anymore since HAProxy 2.5. Use 'http-request return' or 'tcp-request connection reject' with an ACL on 'src'."),
];

/// What a keyword line is parsed against.
pub(crate) struct Ctx<'a> {
    pub px: &'a mut Proxy,
    pub diags: &'a mut Diagnostics,
    pub host: &'a dyn Host,
    /// The environment as the configuration sees it at this line.
    pub getenv: &'a dyn Fn(&str) -> Option<String>,
    /// `expose-experimental-directives` appeared on a line before this one.
    pub experimental: bool,
    /// `crt-base` / `ca-base`: where relative certificate paths live.
    pub crt_base: Option<String>,
    pub ca_base: Option<String>,
}

impl Ctx<'_> {
    fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }
    fn is_defaults(&self) -> bool {
        self.px.kind == ProxyKind::Defaults
    }
    fn what(&self) -> String {
        format!("{} '{}'", self.px.kind.keyword(), self.px.name)
    }
}

/// A keyword line inside a proxy section.
pub(crate) fn keyword(p: &mut Parser<'_>, line: &Line<'_>) {
    let Parser {
        cfg,
        diags,
        host,
        cur,
        env,
        env_reset_keep,
        ..
    } = p;
    let host: &dyn Host = *host;
    let getenv = |name: &str| super::lookup_env(env, env_reset_keep.as_deref(), host, name);
    let Config {
        global,
        defaults,
        proxies,
        ..
    } = cfg;
    let px = match *cur {
        Cur::Defaults(i) => defaults.get_mut(i),
        Cur::Proxy(i) => proxies.get_mut(i),
        _ => None,
    };
    let Some(px) = px else {
        return;
    };
    let mut cx = Ctx {
        px,
        diags,
        host,
        getenv: &getenv,
        experimental: global.expose_experimental,
        crt_base: global.crt_base.clone(),
        ca_base: global.ca_base.clone(),
    };
    if let Err(d) = dispatch(&mut cx, line) {
        cx.push(d);
    }
}

/// Check where a keyword may appear. `Ok(false)`: ignored with a warning.
fn allowed(
    cx: &mut Ctx<'_>,
    line: &Line<'_>,
    name: &str,
    fe: bool,
    be: bool,
    def: InDefaults,
) -> Result<bool, Diagnostic> {
    if cx.is_defaults() {
        match def {
            InDefaults::No => {
                return Err(line.err(0, format!("'{name}' not allowed in 'defaults' section.")));
            }
            InDefaults::NamedOnly if cx.px.name.is_empty() => {
                return Err(line.err(
                    0,
                    format!("'{name}' not allowed in anonymous 'defaults' section."),
                ));
            }
            _ => return Ok(true),
        }
    }
    if cx.px.cap.frontend && fe || cx.px.cap.backend && be {
        return Ok(true);
    }
    let missing = if fe { "frontend" } else { "backend" };
    let w = line.warn(
        0,
        format!(
            "'{name}' ignored because {} has no {missing} capability.",
            cx.what()
        ),
    );
    cx.push(w);
    Ok(false)
}

/// Check a keyword against the 4.1 matrix by name.
fn allowed_kw(cx: &mut Ctx<'_>, line: &Line<'_>, name: &str) -> Result<bool, Diagnostic> {
    match keywords::proxy_keyword(name) {
        Some(k) => allowed(
            cx,
            line,
            name,
            k.frontend || k.listen && cx.px.kind == ProxyKind::Listen,
            k.backend || k.listen && cx.px.kind == ProxyKind::Listen,
            k.defaults,
        ),
        None => Ok(true),
    }
}

fn dispatch(cx: &mut Ctx<'_>, line: &Line<'_>) -> Result<(), Diagnostic> {
    let kw = line.kw();
    if let Some((_, msg)) = REMOVED.iter().find(|(k, _)| *k == kw) {
        return Err(line.err(0, *msg));
    }
    match kw {
        "mode" => {
            if !allowed_kw(cx, line, kw)? {
                return Ok(());
            }
            let m = match line.word(1) {
                "tcp" => Mode::Tcp,
                "http" => Mode::Http,
                "log" => Mode::Log,
                "spop" => Mode::Spop,
                "health" => {
                    return Err(line.err(1, "'mode health' doesn't exist anymore. Please use 'http-request return' or 'tcp-request connection reject' instead."));
                }
                other => {
                    return Err(line.err(1, format!("unknown proxy mode '{other}'.")));
                }
            };
            line.no_more_than(1, 1, "mode")?;
            cx.px.mode = Some(m);
            Ok(())
        }
        "id" => {
            if !allowed_kw(cx, line, kw)? {
                return Ok(());
            }
            let id: u32 = line.uint(1, "id")?;
            if id == 0 {
                return Err(line.err(1, "custom id 0 is reserved for internal use"));
            }
            cx.px.id = Some(id);
            Ok(())
        }
        "description" => {
            cx.px.description = Some(words_from(line.words, 1).join(" "));
            Ok(())
        }
        "disabled" => {
            cx.px.disabled = true;
            Ok(())
        }
        "enabled" => {
            cx.px.disabled = false;
            Ok(())
        }
        "bind" => {
            if !allowed_kw(cx, line, kw)? {
                return Ok(());
            }
            let b = bind::parse_bind(cx, line)?;
            cx.px.binds.push(b);
            Ok(())
        }
        "server" => {
            if !allowed_kw(cx, line, kw)? {
                return Ok(());
            }
            let s = server::parse_server(cx, line)?;
            if let Some(o) = cx.px.servers.iter().find(|o| o.name == s.name) {
                return Err(line
                    .err(
                        1,
                        format!(
                            "{} has the same name as another server '{}' declared at {}.",
                            cx.what(),
                            s.name,
                            o.loc
                        ),
                    )
                    .with_hint("server names must be unique within a backend"));
            }
            cx.px.servers.push(s);
            Ok(())
        }
        "default-server" => {
            if !allowed_kw(cx, line, kw)? {
                return Ok(());
            }
            server::parse_default_server(cx, line)
        }
        "default_backend" => {
            if !allowed_kw(cx, line, kw)? {
                return Ok(());
            }
            let Some(name) = line.arg(1) else {
                return Err(line.err(1, "'default_backend' expects a backend name."));
            };
            line.no_more_than(1, 1, kw)?;
            cx.px.default_backend = Some(Named {
                name: name.to_string(),
                loc: line.loc_at(1),
            });
            Ok(())
        }
        "use_backend" => {
            if !allowed_kw(cx, line, kw)? {
                return Ok(());
            }
            let Some(name) = line.arg(1) else {
                return Err(line.err(1, "'use_backend' expects a backend name."));
            };
            let target = if name.contains('%') {
                let f = parse_log_format(name)
                    .map_err(|e| line.err(1, format!("'use_backend': {}", e.message)))?;
                BackendTarget::Dynamic(f)
            } else {
                BackendTarget::Static(name.to_string())
            };
            let cond = cond_at(line, 2)?;
            cx.px.use_backends.push(UseBackend {
                target,
                cond,
                loc: line.loc_at(1),
            });
            Ok(())
        }
        "use-server" => {
            // haproxy 2.6 warns that a frontend's rule is ignored, keeps it
            // all the same, then fails to find its server in the
            // frontend (check.rs): the rule is kept here too.
            if !allowed_kw(cx, line, kw)? && cx.is_defaults() {
                return Ok(());
            }
            let Some(name) = line.arg(1) else {
                return Err(line.err(1, "'use-server' expects a server name."));
            };
            let cond = cond_at(line, 2)?;
            cx.px.use_servers.push(UseServer {
                server: name.to_string(),
                cond,
                loc: line.loc_at(1),
            });
            Ok(())
        }
        "acl" => {
            if !allowed_kw(cx, line, kw)? {
                return Ok(());
            }
            let words = line.words.get(1..).unwrap_or_default();
            let def = parse_acl(words).map_err(|e| {
                line.err(
                    e.word + 1,
                    format!(
                        "error detected while parsing ACL '{}' : {}.",
                        line.word(1),
                        e.message
                    ),
                )
            })?;
            if let Some(c) = invalid_name_char(&def.name) {
                return Err(line.err(
                    1,
                    format!(
                        "character '{c}' is not permitted in acl name '{}'",
                        def.name
                    ),
                ));
            }
            for w in &def.warnings {
                let d = line.warn(1, w.clone());
                cx.push(d);
            }
            cx.px.acls.push(Acl {
                def,
                loc: line.loc.clone(),
            });
            Ok(())
        }
        "balance" => {
            if !allowed_kw(cx, line, kw)? {
                return Ok(());
            }
            if line.word(1) == "log-hash" {
                cx.px.log_hash = Some(parse_log_hash(line)?);
                cx.px.balance = None;
            } else {
                cx.px.balance = Some(parse_balance(line)?);
                cx.px.log_hash = None;
            }
            Ok(())
        }
        "hash-type" => {
            if !allowed_kw(cx, line, kw)? {
                return Ok(());
            }
            cx.px.hash_type = Some(parse_hash_type(line)?);
            Ok(())
        }
        "hash-balance-factor" => {
            if !allowed_kw(cx, line, kw)? {
                return Ok(());
            }
            let f: u32 = line.uint(1, kw)?;
            if f != 0 && f < 100 {
                return Err(line.err(
                    1,
                    "'hash-balance-factor' must be 0 or between 100 and 65535",
                ));
            }
            cx.px.hash_balance_factor = Some(f);
            Ok(())
        }
        "timeout" => parse_timeout(cx, line),
        "clitcpka-idle" | "clitcpka-intvl" | "clitcpka-cnt" | "srvtcpka-idle"
        | "srvtcpka-intvl" | "srvtcpka-cnt" => tcpka::parse_tcpka(cx, line, kw),
        "maxconn" | "fullconn" | "retries" | "backlog" => {
            if !allowed_kw(cx, line, kw)? {
                return Ok(());
            }
            let n: u32 = line.uint(1, kw)?;
            line.no_more_than(1, 1, kw)?;
            match kw {
                "maxconn" => cx.px.maxconn = Some(n),
                "fullconn" => cx.px.fullconn = Some(n),
                "retries" => cx.px.retries = Some(n),
                _ => cx.px.backlog = Some(n),
            }
            Ok(())
        }
        "retry-on" => {
            // HAProxy's proxy_parse_retry_on refuses it (not a warning).
            if cx.px.kind == ProxyKind::Frontend {
                return Err(line.err(0, "'retry-on' only available in backend or listen section"));
            }
            if !allowed_kw(cx, line, kw)? {
                return Ok(());
            }
            let words = (1..line.words.len()).map(|i| line.word(i));
            let r = crate::model::RetryOn::parse(words).map_err(|e| line.err(0, e))?;
            cx.px.retry_on = Some(r);
            Ok(())
        }
        "rate-limit" => {
            if !allowed_kw(cx, line, "rate-limit sessions")? {
                return Ok(());
            }
            if line.word(1) != "sessions" {
                return Err(line.err(
                    1,
                    format!(
                        "'rate-limit' only supports 'sessions' (got '{}').",
                        line.word(1)
                    ),
                ));
            }
            cx.px.rate_limit_sessions = Some(line.uint(2, "rate-limit sessions")?);
            Ok(())
        }
        "option" => parse_option(cx, line, 1, true),
        "no" | "default" => match line.arg(1) {
            Some("option") => parse_option(cx, line, 2, false),
            Some("log") if kw == "no" => {
                cx.px.logs.clear();
                cx.px.no_log = true;
                Ok(())
            }
            Some(other) => {
                let negatable = keywords::proxy_keyword(other).is_some_and(|k| k.negatable);
                if negatable {
                    store_directive(cx, line, 0)
                } else {
                    Err(line.err(1, format!("'{kw} {other}' is not supported: only 'option' and keywords marked (*) in the manual accept '{kw}'")))
                }
            }
            None => Err(line.err(1, format!("'{kw}' expects a keyword after it"))),
        },
        "http-request"
        | "http-response"
        | "http-after-response"
        | "tcp-request"
        | "tcp-response" => rules::parse_rule_line(cx, line),
        "redirect" => rules::parse_redirect_line(cx, line),
        "http-check" | "tcp-check" => checks::parse_check_line(cx, line),
        "stats" => parse_stats(cx, line),
        "log" => {
            if !allowed_kw(cx, line, kw)? {
                return Ok(());
            }
            let t = parse_log(line, true, cx.getenv)?;
            if matches!(t, LogTarget::Global { .. })
                && cx
                    .px
                    .logs
                    .iter()
                    .any(|l| matches!(l, LogTarget::Global { .. }))
            {
                return Ok(());
            }
            cx.px.no_log = false;
            cx.px.logs.push(t);
            Ok(())
        }
        "log-format" | "error-log-format" | "unique-id-format" => {
            if !allowed_kw(cx, line, kw)? {
                return Ok(());
            }
            let Some(text) = line.arg(1) else {
                return Err(line.err(1, format!("'{kw}' expects an argument.")));
            };
            if line.len() > 2 {
                return Err(line.err(2, format!("'{kw}' expects only one argument, got {} (use quotes around the format string)", line.len() - 1)));
            }
            // log-format and unique-id-format merge runs of spaces, as
            // HAProxy does for them.
            let merge_spaces = kw != "error-log-format";
            let f = parse_log_format_with(text, LogFormatOptions { merge_spaces })
                .map_err(|e| line.err(1, format!("'{kw}': {}", e.message)))?;
            match kw {
                "log-format" => cx.px.log_format = Some(f),
                "error-log-format" => cx.px.error_log_format = Some(f),
                _ => cx.px.unique_id_format = Some(f),
            }
            Ok(())
        }
        "log-tag" => {
            let Some(t) = line.arg(1) else {
                return Err(line.err(1, "'log-tag' expects a tag"));
            };
            cx.px.log_tag = Some(t.to_string());
            Ok(())
        }
        "unique-id-header" => {
            if !allowed_kw(cx, line, kw)? {
                return Ok(());
            }
            let Some(h) = line.arg(1) else {
                return Err(line.err(1, "'unique-id-header' expects a header name"));
            };
            cx.px.unique_id_header = Some(h.to_string());
            Ok(())
        }
        "capture" => parse_capture(cx, line),
        "declare" => {
            if line.word(1) != "capture" {
                return Err(line.err(
                    1,
                    format!(
                        "unknown keyword 'declare {}' in {} section",
                        line.word(1),
                        cx.px.kind.keyword()
                    ),
                ));
            }
            if !allowed_kw(cx, line, "declare capture")? {
                return Ok(());
            }
            let response = match line.word(2) {
                "request" => false,
                "response" => true,
                o => {
                    return Err(line.err(
                        2,
                        format!("'declare capture' expects 'request' or 'response', got '{o}'"),
                    ))
                }
            };
            if line.word(3) != "len" {
                return Err(line.err(3, "'declare capture' expects 'len <length>'"));
            }
            let len = line.uint(4, "declare capture len")?;
            cx.px.captures.push(Capture::Declared { response, len });
            Ok(())
        }
        "errorfile" => parse_errorfile(cx, line),
        "http-error" => errorfile::parse_http_error(cx, line),
        "errorfiles" => {
            if !allowed_kw(cx, line, kw)? {
                return Ok(());
            }
            let Some(name) = line.arg(1) else {
                return Err(line.err(1, "'errorfiles' expects the name of an http-errors section"));
            };
            let mut codes = Vec::new();
            for i in 2..line.len() {
                codes.push(line.uint(i, "errorfiles")?);
            }
            cx.px.errorfile_groups.push(ErrorFilesRef {
                section: Named {
                    name: name.to_string(),
                    loc: line.loc_at(1),
                },
                codes,
            });
            Ok(())
        }
        "errorloc" | "errorloc302" | "errorloc303" => {
            if !allowed_kw(cx, line, kw)? {
                return Ok(());
            }
            let status: u16 = line.uint(1, kw)?;
            let Some(url) = line.arg(2) else {
                return Err(line.err(
                    2,
                    format!("'{kw}' expects <status_code> and <url> as arguments."),
                ));
            };
            let redirect = if kw == "errorloc303" { 303 } else { 302 };
            cx.px.errorfiles.push(ErrorFile {
                status,
                source: ErrorSource::Redirect {
                    status: redirect,
                    url: url.to_string(),
                },
                loc: line.loc.clone(),
            });
            Ok(())
        }
        "cookie" => {
            if !allowed_kw(cx, line, kw)? {
                return Ok(());
            }
            cx.px.cookie = Some(parse_cookie(line)?);
            Ok(())
        }
        "stick-table" => {
            if !allowed_kw(cx, line, kw)? {
                return Ok(());
            }
            let t = parse_stick_table(line, 1)?;
            cx.px.stick_table = Some(t);
            Ok(())
        }
        "stick" => parse_stick(cx, line),
        "http-reuse" => {
            if !allowed_kw(cx, line, kw)? {
                return Ok(());
            }
            cx.px.http_reuse = Some(match line.word(1) {
                "never" => HttpReuse::Never,
                "safe" => HttpReuse::Safe,
                "aggressive" => HttpReuse::Aggressive,
                "always" => HttpReuse::Always,
                o => return Err(line.err(1, format!("'http-reuse' only supports 'never', 'safe', 'aggressive', 'always' (got '{o}')"))),
            });
            line.no_more_than(1, 1, kw)?;
            Ok(())
        }
        "compression" => parse_compression(cx, line),
        "source" => source::parse_proxy_source(cx, line),
        "monitor-uri" => {
            if !allowed_kw(cx, line, kw)? {
                return Ok(());
            }
            let Some(u) = line.arg(1) else {
                return Err(line.err(1, "'monitor-uri' expects an URI."));
            };
            cx.px.monitor_uri = Some(u.to_string());
            Ok(())
        }
        _ => store_directive(cx, line, 0),
    }
}

/// A keyword not modelled field by field: find it in the 4.1 matrix (the
/// longest multi-word match), check place and arity, keep it as words.
fn store_directive(cx: &mut Ctx<'_>, line: &Line<'_>, start: usize) -> Result<(), Diagnostic> {
    let mut found = None;
    for n in (1..=3).rev() {
        if line.len() < start + n {
            continue;
        }
        let name = (start..start + n)
            .map(|i| line.word(i))
            .collect::<Vec<_>>()
            .join(" ");
        if let Some(k) = keywords::proxy_keyword(&name) {
            found = Some((k, n));
            break;
        }
    }
    let Some((k, n)) = found else {
        let kw = line.word(start);
        let section = cx.px.kind.keyword();
        let first_words: Vec<&str> = keywords::PROXY_KEYWORDS
            .iter()
            .map(|k| k.name.split(' ').next().unwrap_or(k.name))
            .collect();
        let mut d = line.err(
            start,
            format!("unknown keyword '{kw}' in '{section}' section"),
        );
        if let Some(h) = did_you_mean(kw, first_words) {
            d = d.with_hint(format!("did you mean '{h}'?"));
        }
        return Err(d);
    };
    if start > 0 && !k.negatable {
        return Err(line.err(
            start,
            format!("'{}' does not accept a '{}' prefix", k.name, line.word(0)),
        ));
    }
    let fe = k.frontend || (k.listen && cx.px.kind == ProxyKind::Listen);
    let be = k.backend || (k.listen && cx.px.kind == ProxyKind::Listen);
    if !allowed(cx, line, k.name, fe, be, k.defaults)? {
        return Ok(());
    }
    let nargs = line.len().saturating_sub(start + n);
    if start == 0 && !k.arity.accepts(nargs) {
        let mut d = line.err(
            start + n,
            format!(
                "'{}' expects {} (got {nargs} argument{})",
                k.name,
                arity_text(k.arity),
                if nargs == 1 { "" } else { "s" }
            ),
        );
        if !k.usage.is_empty() {
            d = d.with_hint(format!("usage: {}", k.usage));
        }
        return Err(d);
    }
    if k.deprecated {
        let w = line.warn(start, format!("'{}' is deprecated", k.name));
        cx.push(w);
    }
    if k.name == "filter" {
        check_filter(cx, line, start + n)?;
    }
    let keyword = if start > 0 {
        format!("{} {}", line.word(0), k.name)
    } else {
        k.name.to_string()
    };
    cx.px.directives.push(Directive {
        keyword,
        args: words_from(line.words, start + n),
        loc: line.loc.clone(),
    });
    Ok(())
}

pub(crate) fn arity_text(a: keywords::Arity) -> String {
    match (a.min, a.max) {
        (0, Some(0)) => "no argument".into(),
        (m, Some(x)) if m == x => format!("{m} argument{}", if m == 1 { "" } else { "s" }),
        (m, Some(x)) => format!("{m} to {x} arguments"),
        (m, None) => format!("at least {m} argument{}", if m == 1 { "" } else { "s" }),
    }
}

/// An optional `if|unless <cond>` starting at word `i`; anything else there
/// is an error.
pub(crate) fn cond_at(line: &Line<'_>, i: usize) -> Result<Option<Condition>, Diagnostic> {
    match line.arg(i) {
        None => Ok(None),
        Some("if" | "unless") => {
            let words = line.words.get(i..).unwrap_or_default();
            parse_condition(words).map(Some).map_err(|e| {
                line.err(
                    i + e.word,
                    format!("error detected while parsing condition : {}", e.message),
                )
            })
        }
        Some(other) => Err(line.err(
            i,
            format!(
                "'{}' expects 'if' or 'unless' followed by a condition but found '{other}'",
                line.kw()
            ),
        )),
    }
}

/// Durations of server settings default to milliseconds.
pub(crate) fn ms(line: &Line<'_>, i: usize, what: &str) -> Result<Duration, Diagnostic> {
    line.duration(i, what, TimeUnit::Millis)
}
