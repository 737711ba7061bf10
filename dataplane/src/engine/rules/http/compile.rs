//! Compiling a proxy's HTTP rules: each rule's action into an [`Act`]
//! (regexes, log formats and replies built once), each condition over the
//! proxy's ACLs, and the refusal, naming it and its place, of any action,
//! fetch or converter the rules do not run yet.

use ringlb_config::acl::{predefined_def, AclDef, AclRef, Condition};
use ringlb_config::diag::Loc;
use ringlb_config::logformat::{LogFormat, LogItem};
use ringlb_config::model::{
    BackendTarget, Capture, CaptureSlot, HttpAfterResponseAction as After,
    HttpRequestAction as Req, HttpResponseAction as Res, Proxy, Redirect, Reply as ReplyConf,
    ReplyPayload, SetHeader, SetVar, Userlist,
};
use ringlb_config::sample::{Arg, SampleExpr};

use super::super::acl::{Acls, Cond};
use super::super::auth::Userlists;
use super::super::engine_act;
use super::super::expr::Expr;
use super::super::logfmt::Fmt;
use super::super::names;
use super::{
    Act, CompileError, HttpRules, Kind, NameMatch, Part, RedirectSpec, ReplyBody, ReplySpec, Step,
    Target,
};

/// What the rules need from the whole configuration and the engine.
#[derive(Clone, Copy, Debug, Default)]
pub struct Setup<'a> {
    /// The configuration's userlists (`http_auth`, `http_auth_group`).
    pub userlists: &'a [Userlist],
    /// The configuration's `http-errors` sections (a reply's
    /// `errorfiles <name>`).
    pub http_errors: &'a [ringlb_config::model::HttpErrors],
    /// The fetches the engine serves through [`super::Env::fetch`]
    /// (`ssl_fc`, `sc_*` ...): accepted here, computed there.
    pub engine_fetches: &'a [&'a str],
    /// The actions the engine applies (by name as written: `set-timeout`,
    /// `set-retries`, `disable-l7-retry`, `set-priority-class`,
    /// `set-priority-offset`, `set-nice`, `set-src`, `set-src-port`,
    /// `set-dst`, `set-dst-port`, `set-mark/tos`, `early-hint`, `pause`,
    /// `wait-for-handshake`, `do-log`, `track-sc`, `sc-*`, `cache-use`,
    /// `cache-store`, `reject`, `silent-drop`, `use-service`): the rules
    /// evaluate them and call [`super::Env::apply`], or end with
    /// [`super::Verdict::Stop`].
    pub engine_actions: &'a [&'a str],
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
    setup: &'p Setup<'p>,
    users: &'p Userlists,
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

    fn reply(&self, kind: Kind, r: &ReplyConf, default_status: u16) -> Result<Act, CompileError> {
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
                for e in format_exprs(&lf) {
                    check_expr(e, self.setup, self.users)?;
                }
                ReplyBody::Lf(http_fmt(&lf)?)
            }
            Some(ReplyPayload::Errorfile(f)) => {
                let raw = std::fs::read(f)
                    .map_err(|e| CompileError(format!("cannot read '{f}': {e}")))?;
                let (head, body) = super::super::exec::parse_response(&raw)
                    .ok_or_else(|| CompileError(format!("'{f}': not a valid HTTP response")))?;
                ReplyBody::Full(head, body)
            }
            // The section's page for the status; without one, an empty
            // reply with that status (haproxy 2.6's http_check_http_reply
            // leaves an INDIRECT reply with no message, whatever the
            // manual says of the proxy's pages).
            Some(ReplyPayload::Errorfiles(name)) => {
                let section = self
                    .setup
                    .http_errors
                    .iter()
                    .find(|h| &h.name.name == name)
                    .ok_or_else(|| CompileError(format!("no http-errors section '{name}'")))?;
                match section.errorfiles.iter().find(|e| e.status == status) {
                    Some(e) => {
                        let (head, body) = super::super::exec::parse_response(&e.content)
                            .ok_or_else(|| {
                                CompileError(format!(
                                    "http-errors '{name}', errorfile {status}: not a valid HTTP response"
                                ))
                            })?;
                        ReplyBody::Full(head, body)
                    }
                    None => ReplyBody::Empty,
                }
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
            Req::Deny(r) => self.reply(Kind::Deny, r, 403)?,
            Req::Tarpit(r) => self.reply(Kind::Tarpit, r, 500)?,
            Req::Return(r) => self.reply(Kind::Return, r, 200)?,
            Req::Auth(realm) => Act::Auth {
                realm: realm.clone(),
            },
            Req::SetVar(v) => Self::set_var(v)?,
            Req::SetVarFmt(v) => Self::set_var_fmt(v)?,
            Req::UnsetVar(v) => Act::UnsetVar(v.clone()),
            Req::SetLogLevel(l) => Act::SetLogLevel(*l),
            Req::NormalizeUri(n) => Act::Normalize(*n),
            Req::Capture(c) => self.capture(c, false)?,
            // strict-mode only decides what a failed rewrite does; ringlb's
            // rewrites have no buffer limit to fail on.
            Req::StrictMode(_) => Act::Nothing,
            other => match engine_act::request(other) {
                Some(spec) if self.setup.engine_actions.contains(&other.name()) => {
                    Act::Engine(Box::new(spec?))
                }
                _ => return Err(unsupported("http-request", other.name())),
            },
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
            Res::Deny(r) => self.reply(Kind::Deny, r, 502)?,
            Res::Return(r) => self.reply(Kind::Return, r, 200)?,
            Res::Redirect(r) => Self::redirect(r)?,
            Res::SetVar(v) => Self::set_var(v)?,
            Res::SetVarFmt(v) => Self::set_var_fmt(v)?,
            Res::UnsetVar(v) => Act::UnsetVar(v.clone()),
            Res::SetLogLevel(l) => Act::SetLogLevel(*l),
            Res::Capture(c) => self.capture(c, true)?,
            Res::StrictMode(_) => Act::Nothing,
            other => match engine_act::response(other) {
                Some(spec) if self.setup.engine_actions.contains(&other.name()) => {
                    Act::Engine(Box::new(spec?))
                }
                _ => return Err(unsupported("http-response", other.name())),
            },
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
            After::Capture(c) => self.capture(c, true)?,
            After::StrictMode(_) => Act::Nothing,
            other => match engine_act::after(other) {
                Some(spec) if self.setup.engine_actions.contains(&other.name()) => {
                    Act::Engine(Box::new(spec?))
                }
                _ => return Err(unsupported("http-after-response", other.name())),
            },
        })
    }
}

