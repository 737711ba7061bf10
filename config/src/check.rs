//! Cross-reference checks run once every file is parsed, with HAProxy's
//! verdicts (cfgparse.c check_config_validity): backends named by
//! `default_backend`/`use_backend` exist and speak a compatible mode,
//! tracked servers exist and are checked, ACLs are declared before use,
//! referenced sections exist; plus HAProxy's warnings (missing timeouts,
//! frontend without bind).

mod actions;

use crate::acl::{AclDef, AclRef, Condition, PatternFileKind};
use crate::addr::{Address, Port};
use crate::diag::{did_you_mean, Diagnostic, Diagnostics, Loc};
use crate::logformat::{LogFormat, LogItem};
use crate::model::*;
use crate::sample::{Arg, SampleExpr};
use crate::Host;

pub fn check(cfg: &Config, host: &dyn Host, diags: &mut Diagnostics) {
    for px in &cfg.proxies {
        check_proxy(cfg, px, diags);
        check_references(cfg, px, host, diags);
        actions::check_action_refs(cfg, px, diags);
        check_health_check_ports(px, diags);
    }
    for d in &cfg.defaults {
        check_acl_refs(d, diags);
    }
}

fn check_proxy(cfg: &Config, px: &Proxy, diags: &mut Diagnostics) {
    let backend_names = || {
        cfg.proxies
            .iter()
            .filter(|p| p.cap.backend)
            .map(|p| p.name.as_str())
    };
    if px.cap.frontend {
        if let Some(db) = &px.default_backend {
            match cfg.backend(&db.name) {
                None => {
                    let mut d = Diagnostic::error(
                        &db.loc,
                        format!(
                            "Proxy '{}': unable to find required default_backend: '{}'.",
                            px.name, db.name
                        ),
                    );
                    if let Some(h) = did_you_mean(&db.name, backend_names()) {
                        d = d.with_hint(format!("did you mean '{h}'?"));
                    }
                    diags.push(d);
                }
                Some(be) => check_modes(px, be, &db.loc, "as its default backend", diags),
            }
        }
        for ub in &px.use_backends {
            if let BackendTarget::Static(name) = &ub.target {
                match cfg.backend(name) {
                    None => {
                        let mut d = Diagnostic::error(
                            &ub.loc,
                            format!(
                                "Proxy '{}': unable to find required use_backend: '{name}'.",
                                px.name
                            ),
                        );
                        if let Some(h) = did_you_mean(name, backend_names()) {
                            d = d.with_hint(format!("did you mean '{h}'?"));
                        }
                        diags.push(d);
                    }
                    Some(be) => check_modes(px, be, &ub.loc, "in a 'use_backend' rule", diags),
                }
            }
        }
        if px.binds.is_empty() && !px.disabled {
            diags.push(Diagnostic::warning(&px.loc, format!("{} '{}' has no 'bind' directive. Please declare it as a backend if this was intended.", px.kind.keyword(), px.name)));
        }
    }
    if px.cap.backend {
        let verify_none_global = cfg.global.directives.iter().any(|d| {
            d.keyword == "ssl-server-verify" && d.args.first().is_some_and(|a| a == "none")
        });
        let ssl_checks = px
            .tcp_checks
            .iter()
            .chain(&px.http_checks)
            .any(|c| matches!(&c.kind, CheckStepKind::Connect(cc) if cc.ssl));
        for s in &px.servers {
            // TLS to a server verifies its certificate by default: without
            // a CA file HAProxy refuses the server.
            let uses_tls = s.opts.ssl == Some(true)
                || s.opts.check_ssl == Some(true)
                || (ssl_checks && s.opts.check == Some(true));
            let verify = s.opts.verify.unwrap_or(if verify_none_global {
                Verify::None
            } else {
                Verify::Required
            });
            if uses_tls && verify == Verify::Required && s.opts.ca_file.is_none() {
                diags.push(
                    Diagnostic::error(&s.loc, format!("'server {}/{}' : verify is enabled by default but no CA file specified.", px.name, s.name))
                        .with_hint("add 'ca-file <file>' (or 'ca-file @system-ca'), or 'verify none' if you trust the network to the server"),
                );
            }
            if let Some(t) = &s.opts.track {
                check_track(cfg, px, s, t, diags);
            }
            // _srv_parse_finalize: an agent needs a port (agent-port, or
            // port).
            if s.opts.agent_check == Some(true) && s.opts.agent_port.or(s.opts.port).is_none() {
                diags.push(Diagnostic::error(
                    &s.loc,
                    format!(
                        "'server {}/{}' : server {} does not have agent port. Agent check has been disabled.",
                        px.name, s.name, s.name
                    ),
                ));
            }
            if let Some(r) = &s.opts.resolvers {
                if !cfg.resolvers.iter().any(|x| &x.name.name == r) {
                    diags.push(Diagnostic::error(
                        &s.loc,
                        format!(
                            "{} '{}', server '{}': unable to find required resolvers '{r}'",
                            px.kind.keyword(),
                            px.name,
                            s.name
                        ),
                    ));
                }
            }
        }
    }
    // Also in a frontend, whose rule haproxy keeps after saying it is
    // ignored, and whose servers it then looks in.
    for us in &px.use_servers {
        if !px.servers.iter().any(|s| s.name == us.server) {
            diags.push(Diagnostic::error(
                &us.loc,
                format!(
                    "{} '{}' : unable to find server '{}' referenced in a 'use-server' rule.",
                    px.kind.keyword(),
                    px.name,
                    us.server
                ),
            ));
        }
    }
    for g in &px.errorfile_groups {
        if !cfg
            .http_errors
            .iter()
            .any(|h| h.name.name == g.section.name)
        {
            diags.push(Diagnostic::error(
                &g.section.loc,
                format!(
                    "{} '{}': unable to find http-errors section '{}'.",
                    px.kind.keyword(),
                    px.name,
                    g.section.name
                ),
            ));
        }
    }
    // `http-error ... errorfiles <name>`.
    for e in &px.errorfiles {
        if let ErrorSource::Reply {
            reply:
                Reply {
                    payload: Some(ReplyPayload::Errorfiles(name)),
                    ..
                },
            ..
        } = &e.source
        {
            if !cfg.http_errors.iter().any(|h| &h.name.name == name) {
                diags.push(Diagnostic::error(
                    &e.loc,
                    format!(
                        "{} '{}': unable to find http-errors section '{name}'.",
                        px.kind.keyword(),
                        px.name
                    ),
                ));
            }
        }
    }
    if let Some(t) = &px.stick_table {
        if let Some(peers) = &t.peers {
            if !cfg.peers.iter().any(|p| &p.name.name == peers) {
                diags.push(Diagnostic::error(&px.loc, format!("Proxy '{}': unable to find local peer or sync peers section '{peers}' for the stick-table.", px.name)));
            }
        }
    }
    for r in &px.stick_rules {
        let table = r.table.as_deref().unwrap_or(&px.name);
        let exists = cfg
            .proxies
            .iter()
            .any(|p| p.name == table && p.stick_table.is_some())
            || cfg.peers.iter().any(|p| p.name.name == table);
        if !exists {
            diags.push(Diagnostic::error(
                &r.loc,
                format!("Proxy '{}': unable to find stick-table '{table}'.", px.name),
            ));
        }
    }
    check_acl_refs(px, diags);
    check_timeouts(px, diags);
    if !px.disabled {
        check_mode_settings(px, diags);
    }
    if px.mode() != Mode::Http && !px.disabled {
        let http_rules = !px.rules.http_request.is_empty()
            || !px.rules.http_response.is_empty()
            || !px.rules.http_after_response.is_empty();
        let own_rules = px
            .rules
            .http_request
            .iter()
            .map(|r| &r.loc)
            .chain(px.rules.http_response.iter().map(|r| &r.loc))
            .any(|loc| loc.file.name == px.loc.file.name && loc.line > px.loc.line);
        if http_rules && own_rules {
            diags.push(Diagnostic::warning(&px.loc, format!("{} '{}' : 'http-request'/'http-response' rules ignored: they require 'mode http'.", px.kind.keyword(), px.name)));
        }
        if let Some(r) = px.rules.redirect.first() {
            diags.push(Diagnostic::warning(
                &r.loc,
                format!(
                    "'redirect' rules ignored for {} '{}' as they require HTTP mode.",
                    px.kind.keyword(),
                    px.name
                ),
            ));
        }
    }
}

