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
use crate::keywords::{self, InDefaults, RuleSet, Section};
use crate::logformat::{parse_log_format, parse_log_format_with, LogFormatOptions};
use crate::model::*;
use crate::sample::parse_sample;
use crate::units::TimeUnit;
use crate::Host;

mod bind;
mod checks;
mod rules;
mod server;
#[cfg(test)]
mod tests;

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

/// Open a `defaults`, `frontend`, `backend` or `listen` section.
pub(crate) fn open(p: &mut Parser<'_>, section: Section, line: &Line<'_>) {
    let kind = match section {
        Section::Defaults => ProxyKind::Defaults,
        Section::Frontend => ProxyKind::Frontend,
        Section::Backend => ProxyKind::Backend,
        _ => ProxyKind::Listen,
    };
    let kw = kind.keyword();
    // `defaults [<name>] [from <defaults>]`, `<kind> <name> [from <defaults>]`.
    let (name, from_idx) = match (line.arg(1), line.arg(2)) {
        (Some("from"), _) if kind == ProxyKind::Defaults && line.len() == 3 => {
            (String::new(), Some(2))
        }
        (Some(n), Some("from")) => (n.to_string(), Some(3)),
        (Some(n), None) => (n.to_string(), None),
        (None, _) => (String::new(), None),
        (Some(n), Some(_)) => {
            if kind == ProxyKind::Defaults {
                p.push(line.err(
                    2,
                    format!(
                        "'defaults' cannot handle unexpected argument '{}'",
                        line.word(2)
                    ),
                ));
            } else {
                // HAProxy's message: the old `listen NAME addr:port` syntax.
                p.push(line.err(2, "please use the 'bind' keyword for listening addresses."));
            }
            (n.to_string(), None)
        }
    };
    if name.is_empty() && kind != ProxyKind::Defaults {
        p.push(line.err(1, format!("'{kw}' expects an <id> argument")));
    }
    if let Some(c) = invalid_name_char(&name) {
        p.push(line.err(
            1,
            format!("character '{c}' is not permitted in '{kw}' name '{name}'."),
        ));
    }
    if let Some(fi) = from_idx {
        if line.arg(fi).is_none() {
            p.push(line.err(
                fi,
                format!("'{kw}' expects a defaults section name after 'from'"),
            ));
        }
        if line.len() > fi + 1 {
            p.push(line.err(
                fi + 1,
                format!(
                    "'{kw}' cannot handle unexpected argument '{}'",
                    line.word(fi + 1)
                ),
            ));
        }
    }
    // Duplicate names among proxies with overlapping capabilities.
    let mut px = Proxy::new(name.clone(), kind, line.loc.clone());
    if kind != ProxyKind::Defaults && !name.is_empty() {
        let dup = p.cfg.proxies.iter().find(|o| {
            o.name == name
                && ((o.cap.frontend && px.cap.frontend) || (o.cap.backend && px.cap.backend))
        });
        if let Some(o) = dup {
            let what = if o.kind == kind {
                o.kind.keyword()
            } else {
                "proxy"
            };
            let msg = format!(
                "{kw} '{name}' has the same name as {what} '{name}' declared at {}.",
                o.loc
            );
            p.push(line.err(1, msg));
        }
    }
    // Inheritance: `from NAME` names a defaults section (which must have a
    // name and be declared above); otherwise the last defaults section.
    let parent = match from_idx.and_then(|fi| line.arg(fi).map(|n| (fi, n))) {
        Some((fi, from)) => {
            let found = p
                .cfg
                .defaults
                .iter()
                .rposition(|d| d.name == from && !d.name.is_empty());
            if found.is_none() {
                p.push(line.err(
                    fi,
                    format!("defaults section '{from}' not found for {kw} '{name}'."),
                ));
            }
            found
        }
        // A defaults section without `from` starts afresh (HAProxy resets
        // the defaults at each new section).
        None if kind == ProxyKind::Defaults => None,
        None => p.last_defaults,
    };
    match parent {
        Some(i) if kind != ProxyKind::Defaults => {
            check_defaults_use(p, line, i, kind, from_idx.is_some());
        }
        Some(i) => {
            if let Some(d) = p.cfg.defaults.get(i).filter(|d| has_rules(&d.rules)) {
                let msg = format!("a defaults section cannot inherit from a defaults section defining TCP/HTTP rules (defaults section at {}).", d.loc);
                p.push(line.err(0, msg));
            }
        }
        None => {}
    }
    if let Some(d) = parent.and_then(|i| p.cfg.defaults.get(i)) {
        inherit(&mut px, d);
    }
    if kind == ProxyKind::Defaults {
        p.cfg.defaults.push(px);
        let idx = p.cfg.defaults.len() - 1;
        p.last_defaults = Some(idx);
        p.cur = Cur::Defaults(idx);
    } else {
        p.cfg.proxies.push(px);
        p.cur = Cur::Proxy(p.cfg.proxies.len() - 1);
    }
}

