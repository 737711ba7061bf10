//! One proxy's HTTP rule sets, compiled once at start-up and run per
//! transaction: its ACLs, `http-request`, `http-response`,
//! `http-after-response` rules and `use_backend` rules (HAProxy's
//! `http_req_get_intercept_rule` / `http_res_get_intercept_rule` and
//! `process_switching_rules`, 2.6 semantics).
//!
//! The stream engine builds a [`Txn`] over the stream's heads and calls,
//! in HAProxy's order: the frontend's [`HttpRules::capture_request`] and
//! [`HttpRules::request`], then [`HttpRules::pick_backend`], the
//! backend's [`HttpRules::request`] (a `listen` runs one set); on the
//! response the backend's then the frontend's [`HttpRules::response`],
//! then [`HttpRules::after_response`] (backend, frontend) on every
//! response the client gets, generated replies included. The actions
//! themselves are in [`super::exec`].

use std::time::Duration;

use ringlb_config::model::{
    BackendTarget, Capture, CaptureSlot, HttpAfterResponseAction as After,
    HttpRequestAction as Req, HttpResponseAction as Res, Proxy, Redirect, Reply as ReplyConf,
    ReplyPayload, SetHeader, SetVar, VarCond, VarName,
};
use ringlb_proto::msg::Head;

use super::acl::{Acls, Cond};
use super::auth::Userlists;
pub use super::env::{Captures, Conn, Env, Vars};
use super::expr::Expr;
use super::fetch::Ctx;
use super::logfmt::Fmt;
pub use super::pattern::CompileError;
use super::sample::Maps;

/// One proxy's compiled HTTP rules.
#[derive(Debug)]
pub struct HttpRules {
    pub(super) acls: Acls,
    pub(super) maps: Maps,
    pub(super) users: Userlists,
    pub(super) request: Vec<Step>,
    pub(super) response: Vec<Step>,
    pub(super) after: Vec<Step>,
    backends: Vec<(Option<Cond>, Target)>,
    /// The lengths of the request and response capture slots.
    req_slots: Vec<usize>,
    res_slots: Vec<usize>,
    /// `capture request|response header <name> len <n>`: (response?,
    /// lower-case name, slot).
    hdr_caps: Vec<(bool, Vec<u8>, usize)>,
    /// `timeout tarpit`, or `timeout connect` without it (HAProxy's
    /// check_config_validity).
    pub(super) tarpit: Duration,
    /// The proxy's name: `auth`'s default realm.
    pub(super) name: String,
}

#[derive(Debug)]
enum Target {
    Index(usize),
    Name(Fmt),
}

/// What `pick_backend` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pick {
    Index(usize),
    /// A dynamic name: the engine looks it up, and uses the default
    /// backend when no backend has this name (as HAProxy does).
    Name(String),
}

/// A transaction as the rules see and change it.
pub struct Txn<'a> {
    pub req: &'a mut Head,
    /// The response, for `response` and `after_response` (the reply the
    /// proxy generated, for the latter).
    pub res: Option<&'a mut Head>,
    pub env: &'a dyn Env,
    /// The stream's variables: the engine keeps them per session and calls
    /// [`Vars::end_txn`] between transactions.
    pub vars: &'a mut Vars,
    /// The capture slots, made by [`HttpRules::new_captures`] (the
    /// frontend's: captures are the frontend's in HAProxy).
    pub caps: &'a mut Captures,
    /// `set-log-level`: None untouched, `Some(None)` silent.
    pub log_level: Option<ringlb_config::model::LogLevel>,
}

impl std::fmt::Debug for Txn<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Txn")
            .field("req", &self.req.line_parts())
            .field("res", &self.res.as_deref().map(Head::line_parts))
            .field("vars", &self.vars)
            .field("caps", &self.caps)
            .field("log_level", &self.log_level)
            .finish_non_exhaustive()
    }
}

impl Txn<'_> {
    /// The fetch context over this transaction, with `rules`' maps and
    /// userlists.
    pub(super) fn ctx<'c>(&'c self, rules: &'c HttpRules) -> Ctx<'c> {
        Ctx {
            req: self.req,
            res: self.res.as_deref(),
            env: self.env,
            vars: Some(self.vars),
            caps: Some(self.caps),
            maps: Some(&rules.maps),
            users: Some(&rules.users),
        }
    }
}