/// Settings that only make sense in some modes, checked once the proxy's
/// mode is final (HAProxy 2.6 check_config_validity; disabled proxies are
/// skipped there too).
fn check_mode_settings(px: &Proxy, diags: &mut Diagnostics) {
    let mode = px.mode();
    let kind = px.kind.keyword();
    // `option transparent` picks the server from the destination address;
    // a load-balancing algorithm contradicts it, whatever the mode and
    // wherever (defaults or proxy) either came from.
    if px.cap.backend && px.options.is_set("transparent") && px.balance.is_some() {
        diags.push(
            Diagnostic::error(
                &px.loc,
                format!(
                    "{kind} '{}' cannot use both transparent and balance mode.",
                    px.name
                ),
            )
            .with_hint("remove 'balance' or 'option transparent'"),
        );
    }
    for b in &px.binds {
        if let Some(p) = &b.opts.proto {
            if !mode.mux_usable(p, MuxSide::Front) {
                diags.push(mux_not_usable(px, p, "bind", &b.loc));
            }
        }
    }
    let fcgi_app = px.directives.iter().any(|d| d.keyword == "use-fcgi-app");
    for s in &px.servers {
        if let Some(p) = &s.opts.proto {
            if !mode.mux_usable(p, MuxSide::Back) {
                diags.push(mux_not_usable(px, p, "server", &s.loc));
            } else if p == "fcgi" && !fcgi_app {
                diags.push(
                    Diagnostic::error(
                        &s.loc,
                        format!(
                            "proxy '{}': FCGI server '{}' has no FCGI app configured.",
                            px.name, s.name
                        ),
                    )
                    .with_hint("name an 'fcgi-app' section with 'use-fcgi-app' in this proxy"),
                );
            }
        }
        if mode == Mode::Http {
            continue;
        }
        // An empty prefix is no prefix for HAProxy (rdr_len 0).
        if s.opts.redir.as_deref().is_some_and(|r| !r.is_empty()) {
            diags.push(
                Diagnostic::error(&s.loc, format!("{kind} '{}' : server cannot have cookie or redirect prefix in non-HTTP mode.", px.name))
                    .with_hint(format!("'redir' on server '{}' answers HTTP requests with a redirect: it needs 'mode http'", s.name)),
            );
        }
        if s.opts.cookie.as_deref().is_some_and(|c| !c.is_empty()) {
            diags.push(Diagnostic::warning(
                &s.loc,
                format!(
                    "{kind} '{}' : ignoring cookie for server '{}' as HTTP mode is disabled.",
                    px.name, s.name
                ),
            ));
        }
    }
}