/// HAProxy's rules on using a defaults section (cfgparse-listen.c, when a
/// proxy section opens): it may not be both named in a `from` and used
/// implicitly; and one that defines TCP/HTTP rules (a named one: anonymous
/// defaults refuse rules) may only be inherited by proxies of one kind,
/// frontends or backends, never by a defaults or listen section, nor by a
/// backend if it has layer-4/5 `tcp-request` rules, nor by a frontend if it
/// has `tcp-response` rules. (`defaults X from Y` is checked in `open`.)
fn check_defaults_use(
    p: &mut Parser<'_>,
    line: &Line<'_>,
    idx: usize,
    kind: ProxyKind,
    explicit: bool,
) {
    let Some(d) = p.cfg.defaults.get(idx) else {
        return;
    };
    let at = &d.loc;
    let u = p.defaults_use.entry(idx).or_default();
    if explicit {
        u.explicit = true;
    } else {
        u.implicit = true;
    }
    let mut errors = Vec::new();
    // HAProxy prints this one as an alert but still accepts the file
    // (2.6: exit 0), so it is a warning here.
    let mixed = (u.explicit && u.implicit).then(|| format!(
        "defaults section '{}' (declared at {at}) is explicitly referenced by another proxy and implicitly used here. To avoid any ambiguity don't mix both usage. Add a last defaults section not explicitly used or always use explicit references.",
        d.name
    ));
    let r = &d.rules;
    let layer45 = !(r.tcp_request_connection.is_empty() && r.tcp_request_session.is_empty());
    if has_rules(r) {
        if kind == ProxyKind::Listen {
            errors.push(
                "a listen section cannot inherit from a defaults section defining TCP/HTTP rules."
                    .to_string(),
            );
        } else if u.rules_kind.is_some_and(|k| k != kind) {
            errors.push(format!("frontends and backends cannot inherit from the same defaults section if it defines TCP/HTTP rules (defaults section at {at})."));
        } else if kind == ProxyKind::Backend && layer45 {
            errors.push(format!("a backend section cannot inherit from a defaults section defining 'tcp-request connection' or 'tcp-request session' rules (defaults section at {at})."));
        } else if kind == ProxyKind::Frontend && !r.tcp_response_content.is_empty() {
            errors.push(format!("a frontend section cannot inherit from a defaults section defining 'tcp-response content' rules (defaults section at {at})."));
        } else {
            u.rules_kind = Some(kind);
        }
    }
    if let Some(w) = mixed {
        p.push(line.warn(0, w));
    }
    for e in errors {
        p.push(line.err(0, e));
    }
}

/// A defaults section with TCP/HTTP rules (HAProxy's test: any rule list
/// but the checks).
fn has_rules(r: &Rules) -> bool {
    !(r.http_request.is_empty()
        && r.http_response.is_empty()
        && r.http_after_response.is_empty()
        && r.tcp_request_connection.is_empty()
        && r.tcp_request_session.is_empty()
        && r.tcp_request_content.is_empty()
        && r.tcp_response_content.is_empty())
}

