//! The actions of the HTTP rule sets, run over a [`Txn`] as HAProxy 2.6
//! runs them (`http_act.c`, `http_ana.c`): header and request-line
//! rewrites, variables, captures, and the replies (`deny`, `tarpit`,
//! `return`, `redirect`, `auth`) built byte for byte as HAProxy sends
//! them (HTX's lower-case names, its header order).

use ringlb_config::keywords::SmpType;
use ringlb_config::model::{Proxy, RedirectKind, VarCond, VarName};
use ringlb_config::sample::Arg;
use ringlb_proto::h1::head::{HeadParser, Kind as ParseKind, Options, Progress};
use ringlb_proto::msg::{flags, Body, Head, Method, StartLine};

use super::expr::Expr;
use super::fetch::{cut_query, path};
use super::http::{
    Act, HttpRules, Kind, NameMatch, Part, RedirectSpec, Reply, ReplyBody, ReplyKind, ReplySpec,
    Step, Txn, Verdict,
};
use super::logfmt::Fmt;
use super::pattern::CompileError;
use super::rewrite::{self, rebuild, Fields};
use super::sample::{Maps, Smp};

/// What one action tells the rule loop.
enum Flow {
    Next,
    /// `allow`: stop this rule set, go on.
    Allow,
    Reply(Reply),
    /// The engine ends the stream.
    End(super::engine_act::Stop),
}

impl HttpRules {
    pub(super) fn run(&self, steps: &[Step], tx: &mut Txn<'_>) -> Verdict {
        for step in steps {
            if let Some(c) = &step.cond {
                if !self.acls.eval(c, &tx.ctx(self)) {
                    continue;
                }
            }
            match self.act(&step.act, tx) {
                Flow::Next => {}
                Flow::Allow => return Verdict::Continue,
                Flow::Reply(r) => return Verdict::Reply(r),
                Flow::End(s) => return Verdict::Stop(s),
            }
        }
        Verdict::Continue
    }

    /// The format rendered over the transaction.
    fn render(&self, f: &Fmt, tx: &Txn<'_>) -> Vec<u8> {
        f.render(&tx.ctx(self))
    }

    fn act(&self, act: &Act, tx: &mut Txn<'_>) -> Flow {
        match act {
            Act::Allow => return Flow::Allow,
            Act::Nothing => {}
            Act::Engine(spec) => match super::engine_act::eval(spec, &tx.ctx(self)) {
                None => {}
                Some(Ok(a)) => tx.env.apply(a),
                Some(Err(stop)) => return Flow::End(stop),
            },
            Act::SetHeader { name, value, add } => {
                let v = self.render(value, tx);
                let h = target(tx);
                if *add {
                    h.push(name, &v);
                } else {
                    h.set(name, &v);
                }
            }
            Act::DelHeader { name, how } => del_header(target(tx), name, how),
            Act::ReplaceHeader {
                name,
                re,
                fmt,
                full,
            } => {
                let template = self.render(fmt, tx);
                rewrite::replace_header(target(tx), name, re, &template, *full);
            }
            Act::SetLine { part, fmt } => {
                let mut v = self.render(fmt, tx);
                if *part == Part::Query {
                    v.insert(0, b'?');
                }
                set_line(tx.req, *part, &v);
            }
            Act::ReplaceLine { part, re, fmt } => {
                let uri = tx.req.line_parts()[1].to_vec();
                let subject = match part {
                    Part::Path => path(&uri).map(cut_query),
                    Part::Pathq => path(&uri),
                    _ => Some(&uri[..]),
                }
                .unwrap_or_default();
                if subject.is_empty() {
                    return Flow::Next;
                }
                let Some(caps) = re.captures(subject) else {
                    return Flow::Next;
                };
                let template = self.render(fmt, tx);
                if let Some(new) = rewrite::exp_replace(&template, subject, &caps) {
                    set_line(tx.req, *part, &new);
                }
            }
            Act::SetStatus { status, reason } => {
                if let Some(res) = tx.res.as_deref_mut() {
                    rewrite::set_status(res, *status, reason.as_deref());
                }
            }
            Act::Redirect(r) => return self.redirect(r, tx),
            Act::Reply { kind, spec } => {
                let kind = match kind {
                    Kind::Deny => ReplyKind::Deny,
                    Kind::Tarpit => ReplyKind::Tarpit(self.tarpit),
                    Kind::Return => ReplyKind::Return,
                };
                return Flow::Reply(self.reply(kind, spec, tx));
            }
            Act::Auth { realm } => {
                let realm = realm.as_deref().unwrap_or(&self.name);
                // A proxied request under `option http-use-proxy-header`
                // is asked for proxy credentials (HAProxy's 407).
                let (status, header): (u16, &[u8]) = if super::auth::proxied(tx.req, tx.env) {
                    (407, b"proxy-authenticate")
                } else {
                    (401, b"www-authenticate")
                };
                return Flow::Reply(Reply {
                    kind: ReplyKind::Auth,
                    status,
                    message: None,
                    headers: vec![(
                        header.to_vec(),
                        format!("Basic realm=\"{realm}\"").into_bytes(),
                    )],
                });
            }
            Act::SetVar { var, conds, value } => {
                if let Some(v) = value.eval(&tx.ctx(self)) {
                    store(tx, var, conds, v);
                }
            }
            Act::SetVarFmt { var, conds, fmt } => {
                let v = Smp::Str(self.render(fmt, tx));
                store(tx, var, conds, v);
            }
            Act::UnsetVar(var) => tx.vars.unset(var.scope, &var.name),
            Act::SetLogLevel(l) => tx.log_level = Some(*l),
            Act::Normalize(n) => {
                if normalize(tx.req, *n).is_err() {
                    // A strict normalizer's invalid input: HAProxy's
                    // ACT_RET_INV, a bad request (400, PR).
                    return Flow::Reply(Reply {
                        kind: ReplyKind::Deny,
                        status: 400,
                        message: None,
                        headers: Vec::new(),
                    });
                }
            }
            Act::Capture {
                expr,
                slot,
                len,
                res,
            } => self.capture(tx, expr, *slot, *len, *res),
        }
        Flow::Next
    }