fn mux_not_usable(px: &Proxy, proto: &str, what: &str, loc: &Loc) -> Diagnostic {
    let usable: Vec<&str> = MUX_PROTOCOLS
        .iter()
        .map(|(t, ..)| *t)
        .filter(|t| {
            let side = if what == "bind" {
                MuxSide::Front
            } else {
                MuxSide::Back
            };
            px.mode().mux_usable(t, side)
        })
        .collect();
    Diagnostic::error(
        loc,
        format!(
            "{} '{}' : MUX protocol '{proto}' is not usable for this {what} line in 'mode {}'.",
            px.kind.keyword(),
            px.name,
            px.mode().keyword()
        ),
    )
    .with_hint(format!("usable here: {}", usable.join(", ")))
}

/// HTTP frontends cannot use TCP backends (a TCP frontend may use an HTTP
/// backend: the connection is upgraded).
fn check_modes(fe: &Proxy, be: &Proxy, loc: &Loc, how: &str, diags: &mut Diagnostics) {
    if fe.mode() == Mode::Http && be.mode() == Mode::Tcp {
        diags.push(
            Diagnostic::error(loc, format!("http {} '{}' ({}) tries to use incompatible tcp backend '{}' ({}) {how} (see 'mode').", fe.kind.keyword(), fe.name, fe.loc, be.name, be.loc))
                .with_hint(format!("set 'mode http' in backend '{}'", be.name)),
        );
    }
}