/// Copy what a defaults section passes to a new proxy, as HAProxy's
/// proxy_defproxy_cpy does: common settings always, frontend settings only
/// to proxies that can accept connections, backend settings only to
/// proxies that pick servers (a defaults section has both capabilities).
fn inherit(px: &mut Proxy, d: &Proxy) {
    px.defaults = Some(Named {
        name: d.name.clone(),
        loc: d.loc.clone(),
    });
    // Always.
    px.disabled = d.disabled;
    px.mode = d.mode;
    px.default_server = d.default_server.clone();
    px.options = d.options.clone();
    px.rules.tcp_request_inspect_delay = d.rules.tcp_request_inspect_delay;
    px.rules.tcp_response_inspect_delay = d.rules.tcp_response_inspect_delay;
    px.errorfiles = d.errorfiles.clone();
    px.errorfile_groups = d.errorfile_groups.clone();
    px.stats = d.stats.clone();
    px.logs = d.logs.clone();
    px.no_log = d.no_log;
    px.unique_id_format = d.unique_id_format.clone();
    px.unique_id_header = d.unique_id_header.clone();
    px.log_tag = d.log_tag.clone();
    px.compression = d.compression.clone();
    px.http_reuse = d.http_reuse;
    // Named defaults may carry ACLs and rules (3.x); they run before the
    // proxy's own, so they are placed first.
    px.acls = d.acls.clone();
    let delays = (
        px.rules.tcp_request_inspect_delay,
        px.rules.tcp_response_inspect_delay,
    );
    px.rules = d.rules.clone();
    (
        px.rules.tcp_request_inspect_delay,
        px.rules.tcp_response_inspect_delay,
    ) = delays;
    px.directives = d.directives.clone();
    let (dt, t) = (&d.timeouts, &mut px.timeouts);
    if px.cap.frontend {
        px.maxconn = d.maxconn;
        px.backlog = d.backlog;
        px.rate_limit_sessions = d.rate_limit_sessions;
        t.client = dt.client;
        t.client_hs = dt.client_hs;
        t.client_fin = dt.client_fin;
        t.tarpit = dt.tarpit;
        t.http_request = dt.http_request;
        t.http_keep_alive = dt.http_keep_alive;
        px.monitor_uri = d.monitor_uri.clone();
        px.default_backend = d.default_backend.clone();
        px.log_format = d.log_format.clone();
        px.error_log_format = d.error_log_format.clone();
        px.captures = d.captures.clone();
    }
    if px.cap.backend {
        px.balance = d.balance.clone();
        px.log_hash = d.log_hash.clone();
        px.hash_type = d.hash_type;
        px.hash_balance_factor = d.hash_balance_factor;
        px.fullconn = d.fullconn;
        px.retries = d.retries;
        px.http_checks = d.http_checks.clone();
        px.tcp_checks = d.tcp_checks.clone();
        px.cookie = d.cookie.clone();
        t.connect = dt.connect;
        t.server = dt.server;
        t.server_fin = dt.server_fin;
        t.check = dt.check;
        t.queue = dt.queue;
        t.tarpit = dt.tarpit;
        t.http_request = dt.http_request;
        t.http_keep_alive = dt.http_keep_alive;
        t.tunnel = dt.tunnel;
    }
}

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
            if !allowed_kw(cx, line, kw)? {
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

/// The filters HAProxy 3.2 registers (manual section 9).
const FILTERS: &[&str] = &[
    "bwlim-in",
    "bwlim-out",
    "cache",
    "compression",
    "fcgi-app",
    "opentracing",
    "spoe",
    "trace",
];

/// `filter <name> [param*]` from word `i` (the name): the name must be a
/// registered filter, and `spoe` needs its configuration file, which
/// HAProxy opens while parsing (flt_spoe.c parse_spoe_flt). The SPOE file's
/// own sections are not read.
fn check_filter(cx: &Ctx<'_>, line: &Line<'_>, i: usize) -> Result<(), Diagnostic> {
    let name = line.word(i);
    if !FILTERS.contains(&name) {
        return Err(line
            .err(i, format!("'filter' : unknown keyword '{name}'"))
            .with_hint(format!("registered filters: {}", FILTERS.join(", "))));
    }
    if name != "spoe" {
        return Ok(());
    }
    let mut config = None;
    let mut j = i + 1;
    while let Some(w) = line.arg(j) {
        match w {
            "engine" | "config" => {
                let Some(v) = line.arg(j + 1) else {
                    return Err(
                        line.err(j, format!("'filter' : 'spoe' : '{w}' option without value"))
                    );
                };
                if w == "config" {
                    config = Some((j + 1, v));
                }
                j += 2;
            }
            o => {
                return Err(line.err(j, format!("'filter' : 'spoe' : unknown keyword '{o}'")));
            }
        }
    }
    let Some((at, path)) = config else {
        return Err(line.err(i, "'filter' : 'spoe' : missing config file"));
    };
    cx.host.read_file(path).map_err(|e| {
        line.err(
            at,
            format!("'filter' : 'spoe' : Could not open configuration file {path} : {e}"),
        )
    })?;
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

fn parse_timeout(cx: &mut Ctx<'_>, line: &Line<'_>) -> Result<(), Diagnostic> {
    let name = line.word(1);
    let kwname = format!("timeout {name}");
    let known = [
        "client",
        "server",
        "connect",
        "check",
        "queue",
        "http-keep-alive",
        "http-request",
        "tunnel",
        "tarpit",
        "client-fin",
        "server-fin",
        "client-hs",
    ];
    if !known.contains(&name) {
        // Removed aliases HAProxy refuses with a message.
        if matches!(
            name,
            "clitimeout" | "srvtimeout" | "contimeout" | "appsession"
        ) {
            return Err(line.err(1, format!("'timeout {name}' is not supported anymore")));
        }
        return Err(line.err(1, format!("'timeout' supports 'client', 'server', 'connect', 'check', 'queue', 'http-keep-alive', 'http-request', 'tunnel', 'tarpit', 'client-fin', 'server-fin' and 'client-hs' (got '{name}')")));
    }
    if !allowed_kw(cx, line, &kwname)? {
        return Ok(());
    }
    if line.arg(2).is_none() {
        return Err(line.err(
            2,
            format!("'timeout {name}' expects an integer value (in milliseconds)"),
        ));
    }
    let d = line.duration(2, &kwname, TimeUnit::Millis).map_err(|_| {
        line.err(
            2,
            format!(
                "unexpected character '{}' in 'timeout {name}'",
                first_bad_char(line.word(2))
            ),
        )
    })?;
    line.no_more_than(2, 1, &kwname)?;
    let t = &mut cx.px.timeouts;
    let slot = match name {
        "client" => &mut t.client,
        "server" => &mut t.server,
        "connect" => &mut t.connect,
        "check" => &mut t.check,
        "queue" => &mut t.queue,
        "http-keep-alive" => &mut t.http_keep_alive,
        "http-request" => &mut t.http_request,
        "tunnel" => &mut t.tunnel,
        "tarpit" => &mut t.tarpit,
        "client-fin" => &mut t.client_fin,
        "server-fin" => &mut t.server_fin,
        _ => &mut t.client_hs,
    };
    *slot = Some(d);
    Ok(())
}

fn first_bad_char(s: &str) -> char {
    let digits = s.trim_start_matches(|c: char| c.is_ascii_digit());
    let unit_ok = ["us", "ms", "s", "m", "h", "d"];
    if unit_ok.contains(&digits) {
        return ' ';
    }
    digits.chars().next().unwrap_or(' ')
}

/// `balance log-hash <converter>[,<converter>...]` (3.2 manual 4.2
/// "balance"). The converters are parsed as the converters of a sample
/// expression: after a placeholder fetch, which is then dropped (a log
/// message is a string, as `str()` is).
fn parse_log_hash(line: &Line<'_>) -> Result<Vec<crate::sample::ConvCall>, Diagnostic> {
    let Some(list) = line.arg(2).filter(|l| !l.is_empty()) else {
        return Err(line.err(2, "'balance log-hash' requires a converter list."));
    };
    line.no_more_than(1, 2, "balance")?;
    let e = parse_sample(&format!("str(),{list}"))
        .map_err(|e| line.err(2, format!("'balance log-hash': {}", e.message)))?;
    Ok(e.converters)
}

fn parse_balance(line: &Line<'_>) -> Result<Balance, Diagnostic> {
    let algo = line.word(1);
    let b = match algo {
        "roundrobin" => Balance::RoundRobin,
        "static-rr" => Balance::StaticRr,
        "leastconn" => Balance::LeastConn,
        "first" => Balance::First,
        "source" => Balance::Source,
        "random" => Balance::Random { draws: 2 },
        a if a.starts_with("random(") => {
            let n = a
                .strip_prefix("random(")
                .and_then(|r| r.strip_suffix(')'))
                .and_then(|n| n.parse::<u32>().ok())
                .filter(|n| *n >= 1)
                .ok_or_else(|| line.err(1, format!("'balance random' expects a positive number of draws in parentheses (got '{a}')")))?;
            Balance::Random { draws: n }
        }
        "uri" => {
            let mut whole = false;
            let mut path_only = false;
            let mut len = None;
            let mut depth = None;
            let mut i = 2;
            while let Some(w) = line.arg(i) {
                match w {
                    "whole" => whole = true,
                    "path-only" => path_only = true,
                    "len" => {
                        len = Some(line.uint(i + 1, "balance uri len")?);
                        i += 1;
                    }
                    "depth" => {
                        depth = Some(line.uint(i + 1, "balance uri depth")?);
                        i += 1;
                    }
                    o => return Err(line.err(i, format!("'balance uri' only accepts parameters 'whole', 'path-only', 'len' and 'depth' (got '{o}')."))),
                }
                i += 1;
            }
            return Ok(Balance::Uri {
                whole,
                path_only,
                len,
                depth,
            });
        }
        "url_param" => {
            let Some(param) = line.arg(2) else {
                return Err(line.err(2, "'balance url_param' requires an URL parameter name."));
            };
            let mut check_post = false;
            let mut i = 3;
            while let Some(w) = line.arg(i) {
                match w {
                    "check_post" => {
                        check_post = true;
                        // An optional legacy size limit may follow.
                        if line
                            .arg(i + 1)
                            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
                        {
                            i += 1;
                        }
                    }
                    o => {
                        return Err(line.err(
                            i,
                            format!(
                                "'balance url_param' only accepts check_post modifier (got '{o}')."
                            ),
                        ))
                    }
                }
                i += 1;
            }
            return Ok(Balance::UrlParam {
                param: param.to_string(),
                check_post,
            });
        }
        a if a.starts_with("hdr(") => {
            let name = a
                .strip_prefix("hdr(")
                .and_then(|r| r.strip_suffix(')'))
                .filter(|n| !n.is_empty())
                .ok_or_else(|| line.err(1, "'balance hdr' requires an http header field name."))?;
            let mut use_domain_only = false;
            if let Some(w) = line.arg(2) {
                if w == "use_domain_only" {
                    use_domain_only = true;
                } else {
                    return Err(line.err(
                        2,
                        format!(
                            "'balance hdr()' only accepts 'use_domain_only' modifier (got '{w}')."
                        ),
                    ));
                }
            }
            line.no_more_than(1, 2, "balance")?;
            return Ok(Balance::Hdr {
                name: name.to_string(),
                use_domain_only,
            });
        }
        a if a == "rdp-cookie" || a.starts_with("rdp-cookie(") => {
            let name = a
                .strip_prefix("rdp-cookie(")
                .and_then(|r| r.strip_suffix(')'))
                .unwrap_or("mstshash");
            Balance::RdpCookie {
                name: name.to_string(),
            }
        }
        "hash" => {
            let Some(expr) = line.arg(2) else {
                return Err(line.err(2, "'balance hash' requires a sample expression."));
            };
            let e = parse_sample(expr)
                .map_err(|e| line.err(2, format!("'balance hash': {}", e.message)))?;
            line.no_more_than(1, 2, "balance")?;
            return Ok(Balance::Hash(e));
        }
        "" => return Err(line.err(1, "'balance' expects an algorithm name")),
        o => {
            let algos = [
                "roundrobin",
                "static-rr",
                "leastconn",
                "first",
                "source",
                "random",
                "uri",
                "url_param",
                "hdr",
                "rdp-cookie",
                "hash",
            ];
            let mut d = line.err(1, format!("'balance' only supports 'roundrobin', 'static-rr', 'leastconn', 'source', 'uri', 'url_param', 'hash', 'hdr(name)', 'rdp-cookie(name)', 'random', 'first' and 'log-hash' (got '{o}')."));
            if let Some(h) = did_you_mean(o, algos) {
                d = d.with_hint(format!("did you mean '{h}'?"));
            }
            return Err(d);
        }
    };
    line.no_more_than(1, 1, "balance")?;
    Ok(b)
}

fn parse_hash_type(line: &Line<'_>) -> Result<HashType, Diagnostic> {
    let method = match line.word(1) {
        "map-based" => HashMethod::MapBased,
        "consistent" => HashMethod::Consistent,
        "avalanche" => {
            return Err(line.err(1, "experimental feature 'hash-type avalanche' is not supported anymore, please use 'map-based avalanche' instead."));
        }
        o => {
            return Err(line.err(
                1,
                format!("'hash-type' requires 'map-based' or 'consistent' (got '{o}')"),
            ))
        }
    };
    let function = match line.arg(2) {
        None | Some("sdbm") => HashFunction::Sdbm,
        Some("djb2") => HashFunction::Djb2,
        Some("wt6") => HashFunction::Wt6,
        Some("crc32") => HashFunction::Crc32,
        Some("none") => HashFunction::None,
        Some(o) => {
            return Err(line.err(
                2,
                format!("unknown hash function '{o}' (expects sdbm, djb2, wt6, crc32 or none)"),
            ))
        }
    };
    let avalanche = match line.arg(3) {
        // HAProxy: "if consistent with no argument, then avalanche modifier
        // is also applied" (sdbm + avalanche, as the manual says).
        None => method == HashMethod::Consistent && line.arg(2).is_none(),
        Some("avalanche") => true,
        Some(o) => {
            return Err(line.err(
                3,
                format!("unknown hash modifier '{o}' (expects 'avalanche')"),
            ))
        }
    };
    line.no_more_than(1, 3, "hash-type")?;
    Ok(HashType {
        method,
        function,
        avalanche,
    })
}

/// `option <name> ...` (`start` = index of the option name), `on` false for
/// `no option`.
fn parse_option(
    cx: &mut Ctx<'_>,
    line: &Line<'_>,
    start: usize,
    on: bool,
) -> Result<(), Diagnostic> {
    let Some(name) = line.arg(start) else {
        return Err(line.err(start, "'option' expects an option name."));
    };
    let Some(k) = keywords::option(name) else {
        let mut d = line.err(start, format!("unknown option '{name}'."));
        if let Some(h) = did_you_mean(name, keywords::OPTIONS.iter().map(|o| o.name)) {
            d = d.with_hint(format!("did you mean '{h}'?"));
        }
        return Err(d);
    };
    let kwname = format!("option {}", k.name);
    if start > 1 && !k.negatable {
        // 2.6: same verdict and wording for `no option` and `default option`.
        return Err(line.err(
            0,
            format!("negation/default is not supported for option '{name}'."),
        ));
    }
    let fe = k.frontend || (k.listen && cx.px.kind == ProxyKind::Listen);
    let be = k.backend || (k.listen && cx.px.kind == ProxyKind::Listen);
    if !allowed(cx, line, &kwname, fe, be, k.defaults)? {
        return Ok(());
    }
    let nargs = line.len().saturating_sub(start + 1);
    if on && !k.arity.accepts(nargs) {
        return Err(line
            .err(
                start + 1,
                format!("'{kwname}' expects {} (got {nargs})", arity_text(k.arity)),
            )
            .with_hint(format!("usage: {}", k.usage)));
    }
    if !on && nargs > 0 {
        return Err(line.err(start + 1, format!("'no {kwname}' cannot handle arguments")));
    }
    if k.deprecated {
        let w = line.warn(start, format!("'{kwname}' is deprecated"));
        cx.push(w);
    }
    let o = &mut cx.px.options;
    let arg = |i: usize| line.arg(start + i);
    match k.name {
        "httplog" => {
            o.log_style = on.then_some(if arg(1) == Some("clf") {
                LogStyle::HttpClf
            } else {
                LogStyle::Http
            });
            if let Some(a) = arg(1).filter(|a| *a != "clf") {
                return Err(line.err(
                    start + 1,
                    format!("'option httplog' only supports 'clf' (got '{a}')"),
                ));
            }
        }
        "tcplog" => o.log_style = on.then_some(LogStyle::Tcp),
        "httpslog" => o.log_style = on.then_some(LogStyle::Https),
        "http-keep-alive" => o.http_conn_mode = on.then_some(HttpConnMode::KeepAlive),
        "http-server-close" => o.http_conn_mode = on.then_some(HttpConnMode::ServerClose),
        "httpclose" => o.http_conn_mode = on.then_some(HttpConnMode::Close),
        "redispatch" => {
            o.redispatch = if on {
                Some(match arg(1) {
                    Some(n) => crate::units::parse_int(n)
                        .ok()
                        .and_then(|n| i32::try_from(n).ok())
                        .ok_or_else(|| {
                            line.err(
                                start + 1,
                                format!(
                                    "'option redispatch' expects an integer interval (got '{n}')"
                                ),
                            )
                        })?,
                    None => 1,
                })
            } else {
                None
            };
        }
        "forwardfor" => {
            o.forwardfor = if on {
                Some(parse_forwardfor(line, start + 1)?)
            } else {
                None
            };
        }
        "originalto" => {
            o.originalto = if on {
                let ff = parse_forwardfor(line, start + 1)?;
                Some(OriginalTo {
                    except: ff.except,
                    header: if ff.header == "X-Forwarded-For" {
                        "X-Original-To".into()
                    } else {
                        ff.header
                    },
                })
            } else {
                None
            };
        }
        "httpchk" => {
            // `option httpchk [<method>] [<uri>] [<version>]`; a single
            // argument is the URI.
            let (method, uri, version) = match (arg(1), arg(2), arg(3)) {
                (Some(u), None, None) => (None, Some(u.to_string()), None),
                (m, u, v) => (
                    m.map(str::to_string),
                    u.map(str::to_string),
                    v.map(str::to_string),
                ),
            };
            o.check = on.then_some(CheckKind::Http {
                method,
                uri,
                version,
            });
        }
        "ssl-hello-chk" => o.check = on.then_some(CheckKind::SslHello),
        "mysql-check" => {
            let (user, post_41) = match (arg(1), arg(2), arg(3)) {
                (None, ..) => (None, false),
                (Some("user"), Some(u), None) => (Some(u.to_string()), false),
                (Some("user"), Some(u), Some("post-41")) => (Some(u.to_string()), true),
                (Some("user"), Some(_), Some("pre-41")) => (arg(2).map(str::to_string), false),
                _ => {
                    return Err(line.err(
                        start + 1,
                        "'option mysql-check' only supports 'user <username> [{post|pre}-41]'",
                    ))
                }
            };
            o.check = on.then_some(CheckKind::Mysql { user, post_41 });
        }
        "pgsql-check" => {
            let user = match (arg(1), arg(2)) {
                (Some("user"), Some(u)) => u.to_string(),
                _ => {
                    return Err(
                        line.err(start + 1, "'option pgsql-check' requires 'user <username>'")
                    )
                }
            };
            o.check = on.then_some(CheckKind::Pgsql { user });
        }
        "redis-check" => o.check = on.then_some(CheckKind::Redis),
        "smtpchk" => {
            let hello = match (arg(1), arg(2)) {
                (Some(h @ ("HELO" | "EHLO")), Some(d)) => Some((h.to_string(), d.to_string())),
                _ => None,
            };
            o.check = on.then_some(CheckKind::Smtp { hello });
        }
        "ldap-check" => o.check = on.then_some(CheckKind::Ldap),
        "spop-check" => o.check = on.then_some(CheckKind::Spop),
        "tcp-check" => o.check = on.then_some(CheckKind::TcpCheck),
        "external-check" => o.check = on.then_some(CheckKind::External),
        flag => o.set_flag(flag_name(flag), on),
    }
    Ok(())
}

/// The static name of an option from the table (options are `&'static`).
fn flag_name(name: &str) -> &'static str {
    keywords::option(name).map_or("", |k| k.name)
}

fn parse_forwardfor(line: &Line<'_>, mut i: usize) -> Result<ForwardFor, Diagnostic> {
    let mut ff = ForwardFor {
        except: None,
        header: "X-Forwarded-For".into(),
        if_none: false,
    };
    while let Some(w) = line.arg(i) {
        match w {
            "except" => {
                let n = line.arg(i + 1).ok_or_else(|| line.err(i + 1, "'except' expects <address>[/mask] as argument."))?;
                ff.except = Some(n.to_string());
                i += 2;
            }
            "header" => {
                let h = line.arg(i + 1).ok_or_else(|| line.err(i + 1, "'header' expects <header_name> as argument."))?;
                ff.header = h.to_string();
                i += 2;
            }
            "if-none" => {
                ff.if_none = true;
                i += 1;
            }
            o => return Err(line.err(i, format!("'option {}' only supports optional values: 'except', 'header' and 'if-none' (got '{o}').", line.word(1)))),
        }
    }
    Ok(ff)
}

fn parse_stats(cx: &mut Ctx<'_>, line: &Line<'_>) -> Result<(), Diagnostic> {
    let sub = line.word(1);
    if sub == "socket" || sub == "timeout" || sub == "maxconn" {
        return Err(line.err(
            1,
            format!("'stats {sub}' is only allowed in 'global' section"),
        ));
    }
    let kwname = format!("stats {sub}");
    if keywords::proxy_keyword(&kwname).is_none() && !matches!(sub, "http-request") {
        let subs = [
            "admin",
            "auth",
            "enable",
            "hide-version",
            "http-request",
            "realm",
            "refresh",
            "scope",
            "show-desc",
            "show-legends",
            "show-modules",
            "show-node",
            "uri",
        ];
        let mut d = line.err(1, format!("'stats' expects 'admin', 'auth', 'enable', 'hide-version', 'http-request', 'realm', 'refresh', 'scope', 'show-desc', 'show-legends', 'show-modules', 'show-node' or 'uri' (got '{sub}')"));
        if let Some(h) = did_you_mean(sub, subs) {
            d = d.with_hint(format!("did you mean '{h}'?"));
        }
        return Err(d);
    }
    if !allowed_kw(cx, line, &kwname)? {
        return Ok(());
    }
    let st = &mut cx.px.stats;
    match sub {
        "enable" => st.enabled = true,
        "hide-version" => st.hide_version = true,
        "show-legends" => st.show_legends = true,
        "show-modules" => st.show_modules = true,
        "show-node" => st.show_node = Some(line.word(2).to_string()),
        "show-desc" => st.show_desc = Some(words_from(line.words, 2).join(" ")),
        "uri" => {
            let u = line
                .arg(2)
                .ok_or_else(|| line.err(2, "'stats uri' expects an URI prefix"))?;
            st.uri = Some(u.to_string());
            st.enabled = true;
        }
        "realm" => {
            let r = line
                .arg(2)
                .ok_or_else(|| line.err(2, "'stats realm' expects a realm name"))?;
            st.realm = Some(r.to_string());
            st.enabled = true;
        }
        "auth" => {
            let a = line
                .arg(2)
                .ok_or_else(|| line.err(2, "'stats auth' expects <user>:<password>"))?;
            let (u, pw) = a
                .split_once(':')
                .ok_or_else(|| line.err(2, "'stats auth' expects <user>:<password>"))?;
            st.auth.push((u.to_string(), pw.to_string()));
            st.enabled = true;
        }
        "refresh" => {
            let d = line.duration(2, "stats refresh", TimeUnit::Seconds)?;
            st.refresh = Some(d);
            st.enabled = true;
        }
        "scope" => {
            let s = line
                .arg(2)
                .ok_or_else(|| line.err(2, "'stats scope' expects a proxy name"))?;
            st.scope.push(s.to_string());
        }
        "admin" => {
            let c = cond_at(line, 2)?.ok_or_else(|| {
                line.err(
                    2,
                    "'stats admin' requires either 'if' or 'unless' followed by a condition.",
                )
            })?;
            st.admin.push(c);
        }
        "http-request" => {
            let r = rules::parse_rule(line, 2, RuleSet::HttpRequest)?;
            cx.px.stats.http_request.push(r);
        }
        _ => {}
    }
    Ok(())
}

fn parse_capture(cx: &mut Ctx<'_>, line: &Line<'_>) -> Result<(), Diagnostic> {
    let (kwname, name_idx) = match (line.word(1), line.word(2)) {
        ("cookie", _) => ("capture cookie", 2),
        ("request", "header") => ("capture request header", 3),
        ("response", "header") => ("capture response header", 3),
        _ => {
            return Err(line.err(
                1,
                "'capture' expects 'cookie', 'request header' or 'response header'.",
            ))
        }
    };
    if !allowed_kw(cx, line, kwname)? {
        return Ok(());
    }
    let name = line
        .arg(name_idx)
        .ok_or_else(|| line.err(name_idx, format!("'{kwname}' expects a name")))?
        .to_string();
    if line.word(name_idx + 1) != "len" {
        return Err(line.err(name_idx + 1, format!("'{kwname}' expects 'len' <length>")));
    }
    let len: u32 = line.uint(name_idx + 2, kwname)?;
    line.no_more_than(name_idx, 3, kwname)?;
    cx.px.captures.push(match kwname {
        "capture cookie" => Capture::Cookie { name, len },
        "capture request header" => Capture::RequestHeader { name, len },
        _ => Capture::ResponseHeader { name, len },
    });
    Ok(())
}

/// Status codes HAProxy can customise with errorfile (shared with http-errors).
use super::sections::ERRORFILE_CODES as ERROR_CODES;

fn parse_errorfile(cx: &mut Ctx<'_>, line: &Line<'_>) -> Result<(), Diagnostic> {
    if !allowed_kw(cx, line, "errorfile")? {
        return Ok(());
    }
    if line.len() < 3 {
        return Err(line.err(
            line.len(),
            "'errorfile' expects <status_code> and <file> as arguments.",
        ));
    }
    let status: u16 = line.uint(1, "errorfile")?;
    let path = line.word(2);
    let content = cx
        .host
        .read_file(path)
        .map_err(|e| line.err(2, format!("error opening file '{path}' : {e}.")))?;
    if let Err(e) = super::sections::check_errorfile(&content) {
        return Err(line.err(2, format!("'errorfile {status} {path}' : {e}")));
    }
    if !ERROR_CODES.contains(&status) {
        let w = line.warn(1, format!("status code '{status}' not handled by 'errorfile', error customization will be ignored."));
        cx.push(w);
        return Ok(());
    }
    cx.px.errorfiles.retain(|e| e.status != status);
    cx.px.errorfiles.push(ErrorFile {
        status,
        source: ErrorSource::File {
            path: path.to_string(),
            content,
        },
        loc: line.loc.clone(),
    });
    Ok(())
}

fn parse_cookie(line: &Line<'_>) -> Result<CookieConf, Diagnostic> {
    let name = line
        .arg(1)
        .ok_or_else(|| line.err(1, "'cookie' expects <cookie_name> as argument."))?;
    let mut c = CookieConf {
        name: name.to_string(),
        mode: None,
        indirect: false,
        nocache: false,
        postonly: false,
        preserve: false,
        httponly: false,
        secure: false,
        dynamic: false,
        domains: Vec::new(),
        maxidle: None,
        maxlife: None,
        attrs: Vec::new(),
    };
    let mut i = 2;
    while let Some(w) = line.arg(i) {
        match w {
            "rewrite" => c.mode = Some(CookieMode::Rewrite),
            "insert" => c.mode = Some(CookieMode::Insert),
            "prefix" => c.mode = Some(CookieMode::Prefix),
            "indirect" => c.indirect = true,
            "nocache" => c.nocache = true,
            "postonly" => c.postonly = true,
            "preserve" => c.preserve = true,
            "httponly" => c.httponly = true,
            "secure" => c.secure = true,
            "dynamic" => c.dynamic = true,
            "domain" => {
                let d = line
                    .arg(i + 1)
                    .ok_or_else(|| line.err(i + 1, "'domain' expects <domain> as argument."))?;
                c.domains.push(d.to_string());
                i += 1;
            }
            "maxidle" => {
                c.maxidle = Some(line.duration(i + 1, "cookie maxidle", TimeUnit::Seconds)?);
                i += 1;
            }
            "maxlife" => {
                c.maxlife = Some(line.duration(i + 1, "cookie maxlife", TimeUnit::Seconds)?);
                i += 1;
            }
            "attr" => {
                let a = line
                    .arg(i + 1)
                    .ok_or_else(|| line.err(i + 1, "'attr' expects <value> as argument."))?;
                if a.bytes().any(|b| b == b';' || b.is_ascii_control()) {
                    return Err(line.err(i + 1, "'attr' value contains a forbidden character"));
                }
                c.attrs.push(a.to_string());
                i += 1;
            }
            o => {
                return Err(line.err(i, format!("'cookie' supports 'rewrite', 'insert', 'prefix', 'indirect', 'nocache', 'postonly', 'domain', 'maxidle', 'dynamic', 'maxlife', 'attr', 'httponly' and 'secure' options (got '{o}').")));
            }
        }
        i += 1;
    }
    let modes = [
        c.mode == Some(CookieMode::Rewrite),
        c.mode == Some(CookieMode::Insert),
        c.mode == Some(CookieMode::Prefix),
    ];
    debug_assert!(modes.iter().filter(|m| **m).count() <= 1);
    if c.postonly && c.mode != Some(CookieMode::Insert) {
        return Err(line.err(
            0,
            "cookie 'postonly' option can only be used with 'insert'.",
        ));
    }
    Ok(c)
}

pub(crate) fn parse_stick_table(line: &Line<'_>, mut i: usize) -> Result<StickTable, Diagnostic> {
    let mut key = None;
    let mut size = None;
    let mut t = StickTable {
        key: StickKeyType::Ip,
        size: 0,
        expire: None,
        nopurge: false,
        peers: None,
        srvkey: None,
        write_to: None,
        recv_only: false,
        store: Vec::new(),
        loc_line: line.loc.line,
    };
    while let Some(w) = line.arg(i) {
        match w {
            "type" => {
                let ty = line.word(i + 1);
                i += 2;
                let mut len_of = |default: u32| -> Result<u32, Diagnostic> {
                    if line.arg(i) == Some("len") {
                        let n = line.uint(i + 1, "stick-table len")?;
                        i += 2;
                        Ok(n)
                    } else {
                        Ok(default)
                    }
                };
                key = Some(match ty {
                    "ip" | "ipv4" => StickKeyType::Ip,
                    "ipv6" => StickKeyType::Ipv6,
                    "integer" => StickKeyType::Integer,
                    "string" => StickKeyType::String { len: len_of(32)? },
                    "binary" => StickKeyType::Binary { len: len_of(32)? },
                    o => return Err(line.err(i - 1, format!("'stick-table': unknown type '{o}' (expects ip, ipv6, integer, string or binary)"))),
                });
                continue;
            }
            "size" => {
                let s = line.word(i + 1);
                size = Some(
                    crate::units::parse_size(s)
                        .map_err(|e| line.err(i + 1, format!("'stick-table size': {e}")))?,
                );
                i += 2;
            }
            "expire" => {
                t.expire = Some(line.duration(i + 1, "stick-table expire", TimeUnit::Millis)?);
                i += 2;
            }
            "nopurge" => {
                t.nopurge = true;
                i += 1;
            }
            "recv-only" => {
                t.recv_only = true;
                i += 1;
            }
            "peers" | "srvkey" | "write-to" => {
                let v = line
                    .arg(i + 1)
                    .ok_or_else(|| {
                        line.err(i + 1, format!("'stick-table {w}' expects an argument"))
                    })?
                    .to_string();
                match w {
                    "peers" => t.peers = Some(v),
                    "srvkey" => {
                        if v != "name" && v != "addr" {
                            return Err(line.err(
                                i + 1,
                                format!("'srvkey' expects 'name' or 'addr' (got '{v}')"),
                            ));
                        }
                        t.srvkey = Some(v);
                    }
                    _ => t.write_to = Some(v),
                }
                i += 2;
            }
            "store" => {
                let list = line.arg(i + 1).ok_or_else(|| {
                    line.err(
                        i + 1,
                        "'store' expects a comma-delimited list of data types",
                    )
                })?;
                for item in list.split(',') {
                    let (name, arg) = match item.split_once('(') {
                        Some((n, rest)) => {
                            let a = rest.strip_suffix(')').ok_or_else(|| {
                                line.err(i + 1, format!("missing closing parenthesis in '{item}'"))
                            })?;
                            (n, Some(a.to_string()))
                        }
                        None => (item, None),
                    };
                    check_store_type(name, arg.as_deref()).map_err(|e| line.err(i + 1, e))?;
                    t.store.push(StickStore {
                        name: name.to_string(),
                        arg,
                    });
                }
                i += 2;
            }
            o => return Err(line.err(i, format!("'stick-table': unknown argument '{o}'"))),
        }
    }
    t.key = key.ok_or_else(|| line.err(line.len(), "'stick-table' requires a 'type' parameter"))?;
    t.size =
        size.ok_or_else(|| line.err(line.len(), "'stick-table' requires a 'size' parameter"))?;
    Ok(t)
}

/// Stick-table data types (manual 11.1, "store").
fn check_store_type(name: &str, arg: Option<&str>) -> Result<(), String> {
    const PLAIN: &[&str] = &[
        "server_id",
        "server_key",
        "server_name",
        "gpt0",
        "gpc0",
        "gpc1",
        "conn_cnt",
        "conn_cur",
        "sess_cnt",
        "http_req_cnt",
        "http_err_cnt",
        "http_fail_cnt",
        "bytes_in_cnt",
        "bytes_out_cnt",
        "glitch_cnt",
    ];
    const RATES: &[&str] = &[
        "gpc0_rate",
        "gpc1_rate",
        "conn_rate",
        "sess_rate",
        "http_req_rate",
        "http_err_rate",
        "http_fail_rate",
        "bytes_in_rate",
        "bytes_out_rate",
        "glitch_rate",
    ];
    const ARRAYS: &[&str] = &["gpt", "gpc", "gpc_rate"];
    if PLAIN.contains(&name) {
        return if arg.is_some() {
            Err(format!("data type '{name}' takes no argument"))
        } else {
            Ok(())
        };
    }
    if RATES.contains(&name) {
        let a =
            arg.ok_or_else(|| format!("data type '{name}' expects a period, e.g. {name}(10s)"))?;
        crate::units::parse_duration(a, TimeUnit::Millis).map_err(|e| format!("'{name}': {e}"))?;
        return Ok(());
    }
    if ARRAYS.contains(&name) {
        let a = arg.ok_or_else(|| format!("data type '{name}' expects a number of elements"))?;
        let n = a.split(',').next().unwrap_or("");
        crate::units::parse_uint::<u32>(n).map_err(|e| format!("'{name}': {e}"))?;
        return Ok(());
    }
    Err(format!("unknown data type '{name}' for 'store'"))
}

fn parse_stick(cx: &mut Ctx<'_>, line: &Line<'_>) -> Result<(), Diagnostic> {
    let kind = match line.word(1) {
        "on" => StickRuleKind::On,
        "match" => StickRuleKind::Match,
        "store-request" => StickRuleKind::StoreRequest,
        "store-response" => StickRuleKind::StoreResponse,
        o => {
            return Err(line.err(
                1,
                format!(
                "'stick' expects 'on', 'match', 'store-request' or 'store-response' (got '{o}')"
            ),
            ))
        }
    };
    let kwname = format!("stick {}", line.word(1));
    if !allowed_kw(cx, line, &kwname)? {
        return Ok(());
    }
    let text = line
        .arg(2)
        .ok_or_else(|| line.err(2, format!("'{kwname}' expects a pattern")))?;
    let expr = parse_sample(text).map_err(|e| line.err(2, format!("'{kwname}': {}", e.message)))?;
    let mut i = 3;
    let mut table = None;
    if line.arg(i) == Some("table") {
        table = Some(
            line.arg(i + 1)
                .ok_or_else(|| line.err(i + 1, "'table' expects a table name"))?
                .to_string(),
        );
        i += 2;
    }
    let cond = cond_at(line, i)?;
    cx.px.stick_rules.push(StickRule {
        kind,
        expr,
        table,
        cond,
        loc: line.loc.clone(),
    });
    Ok(())
}

fn parse_compression(cx: &mut Ctx<'_>, line: &Line<'_>) -> Result<(), Diagnostic> {
    if !allowed_kw(cx, line, "compression")? {
        return Ok(());
    }
    let sub = line.word(1);
    let list = || words_from(line.words, 2);
    let c = &mut cx.px.compression;
    match sub {
        "algo" | "algo-req" | "algo-res" => {
            let algos = list();
            if algos.is_empty() {
                return Err(line.err(2, format!("'compression {sub}' expects at least one algorithm")));
            }
            for (n, a) in algos.iter().enumerate() {
                if !matches!(a.as_str(), "identity" | "gzip" | "deflate" | "raw-deflate") {
                    return Err(line.err(n + 2, format!("'{a}' : '{sub}' unknown compression algorithm (expects identity, gzip, deflate, raw-deflate)")));
                }
            }
            if sub == "algo-req" && algos.len() > 1 {
                return Err(line.err(3, "'compression algo-req' expects exactly one algorithm"));
            }
            match sub {
                "algo" => {
                    c.algos_res = algos;
                }
                "algo-req" => c.algos_req = algos,
                _ => c.algos_res = algos,
            }
        }
        "type" | "type-res" => c.types_res = list(),
        "type-req" => c.types_req = list(),
        "offload" => c.offload = true,
        "direction" => {
            let d = line.word(2);
            if !matches!(d, "request" | "response" | "both") {
                return Err(line.err(2, format!("'compression direction' expects 'request', 'response' or 'both' (got '{d}')")));
            }
            c.direction = Some(d.to_string());
        }
        "minsize-req" | "minsize-res" => {
            let s = crate::units::parse_size(line.word(2)).map_err(|e| line.err(2, format!("'compression {sub}': {e}")))?;
            if sub == "minsize-req" {
                c.minsize_req = Some(s);
            } else {
                c.minsize_res = Some(s);
            }
        }
        o => return Err(line.err(1, format!("'compression' expects 'algo', 'type', 'direction', 'offload', 'algo-req', 'algo-res', 'type-req', 'type-res', 'minsize-req' or 'minsize-res' (got '{o}')"))),
    }
    Ok(())
}

/// Durations of server settings default to milliseconds.
pub(crate) fn ms(line: &Line<'_>, i: usize, what: &str) -> Result<Duration, Diagnostic> {
    line.duration(i, what, TimeUnit::Millis)
}