/// What a rule set decided.
#[derive(Debug)]
pub enum Verdict {
    /// Go on (no rule stopped evaluation, or `allow`).
    Continue,
    /// Stop and answer the client with this instead of going on.
    Reply(Reply),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyKind {
    /// `deny`: the engine logs PR and counts a denial.
    Deny,
    /// `tarpit`: hold the connection this long, then answer (PT). Zero:
    /// no `timeout tarpit` nor `timeout connect` (a frontend has no
    /// connect timeout): HAProxy then holds until the client timeout.
    Tarpit(Duration),
    /// `return` (LR).
    Return,
    /// `redirect` (LR).
    Redirect,
    /// `auth` (LR; HAProxy counts it as an HTTP error).
    Auth,
}

/// An answer to the client.
#[derive(Debug)]
pub struct Reply {
    pub kind: ReplyKind,
    pub status: u16,
    /// None: the engine renders the proxy's error page for `status`
    /// (errorfile or HAProxy's default page), then sets `headers` on it.
    /// Some: the complete response head and body.
    pub message: Option<(Head, Vec<u8>)>,
    /// Headers to set on the rendered error page, replacing any of the
    /// same name (`auth`'s `WWW-Authenticate`); empty otherwise.
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
}

/// A compiled rule.
#[derive(Debug)]
pub(super) struct Step {
    pub cond: Option<Cond>,
    pub act: Act,
}

/// How `del-header -m` compares names.
#[derive(Debug)]
pub(super) enum NameMatch {
    Str,
    Beg,
    End,
    Sub,
    Reg(regex::bytes::Regex),
}

/// The request line part a `set-*` / `replace-*` rewrites.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Part {
    Method,
    Path,
    Pathq,
    Query,
    Uri,
}

/// A compiled reply of `deny`, `tarpit`, `return`.
#[derive(Debug)]
pub(super) struct ReplySpec {
    pub status: u16,
    pub body: ReplyBody,
    pub ctype: Option<String>,
    pub hdrs: Vec<(Vec<u8>, Fmt)>,
}

#[derive(Debug)]
pub(super) enum ReplyBody {
    /// The proxy's error page for the status (the engine's).
    ErrorPage,
    /// No payload: an empty response with the configured headers.
    Empty,
    /// `string` / `file`.
    Raw(Vec<u8>),
    /// `lf-string` / `lf-file`.
    Lf(Fmt),
    /// `errorfile`: a complete response read at start-up.
    Full(Head, Vec<u8>),
}

#[derive(Debug)]
pub(super) struct RedirectSpec {
    pub conf: Redirect,
    pub target: Fmt,
    pub code: u16,
    /// The Set-Cookie value (`set-cookie` / `clear-cookie`).
    pub cookie: Option<Vec<u8>>,
}

/// An action of any of the three sets (each set's rules only hold what
/// HAProxy offers there: the config crate's enums make sure of it).
#[derive(Debug)]
pub(super) enum Act {
    Allow,
    SetHeader {
        name: Vec<u8>,
        value: Fmt,
        add: bool,
    },
    DelHeader {
        name: Vec<u8>,
        how: NameMatch,
    },
    ReplaceHeader {
        name: Vec<u8>,
        re: regex::bytes::Regex,
        fmt: Fmt,
        full: bool,
    },
    SetLine {
        part: Part,
        fmt: Fmt,
    },
    ReplaceLine {
        part: Part,
        re: regex::bytes::Regex,
        fmt: Fmt,
    },
    SetStatus {
        status: u16,
        reason: Option<Vec<u8>>,
    },
    Redirect(Box<RedirectSpec>),
    Reply {
        kind: Kind,
        spec: Box<ReplySpec>,
    },
    Auth {
        realm: Option<String>,
    },
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
    SetLogLevel(ringlb_config::model::LogLevel),
    Capture {
        expr: Expr,
        slot: usize,
        len: usize,
        res: bool,
    },
}