    fn capture(&self, tx: &mut Txn<'_>, expr: &Expr, slot: usize, len: usize, res: bool) {
        let Some(Smp::Str(mut v)) = expr.eval(&tx.ctx(self)).and_then(|v| v.cast(SmpType::Str))
        else {
            return;
        };
        v.truncate(len);
        let slots = if res {
            &mut tx.caps.res
        } else {
            &mut tx.caps.req
        };
        if let Some(s) = slots.get_mut(slot) {
            *s = Some(v);
        }
    }

    /// HAProxy's `http_apply_redirect_rule`.
    fn redirect(&self, r: &RedirectSpec, tx: &mut Txn<'_>) -> Flow {
        let mut loc = self.render(&r.target, tx);
        let req = &*tx.req;
        let uri = req.line_parts()[1];
        let with_path = |loc: &mut Vec<u8>| {
            let p = match path(uri) {
                Some(p) if r.conf.drop_query => cut_query(p),
                Some(p) => p,
                None => b"/",
            };
            loc.extend_from_slice(p);
            if r.conf.append_slash && loc.last().is_some_and(|c| *c != b'/') {
                loc.push(b'/');
            }
        };
        match r.conf.kind {
            RedirectKind::Scheme => {
                let host = req.first(b"host").unwrap_or_default();
                loc.extend_from_slice(b"://");
                loc.extend_from_slice(host);
                with_path(&mut loc);
            }
            RedirectKind::Prefix => with_path(&mut loc),
            RedirectKind::Location => {
                if loc.is_empty() && r.conf.ignore_empty {
                    return Flow::Next;
                }
                // 3.x `keep-query`: the original query string, if not
                // empty, after `?` (or `&` when the location has one).
                let query = path(uri)
                    .and_then(|p| memchr::memchr(b'?', p).and_then(|q| p.get(q + 1..)))
                    .unwrap_or_default();
                if r.conf.keep_query && !query.is_empty() {
                    loc.push(if loc.contains(&b'?') { b'&' } else { b'?' });
                    loc.extend_from_slice(query);
                }
            }
        }
        let reason: &[u8] = match r.code {
            308 => b"Permanent Redirect",
            307 => b"Temporary Redirect",
            303 => b"See Other",
            301 => b"Moved Permanently",
            _ => b"Found",
        };
        let mut fields: Fields = vec![
            (b"content-length".to_vec(), b"0".to_vec()),
            (b"location".to_vec(), loc),
        ];
        if matches!(r.code, 302 | 303 | 307) {
            fields.push((b"cache-control".to_vec(), b"no-cache".to_vec()));
        }
        if let Some(c) = &r.cookie {
            fields.push((b"set-cookie".to_vec(), c.clone()));
        }
        // A request whose body has not been read closes the connection;
        // HAProxy's h1 mux sends the header last.
        let close = !matches!(req.body, Body::None | Body::Length(0));
        if close {
            fields.push((b"connection".to_vec(), b"close".to_vec()));
        }
        let mut head = response_head(r.code, reason, &fields, 0);
        if close {
            head.flags |= flags::CONN_CLOSE;
        }
        Flow::Reply(Reply {
            kind: ReplyKind::Redirect,
            status: r.code,
            message: Some((head, Vec::new())),
            headers: Vec::new(),
        })
    }