fn unsupported(set: &str, action: &str) -> CompileError {
    CompileError(format!("'{set} {action}': not supported yet"))
}

/// An expression the rules can run: every fetch and converter one they
/// compute (or the engine declared), and the userlist of `http_auth` /
/// `http_auth_group` given.
fn check_expr(e: &SampleExpr, setup: &Setup<'_>, users: &Userlists) -> Result<(), CompileError> {
    let f = e.fetch.def.name;
    if !names::fetch_supported(f, setup.engine_fetches) {
        return Err(CompileError(format!(
            "sample fetch '{f}': not supported yet"
        )));
    }
    if let Some(c) = e
        .converters
        .iter()
        .find(|c| !names::converter_supported(c.def.name))
    {
        return Err(CompileError(format!(
            "converter '{}': not supported yet",
            c.def.name
        )));
    }
    if matches!(f, "http_auth" | "http_auth_group") {
        let list = match e.fetch.args.first() {
            Some(Arg::Userlist(l) | Arg::Str(l)) => l.as_str(),
            _ => "",
        };
        if !users.has(list) {
            return Err(CompileError(format!(
                "{f}: userlist '{list}' was not given to the rules (Setup::userlists)"
            )));
        }
    }
    Ok(())
}

/// The sample expressions of a log format.
fn format_exprs(f: &LogFormat) -> impl Iterator<Item = &SampleExpr> {
    f.items.iter().filter_map(|i| match i {
        LogItem::Sample { expr, .. } => Some(expr),
        _ => None,
    })
}

