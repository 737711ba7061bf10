//! A proxy's TCP rule sets (HAProxy's `tcp_rules.c`) and its content
//! switching outside the HTTP rules (`stream.c`
//! process_switching_rules, process_server_rules):
//!
//! - `tcp-request connection`: at accept, on the addresses alone, before
//!   a byte is read (tcp_exec_l4_rules);
//! - `tcp-request session`: once per session, after the connection rules
//!   (tcp_exec_l5_rules);
//! - `tcp-request content`: per stream (the whole connection in TCP
//!   mode, each request in HTTP mode), on the bytes received while the
//!   inspect delay runs (tcp_inspect_request);
//! - `tcp-response content`: on the server's first bytes
//!   (tcp_inspect_response), a backend's;
//! - `use_backend` / `default_backend` in TCP mode, `use-server` in both.
//!
//! In every set the first rule whose condition holds and whose action
//! ends the set decides (`accept`, `reject`, `silent-drop`, `close`);
//! the others (`set-var`, `capture` ...) act and the evaluation goes on.
//! While content may still come, a condition whose fetches could change
//! with more bytes is a miss ([`Acls::eval_partial`]): the set stops and
//! waits, and runs again from its first rule when more bytes came or the
//! delay ran out, as HAProxy does.

use std::cell::Cell;
use std::time::Duration;

use ringlb_config::acl::Condition;
use ringlb_config::model::{
    BackendTarget, Capture, CaptureSlot, LogLevel, Mode, Proxy, SetVar,
    TcpRequestConnectionAction as ConnAct, TcpRequestContentAction as ContAct,
    TcpRequestSessionAction as SessAct, TcpResponseContentAction as ResAct, VarCond, VarName,
};
use ringlb_config::sample::{SampleExpr, VarScope};
use ringlb_proto::msg::Head;

use super::acl::{Acls, Cond, Tri};
use super::env::{Captures, Env, Vars};
use super::expr::Expr;
use super::fetch::Ctx;
use super::http::compile::condition_defs;
use super::logfmt::Fmt;
use super::pattern::CompileError;
use super::sample::{Maps, Smp};

/// The fetches a rule may use before any content is read: the
/// connection's, the proxies', variables and constants.
const L4_FETCHES: &[&str] = &[
    "src",
    "dst",
    "src_port",
    "dst_port",
    "fe_name",
    "fe_id",
    "fe_conn",
    "be_name",
    "be_id",
    "nbsrv",
    "be_conn",
    "connslots",
    "srv_is_up",
    "var",
    "always_true",
    "always_false",
    "str",
    "int",
    "bool",
    "env",
    "date",
    "rand",
    "uuid",
];

/// The content fetches of a TCP stream's request channel.
const REQ_CONTENT_FETCHES: &[&str] = &[
    "req.len",
    "req_len",
    "req.payload",
    "payload",
    "req.payload_lv",
    "payload_lv",
    "req.proto_http",
    "req_proto_http",
    "req.ssl_sni",
    "req_ssl_sni",
    "req.ssl_ver",
    "req_ssl_ver",
    "req.ssl_hello_type",
    "req_ssl_hello_type",
    "req.rdp_cookie",
    "rdp_cookie",
    "req.rdp_cookie_cnt",
    "rdp_cookie_cnt",
];

/// The content fetches of a TCP stream's response channel.
const RES_CONTENT_FETCHES: &[&str] = &[
    "res.len",
    "res.payload",
    "res.payload_lv",
    "res.ssl_hello_type",
    "rep_ssl_hello_type",
];

/// Where a rule runs: what it may fetch and which variables it may set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// `tcp-request connection` / `session`: no stream yet (only `sess`
    /// and `proc` variables exist, no content).
    L4,
    /// `tcp-request content` in TCP mode.
    Content,
    /// `tcp-request content` in HTTP mode: the request head is there.
    HttpContent,
    /// `tcp-response content`.
    Response,
}

#[derive(Debug)]
enum Act {
    Accept,
    Reject,
    /// `tcp-response content close`.
    Close,
    SilentDrop,
    SetVar {
        var: VarName,
        conds: Vec<VarCond>,
        value: Expr,
    },
    SetVarFmt {
        var: VarName,
        conds: Vec<VarCond>,
        fmt: Fmt,
    },
    UnsetVar(VarName),
    SetLogLevel(LogLevel),
    Capture {
        expr: Expr,
        slot: usize,
        len: usize,
    },
}