    /// HAProxy's `http_reply_to_htx`.
    fn reply(&self, kind: ReplyKind, spec: &ReplySpec, tx: &Txn<'_>) -> Reply {
        let status = spec.status;
        let body = match &spec.body {
            ReplyBody::ErrorPage => {
                return Reply {
                    kind,
                    status,
                    message: None,
                    headers: Vec::new(),
                }
            }
            ReplyBody::Full(h, b) => {
                return Reply {
                    kind,
                    status: h.status,
                    message: Some((h.clone(), b.clone())),
                    headers: Vec::new(),
                }
            }
            ReplyBody::Empty => Vec::new(),
            ReplyBody::Raw(b) => b.clone(),
            ReplyBody::Lf(f) => self.render(f, tx),
        };
        let mut fields: Fields = Vec::with_capacity(spec.hdrs.len() + 2);
        for (n, f) in &spec.hdrs {
            let v = self.render(f, tx);
            // An empty value adds no header.
            if !v.is_empty() {
                fields.push((n.to_ascii_lowercase(), v));
            }
        }
        // HAProxy's h1 mux sends no length with a 204 or a 304.
        if !matches!(status, 204 | 304) {
            fields.push((
                b"content-length".to_vec(),
                body.len().to_string().into_bytes(),
            ));
        }
        if let (false, Some(ct)) = (body.is_empty(), &spec.ctype) {
            fields.push((b"content-type".to_vec(), ct.as_bytes().to_vec()));
        }
        let head = response_head(
            status,
            rewrite::http_reason(status).as_bytes(),
            &fields,
            body.len(),
        );
        Reply {
            kind,
            status,
            message: Some((head, body)),
            headers: Vec::new(),
        }
    }
}

/// The head header actions change: the response's when there is one
/// (http-response, http-after-response), else the request's.
fn target<'t>(tx: &'t mut Txn<'_>) -> &'t mut Head {
    match tx.res.as_deref_mut() {
        Some(r) => r,
        None => tx.req,
    }
}

/// `del-header <name> [-m meth]`: names compared without case for str,
/// beg, end and sub; the regex on the name in lower case (HTX's names).
fn del_header(h: &mut Head, name: &[u8], how: &NameMatch) {
    if let NameMatch::Str = how {
        h.remove(name);
        return;
    }
    let lower = name.to_ascii_lowercase();
    let hit = |n: &[u8]| {
        let n_l = n.to_ascii_lowercase();
        match how {
            NameMatch::Str => n_l == lower,
            NameMatch::Beg => n_l.starts_with(&lower),
            NameMatch::End => n_l.ends_with(&lower),
            NameMatch::Sub => memchr::memmem::find(&n_l, &lower).is_some(),
            NameMatch::Reg(re) => re.is_match(&n_l),
        }
    };
    if h.fields().any(|(n, _)| hit(n)) {
        let old = h.clone();
        rebuild(h, None, old.fields().filter(|(n, _)| !hit(n)));
    }
}

/// A `set-*` / `replace-*` result applied to its part of the request line.
fn set_line(req: &mut Head, part: Part, v: &[u8]) {
    let uri = req.line_parts()[1].to_vec();
    match part {
        Part::Method => rewrite::set_method(req, v),
        Part::Uri => rewrite::set_uri(req, v),
        Part::Path => rewrite::set_uri_keep_host(req, &rewrite::replace_path(&uri, v, false)),
        Part::Pathq => rewrite::set_uri_keep_host(req, &rewrite::replace_path(&uri, v, true)),
        Part::Query => rewrite::set_uri_keep_host(req, &rewrite::replace_query(&uri, v)),
    }
}

