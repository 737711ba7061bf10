//! Opening a proxy section, and what it inherits from its defaults section.

use crate::keywords::Section;
use crate::model::*;
use crate::parse::common::Line;
use crate::parse::{invalid_name_char, Cur, Parser};

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
        px.clitcpka = d.clitcpka;
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
        px.retry_on = d.retry_on;
        px.srvtcpka = d.srvtcpka;
        px.http_checks = d.http_checks.clone();
        px.tcp_checks = d.tcp_checks.clone();
        px.cookie = d.cookie.clone();
        px.source = d.source.clone();
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