/// Which reply action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Deny,
    Tarpit,
    Return,
}

fn regex(re: &str) -> Result<regex::bytes::Regex, CompileError> {
    regex::bytes::RegexBuilder::new(re)
        .unicode(false)
        .build()
        .map_err(|e| CompileError(format!("invalid regex '{re}': {e}")))
}

fn http_fmt(f: &ringlb_config::logformat::LogFormat) -> Result<Fmt, CompileError> {
    Fmt::compile(f, true)
}

/// The compile-time state: the proxy, and the ACLs conditions compile
/// against.
struct Compiler<'p> {
    px: &'p Proxy,
    acls: Acls,
    req_slots: Vec<usize>,
    res_slots: Vec<usize>,
}

impl Compiler<'_> {
    fn cond(
        &mut self,
        c: Option<&ringlb_config::acl::Condition>,
    ) -> Result<Option<Cond>, CompileError> {
        c.map(|c| self.acls.condition(c)).transpose()
    }

    fn set_header(h: &SetHeader, add: bool) -> Result<Act, CompileError> {
        Ok(Act::SetHeader {
            name: h.name.as_bytes().to_vec(),
            value: http_fmt(&h.value)?,
            add,
        })
    }

    fn del_header(d: &ringlb_config::model::DelHeader) -> Result<Act, CompileError> {
        use ringlb_config::model::HdrMatch;
        let how = match d.method {
            HdrMatch::Str => NameMatch::Str,
            HdrMatch::Beg => NameMatch::Beg,
            HdrMatch::End => NameMatch::End,
            HdrMatch::Sub => NameMatch::Sub,
            HdrMatch::Reg => NameMatch::Reg(regex(&d.name)?),
        };
        Ok(Act::DelHeader {
            name: d.name.as_bytes().to_vec(),
            how,
        })
    }

    fn replace_header(
        r: &ringlb_config::model::ReplaceHeader,
        full: bool,
    ) -> Result<Act, CompileError> {
        Ok(Act::ReplaceHeader {
            name: r.name.as_bytes().to_vec(),
            re: regex(&r.regex)?,
            fmt: http_fmt(&r.replace)?,
            full,
        })
    }

    fn replace_line(part: Part, r: &ringlb_config::model::Replace) -> Result<Act, CompileError> {
        Ok(Act::ReplaceLine {
            part,
            re: regex(&r.regex)?,
            fmt: http_fmt(&r.replace)?,
        })
    }

    fn set_var(v: &SetVar<ringlb_config::sample::SampleExpr>) -> Result<Act, CompileError> {
        Ok(Act::SetVar {
            var: v.var.clone(),
            conds: v.conds.clone(),
            value: Expr::compile(&v.value)?,
        })
    }

    fn set_var_fmt(v: &SetVar<ringlb_config::logformat::LogFormat>) -> Result<Act, CompileError> {
        Ok(Act::SetVarFmt {
            var: v.var.clone(),
            conds: v.conds.clone(),
            fmt: Fmt::compile(&v.value, false)?,
        })
    }

    fn redirect(r: &Redirect) -> Result<Act, CompileError> {
        let code = r.code.unwrap_or(302);
        // A prefix of "/" adds nothing (http_parse_redirect_rule).
        let target = if r.kind == ringlb_config::model::RedirectKind::Prefix && r.target.text == "/"
        {
            Fmt::literal("")
        } else {
            http_fmt(&r.target)?
        };
        if r.set_cookie_fmt.is_some() {
            return Err(CompileError(
                "redirect 'set-cookie-fmt': not supported yet".into(),
            ));
        }
        let cookie = match (&r.set_cookie, &r.clear_cookie) {
            (Some(c), _) => Some(format!("{c}; path=/;").into_bytes()),
            (None, Some(c)) => Some(format!("{c}; path=/; Max-Age=0;").into_bytes()),
            (None, None) => None,
        };
        Ok(Act::Redirect(Box::new(RedirectSpec {
            conf: r.clone(),
            target,
            code,
            cookie,
        })))
    }

    fn reply(kind: Kind, r: &ReplyConf, default_status: u16) -> Result<Act, CompileError> {
        let status = r.status.unwrap_or(default_status);
        let plain = r.content_type.is_none() && r.headers.is_empty();
        let body = match &r.payload {
            Some(ReplyPayload::DefaultErrorfiles) => ReplyBody::ErrorPage,
            // `deny` / `tarpit` alone use the error page; `return` alone
            // (or any with `status`) is an empty reply.
            None if kind != Kind::Return && plain && r.status.is_none() => ReplyBody::ErrorPage,
            None => ReplyBody::Empty,
            Some(ReplyPayload::String(s)) => ReplyBody::Raw(s.as_bytes().to_vec()),
            Some(ReplyPayload::File(f)) => ReplyBody::Raw(
                std::fs::read(f).map_err(|e| CompileError(format!("cannot read '{f}': {e}")))?,
            ),
            Some(ReplyPayload::LfString(f)) => ReplyBody::Lf(http_fmt(f)?),
            Some(ReplyPayload::LfFile(f)) => {
                let text = std::fs::read_to_string(f)
                    .map_err(|e| CompileError(format!("cannot read '{f}': {e}")))?;
                let lf = ringlb_config::logformat::parse_log_format(&text)
                    .map_err(|e| CompileError(format!("'{f}': {e}")))?;
                ReplyBody::Lf(http_fmt(&lf)?)
            }
            Some(ReplyPayload::Errorfile(f)) => {
                let raw = std::fs::read(f)
                    .map_err(|e| CompileError(format!("cannot read '{f}': {e}")))?;
                let (head, body) = super::exec::parse_response(&raw)
                    .ok_or_else(|| CompileError(format!("'{f}': not a valid HTTP response")))?;
                ReplyBody::Full(head, body)
            }
            Some(ReplyPayload::Errorfiles(name)) => {
                return Err(CompileError(format!(
                    "'errorfiles {name}' in a reply: not supported yet"
                )))
            }
        };
        // The error page and errorfiles ignore content-type and hdr.
        let keeps_args = matches!(
            body,
            ReplyBody::Raw(_) | ReplyBody::Lf(_) | ReplyBody::Empty
        );
        let hdrs = if keeps_args {
            r.headers
                .iter()
                .map(|(n, f)| Ok((n.as_bytes().to_vec(), http_fmt(f)?)))
                .collect::<Result<_, CompileError>>()?
        } else {
            Vec::new()
        };
        let ctype = match &body {
            ReplyBody::Raw(b) if !b.is_empty() => r.content_type.clone(),
            ReplyBody::Lf(_) => r.content_type.clone(),
            _ => None,
        };
        Ok(Act::Reply {
            kind,
            spec: Box::new(ReplySpec {
                status,
                body,
                ctype,
                hdrs,
            }),
        })
    }

    fn capture(
        &mut self,
        c: &ringlb_config::model::CaptureSample,
        res: bool,
    ) -> Result<Act, CompileError> {
        let slots = if res {
            &mut self.res_slots
        } else {
            &mut self.req_slots
        };
        let (slot, len) = match c.slot {
            CaptureSlot::Len(n) => {
                let len = n as usize;
                slots.push(len);
                (slots.len() - 1, len)
            }
            CaptureSlot::Id(id) => {
                let slot = id as usize;
                let len = *slots.get(slot).ok_or_else(|| {
                    CompileError(format!(
                        "capture: no {} capture slot with id {id}",
                        if res { "response" } else { "request" }
                    ))
                })?;
                (slot, len)
            }
        };
        Ok(Act::Capture {
            expr: Expr::compile(&c.expr)?,
            slot,
            len,
            res,
        })
    }

    fn request(&mut self, a: &Req) -> Result<Act, CompileError> {
        Ok(match a {
            Req::Allow => Act::Allow,
            Req::SetHeader(h) => Self::set_header(h, false)?,
            Req::AddHeader(h) => Self::set_header(h, true)?,
            Req::DelHeader(d) => Self::del_header(d)?,
            Req::ReplaceHeader(r) => Self::replace_header(r, true)?,
            Req::ReplaceValue(r) => Self::replace_header(r, false)?,
            Req::SetPath(f) => Act::SetLine {
                part: Part::Path,
                fmt: http_fmt(f)?,
            },
            Req::SetPathq(f) => Act::SetLine {
                part: Part::Pathq,
                fmt: http_fmt(f)?,
            },
            Req::SetQuery(f) => Act::SetLine {
                part: Part::Query,
                fmt: http_fmt(f)?,
            },
            Req::SetUri(f) => Act::SetLine {
                part: Part::Uri,
                fmt: http_fmt(f)?,
            },
            Req::SetMethod(f) => Act::SetLine {
                part: Part::Method,
                fmt: http_fmt(f)?,
            },
            Req::ReplacePath(r) => Self::replace_line(Part::Path, r)?,
            Req::ReplacePathq(r) => Self::replace_line(Part::Pathq, r)?,
            Req::ReplaceUri(r) => Self::replace_line(Part::Uri, r)?,
            Req::Redirect(r) => Self::redirect(r)?,
            Req::Deny(r) => Self::reply(Kind::Deny, r, 403)?,
            Req::Tarpit(r) => Self::reply(Kind::Tarpit, r, 500)?,
            Req::Return(r) => Self::reply(Kind::Return, r, 200)?,
            Req::Auth(realm) => Act::Auth {
                realm: realm.clone(),
            },
            Req::SetVar(v) => Self::set_var(v)?,
            Req::SetVarFmt(v) => Self::set_var_fmt(v)?,
            Req::UnsetVar(v) => Act::UnsetVar(v.clone()),
            Req::SetLogLevel(l) => Act::SetLogLevel(*l),
            Req::Capture(c) => self.capture(c, false)?,
            other => return Err(unsupported("http-request", other.name())),
        })
    }

    fn response(&mut self, a: &Res) -> Result<Act, CompileError> {
        Ok(match a {
            Res::Allow => Act::Allow,
            Res::SetHeader(h) => Self::set_header(h, false)?,
            Res::AddHeader(h) => Self::set_header(h, true)?,
            Res::DelHeader(d) => Self::del_header(d)?,
            Res::ReplaceHeader(r) => Self::replace_header(r, true)?,
            Res::ReplaceValue(r) => Self::replace_header(r, false)?,
            Res::SetStatus(s) => Act::SetStatus {
                status: s.status,
                reason: s.reason.as_ref().map(|r| r.as_bytes().to_vec()),
            },
            Res::Deny(r) => Self::reply(Kind::Deny, r, 502)?,
            Res::Return(r) => Self::reply(Kind::Return, r, 200)?,
            Res::Redirect(r) => Self::redirect(r)?,
            Res::SetVar(v) => Self::set_var(v)?,
            Res::SetVarFmt(v) => Self::set_var_fmt(v)?,
            Res::UnsetVar(v) => Act::UnsetVar(v.clone()),
            Res::SetLogLevel(l) => Act::SetLogLevel(*l),
            Res::Capture(c) => self.capture(c, true)?,
            other => return Err(unsupported("http-response", other.name())),
        })
    }

    fn after(&mut self, a: &After) -> Result<Act, CompileError> {
        Ok(match a {
            After::Allow => Act::Allow,
            After::SetHeader(h) => Self::set_header(h, false)?,
            After::AddHeader(h) => Self::set_header(h, true)?,
            After::DelHeader(d) => Self::del_header(d)?,
            After::ReplaceHeader(r) => Self::replace_header(r, true)?,
            After::ReplaceValue(r) => Self::replace_header(r, false)?,
            After::SetStatus(s) => Act::SetStatus {
                status: s.status,
                reason: s.reason.as_ref().map(|r| r.as_bytes().to_vec()),
            },
            After::SetVar(v) => Self::set_var(v)?,
            After::SetVarFmt(v) => Self::set_var_fmt(v)?,
            After::UnsetVar(v) => Act::UnsetVar(v.clone()),
            After::SetLogLevel(l) => Act::SetLogLevel(*l),
            other => return Err(unsupported("http-after-response", other.name())),
        })
    }
}