fn check_track(cfg: &Config, px: &Proxy, s: &Server, t: &TrackRef, diags: &mut Diagnostics) {
    // HAProxy refuses it as it parses the server line (_srv_parse_finalize).
    if s.opts.check == Some(true) {
        diags.push(Diagnostic::error(
            &s.loc,
            format!(
                "'server {}/{}' : unable to enable checks and tracking at the same time!",
                px.name, s.name
            ),
        ));
        return;
    }
    let be = match &t.backend {
        Some(b) => match cfg.backend(b) {
            Some(p) => p,
            None => {
                diags.push(Diagnostic::error(&s.loc, format!("config : {} '{}', server '{}': unable to find required proxy '{b}' for tracking.", px.kind.keyword(), px.name, s.name)));
                return;
            }
        },
        None => px,
    };
    let Some(target) = be.servers.iter().find(|x| x.name == t.server) else {
        diags.push(Diagnostic::error(
            &s.loc,
            format!(
                "config : {} '{}', server '{}': unable to find required server '{}' for tracking.",
                px.kind.keyword(),
                px.name,
                s.name,
                t.server
            ),
        ));
        return;
    };
    if std::ptr::eq(target, s) {
        diags.push(Diagnostic::error(
            &s.loc,
            format!(
                "config : {} '{}', server '{}': unable to track itself.",
                px.kind.keyword(),
                px.name,
                s.name
            ),
        ));
        return;
    }
    let checked = target.opts.check == Some(true)
        || target.opts.agent_check == Some(true)
        || target.opts.track.is_some();
    if !checked {
        diags.push(Diagnostic::error(&s.loc, format!("config : {} '{}', server '{}': unable to use {}/{} for tracking as it does not have any check nor agent enabled.", px.kind.keyword(), px.name, s.name, be.name, target.name)));
    }
}

/// Every rule of the proxy, `stats http-request` included, as (condition,
/// action references, place).
fn all_rules(px: &Proxy) -> Vec<(Option<&Condition>, ActionRefs<'_>, &Loc)> {
    let mut all = px.rules.all();
    all.extend(
        px.stats
            .http_request
            .iter()
            .map(|r| (r.cond.as_ref(), r.action.refs(), &r.loc)),
    );
    all
}

/// ACLs must be declared before the rule that uses them, in the same proxy
/// (or in the named defaults it inherits).
fn check_acl_refs(px: &Proxy, diags: &mut Diagnostics) {
    let mut conds: Vec<(&Condition, &Loc)> = Vec::new();
    for (cond, _, loc) in all_rules(px) {
        if let Some(c) = cond {
            conds.push((c, loc));
        }
    }
    for u in &px.use_backends {
        if let Some(c) = &u.cond {
            conds.push((c, &u.loc));
        }
    }
    for u in &px.use_servers {
        if let Some(c) = &u.cond {
            conds.push((c, &u.loc));
        }
    }
    for s in &px.stick_rules {
        if let Some(c) = &s.cond {
            conds.push((c, &s.loc));
        }
    }
    for c in &px.stats.admin {
        conds.push((c, &px.loc));
    }
    for (cond, loc) in conds {
        let expr = match cond {
            Condition::If(e) | Condition::Unless(e) => e,
        };
        for term in expr.any_of.iter().flatten() {
            if let AclRef::Named(name) = &term.acl {
                let declared = px.acls.iter().any(|a| {
                    &a.def.name == name
                        && (a.loc.file.name != loc.file.name || a.loc.line <= loc.line)
                });
                if !declared {
                    let mut d = Diagnostic::error(loc, format!("no such ACL : '{name}'"));
                    if let Some(h) = did_you_mean(name, px.acls.iter().map(|a| a.def.name.as_str()))
                    {
                        d = d.with_hint(format!(
                            "did you mean '{h}'? (ACLs must be declared before they are used)"
                        ));
                    }
                    diags.push(d);
                }
            }
        }
    }
}