#[derive(Debug)]
struct Step {
    cond: Option<Cond>,
    act: Act,
}

#[derive(Debug)]
enum Target {
    Index(usize),
    Name(Fmt),
}

/// What `use_backend` found (TCP mode).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pick {
    Index(usize),
    /// A dynamic name: the engine looks it up; none of that name: the
    /// default backend (as HAProxy does).
    Name(String),
}

/// What a rule set decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// No rule ended the set, or `accept`: go on.
    Continue,
    /// A condition needs more bytes (only while content may come).
    Wait,
    /// `reject`: close at once.
    Reject,
    /// `silent-drop`: close without telling the client.
    SilentDrop,
    /// `tcp-response content close`: close the server side.
    Close,
}

/// A stream (or session) as the TCP rules see and change it.
pub struct TcpTxn<'a> {
    pub env: &'a dyn Env,
    pub vars: &'a Vars,
    pub caps: &'a mut Captures,
    /// `set-log-level`: None untouched, `Some(None)` silent.
    pub log_level: Option<LogLevel>,
}

impl std::fmt::Debug for TcpTxn<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpTxn")
            .field("vars", &self.vars)
            .field("caps", &self.caps)
            .finish_non_exhaustive()
    }
}

/// A backend's name -> its index in the engine's plan.
pub type BackendIndex<'a> = dyn Fn(&str) -> Option<usize> + 'a;

/// A proxy's compiled TCP rules and content switching.
#[derive(Debug)]
pub struct TcpRules {
    acls: Acls,
    maps: Maps,
    connection: Vec<Step>,
    session: Vec<Step>,
    content: Vec<Step>,
    response: Vec<Step>,
    /// `tcp-request inspect-delay` (None or zero: the content rules see
    /// what is there at once).
    pub inspect_delay: Option<Duration>,
    /// `tcp-response inspect-delay`.
    pub res_inspect_delay: Option<Duration>,
    /// `use_backend` rules (TCP mode; HTTP mode's are the HTTP rules').
    backends: Vec<(Option<Cond>, Target)>,
    /// `use-server` rules: (condition, server index).
    servers: Vec<(Option<Cond>, usize)>,
    /// The lengths of the request capture slots.
    req_slots: Vec<usize>,
}

/// The expressions a condition reads: its anonymous and predefined ACLs'
/// and the proxy's ACLs it names.
fn cond_exprs<'p>(c: &'p Condition, px: &'p Proxy) -> Vec<SampleExpr> {
    let (Condition::If(e) | Condition::Unless(e)) = c;
    let mut out: Vec<SampleExpr> = condition_defs(c, px).into_iter().map(|d| d.expr).collect();
    for t in e.any_of.iter().flatten() {
        out.extend(
            px.acls
                .iter()
                .filter(|a| a.def.name == t.acl.name())
                .map(|a| a.def.expr.clone()),
        );
    }
    out
}

/// The fetch and converters of `e` can run in `phase`.
fn check(e: &SampleExpr, phase: Phase) -> Result<(), CompileError> {
    let f = e.fetch.def.name;
    let ok = match phase {
        Phase::L4 => L4_FETCHES.contains(&f),
        Phase::Content => L4_FETCHES.contains(&f) || REQ_CONTENT_FETCHES.contains(&f),
        Phase::Response => L4_FETCHES.contains(&f) || RES_CONTENT_FETCHES.contains(&f),
        Phase::HttpContent => super::names::fetch_supported(f, &[]),
    };
    if !ok {
        let why = if super::names::fetch_supported(f, &[])
            || REQ_CONTENT_FETCHES.contains(&f)
            || RES_CONTENT_FETCHES.contains(&f)
        {
            match phase {
                Phase::L4 => "no content is read yet where this rule runs",
                _ => "HTTP fetches over a TCP stream's bytes are not supported yet",
            }
        } else {
            "not supported yet"
        };
        return Err(CompileError(format!("sample fetch '{f}': {why}")));
    }
    if let Some(c) = e
        .converters
        .iter()
        .find(|c| !super::names::converter_supported(c.def.name))
    {
        return Err(CompileError(format!(
            "converter '{}': not supported yet",
            c.def.name
        )));
    }
    Ok(())
}