fn unsupported(set: &str, action: &str) -> CompileError {
    CompileError(format!("'{set} {action}': not supported yet"))
}

/// An expression's references the rules must have: the userlist of
/// `http_auth` / `http_auth_group` (given to [`HttpRules::compile_with`]).
fn check_expr(
    e: &ringlb_config::sample::SampleExpr,
    users: &Userlists,
) -> Result<(), CompileError> {
    if matches!(e.fetch.def.name, "http_auth" | "http_auth_group") {
        let list = match e.fetch.args.first() {
            Some(ringlb_config::sample::Arg::Userlist(l) | ringlb_config::sample::Arg::Str(l)) => l,
            _ => "",
        };
        if !users.has(list) {
            return Err(CompileError(format!(
                "{}: userlist '{list}' was not given to the rules (HttpRules::compile_with)",
                e.fetch.def.name
            )));
        }
    }
    Ok(())
}

impl HttpRules {
    /// Compile `px`'s HTTP rules. `backend_index`: a backend's name -> its
    /// index in the engine's plan. Refuses, naming it, any action or fetch
    /// not implemented yet.
    pub fn compile(
        px: &Proxy,
        backend_index: &dyn Fn(&str) -> Option<usize>,
    ) -> Result<HttpRules, CompileError> {
        HttpRules::compile_with(px, &[], backend_index)
    }