/// HAProxy warns when a proxy lacks the timeouts its role needs.
fn check_timeouts(px: &Proxy, diags: &mut Diagnostics) {
    if px.disabled || px.mode() == Mode::Log {
        return;
    }
    let t = &px.timeouts;
    let fe_missing = px.cap.frontend && t.client.is_none();
    let be_missing = px.cap.backend && (t.connect.is_none() || t.server.is_none());
    if fe_missing || be_missing {
        let mut which = Vec::new();
        if fe_missing {
            which.push("client");
        }
        if px.cap.backend && t.connect.is_none() {
            which.push("connect");
        }
        if px.cap.backend && t.server.is_none() {
            which.push("server");
        }
        diags.push(
            Diagnostic::warning(&px.loc, format!("missing timeouts for {} '{}'.", px.kind.keyword(), px.name)).with_hint(format!(
                "while not properly invalid, you will certainly encounter various problems with such a configuration. To fix this, please ensure that all following timeouts are set to a non-zero value: {}",
                which.join(", ")
            )),
        );
    }
}

/// Every sample expression, ACL and log-format string a proxy holds, with
/// the line it came from.
struct Walk<'a> {
    acls: Vec<(&'a AclDef, &'a Loc)>,
    exprs: Vec<(&'a SampleExpr, &'a Loc)>,
}

impl<'a> Walk<'a> {
    fn of(px: &'a Proxy) -> Self {
        let mut w = Walk {
            acls: Vec::new(),
            exprs: Vec::new(),
        };
        for a in &px.acls {
            w.acls.push((&a.def, &a.loc));
        }
        for (cond, refs, loc) in all_rules(px) {
            w.cond(cond, loc);
            for e in refs.exprs {
                w.exprs.push((e, loc));
            }
            for f in refs.formats {
                w.format(f, loc);
            }
        }
        for u in &px.use_backends {
            w.cond(u.cond.as_ref(), &u.loc);
            if let BackendTarget::Dynamic(f) = &u.target {
                w.format(f, &u.loc);
            }
        }
        for u in &px.use_servers {
            w.cond(u.cond.as_ref(), &u.loc);
        }
        for s in &px.stick_rules {
            w.cond(s.cond.as_ref(), &s.loc);
            w.exprs.push((&s.expr, &s.loc));
        }
        for c in &px.stats.admin {
            w.cond(Some(c), &px.loc);
        }
        for f in [&px.log_format, &px.error_log_format, &px.unique_id_format]
            .into_iter()
            .flatten()
        {
            w.format(f, &px.loc);
        }
        if let Some(Balance::Hash(e)) = &px.balance {
            w.exprs.push((e, &px.loc));
        }
        for s in &px.servers {
            if let Some(e) = &s.opts.sni {
                w.exprs.push((e, &s.loc));
            }
        }
        for (a, loc) in w.acls.clone() {
            w.exprs.push((&a.expr, loc));
        }
        w
    }

    fn cond(&mut self, c: Option<&'a Condition>, loc: &'a Loc) {
        let Some(Condition::If(e) | Condition::Unless(e)) = c else {
            return;
        };
        for t in e.any_of.iter().flatten() {
            if let AclRef::Anonymous(a) = &t.acl {
                self.acls.push((a, loc));
            }
        }
    }

    fn format(&mut self, f: &'a LogFormat, loc: &'a Loc) {
        for item in &f.items {
            if let LogItem::Sample { expr, .. } = item {
                self.exprs.push((expr, loc));
            }
        }
    }
}