/// The compile-time state.
struct Compiler<'p> {
    px: &'p Proxy,
    acls: Acls,
    req_slots: Vec<usize>,
}

/// One action of any TCP set, as the sets' enums hold it.
enum Any<'a> {
    Accept,
    Reject,
    Close,
    SilentDrop,
    SetVar(&'a SetVar<SampleExpr>),
    SetVarFmt(&'a SetVar<ringlb_config::logformat::LogFormat>),
    UnsetVar(&'a VarName),
    SetLogLevel(LogLevel),
    Capture(&'a ringlb_config::model::CaptureSample),
    Other(&'static str),
}

impl Compiler<'_> {
    fn step(
        &mut self,
        set: &str,
        phase: Phase,
        cond: Option<&Condition>,
        act: Any<'_>,
        loc: &ringlb_config::diag::Loc,
    ) -> Result<Step, CompileError> {
        let at = |e: CompileError| CompileError(format!("{loc}: {}", e.0));
        if let Some(c) = cond {
            for e in cond_exprs(c, self.px) {
                check(&e, phase).map_err(at)?;
            }
        }
        let cond = cond
            .map(|c| self.acls.condition(c))
            .transpose()
            .map_err(at)?;
        let act = match act {
            Any::Accept => Act::Accept,
            Any::Reject => Act::Reject,
            Any::Close => Act::Close,
            Any::SilentDrop => Act::SilentDrop,
            Any::SetVar(v) => {
                check(&v.value, phase).map_err(at)?;
                Act::SetVar {
                    var: v.var.clone(),
                    conds: v.conds.clone(),
                    value: Expr::compile(&v.value).map_err(at)?,
                }
            }
            Any::SetVarFmt(v) => {
                for i in &v.value.items {
                    if let ringlb_config::logformat::LogItem::Sample { expr, .. } = i {
                        check(expr, phase).map_err(at)?;
                    }
                }
                Act::SetVarFmt {
                    var: v.var.clone(),
                    conds: v.conds.clone(),
                    fmt: Fmt::compile(&v.value, false).map_err(at)?,
                }
            }
            Any::UnsetVar(v) => Act::UnsetVar(v.clone()),
            Any::SetLogLevel(l) => Act::SetLogLevel(l),
            Any::Capture(c) => {
                check(&c.expr, phase).map_err(at)?;
                let (slot, len) = match c.slot {
                    CaptureSlot::Len(n) => {
                        self.req_slots.push(n as usize);
                        (self.req_slots.len() - 1, n as usize)
                    }
                    CaptureSlot::Id(id) => {
                        let slot = id as usize;
                        let len = *self.req_slots.get(slot).ok_or_else(|| {
                            at(CompileError(format!(
                                "capture: no request capture slot with id {id}"
                            )))
                        })?;
                        (slot, len)
                    }
                };
                Act::Capture {
                    expr: Expr::compile(&c.expr).map_err(at)?,
                    slot,
                    len,
                }
            }
            Any::Other(name) => {
                return Err(at(CompileError(format!(
                    "'{set} {name}': not supported yet"
                ))))
            }
        };
        Ok(Step { cond, act })
    }
}

impl TcpRules {
    /// `px`'s TCP rules and, for a TCP-mode frontend, its `use_backend`
    /// rules (`backend_index`: a backend's name -> its plan index; None
    /// for a backend's side), or None when it has none. Refuses, naming
    /// the rule's place, what does not run.
    pub fn compile(
        px: &Proxy,
        backend_index: Option<&BackendIndex<'_>>,
    ) -> Result<Option<TcpRules>, CompileError> {
        let r = &px.rules;
        let http = px.mode() == Mode::Http;
        let tcp_backends = !http && !px.use_backends.is_empty() && backend_index.is_some();
        if r.tcp_request_connection.is_empty()
            && r.tcp_request_session.is_empty()
            && r.tcp_request_content.is_empty()
            && r.tcp_response_content.is_empty()
            && px.use_servers.is_empty()
            && !tcp_backends
        {
            return Ok(None);
        }
        let defs: Vec<_> = px.acls.iter().map(|a| a.def.clone()).collect();
        let mut c = Compiler {
            px,
            acls: Acls::compile(&defs)?,
            req_slots: Vec::new(),
        };
        // Capture slots as the HTTP rules number them: the declared ones
        // first, in order.
        for cap in &px.captures {
            match cap {
                Capture::RequestHeader { len, .. }
                | Capture::Declared {
                    response: false,
                    len,
                } => c.req_slots.push(*len as usize),
                _ => {}
            }
        }
        // HAProxy numbers capture slots in the order of their lines; the
        // HTTP rules number the tcp-request ones before their own.
        if http {
            let tcp_len = |r: &&ringlb_config::model::Rule<ContAct>| matches!(&r.action, ContAct::Capture(c) if matches!(c.slot, CaptureSlot::Len(_)));
            let http_len = |r: &&ringlb_config::model::Rule<
                ringlb_config::model::HttpRequestAction,
            >| {
                matches!(&r.action, ringlb_config::model::HttpRequestAction::Capture(c) if matches!(c.slot, CaptureSlot::Len(_)))
            };
            let last_tcp = r.tcp_request_content.iter().rfind(tcp_len);
            let first_http = r.http_request.iter().find(http_len);
            if let (Some(t), Some(h)) = (last_tcp, first_http) {
                if std::sync::Arc::ptr_eq(&t.loc.file, &h.loc.file) && t.loc.line > h.loc.line {
                    return Err(CompileError(format!(
                        "{}: a 'tcp-request content capture' after an 'http-request capture' line: not supported yet",
                        t.loc
                    )));
                }
            }
        }
        let mut connection = Vec::new();
        for rule in &r.tcp_request_connection {
            let act = match &rule.action {
                ConnAct::Accept => Any::Accept,
                ConnAct::Reject => Any::Reject,
                ConnAct::SilentDrop(None) => Any::SilentDrop,
                // 3.x's rst-ttl skips TCP repair for a reset of that TTL.
                ConnAct::SilentDrop(Some(_)) => Any::Other("silent-drop rst-ttl"),
                ConnAct::SetVar(v) => Any::SetVar(v),
                ConnAct::SetVarFmt(v) => Any::SetVarFmt(v),
                ConnAct::UnsetVar(v) => Any::UnsetVar(v),
                other => Any::Other(other.name()),
            };
            let set = "tcp-request connection";
            connection.push(c.step(set, Phase::L4, rule.cond.as_ref(), act, &rule.loc)?);
        }
        let mut session = Vec::new();
        for rule in &r.tcp_request_session {
            let act = match &rule.action {
                SessAct::Accept => Any::Accept,
                SessAct::Reject => Any::Reject,
                SessAct::SilentDrop(None) => Any::SilentDrop,
                // 3.x's rst-ttl skips TCP repair for a reset of that TTL.
                SessAct::SilentDrop(Some(_)) => Any::Other("silent-drop rst-ttl"),
                SessAct::SetVar(v) => Any::SetVar(v),
                SessAct::SetVarFmt(v) => Any::SetVarFmt(v),
                SessAct::UnsetVar(v) => Any::UnsetVar(v),
                other => Any::Other(other.name()),
            };
            let set = "tcp-request session";
            session.push(c.step(set, Phase::L4, rule.cond.as_ref(), act, &rule.loc)?);
        }
        let content_phase = if http {
            Phase::HttpContent
        } else {
            Phase::Content
        };
        let mut content = Vec::new();
        for rule in &r.tcp_request_content {
            let act = match &rule.action {
                ContAct::Accept => Any::Accept,
                ContAct::Reject => Any::Reject,
                ContAct::SilentDrop(None) => Any::SilentDrop,
                // 3.x's rst-ttl skips TCP repair for a reset of that TTL.
                ContAct::SilentDrop(Some(_)) => Any::Other("silent-drop rst-ttl"),
                ContAct::SetVar(v) => Any::SetVar(v),
                ContAct::SetVarFmt(v) => Any::SetVarFmt(v),
                ContAct::UnsetVar(v) => Any::UnsetVar(v),
                ContAct::SetLogLevel(l) => Any::SetLogLevel(*l),
                ContAct::Capture(cap) => Any::Capture(cap),
                other => Any::Other(other.name()),
            };
            let set = "tcp-request content";
            content.push(c.step(set, content_phase, rule.cond.as_ref(), act, &rule.loc)?);
        }
        let mut response = Vec::new();
        for rule in &r.tcp_response_content {
            let act = match &rule.action {
                ResAct::Accept => Any::Accept,
                ResAct::Reject => Any::Reject,
                ResAct::Close => Any::Close,
                ResAct::SetVar(v) => Any::SetVar(v),
                ResAct::SetVarFmt(v) => Any::SetVarFmt(v),
                ResAct::UnsetVar(v) => Any::UnsetVar(v),
                ResAct::SetLogLevel(l) => Any::SetLogLevel(*l),
                other => Any::Other(other.name()),
            };
            let set = "tcp-response content";
            // In HTTP mode they run once the server connection is up,
            // before the response is read (HAProxy 2.6's AN_RES_INSPECT
            // sees no HTTP message there): the response's payload
            // fetches find nothing; `close` would cut the response
            // before it starts, which is not done yet.
            if http && matches!(act, Any::Close) {
                return Err(CompileError(format!(
                    "{}: 'tcp-response content close' in HTTP mode: not supported yet",
                    rule.loc
                )));
            }
            response.push(c.step(set, Phase::Response, rule.cond.as_ref(), act, &rule.loc)?);
        }
        let mut backends = Vec::new();
        if tcp_backends {
            for u in &px.use_backends {
                let at = |e: CompileError| CompileError(format!("{}: {}", u.loc, e.0));
                if let Some(cond) = &u.cond {
                    for e in cond_exprs(cond, px) {
                        check(&e, Phase::Content).map_err(at)?;
                    }
                }
                let cond = u
                    .cond
                    .as_ref()
                    .map(|x| c.acls.condition(x))
                    .transpose()
                    .map_err(at)?;
                let target = match &u.target {
                    BackendTarget::Static(name) => {
                        Target::Index(backend_index.and_then(|f| f(name)).ok_or_else(|| {
                            at(CompileError(format!("use_backend: no backend '{name}'")))
                        })?)
                    }
                    BackendTarget::Dynamic(f) => {
                        for i in &f.items {
                            if let ringlb_config::logformat::LogItem::Sample { expr, .. } = i {
                                check(expr, Phase::Content).map_err(at)?;
                            }
                        }
                        Target::Name(Fmt::compile(f, false).map_err(at)?)
                    }
                };
                backends.push((cond, target));
            }
        }
        let mut servers = Vec::new();
        for u in &px.use_servers {
            let at = |e: CompileError| CompileError(format!("{}: {}", u.loc, e.0));
            if let Some(cond) = &u.cond {
                for e in cond_exprs(cond, px) {
                    check(&e, content_phase).map_err(at)?;
                }
            }
            let cond = u
                .cond
                .as_ref()
                .map(|x| c.acls.condition(x))
                .transpose()
                .map_err(at)?;
            let idx = px
                .servers
                .iter()
                .position(|s| s.name == u.server)
                .ok_or_else(|| {
                    at(CompileError(format!(
                        "use-server: no server '{}' in backend '{}'",
                        u.server, px.name
                    )))
                })?;
            servers.push((cond, idx));
        }
        let maps = super::exec::load_maps(px)?;
        Ok(Some(TcpRules {
            acls: c.acls,
            maps,
            connection,
            session,
            content,
            response,
            inspect_delay: r.tcp_request_inspect_delay.filter(|d| !d.is_zero()),
            res_inspect_delay: r.tcp_response_inspect_delay.filter(|d| !d.is_zero()),
            backends,
            servers,
            req_slots: c.req_slots,
        }))
    }

    /// Empty capture slots for a stream.
    pub fn new_captures(&self) -> Captures {
        Captures {
            req: vec![None; self.req_slots.len()],
            res: Vec::new(),
        }
    }

    pub fn has_connection_rules(&self) -> bool {
        !self.connection.is_empty()
    }
    pub fn has_session_rules(&self) -> bool {
        !self.session.is_empty()
    }
    pub fn has_content_rules(&self) -> bool {
        !self.content.is_empty()
    }
    pub fn has_response_rules(&self) -> bool {
        !self.response.is_empty()
    }
    pub fn has_backend_rules(&self) -> bool {
        !self.backends.is_empty()
    }
    pub fn has_server_rules(&self) -> bool {
        !self.servers.is_empty()
    }

    /// `tcp-request connection` rules.
    pub fn connection(&self, tx: &mut TcpTxn<'_>) -> Verdict {
        self.run(&self.connection, tx, None, true)
    }

    /// `tcp-request session` rules.
    pub fn session(&self, tx: &mut TcpTxn<'_>) -> Verdict {
        self.run(&self.session, tx, None, true)
    }

    /// `tcp-request content` rules. `partial`: while more bytes may come,
    /// the cell the stream's [`Env::may_change`] sets (None: final).
    pub fn content(&self, tx: &mut TcpTxn<'_>, partial: Option<&Cell<bool>>) -> Verdict {
        self.run(&self.content, tx, partial, false)
    }

    /// `tcp-response content` rules, as [`TcpRules::content`].
    pub fn response(&self, tx: &mut TcpTxn<'_>, partial: Option<&Cell<bool>>) -> Verdict {
        self.run(&self.response, tx, partial, false)
    }

    fn ctx<'c>(&'c self, head: &'c Head, tx: &'c TcpTxn<'_>) -> Ctx<'c> {
        Ctx {
            req: head,
            res: None,
            env: tx.env,
            vars: Some(tx.vars),
            caps: Some(&*tx.caps),
            maps: Some(&self.maps),
            users: None,
        }
    }

    fn run(
        &self,
        steps: &[Step],
        tx: &mut TcpTxn<'_>,
        partial: Option<&Cell<bool>>,
        l4: bool,
    ) -> Verdict {
        let head = Head::new();
        for step in steps {
            if let Some(c) = &step.cond {
                let cx = self.ctx(&head, tx);
                let pass = match partial {
                    None => self.acls.eval(c, &cx),
                    Some(cell) => match self.acls.eval_partial(c, &cx, cell) {
                        Tri::Miss => return Verdict::Wait,
                        t => t == Tri::Pass,
                    },
                };
                if !pass {
                    continue;
                }
            }
            match &step.act {
                Act::Accept => return Verdict::Continue,
                Act::Reject => return Verdict::Reject,
                Act::Close => return Verdict::Close,
                Act::SilentDrop => return Verdict::SilentDrop,
                Act::SetVar { var, conds, value } => {
                    let v = value.eval(&self.ctx(&head, tx));
                    if let Some(v) = v {
                        store(tx.vars, var, conds, v, l4);
                    }
                }
                Act::SetVarFmt { var, conds, fmt } => {
                    let v = Smp::Str(fmt.render(&self.ctx(&head, tx)));
                    store(tx.vars, var, conds, v, l4);
                }
                Act::UnsetVar(var) => {
                    if !l4 || session_scope(var.scope) {
                        tx.vars.unset(var.scope, &var.name);
                    }
                }
                Act::SetLogLevel(l) => tx.log_level = Some(*l),
                Act::Capture { expr, slot, len } => {
                    let v = expr
                        .eval(&self.ctx(&head, tx))
                        .and_then(|v| v.cast(ringlb_config::keywords::SmpType::Str));
                    if let Some(Smp::Str(mut v)) = v {
                        v.truncate(*len);
                        if let Some(s) = tx.caps.req.get_mut(*slot) {
                            *s = Some(v);
                        }
                    }
                }
            }
        }
        Verdict::Continue
    }

    /// The first `use_backend` rule whose condition holds (TCP mode).
    pub fn pick_backend(&self, tx: &mut TcpTxn<'_>) -> Option<Pick> {
        let head = Head::new();
        let cx = self.ctx(&head, tx);
        for (cond, target) in &self.backends {
            if cond.as_ref().is_some_and(|c| !self.acls.eval(c, &cx)) {
                continue;
            }
            return Some(match target {
                Target::Index(i) => Pick::Index(*i),
                Target::Name(f) => Pick::Name(String::from_utf8_lossy(&f.render(&cx)).into_owned()),
            });
        }
        None
    }

    /// `use-server`: the server of the first rule whose condition holds
    /// and whose server is not stopped (`alive`); a rule naming a stopped
    /// server is passed over for the next (process_server_rules).
    pub fn pick_server(
        &self,
        tx: &mut TcpTxn<'_>,
        req: Option<&Head>,
        alive: &dyn Fn(usize) -> bool,
    ) -> Option<usize> {
        let empty = Head::new();
        let mut cx = self.ctx(&empty, tx);
        if let Some(h) = req {
            cx.req = h;
        }
        for (cond, srv) in &self.servers {
            if cond.as_ref().is_some_and(|c| !self.acls.eval(c, &cx)) {
                continue;
            }
            if alive(*srv) {
                return Some(*srv);
            }
        }
        None
    }

    /// The `tcp-request content` rules of an HTTP stream, over its
    /// request head (HAProxy runs them on the HTX message, before the
    /// http-request rules); final: the head is complete.
    pub fn content_http(&self, req: &Head, tx: &mut TcpTxn<'_>) -> Verdict {
        for step in &self.content {
            if let Some(c) = &step.cond {
                let mut cx = self.ctx(req, tx);
                cx.req = req;
                if !self.acls.eval(c, &cx) {
                    continue;
                }
            }
            let cx_eval = |e: &Expr, tx: &TcpTxn<'_>| {
                let mut cx = self.ctx(req, tx);
                cx.req = req;
                e.eval(&cx)
            };
            match &step.act {
                Act::Accept => return Verdict::Continue,
                Act::Reject => return Verdict::Reject,
                Act::Close => return Verdict::Close,
                Act::SilentDrop => return Verdict::SilentDrop,
                Act::SetVar { var, conds, value } => {
                    if let Some(v) = cx_eval(value, tx) {
                        store(tx.vars, var, conds, v, false);
                    }
                }
                Act::SetVarFmt { var, conds, fmt } => {
                    let v = Smp::Str(fmt.render(&self.ctx(req, tx)));
                    store(tx.vars, var, conds, v, false);
                }
                Act::UnsetVar(var) => tx.vars.unset(var.scope, &var.name),
                Act::SetLogLevel(l) => tx.log_level = Some(*l),
                Act::Capture { expr, slot, len } => {
                    let v = cx_eval(expr, tx)
                        .and_then(|v| v.cast(ringlb_config::keywords::SmpType::Str));
                    if let Some(Smp::Str(mut v)) = v {
                        v.truncate(*len);
                        if let Some(s) = tx.caps.req.get_mut(*slot) {
                            *s = Some(v);
                        }
                    }
                }
            }
        }
        Verdict::Continue
    }
}

/// The scopes that exist before a stream does.
fn session_scope(s: VarScope) -> bool {
    matches!(s, VarScope::Sess | VarScope::Proc)
}

/// `set-var`: in the connection and session rules only `sess` and `proc`
/// variables exist (HAProxy has no stream for the others yet and drops
/// the write).
fn store(vars: &Vars, var: &VarName, conds: &[VarCond], v: Smp, l4: bool) {
    if l4 && !session_scope(var.scope) {
        return;
    }
    vars.set_if(var.scope, &var.name, v, conds);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;
    use std::net::SocketAddr;

    struct NoHost;
    impl ringlb_config::Host for NoHost {
        fn env(&self, _: &str) -> Option<String> {
            None
        }
        fn read_file(&self, p: &str) -> Result<Vec<u8>, String> {
            Err(format!("no file {p}"))
        }
    }

    fn rules(lines: &str) -> TcpRules {
        let text = format!(
            "defaults\n    mode tcp\nfrontend fe\n    bind 127.0.0.1:1\n{lines}    default_backend be\n\
             backend be\n    server s 127.0.0.1:2\n"
        );
        let (cfg, diags) =
            ringlb_config::load(&[ringlb_config::SourceFile::new("t.cfg", text)], &NoHost);
        assert!(!diags.has_errors(), "{diags:?}");
        let px = cfg.proxy("fe").unwrap();
        TcpRules::compile(px, Some(&|_: &str| Some(0)))
            .unwrap()
            .unwrap()
    }

    struct Bytes<'a>(&'a [u8], &'a Cell<bool>);
    impl Env for Bytes<'_> {
        fn src(&self) -> Option<SocketAddr> {
            None
        }
        fn dst(&self) -> Option<SocketAddr> {
            None
        }
        fn frontend(&self) -> &str {
            "fe"
        }
        fn req_payload(&self) -> Option<&[u8]> {
            Some(self.0)
        }
        fn may_change(&self) {
            self.1.set(true);
        }
    }

    fn content(r: &TcpRules, data: &[u8], partial: bool) -> Verdict {
        let cell = Cell::new(false);
        let env = Bytes(data, &cell);
        let vars = Vars::default();
        let mut caps = r.new_captures();
        let mut tx = TcpTxn {
            env: &env,
            vars: &vars,
            caps: &mut caps,
            log_level: None,
        };
        r.content(&mut tx, partial.then_some(&cell))
    }

    /// HAProxy's tcp_inspect_request: a condition whose fetch may change
    /// with more bytes waits while the evaluation is partial; final, it
    /// is a plain non-match.
    #[test]
    fn a_condition_waits_while_its_fetch_may_change() {
        let r = rules(
            "    tcp-request content accept if { req.len ge 5 }\n    tcp-request content reject\n",
        );
        assert_eq!(content(&r, b"ab", true), Verdict::Wait);
        assert_eq!(content(&r, b"ab", false), Verdict::Reject);
        assert_eq!(content(&r, b"abcde", true), Verdict::Continue);
        // A miss survives negation and `unless`.
        let r =
            rules("    tcp-request content reject unless !{ req.payload(0,3) -m bin 414243 }\n");
        assert_eq!(content(&r, b"AB", true), Verdict::Wait);
        assert_eq!(content(&r, b"ABC", true), Verdict::Reject);
        assert_eq!(content(&r, b"XYZ", true), Verdict::Continue);
        // Not TLS: the SNI never comes, no wait.
        let r = rules("    tcp-request content reject if { req.ssl_sni -m found }\n");
        assert_eq!(content(&r, b"GET / HTTP/1.1\r\n", true), Verdict::Continue);
        assert_eq!(content(&r, b"\x16\x03", true), Verdict::Wait);
        // An AND with a failing term does not wait; an OR with a passing
        // suite does not either.
        let r = rules(
            "    tcp-request content reject if { req.len ge 5 } { always_false }\n\
             \x20   tcp-request content accept if { req.len ge 5 } || { always_true }\n\
             \x20   tcp-request content reject\n",
        );
        assert_eq!(content(&r, b"ab", true), Verdict::Continue);
    }

    /// Connection rules only write session-scoped variables (no stream
    /// yet); unknown servers and HTTP fetches over TCP are refused.
    #[test]
    fn phases_limit_what_rules_use() {
        let r = rules(
            "    tcp-request connection set-var(txn.t) int(1)\n    tcp-request connection set-var(sess.s) int(2)\n",
        );
        let vars = Vars::default();
        let mut caps = Captures::default();
        let env = super::super::env::Conn::default();
        let mut tx = TcpTxn {
            env: &env,
            vars: &vars,
            caps: &mut caps,
            log_level: None,
        };
        assert_eq!(r.connection(&mut tx), Verdict::Continue);
        assert!(vars.get(VarScope::Txn, "t").is_none());
        assert_eq!(vars.get(VarScope::Sess, "s"), Some(Smp::Int(2)));
        let px_err = |lines: &str| {
            let text = format!(
                "defaults\n    mode tcp\nfrontend fe\n    bind 127.0.0.1:1\n{lines}    default_backend be\n\
                 backend be\n    server s 127.0.0.1:2\n"
            );
            let (cfg, _) =
                ringlb_config::load(&[ringlb_config::SourceFile::new("t.cfg", text)], &NoHost);
            TcpRules::compile(cfg.proxy("fe").unwrap(), Some(&|_: &str| Some(0)))
                .err()
                .map(|e| e.0)
        };
        let e = px_err("    tcp-request content reject if { path /x }\n").unwrap();
        assert!(e.contains("not supported yet"), "{e}");
        let e = px_err("    tcp-request connection track-sc0 src\n").unwrap();
        assert!(e.contains("not supported yet"), "{e}");
    }
}