    /// [`HttpRules::compile`] with the configuration's userlists, for
    /// `http_auth` and `http_auth_group` (a reference to a userlist not
    /// given is refused).
    pub fn compile_with(
        px: &Proxy,
        userlists: &[ringlb_config::model::Userlist],
        backend_index: &dyn Fn(&str) -> Option<usize>,
    ) -> Result<HttpRules, CompileError> {
        let users = Userlists::compile(userlists)?;
        let defs: Vec<_> = px.acls.iter().map(|a| a.def.clone()).collect();
        for d in &defs {
            check_expr(&d.expr, &users)?;
        }
        let mut c = Compiler {
            px,
            acls: Acls::compile(&defs)?,
            req_slots: Vec::new(),
            res_slots: Vec::new(),
        };
        let mut hdr_caps = Vec::new();
        for cap in &c.px.captures {
            match cap {
                Capture::RequestHeader { name, len } => {
                    hdr_caps.push((
                        false,
                        name.to_ascii_lowercase().into_bytes(),
                        c.req_slots.len(),
                    ));
                    c.req_slots.push(*len as usize);
                }
                Capture::ResponseHeader { name, len } => {
                    hdr_caps.push((
                        true,
                        name.to_ascii_lowercase().into_bytes(),
                        c.res_slots.len(),
                    ));
                    c.res_slots.push(*len as usize);
                }
                Capture::Declared {
                    response: false,
                    len,
                } => c.req_slots.push(*len as usize),
                Capture::Declared {
                    response: true,
                    len,
                } => c.res_slots.push(*len as usize),
                Capture::Cookie { .. } => {}
            }
        }
        let conds = px.rules.all();
        let conds = conds
            .iter()
            .filter_map(|(c, _, _)| *c)
            .chain(px.use_backends.iter().filter_map(|u| u.cond.as_ref()));
        for c in conds {
            let (ringlb_config::acl::Condition::If(e) | ringlb_config::acl::Condition::Unless(e)) =
                c;
            for t in e.any_of.iter().flatten() {
                if let ringlb_config::acl::AclRef::Anonymous(d) = &t.acl {
                    check_expr(&d.expr, &users)?;
                }
            }
        }
        for (_, refs, _) in px.rules.all() {
            for e in &refs.exprs {
                check_expr(e, &users)?;
            }
        }
        let at = |loc: &ringlb_config::diag::Loc, e: CompileError| {
            CompileError(format!("{loc}: {}", e.0))
        };
        let mut request = Vec::new();
        for r in &px.rules.http_request {
            let cond = c.cond(r.cond.as_ref()).map_err(|e| at(&r.loc, e))?;
            let act = c.request(&r.action).map_err(|e| at(&r.loc, e))?;
            request.push(Step { cond, act });
        }
        let mut response = Vec::new();
        for r in &px.rules.http_response {
            let cond = c.cond(r.cond.as_ref()).map_err(|e| at(&r.loc, e))?;
            let act = c.response(&r.action).map_err(|e| at(&r.loc, e))?;
            response.push(Step { cond, act });
        }
        let mut after = Vec::new();
        for r in &px.rules.http_after_response {
            let cond = c.cond(r.cond.as_ref()).map_err(|e| at(&r.loc, e))?;
            let act = c.after(&r.action).map_err(|e| at(&r.loc, e))?;
            after.push(Step { cond, act });
        }
        let mut backends = Vec::new();
        for u in &px.use_backends {
            let cond = c.cond(u.cond.as_ref()).map_err(|e| at(&u.loc, e))?;
            let target = match &u.target {
                BackendTarget::Static(name) => {
                    Target::Index(backend_index(name).ok_or_else(|| {
                        at(
                            &u.loc,
                            CompileError(format!("use_backend: no backend '{name}'")),
                        )
                    })?)
                }
                // Not an HTTP format: HAProxy parses it with no option.
                BackendTarget::Dynamic(f) => {
                    Target::Name(Fmt::compile(f, false).map_err(|e| at(&u.loc, e))?)
                }
            };
            backends.push((cond, target));
        }
        let maps = super::exec::load_maps(px)?;
        let timeouts = &px.timeouts;
        Ok(HttpRules {
            acls: c.acls,
            maps,
            users,
            request,
            response,
            after,
            backends,
            req_slots: c.req_slots,
            res_slots: c.res_slots,
            hdr_caps,
            tarpit: timeouts.tarpit.or(timeouts.connect).unwrap_or_default(),
            name: px.name.clone(),
        })
    }