/// References from expressions and ACLs to files, userlists, tables,
/// proxies, servers and caches.
fn check_references(cfg: &Config, px: &Proxy, host: &dyn Host, diags: &mut Diagnostics) {
    let w = Walk::of(px);
    for (acl, loc) in &w.acls {
        for f in &acl.files {
            if f.kind == PatternFileKind::Regular {
                if let Err(e) = host.read_file(&f.path) {
                    diags.push(Diagnostic::error(
                        loc,
                        format!("failed to open pattern file <{}> ({e}).", f.path),
                    ));
                }
            }
        }
    }
    for (expr, loc) in &w.exprs {
        let args = expr
            .fetch
            .args
            .iter()
            .chain(expr.converters.iter().flat_map(|c| c.args.iter()));
        for a in args {
            match a {
                Arg::Userlist(u) if !cfg.userlists.iter().any(|x| &x.name.name == u) => {
                    diags.push(Diagnostic::error(
                        loc,
                        format!(
                            "unable to find userlist '{u}' referenced in proxy '{}'.",
                            px.name
                        ),
                    ));
                }
                Arg::Table(t) if !t.is_empty() && !table_exists(cfg, t) => {
                    diags.push(Diagnostic::error(
                        loc,
                        format!(
                            "unable to find table '{t}' referenced in proxy '{}'.",
                            px.name
                        ),
                    ));
                }
                Arg::Proxy(p) if !p.is_empty() && cfg.proxy(p).is_none() => {
                    diags.push(Diagnostic::error(
                        loc,
                        format!(
                            "unable to find proxy '{p}' referenced in proxy '{}'.",
                            px.name
                        ),
                    ));
                }
                Arg::Server { backend, server } => {
                    let be = match backend {
                        Some(b) => cfg.backend(b),
                        None => Some(px),
                    };
                    if !be.is_some_and(|b| b.servers.iter().any(|s| &s.name == server)) {
                        diags.push(Diagnostic::error(
                            loc,
                            format!(
                                "unable to find server '{}{server}' referenced in proxy '{}'.",
                                backend
                                    .as_ref()
                                    .map(|b| format!("{b}/"))
                                    .unwrap_or_default(),
                                px.name
                            ),
                        ));
                    }
                }
                Arg::File(f) => {
                    if let Err(e) = host.read_file(f) {
                        diags.push(Diagnostic::error(
                            loc,
                            format!("failed to open map or pattern file <{f}> ({e})."),
                        ));
                    }
                }
                _ => {}
            }
        }
    }
    // Caches named by `filter cache` and the cache actions.
    let cache_known = |n: &str| cfg.caches.iter().any(|c| c.name.name == n);
    for d in &px.directives {
        if d.keyword == "filter" && d.args.first().is_some_and(|a| a == "cache") {
            if let Some(n) = d.args.get(1) {
                if !cache_known(n) {
                    diags.push(Diagnostic::error(&d.loc, format!("{} '{}': unable to find the cache '{n}' referenced by the filter 'cache'.", px.kind.keyword(), px.name)));
                }
            }
        }
    }
    let r = &px.rules;
    let uses = r.http_request.iter().filter_map(|rule| match &rule.action {
        HttpRequestAction::CacheUse(n) => Some((n, "cache-use", &rule.loc)),
        _ => None,
    });
    let stores = r
        .http_response
        .iter()
        .filter_map(|rule| match &rule.action {
            HttpResponseAction::CacheStore(n) => Some((n, "cache-store", &rule.loc)),
            _ => None,
        });
    for (n, action, loc) in uses.chain(stores) {
        if !cache_known(n) {
            diags.push(Diagnostic::error(
                loc,
                format!(
                    "{} '{}': unable to find the cache '{n}' referenced by '{action}'.",
                    px.kind.keyword(),
                    px.name,
                ),
            ));
        }
    }
}

fn table_exists(cfg: &Config, name: &str) -> bool {
    cfg.proxies
        .iter()
        .any(|p| p.name == name && p.stick_table.is_some())
        || cfg.peers.iter().any(|p| p.name.name == name)
}

