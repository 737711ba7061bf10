//! What the rules may ask of the stream besides its messages: the facts
//! only the engine knows ([`Env`]), the transaction's variables
//! ([`Vars`]) and its capture slots ([`Captures`]).

use std::cell::RefCell;
use std::net::SocketAddr;

use ringlb_config::keywords::SmpType;
use ringlb_config::model::VarCond;
use ringlb_config::sample::{FetchCall, VarScope};

use super::sample::Smp;

/// What the engine knows and a fetch may ask. The default methods answer
/// None (the fetch then has no sample, as HAProxy's without a stream);
/// the engine implements what it knows.
pub trait Env {
    /// The client's address (None for a UNIX client).
    fn src(&self) -> Option<SocketAddr>;
    /// The address the client connected to.
    fn dst(&self) -> Option<SocketAddr>;
    /// The frontend's name.
    fn frontend(&self) -> &str;
    fn frontend_id(&self) -> Option<i64> {
        None
    }
    /// The backend the stream is assigned to (None before `use_backend`:
    /// the fetches then answer with the frontend, as HAProxy's `s->be`).
    fn backend(&self) -> Option<&str> {
        None
    }
    fn backend_id(&self) -> Option<i64> {
        None
    }
    /// The server the stream is connected to.
    fn server(&self) -> Option<SrvName<'_>> {
        None
    }
    /// Its id (`srv_id`): `id <n>` or HAProxy's automatic number.
    fn server_id(&self) -> Option<i64> {
        None
    }
    /// Usable servers of `backend` (None: the stream's backend).
    fn nbsrv(&self, _backend: Option<&str>) -> Option<i64> {
        None
    }
    fn be_conn(&self, _backend: Option<&str>) -> Option<i64> {
        None
    }
    fn fe_conn(&self) -> Option<i64> {
        None
    }
    fn connslots(&self, _backend: Option<&str>) -> Option<i64> {
        None
    }
    fn srv_is_up(&self, _backend: &str, _server: &str) -> Option<bool> {
        None
    }
    /// The stream's unique id (`%ID`, `unique-id`): made from the
    /// frontend's `unique-id-format` the first time it is asked for (over
    /// `cx`, as HAProxy's `stream_generate_unique_id`), then the same for
    /// the rest of the stream. None without a format.
    fn unique_id<'s>(&'s self, _cx: &super::fetch::Ctx<'_>) -> Option<&'s str> {
        None
    }
    /// `option http-use-proxy-header` on the frontend.
    fn use_proxy_header(&self) -> bool {
        false
    }
    /// HAProxy's stream `uniq_id` (`%rt`): a number no other stream of
    /// the process has.
    fn stream_id(&self) -> Option<u32> {
        None
    }
    /// When the stream was accepted (`%Ts`, `%ms`): in HTTP, when the
    /// transaction began.
    fn accept_date(&self) -> Option<std::time::SystemTime> {
        None
    }
    /// The request body received so far (`req.body`, `req.len`): the
    /// engine's, since the rules see heads only.
    fn req_body(&self) -> Option<&[u8]> {
        None
    }
    /// The bytes of the request channel received so far, in TCP mode
    /// (`req.len`, `req.payload`, `req.ssl_sni` ...). None in HTTP mode:
    /// HAProxy finds these fetches meaningless over HTX.
    fn req_payload(&self) -> Option<&[u8]> {
        None
    }
    /// The response channel's bytes (`res.len`, `res.payload`), TCP mode.
    fn res_payload(&self) -> Option<&[u8]> {
        None
    }
    /// The channel's buffer size (`req.ssl_ver` judges a long message
    /// on what fits; payload fetches beyond it never match).
    fn bufsize(&self) -> usize {
        16384
    }
    /// A content fetch's answer may change as more bytes come (HAProxy's
    /// SMP_F_MAY_CHANGE): a `tcp-request content` condition then waits
    /// for them while the inspect delay runs. The engine ignores it once
    /// the evaluation is final.
    fn may_change(&self) {}
    /// The fetches the rules leave to the engine (TLS, stick counters,
    /// ...): those it declared in [`super::http::Setup::engine_fetches`]
    /// when the rules were compiled.
    fn fetch(&self, _call: &FetchCall) -> Option<Smp> {
        None
    }
    /// Apply an action the engine declared in
    /// [`super::http::Setup::engine_actions`], when its rule runs: the
    /// rules that follow see its effect (a `track-sc0` before an
    /// `sc_http_req_rate(0)` condition, a `set-src` before `src`), so the
    /// engine applies it at once (its state behind a `Cell`/`RefCell`:
    /// a stream is one core's). Never called for an undeclared action.
    fn apply(&self, _action: super::engine_act::EngineAction) {}
}

/// An [`Env`] with the connection's facts alone (tests, benches, and the
/// callers that know nothing more).
#[derive(Clone, Copy, Debug, Default)]
pub struct Conn<'a> {
    pub src: Option<SocketAddr>,
    pub dst: Option<SocketAddr>,
    pub frontend: &'a str,
}

impl Env for Conn<'_> {
    fn src(&self) -> Option<SocketAddr> {
        self.src
    }
    fn dst(&self) -> Option<SocketAddr> {
        self.dst
    }
    fn frontend(&self) -> &str {
        self.frontend
    }
}