/// `normalize-uri`, as HAProxy's http_action_normalize_uri: the path
/// normalizers work on the path without its query, the others on the
/// path with it, `query-sort-by-name` on the query; a URI without a path
/// (`*`, authority form) is left alone.
fn normalize(
    req: &mut Head,
    n: ringlb_config::model::Normalizer,
) -> Result<(), ringlb_proto::uri_norm::Invalid> {
    use ringlb_config::model::Normalizer as N;
    use ringlb_proto::uri_norm as un;
    let uri = req.line_parts()[1];
    let Some(p) = path(uri) else { return Ok(()) };
    let mut out = Vec::with_capacity(p.len());
    let part = match n {
        N::PathMergeSlashes => {
            un::path_merge_slashes(cut_query(p), &mut out);
            Part::Path
        }
        N::PathStripDot => {
            un::path_dot(cut_query(p), &mut out);
            Part::Path
        }
        N::PathStripDotdot { full } => {
            un::path_dotdot(cut_query(p), full, &mut out);
            Part::Path
        }
        N::QuerySortByName => {
            let q = memchr::memchr(b'?', p).and_then(|i| p.get(i..));
            let Some(q) = q else { return Ok(()) };
            un::query_sort(q, &mut out);
            Part::Query
        }
        N::PercentToUppercase { strict } => {
            un::percent_upper(p, strict, &mut out)?;
            Part::Pathq
        }
        N::PercentDecodeUnreserved { strict } => {
            un::percent_decode_unreserved(p, strict, &mut out)?;
            Part::Pathq
        }
        N::FragmentStrip => {
            out.extend_from_slice(un::fragment_strip(p));
            Part::Pathq
        }
        N::FragmentEncode => {
            un::fragment_encode(p, &mut out);
            Part::Pathq
        }
    };
    set_line(req, part, &out);
    Ok(())
}

fn store(tx: &mut Txn<'_>, var: &VarName, conds: &[VarCond], v: Smp) {
    tx.vars.set_if(var.scope, &var.name, v, conds);
}

/// A response head as HAProxy builds one: HTTP/1.1, `status`, `reason`,
/// `fields` in order, a body of `len` bytes.
fn response_head(status: u16, reason: &[u8], fields: &Fields, len: usize) -> Head {
    let mut h = Head::new();
    h.line = StartLine::Response {
        version: Default::default(),
        status: Default::default(),
        reason: Default::default(),
    };
    let code = status.to_string();
    rebuild(
        &mut h,
        Some([b"HTTP/1.1", code.as_bytes(), reason]),
        fields.iter().map(|(n, v)| (n, v)),
    );
    h.status = status;
    h.flags = flags::VER_11 | flags::CLEN;
    h.body = Body::Length(len as u64);
    h
}

/// A complete HTTP response read from an `errorfile`: its head and body.
pub(super) fn parse_response(raw: &[u8]) -> Option<(Head, Vec<u8>)> {
    let mut buf = raw.to_vec();
    let mut head = Head::new();
    let kind = ParseKind::Response(Method::Get);
    match HeadParser::new(kind, Options::default()).parse(&mut buf, &mut head) {
        Ok(Progress::Done(n)) => Some((head, raw.get(n..).unwrap_or_default().to_vec())),
        _ => None,
    }
}

/// The maps the proxy's expressions read, loaded once (start-up).
pub(super) fn load_maps(px: &Proxy) -> Result<Maps, CompileError> {
    let mut maps = Maps::default();
    let mut exprs: Vec<&ringlb_config::sample::SampleExpr> =
        px.acls.iter().map(|a| &a.def.expr).collect();
    let rules = px.rules.all();
    for (_, refs, _) in &rules {
        exprs.extend(refs.exprs.iter().copied());
        for f in &refs.formats {
            exprs.extend(f.items.iter().filter_map(|i| match i {
                ringlb_config::logformat::LogItem::Sample { expr, .. } => Some(expr),
                _ => None,
            }));
        }
    }
    if let Some(ringlb_config::model::Balance::Hash(e)) = &px.balance {
        exprs.push(e);
    }
    if let Some(f) = &px.unique_id_format {
        exprs.extend(f.items.iter().filter_map(|i| match i {
            ringlb_config::logformat::LogItem::Sample { expr, .. } => Some(expr),
            _ => None,
        }));
    }
    for u in &px.use_backends {
        if let ringlb_config::model::BackendTarget::Dynamic(f) = &u.target {
            exprs.extend(f.items.iter().filter_map(|i| match i {
                ringlb_config::logformat::LogItem::Sample { expr, .. } => Some(expr),
                _ => None,
            }));
        }
    }
    for e in exprs {
        for c in &e.converters {
            let Some((method, out)) = super::map::kind(c.def.name) else {
                continue;
            };
            let file = match c.args.first() {
                Some(Arg::File(f) | Arg::Str(f)) => f.clone(),
                _ => continue,
            };
            if maps.by_file.contains_key(&(file.clone(), method)) {
                continue;
            }
            let map = super::map::Map::load(&file, method, out)?;
            maps.by_file.insert((file, method), map);
        }
    }
    Ok(maps)
}