/// A checked server must know where to connect its check (check.c
/// init_srv_check): its own port (not an offset), a `port` option, a check
/// address that is not an IP, or a first `tcp-check`/`http-check connect`
/// rule with a port, and then every connect rule needs one.
fn check_health_check_ports(px: &Proxy, diags: &mut Diagnostics) {
    if px.disabled || !px.cap.backend || px.mode() == Mode::Log {
        return;
    }
    let kind = match px.kind {
        ProxyKind::Listen => "proxy",
        _ => "backend",
    };
    let steps: &[CheckStep] = match px.options.check {
        None | Some(CheckKind::Tcp) => &[],
        // External checks run a program, not a connection.
        Some(CheckKind::External) => return,
        Some(CheckKind::TcpCheck) => &px.tcp_checks,
        Some(CheckKind::Http { .. }) => &px.http_checks,
        // The other protocol checks start with an implicit connect
        // without a port.
        Some(_) => &[],
    };
    let implicit_rules = !matches!(px.options.check, None | Some(CheckKind::Tcp));
    let connect_port = |c: &CheckConnect| {
        c.port.is_some()
            || matches!(
                c.addr,
                Some(Address::Inet {
                    port: Port::One(_),
                    ..
                })
            )
    };
    for s in &px.servers {
        let o = &s.opts;
        if o.check != Some(true) || o.port.is_some() {
            continue;
        }
        let Address::Inet { port, .. } = &s.addr else {
            continue;
        };
        if matches!(port, Port::One(_)) {
            continue;
        }
        // A check address that is not an IP (a UNIX socket) needs no port.
        if o.addr
            .as_deref()
            .is_some_and(|a| a.starts_with('/') || a.contains('@'))
        {
            continue;
        }
        // Without an `http-check send`, `option httpchk` puts its own send
        // rule first (2.6 refuses `http-check connect port 80` alone).
        let implicit_send = matches!(px.options.check, Some(CheckKind::Http { .. }))
            && !steps
                .iter()
                .any(|st| matches!(st.kind, CheckStepKind::HttpSend { .. }));
        let first = steps
            .iter()
            .find(|st| !matches!(st.kind, CheckStepKind::Other { .. }))
            .filter(|_| !implicit_send);
        let msg = match first.map(|st| &st.kind) {
            None if !implicit_rules => Some("has neither service port nor check port."),
            Some(CheckStepKind::Connect(c)) if connect_port(c) => steps
                .iter()
                .any(|st| matches!(&st.kind, CheckStepKind::Connect(c) if !connect_port(c)))
                .then_some("has neither service port nor check port, and a tcp_check rule 'connect' with no port information."),
            _ => Some("has neither service port nor check port nor tcp_check rule 'connect' with port information."),
        };
        if let Some(m) = msg {
            diags.push(Diagnostic::error(
                &s.loc,
                format!("config: {kind} '{}': server '{}' {m}", px.name, s.name),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    //! Verdicts checked with Debian's haproxy 2.6 (`haproxy -c`).
    use crate::diag::Diagnostics;
    use crate::{Host, SourceFile};

    struct NoFiles;

    impl Host for NoFiles {
        fn env(&self, _: &str) -> Option<String> {
            None
        }
        fn read_file(&self, _: &str) -> Result<Vec<u8>, String> {
            Err("No such file or directory".to_string())
        }
    }

    const TCP: &str =
        "defaults\n mode tcp\n timeout connect 5s\n timeout client 30s\n timeout server 30s\n";

    fn check(text: &str) -> Diagnostics {
        crate::load(&[SourceFile::new("t.cfg", text)], &NoFiles).1
    }

    fn errors(d: &Diagnostics) -> Vec<(u32, String)> {
        d.errors()
            .map(|e| (e.loc.as_ref().map_or(0, |l| l.line), e.message.clone()))
            .collect()
    }

    fn warnings(d: &Diagnostics) -> Vec<(u32, String)> {
        d.warnings()
            .map(|e| (e.loc.as_ref().map_or(0, |l| l.line), e.message.clone()))
            .collect()
    }

    #[test]
    fn transparent_refuses_balance_from_anywhere() {
        let msg = "cannot use both transparent and balance mode.";
        let d = check(&format!(
            "{TCP}listen l\n bind :80\n option transparent\n balance roundrobin\n"
        ));
        assert_eq!(errors(&d), [(6, format!("listen 'l' {msg}"))]);
        // Either side may come from the defaults; the mode does not matter.
        for (text, line) in [
            (
                format!("{TCP} balance source\nbackend b\n option transparent\n"),
                7,
            ),
            (
                format!("{TCP} option transparent\nbackend b\n balance source\n"),
                7,
            ),
            (
                format!("{TCP}backend b\n mode http\n option transparent\n balance first\n"),
                6,
            ),
        ] {
            let d = check(&text);
            assert_eq!(errors(&d), [(line, format!("backend 'b' {msg}"))], "{text}");
        }
        // Alone, undone, in a disabled proxy, or in a frontend (where both
        // are ignored with a warning): valid.
        for text in [
            format!("{TCP}backend b\n option transparent\n"),
            format!("{TCP} option transparent\nbackend b\n no option transparent\n balance source\n"),
            format!("{TCP}backend b\n disabled\n option transparent\n balance source\n"),
            format!("{TCP}frontend f\n bind :80\n option transparent\n balance source\n default_backend b\nbackend b\n"),
        ] {
            let d = check(&text);
            assert!(!d.has_errors(), "{text}: {:?}", errors(&d));
        }
    }

    #[test]
    fn redir_and_cookie_need_http_mode() {
        let msg = "backend 'b' : server cannot have cookie or redirect prefix in non-HTTP mode.";
        let d = check(&format!(
            "{TCP}backend b\n server s1 127.0.0.1:9001 redir http://x\n server s2 127.0.0.1:9002 cookie c2\n"
        ));
        assert_eq!(errors(&d), [(7, msg.to_string())]);
        // A cookie is only ignored, with a warning.
        assert_eq!(
            warnings(&d),
            [(
                8,
                "backend 'b' : ignoring cookie for server 's2' as HTTP mode is disabled."
                    .to_string()
            )]
        );
        // default-server passes the prefix to the servers declared after it.
        let d = check(&format!(
            "{TCP}backend b\n server s0 127.0.0.1:9000\n default-server redir http://x\n server s1 127.0.0.1:9001\n"
        ));
        assert_eq!(errors(&d), [(9, msg.to_string())]);
        for text in [
            format!(
                "{TCP}backend b\n mode http\n server s1 127.0.0.1:9001 redir http://x cookie c\n"
            ),
            format!("{TCP}backend b\n default-server redir http://x\n"),
            format!("{TCP}backend b\n disabled\n server s1 127.0.0.1:9001 redir http://x\n"),
        ] {
            let d = check(&text);
            assert!(!d.has_errors(), "{text}: {:?}", errors(&d));
            assert!(warnings(&d).is_empty(), "{text}: {:?}", warnings(&d));
        }
    }

    #[test]
    fn mux_protocol_must_suit_the_mode_and_side() {
        let d = check(&format!(
            "{TCP}listen l\n bind :80 proto h2\n server s1 127.0.0.1:9001 proto h1\n"
        ));
        let e = errors(&d);
        assert_eq!(
            e.iter().map(|(l, _)| *l).collect::<Vec<_>>(),
            [7, 8],
            "{e:?}"
        );
        assert!(
            e[0].1
                .contains("MUX protocol 'h2' is not usable for this bind line"),
            "{e:?}"
        );
        assert!(
            e[1].1
                .contains("MUX protocol 'h1' is not usable for this server line"),
            "{e:?}"
        );
        for bad in [
            // none: TCP only; fcgi: servers only; h2: HTTP only.
            "listen l\n mode http\n bind :80 proto none\n",
            "listen l\n mode http\n bind :80\n server s1 127.0.0.1:9001 proto none\n",
            "listen l\n mode http\n bind :80 proto fcgi\n",
            "backend b\n default-server proto h2\n server s1 127.0.0.1:9001\n",
            // A FastCGI server needs an fcgi-app (use-fcgi-app).
            "listen l\n mode http\n bind :80\n server s1 127.0.0.1:9001 proto fcgi\n",
        ] {
            let d = check(&format!("{TCP}{bad}"));
            assert_eq!(errors(&d).len(), 1, "{bad}: {:?}", errors(&d));
        }
        for good in [
            "listen l\n bind :80 proto none\n server s1 127.0.0.1:9001 proto none\n",
            "fcgi-app php\n docroot /var/www\nlisten l\n mode http\n bind :80 proto h2\n use-fcgi-app php\n server s1 127.0.0.1:9001 proto fcgi\n",
            "backend b\n default-server proto h2\n",
            "backend b\n disabled\n server s1 127.0.0.1:9001 proto h2\n",
        ] {
            let d = check(&format!("{TCP}{good}"));
            assert!(!d.has_errors(), "{good}: {:?}", errors(&d));
        }
    }
}