    /// Empty capture slots for a transaction.
    pub fn new_captures(&self) -> Captures {
        Captures {
            req: vec![None; self.req_slots.len()],
            res: vec![None; self.res_slots.len()],
        }
    }

    /// `capture request header`: each configured header's last value,
    /// cut to its length (HAProxy's `http_capture_headers`, before the
    /// frontend's http-request rules).
    pub fn capture_request(&self, tx: &mut Txn<'_>) {
        self.capture_headers(false, tx.req, &mut tx.caps.req);
    }

    /// `capture response header`, before the http-response rules.
    pub fn capture_response(&self, tx: &mut Txn<'_>) {
        if let Some(res) = tx.res.as_deref() {
            self.capture_headers(true, res, &mut tx.caps.res);
        }
    }

    fn capture_headers(&self, response: bool, h: &Head, slots: &mut [Option<Vec<u8>>]) {
        let lens = if response {
            &self.res_slots
        } else {
            &self.req_slots
        };
        for (_, name, slot) in self.hdr_caps.iter().filter(|c| c.0 == response) {
            let Some(v) = h
                .fields()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
                .last()
            else {
                continue;
            };
            let len = lens.get(*slot).copied().unwrap_or(0).min(v.len());
            if let Some(s) = slots.get_mut(*slot) {
                *s = Some(v.get(..len).unwrap_or_default().to_vec());
            }
        }
    }

    /// The http-request rules in order.
    pub fn request(&self, tx: &mut Txn<'_>) -> Verdict {
        self.run(&self.request, tx)
    }

    /// The http-response rules (`tx.res` is Some).
    pub fn response(&self, tx: &mut Txn<'_>) -> Verdict {
        self.run(&self.response, tx)
    }

    /// The http-after-response rules (also on replies the proxy made).
    /// HAProxy has no reply from them: a Reply here cannot happen.
    pub fn after_response(&self, tx: &mut Txn<'_>) -> Verdict {
        self.run(&self.after, tx)
    }

    /// The first use_backend rule whose condition matches.
    pub fn pick_backend(&self, tx: &mut Txn<'_>) -> Option<Pick> {
        let cx = tx.ctx(self);
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

    /// Whether the proxy has any rule for this phase (the engine may skip
    /// building a Txn otherwise).
    pub fn has_request_rules(&self) -> bool {
        !self.request.is_empty() || !self.backends.is_empty()
    }

    pub fn has_response_rules(&self) -> bool {
        !self.response.is_empty() || !self.after.is_empty()
    }
}

#[cfg(test)]
mod tests;