/// The ACL definitions a condition uses besides the proxy's own: its
/// anonymous ones and the predefined ones it names (a proxy's ACL of the
/// same name wins, as in HAProxy).
pub(crate) fn condition_defs(c: &Condition, px: &Proxy) -> Vec<AclDef> {
    let (Condition::If(e) | Condition::Unless(e)) = c;
    e.any_of
        .iter()
        .flatten()
        .filter_map(|t| match &t.acl {
            AclRef::Anonymous(d) => Some((**d).clone()),
            r if px.acls.iter().any(|a| a.def.name == r.name()) => None,
            r => predefined_def(r.name()).and_then(Result::ok),
        })
        .collect()
}

impl HttpRules {
    /// Compile `px`'s HTTP rules. `backend_index`: a backend's name -> its
    /// index in the engine's plan. Refuses, naming it, any action or fetch
    /// not implemented yet.
    pub fn compile(
        px: &Proxy,
        backend_index: &dyn Fn(&str) -> Option<usize>,
    ) -> Result<HttpRules, CompileError> {
        HttpRules::compile_with(px, &Setup::default(), backend_index)
    }

    /// [`HttpRules::compile`] with the configuration's userlists, for
    /// `http_auth` and `http_auth_group` (a reference to a userlist not
    /// given is refused).
    pub fn compile_with(
        px: &Proxy,
        setup: &Setup<'_>,
        backend_index: &dyn Fn(&str) -> Option<usize>,
    ) -> Result<HttpRules, CompileError> {
        let users = Userlists::compile(setup.userlists)?;
        let defs: Vec<_> = px.acls.iter().map(|a| a.def.clone()).collect();
        for (d, a) in defs.iter().zip(&px.acls) {
            check_expr(&d.expr, setup, &users)
                .map_err(|e| CompileError(format!("{}: {}", a.loc, e.0)))?;
        }
        let mut c = Compiler {
            px,
            setup,
            users: &users,
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
        // `tcp-request content capture ... len` slots come next (the TCP
        // rules number them the same way; see rules::tcp).
        for r in &px.rules.tcp_request_content {
            if let ringlb_config::model::TcpRequestContentAction::Capture(cap) = &r.action {
                if let CaptureSlot::Len(n) = cap.slot {
                    c.req_slots.push(n as usize);
                }
            }
        }
        // Every expression of every rule and use_backend, before any is
        // compiled: a fetch the rules cannot compute refuses the proxy.
        let at = |loc: &Loc, e: CompileError| CompileError(format!("{loc}: {}", e.0));
        let http = px.rules.all();
        let rules = http
            .iter()
            .map(|(c, refs, loc)| (*c, refs.exprs.clone(), refs.formats.clone(), *loc));
        let backends = px.use_backends.iter().map(|u| {
            let formats = match &u.target {
                BackendTarget::Dynamic(f) => vec![f],
                BackendTarget::Static(_) => Vec::new(),
            };
            (u.cond.as_ref(), Vec::new(), formats, &u.loc)
        });
        for (cond, exprs, formats, loc) in rules.chain(backends) {
            let defs = cond.map(|c| condition_defs(c, px)).unwrap_or_default();
            let all = exprs
                .into_iter()
                .chain(defs.iter().map(|d| &d.expr))
                .chain(formats.into_iter().flat_map(format_exprs));
            for e in all {
                check_expr(e, setup, &users).map_err(|e| at(loc, e))?;
            }
        }
        let mut request = Vec::new();
        for r in &px.rules.http_request {
            let cond = c.cond(r.cond.as_ref()).map_err(|e| at(&r.loc, e))?;
            let act = c.request(&r.action).map_err(|e| at(&r.loc, e))?;
            request.push(Step { cond, act });
        }
        let mut redirect = Vec::new();
        for r in &px.rules.redirect {
            let cond = c.cond(r.cond.as_ref()).map_err(|e| at(&r.loc, e))?;
            let act = Compiler::redirect(&r.action).map_err(|e| at(&r.loc, e))?;
            redirect.push(Step { cond, act });
        }
        // An early-hint ends its 103 unless the next rule is an
        // unconditional early-hint (http_action_early_hint).
        let hint = |s: &Step| matches!(&s.act, Act::Engine(sp) if matches!(**sp, engine_act::Spec::EarlyHint(..)));
        for i in 0..request.len() {
            let goes_on = request
                .get(i + 1)
                .is_some_and(|n| n.cond.is_none() && hint(n));
            if let Some(Step {
                act: Act::Engine(sp),
                ..
            }) = request.get_mut(i)
            {
                if let engine_act::Spec::EarlyHint(_, _, last) = &mut **sp {
                    *last = !goes_on;
                }
            }
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
        // `unique-id-format`: rendered by HAProxy's build_logline over
        // the frontend's stream.
        let unique_id = match &px.unique_id_format {
            Some(f) if px.cap.frontend => {
                for e in format_exprs(f) {
                    check_expr(e, setup, &users).map_err(|e| at(&px.loc, e))?;
                }
                // HAProxy parses it with LOG_OPT_HTTP (as a header value).
                Some(Fmt::compile(f, true).map_err(|e| at(&px.loc, e))?)
            }
            _ => None,
        };
        // `monitor fail if|unless <cond>` (a frontend's): kept as
        // directives by the configuration crate.
        let mut monitor_fail = Vec::new();
        for d in px
            .directives
            .iter()
            .filter(|d| d.keyword == "monitor fail" && px.cap.frontend)
        {
            let words: Vec<ringlb_config::lexer::Word> = d
                .args
                .iter()
                .map(|a| ringlb_config::lexer::Word {
                    text: a.clone(),
                    col: 0,
                })
                .collect();
            let cond = ringlb_config::acl::parse_condition(&words)
                .map_err(|e| at(&d.loc, CompileError(format!("monitor fail: {}", e.message))))?;
            for def in condition_defs(&cond, px) {
                check_expr(&def.expr, setup, &users).map_err(|e| at(&d.loc, e))?;
            }
            if let Some(c) = c.cond(Some(&cond)).map_err(|e| at(&d.loc, e))? {
                monitor_fail.push(c);
            }
        }
        // `stats admin if|unless <cond>` (a frontend's stats page).
        let mut stats_admin = Vec::new();
        for cond in px.stats.admin.iter().filter(|_| px.cap.frontend) {
            for def in condition_defs(cond, px) {
                check_expr(&def.expr, setup, &users).map_err(|e| at(&px.loc, e))?;
            }
            if let Some(c) = c.cond(Some(cond)).map_err(|e| at(&px.loc, e))? {
                stats_admin.push(c);
            }
        }
        // `balance hash <expr>` (a backend's).
        let balance_hash = match &px.balance {
            Some(ringlb_config::model::Balance::Hash(e)) if px.cap.backend => {
                check_expr(e, setup, &users).map_err(|e| at(&px.loc, e))?;
                Some(Expr::compile(e).map_err(|e| at(&px.loc, e))?)
            }
            _ => None,
        };
        let maps = super::super::exec::load_maps(px)?;
        let timeouts = &px.timeouts;
        let Compiler {
            acls,
            req_slots,
            res_slots,
            ..
        } = c;
        Ok(HttpRules {
            acls,
            maps,
            users,
            request,
            redirect,
            restrict_names: px.options.restrict_req_hdr_names,
            response,
            after,
            backends,
            req_slots,
            res_slots,
            hdr_caps,
            tarpit: timeouts.tarpit.or(timeouts.connect).unwrap_or_default(),
            name: px.name.clone(),
            unique_id,
            monitor_fail,
            stats_admin,
            balance_hash,
        })
    }
}