/// Where the variables live. HAProxy's `proc` scope is shared by the
/// whole process; here it lives with the session's variables, so it is
/// only shared within a session (a departure the engine may lift by
/// keeping one [`Vars`] per core for `proc`; no configuration seen so far
/// shares state through it).
///
/// `req` and `res` are one store in HAProxy (`vars_reqres`) whose scope
/// is the phase's: `req` while the request is processed, `res` once the
/// response phase starts (the store is emptied then); a variable of the
/// other phase's scope is neither read nor written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scope {
    Proc,
    Sess,
    Txn,
    ReqRes,
    Check,
}

fn scope(s: VarScope, check: bool) -> Option<Scope> {
    Some(match s {
        VarScope::Proc => Scope::Proc,
        VarScope::Sess => Scope::Sess,
        VarScope::Txn => Scope::Txn,
        VarScope::Req | VarScope::Res => Scope::ReqRes,
        // The `check` scope exists in a health check's store only.
        VarScope::Check if check => Scope::Check,
        // Parent streams have no variables here.
        _ => return None,
    })
}

/// A stream's variables: a short list, searched linearly (a stream has a
/// handful; a hash would cost more than it saves).
#[derive(Clone, Debug, Default)]
pub struct Vars {
    /// In a cell so the `set-var` / `unset-var` converters, which run
    /// where the rules only read, can write (the stream owns its
    /// variables, one core runs it).
    vars: RefCell<Vec<(Scope, String, Smp)>>,
    /// The `req`/`res` store holds the response's variables.
    response: bool,
    /// A health check's store (HAProxy's `check->vars`): the `check`
    /// scope lives here, nowhere else.
    check: bool,
}

impl Vars {
    /// The variables of one health check run.
    pub fn for_check() -> Vars {
        Vars {
            check: true,
            ..Vars::default()
        }
    }

    /// Whether `s` is the `req`/`res` scope of the other phase.
    fn off_phase(&self, s: VarScope) -> bool {
        matches!(
            (s, self.response),
            (VarScope::Req, true) | (VarScope::Res, false)
        )
    }

    pub fn get(&self, s: VarScope, name: &str) -> Option<Smp> {
        if self.off_phase(s) {
            return None;
        }
        let s = scope(s, self.check)?;
        self.vars
            .borrow()
            .iter()
            .find(|(vs, n, _)| *vs == s && n == name)
            .map(|(_, _, v)| v.clone())
    }

    pub fn set(&self, s: VarScope, name: &str, v: Smp) {
        if self.off_phase(s) {
            return;
        }
        let Some(s) = scope(s, self.check) else {
            return;
        };
        let mut vars = self.vars.borrow_mut();
        match vars.iter_mut().find(|(vs, n, _)| *vs == s && n == name) {
            Some(slot) => slot.2 = v,
            None => vars.push((s, name.to_string(), v)),
        }
    }

    /// `set-var` with the 3.x conditions, checked against the variable as
    /// it is and the new value.
    pub fn set_if(&self, s: VarScope, name: &str, v: Smp, conds: &[VarCond]) {
        let old = self.get(s, name);
        let empty = |s: &Smp| matches!(s, Smp::Str(b) | Smp::Bin(b) if b.is_empty());
        let int = |s: &Smp| match s.clone().cast(SmpType::Int) {
            Some(Smp::Int(n)) => Some(n),
            _ => None,
        };
        let old_int = old.as_ref().and_then(int);
        let ok = conds.iter().all(|c| match c {
            VarCond::IfExists | VarCond::IfSet => old.is_some(),
            VarCond::IfNotExists | VarCond::IfNotSet => old.is_none(),
            VarCond::IfEmpty => empty(&v),
            VarCond::IfNotEmpty => !empty(&v),
            VarCond::IfGt => matches!((old_int, int(&v)), (Some(o), Some(n)) if o > n),
            VarCond::IfLt => matches!((old_int, int(&v)), (Some(o), Some(n)) if o < n),
        });
        if ok {
            self.set(s, name, v);
        }
    }

    pub fn unset(&self, s: VarScope, name: &str) {
        if self.off_phase(s) {
            return;
        }
        if let Some(s) = scope(s, self.check) {
            self.vars
                .borrow_mut()
                .retain(|(vs, n, _)| !(*vs == s && n == name));
        }
    }

    /// The response phase starts: the request's `req`/`res` variables go
    /// (HAProxy prunes them when the stream goes to a server or answers
    /// itself). The rules call it before the http-response and
    /// http-after-response sets; a second call does nothing.
    pub fn enter_response(&mut self) {
        if !self.response {
            self.vars
                .borrow_mut()
                .retain(|(s, _, _)| *s != Scope::ReqRes);
            self.response = true;
        }
    }

    /// The transaction is over: its `txn`, `req` and `res` variables go,
    /// the session's (and `proc`) stay.
    pub fn end_txn(&mut self) {
        self.vars
            .borrow_mut()
            .retain(|(s, _, _)| matches!(s, Scope::Sess | Scope::Proc));
        self.response = false;
    }
}

/// A transaction's capture slots (`capture request header`, `declare
/// capture`, `http-request capture`), sized by
/// [`super::http::HttpRules::new_captures`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Captures {
    pub req: Vec<Option<Vec<u8>>>,
    pub res: Vec<Option<Vec<u8>>>,
}

/// A server's name as [`Env::server`] gives it: borrowed, or held from
/// the server's configuration, which the runtime API may replace (`add
/// server` reuses a vacant slot) while a stream reads it.
#[derive(Debug)]
pub enum SrvName<'a> {
    Str(&'a str),
    Conf(arc_swap::Guard<std::sync::Arc<crate::engine::plan::ServerConf>>),
}

impl std::ops::Deref for SrvName<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        match self {
            SrvName::Str(s) => s,
            SrvName::Conf(c) => &c.name,
        }
    }
}
