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
//! response the client gets, generated replies included. As in HAProxy,
//! an `allow` ends one proxy's set only: the next proxy's set still runs
//! (a Continue goes on to it); a Reply or a Stop ends them all. The
//! actions themselves are in `exec`, the compiler in `http/compile.rs`.
//!
//! ```text
//! // start-up, per proxy:
//! let setup = Setup { userlists: &cfg.userlists, ..Setup::default() };
//! let rules = HttpRules::compile_with(px, &setup, &|name| plan.backend(name))?;
//! // per transaction (vars live with the session, captures with the txn):
//! let mut caps = fe.new_captures();
//! let mut tx = Txn { req: &mut req, res: None, env: &stream, vars: &mut sess.vars,
//!                    caps: &mut caps, log_level: None };
//! fe.capture_request(&mut tx);
//! match fe.request(&mut tx) { Verdict::Continue => {}, Verdict::Reply(r) => .., Verdict::Stop(s) => .. }
//! let pick = fe.pick_backend(&mut tx);   // None / unknown name: default_backend
//! be.request(&mut tx);                   // same matching
//! tx.res = Some(&mut res);
//! fe.capture_response(&mut tx);
//! be.response(&mut tx); fe.response(&mut tx);
//! be.after_response(&mut tx); fe.after_response(&mut tx);  // on replies too
//! sess.vars.end_txn();
//! ```

use std::time::Duration;

use ringlb_config::model::{Redirect, VarCond, VarName};
use ringlb_proto::msg::Head;

use super::acl::{Acls, Cond};
use super::auth::Userlists;
pub use super::engine_act::{EngineAction, Stop};
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
    /// The `redirect` directives: after `request`, even past an `allow`.
    pub(super) redirect: Vec<Step>,
    /// `option http-restrict-req-hdr-names delete|reject`.
    pub(super) restrict_names: Option<ringlb_config::model::RestrictHdrNames>,
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
    /// `unique-id-format` (a frontend's).
    unique_id: Option<Fmt>,
    /// `monitor fail` conditions (a frontend's).
    monitor_fail: Vec<Cond>,
    /// `stats admin` conditions (a frontend's stats page).
    stats_admin: Vec<Cond>,
    /// `balance hash <expr>` (a backend's).
    balance_hash: Option<Expr>,
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

impl HttpRules {
    /// Whether a `monitor fail` condition holds for a `monitor-uri`
    /// request: it is then answered 503 instead of 200 (HAProxy's
    /// http_wait_for_request).
    /// Whether a `stats admin` condition holds: the stats page then
    /// takes admin actions.
    pub fn stats_admin(&self, tx: &Txn<'_>) -> bool {
        let cx = tx.ctx(self);
        self.stats_admin.iter().any(|c| self.acls.eval(c, &cx))
    }

    pub fn monitor_fails(&self, tx: &Txn<'_>) -> bool {
        let cx = tx.ctx(self);
        self.monitor_fail.iter().any(|c| self.acls.eval(c, &cx))
    }

    /// `balance hash <expr>`: the sample over `cx` (with this rule set's
    /// maps) cast to binary as HAProxy's get_server_expr takes it, written
    /// to `out` (cleared first); false when there is no expression or no
    /// sample (the balancer then falls back to round robin).
    pub fn balance_hash_key(&self, cx: &Ctx<'_>, out: &mut Vec<u8>) -> bool {
        let Some(e) = &self.balance_hash else {
            return false;
        };
        let cx = Ctx {
            maps: Some(&self.maps),
            users: Some(&self.users),
            ..*cx
        };
        out.clear();
        match e
            .eval(&cx)
            .and_then(|v| v.cast(ringlb_config::keywords::SmpType::Bin))
        {
            Some(super::sample::Smp::Bin(b) | super::sample::Smp::Str(b)) => {
                out.extend_from_slice(&b);
                true
            }
            _ => false,
        }
    }

    /// Whether the proxy declares a `unique-id-format`.
    pub fn has_unique_id(&self) -> bool {
        self.unique_id.is_some()
    }

    /// The unique id `unique-id-format` makes over `cx` (with this rule
    /// set's maps), cut to 127 bytes as HAProxy's UNIQUEID_LEN buffer;
    /// None without a format.
    pub fn render_unique_id(&self, cx: &Ctx<'_>) -> Option<Vec<u8>> {
        let f = self.unique_id.as_ref()?;
        let cx = Ctx {
            maps: Some(&self.maps),
            users: Some(&self.users),
            ..*cx
        };
        let mut out = Vec::new();
        f.render_into(&cx, &mut out);
        out.truncate(UNIQUE_ID_MAX);
        Some(out)
    }
}

/// HAProxy's `UNIQUEID_LEN` (128) less its NUL.
const UNIQUE_ID_MAX: usize = 127;

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
    /// Stop without a reply (`reject`, `silent-drop`, `use-service`): only
    /// for the actions the engine declared in [`Setup::engine_actions`].
    Stop(Stop),
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
    /// An action with nothing to do here (`strict-mode`).
    Nothing,
    /// An action whose effect is the engine's.
    Engine(Box<super::engine_act::Spec>),
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
    /// `normalize-uri`.
    Normalize(ringlb_config::model::Normalizer),
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

impl HttpRules {
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

    /// The http-request rules in order, then the `redirect` rules
    /// (HAProxy's http_process_req_common: an `allow` ends the former
    /// only).
    pub fn request(&self, tx: &mut Txn<'_>) -> Verdict {
        match self.run(&self.request, tx) {
            Verdict::Continue => {
                if let Some(v) = self.restrict_header_names(tx) {
                    return v;
                }
                self.run(&self.redirect, tx)
            }
            v => v,
        }
    }

    /// `option http-restrict-req-hdr-names`, after the proxy's
    /// http-request rules (HAProxy's http_req_restrict_header_names): a
    /// header whose name has a character outside `[A-Za-z0-9-]` is removed,
    /// or the request denied with a 403.
    fn restrict_header_names(&self, tx: &mut Txn<'_>) -> Option<Verdict> {
        use ringlb_config::model::RestrictHdrNames;
        let how = self.restrict_names?;
        let bad = |n: &[u8]| n.iter().any(|c| !c.is_ascii_alphanumeric() && *c != b'-');
        let mut i = 0;
        while let Some((name, _)) = tx.req.field(i) {
            if !bad(name) {
                i += 1;
                continue;
            }
            match how {
                RestrictHdrNames::Delete => tx.req.remove_field(i),
                RestrictHdrNames::Reject => {
                    return Some(Verdict::Reply(Reply {
                        kind: ReplyKind::Deny,
                        status: 403,
                        message: None,
                        headers: Vec::new(),
                    }))
                }
            }
        }
        None
    }

    /// The http-response rules (`tx.res` is Some).
    pub fn response(&self, tx: &mut Txn<'_>) -> Verdict {
        tx.vars.enter_response();
        self.run(&self.response, tx)
    }

    /// The http-after-response rules (also on replies the proxy made).
    /// HAProxy has no reply from them: a Reply here cannot happen.
    pub fn after_response(&self, tx: &mut Txn<'_>) -> Verdict {
        tx.vars.enter_response();
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
        !self.request.is_empty()
            || !self.redirect.is_empty()
            || self.restrict_names.is_some()
            || !self.backends.is_empty()
    }

    pub fn has_response_rules(&self) -> bool {
        !self.response.is_empty() || !self.after.is_empty()
    }
}

pub(crate) mod compile;
pub use compile::Setup;

#[cfg(test)]
mod tests;
