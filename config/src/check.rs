//! Cross-reference checks run once every file is parsed, with HAProxy's
//! verdicts (cfgparse.c check_config_validity): backends named by
//! `default_backend`/`use_backend` exist and speak a compatible mode,
//! tracked servers exist and are checked, ACLs are declared before use,
//! referenced sections exist; plus HAProxy's warnings (missing timeouts,
//! frontend without bind).

use crate::acl::{AclRef, Condition};
use crate::diag::{did_you_mean, Diagnostic, Diagnostics, Loc};
use crate::model::*;

pub fn check(cfg: &Config, diags: &mut Diagnostics) {
    for px in &cfg.proxies {
        check_proxy(cfg, px, diags);
    }
    for d in &cfg.defaults {
        check_acl_refs(d, diags);
    }
}

fn check_proxy(cfg: &Config, px: &Proxy, diags: &mut Diagnostics) {
    let backend_names = || cfg.proxies.iter().filter(|p| p.cap.backend).map(|p| p.name.as_str());
    if px.cap.frontend {
        if let Some(db) = &px.default_backend {
            match cfg.backend(&db.name) {
                None => {
                    let mut d = Diagnostic::error(&db.loc, format!("Proxy '{}': unable to find required default_backend: '{}'.", px.name, db.name));
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
                        let mut d = Diagnostic::error(&ub.loc, format!("Proxy '{}': unable to find required use_backend: '{name}'.", px.name));
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
        for s in &px.servers {
            if let Some(t) = &s.opts.track {
                check_track(cfg, px, s, t, diags);
            }
            if let Some(r) = &s.opts.resolvers {
                if !cfg.resolvers.iter().any(|x| &x.name.name == r) {
                    diags.push(Diagnostic::error(&s.loc, format!("{} '{}', server '{}': unable to find required resolvers '{r}'", px.kind.keyword(), px.name, s.name)));
                }
            }
        }
        for us in &px.use_servers {
            if !px.servers.iter().any(|s| s.name == us.server) {
                diags.push(Diagnostic::error(&us.loc, format!("{} '{}' : unable to find server '{}' referenced in a 'use-server' rule.", px.kind.keyword(), px.name, us.server)));
            }
        }
    }
    for g in &px.errorfile_groups {
        if !cfg.http_errors.iter().any(|h| h.name.name == g.section.name) {
            diags.push(Diagnostic::error(&g.section.loc, format!("{} '{}': unable to find http-errors section '{}'.", px.kind.keyword(), px.name, g.section.name)));
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
        let exists = cfg.proxies.iter().any(|p| p.name == table && p.stick_table.is_some()) || cfg.peers.iter().any(|p| p.name.name == table);
        if !exists {
            diags.push(Diagnostic::error(&r.loc, format!("Proxy '{}': unable to find stick-table '{table}'.", px.name)));
        }
    }
    check_acl_refs(px, diags);
    check_timeouts(px, diags);
    if px.mode() != Mode::Http && !px.disabled {
        let http_rules = !px.rules.http_request.is_empty() || !px.rules.http_response.is_empty() || !px.rules.http_after_response.is_empty();
        let own_rules = px.rules.http_request.iter().chain(&px.rules.http_response).any(|r| r.loc.file.name == px.loc.file.name && r.loc.line > px.loc.line);
        if http_rules && own_rules {
            diags.push(Diagnostic::warning(&px.loc, format!("{} '{}' : 'http-request'/'http-response' rules ignored: they require 'mode http'.", px.kind.keyword(), px.name)));
        }
    }
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
        diags.push(Diagnostic::error(&s.loc, format!("config : {} '{}', server '{}': unable to find required server '{}' for tracking.", px.kind.keyword(), px.name, s.name, t.server)));
        return;
    };
    if std::ptr::eq(target, s) {
        diags.push(Diagnostic::error(&s.loc, format!("config : {} '{}', server '{}': unable to track itself.", px.kind.keyword(), px.name, s.name)));
        return;
    }
    let checked = target.opts.check == Some(true) || target.opts.agent_check == Some(true) || target.opts.track.is_some();
    if !checked {
        diags.push(Diagnostic::error(&s.loc, format!("config : {} '{}', server '{}': unable to use {}/{} for tracking as it does not have any check nor agent enabled.", px.kind.keyword(), px.name, s.name, be.name, target.name)));
    }
}

/// ACLs must be declared before the rule that uses them, in the same proxy
/// (or in the named defaults it inherits).
fn check_acl_refs(px: &Proxy, diags: &mut Diagnostics) {
    let mut conds: Vec<(&Condition, &Loc)> = Vec::new();
    let r = &px.rules;
    for rule in r.http_request.iter().chain(&r.http_response).chain(&r.http_after_response).chain(&r.tcp_request_connection).chain(&r.tcp_request_session).chain(&r.tcp_request_content).chain(&r.tcp_response_content).chain(&px.stats.http_request) {
        if let Some(c) = &rule.cond {
            conds.push((c, &rule.loc));
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
                let declared = px.acls.iter().any(|a| &a.def.name == name && (a.loc.file.name != loc.file.name || a.loc.line <= loc.line));
                if !declared {
                    let mut d = Diagnostic::error(loc, format!("no such ACL : '{name}'"));
                    if let Some(h) = did_you_mean(name, px.acls.iter().map(|a| a.def.name.as_str())) {
                        d = d.with_hint(format!("did you mean '{h}'? (ACLs must be declared before they are used)"));
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
