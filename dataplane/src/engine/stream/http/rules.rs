//! The HTTP stream's side of the rule engine (`engine::rules::http`):
//! what a fetch may ask of the stream ([`StreamEnv`]), and the replies
//! rules answer with, made into a response head and body.

use std::net::SocketAddr;

use ringlb_proto::h1::head::{HeadParser, Kind, Options, Progress};
use ringlb_proto::msg::{Head, Method};

use crate::engine::plan::{BackendPlan, FrontendPlan, Plan};
use crate::engine::rules::http::{Env, Reply, ReplyKind};
use crate::log::termination::{Cause, Phase, Termination};

use super::plan::HttpPlan;

/// The stream's facts for the fetches.
pub struct StreamEnv<'a> {
    pub plan: &'a Plan,
    pub fe_idx: usize,
    pub fe: &'a FrontendPlan,
    pub src: Option<SocketAddr>,
    pub dst: Option<SocketAddr>,
    /// The backend once chosen.
    pub be: Option<(usize, &'a BackendPlan)>,
    /// The server once connected.
    pub server: Option<usize>,
    /// HAProxy's stream `uniq_id` (`%rt`).
    pub stream_id: u32,
    /// When the transaction began (`%Ts`).
    pub accept_date: std::time::SystemTime,
    /// The unique id, once made (see [`Env::unique_id`]).
    pub unique_id: UniqueId,
}

/// A transaction's unique id: made once, on first use; a format that
/// asks for its own id while being rendered gets none (HAProxy prints
/// `-` for `%ID` there).
#[derive(Debug, Default)]
pub struct UniqueId {
    value: std::cell::OnceCell<std::rc::Rc<str>>,
    busy: std::cell::Cell<bool>,
}

impl UniqueId {
    /// The id, if made.
    pub fn get(&self) -> Option<std::rc::Rc<str>> {
        self.value.get().cloned()
    }
}

impl StreamEnv<'_> {
    fn backend_named(&self, name: Option<&str>) -> Option<&BackendPlan> {
        match name {
            Some(n) => self.plan.backends.iter().find(|b| b.name == n),
            None => self.be.map(|(_, b)| b),
        }
    }
}

impl Env for StreamEnv<'_> {
    fn src(&self) -> Option<SocketAddr> {
        self.src
    }
    fn dst(&self) -> Option<SocketAddr> {
        self.dst
    }
    fn frontend(&self) -> &str {
        &self.fe.name
    }
    fn frontend_id(&self) -> Option<i64> {
        i64::try_from(self.fe_idx + 1).ok()
    }
    fn backend(&self) -> Option<&str> {
        self.be.map(|(_, b)| b.name.as_str())
    }
    fn backend_id(&self) -> Option<i64> {
        self.be.and_then(|(i, _)| i64::try_from(i + 1).ok())
    }
    fn server(&self) -> Option<&str> {
        let (_, be) = self.be?;
        be.servers.get(self.server?).map(|s| s.name.as_str())
    }
    fn nbsrv(&self, backend: Option<&str>) -> Option<i64> {
        let be = self.backend_named(backend)?;
        let n = be.servers.iter().filter(|s| s.state.get().usable()).count();
        i64::try_from(n).ok()
    }
    fn be_conn(&self, backend: Option<&str>) -> Option<i64> {
        Some(i64::from(self.backend_named(backend)?.beconn.get()))
    }
    fn fe_conn(&self) -> Option<i64> {
        Some(i64::from(self.fe.feconn.get()))
    }
    fn unique_id<'s>(&'s self, cx: &crate::engine::rules::fetch::Ctx<'_>) -> Option<&'s str> {
        if let Some(v) = self.unique_id.value.get() {
            return Some(v);
        }
        let rules = &self.fe.http.as_deref()?.rules;
        if !rules.has_unique_id() || self.unique_id.busy.replace(true) {
            return None;
        }
        let made = rules.render_unique_id(cx);
        self.unique_id.busy.set(false);
        let made: std::rc::Rc<str> = String::from_utf8_lossy(&made?).into();
        Some(self.unique_id.value.get_or_init(|| made))
    }
    fn use_proxy_header(&self) -> bool {
        self.fe.http.as_deref().is_some_and(|h| h.use_proxy_header)
    }
    fn stream_id(&self) -> Option<u32> {
        Some(self.stream_id)
    }
    fn accept_date(&self) -> Option<std::time::SystemTime> {
        Some(self.accept_date)
    }
    fn srv_is_up(&self, backend: &str, server: &str) -> Option<bool> {
        let be = self.backend_named(Some(backend))?;
        let s = be.servers.iter().find(|s| s.name == server)?;
        Some(s.state.get().usable())
    }
}

/// HAProxy's `http_process_request` step 8: the frontend's unique id
/// made (if no rule asked for it yet) once the request is processed,
/// and sent to the server in `unique-id-header`.
pub fn unique_id(
    env: &StreamEnv<'_>,
    req: &mut Head,
    vars: &crate::engine::rules::http::Vars,
    caps: &crate::engine::rules::http::Captures,
    fh: &HttpPlan,
) -> Option<std::rc::Rc<str>> {
    if !fh.rules.has_unique_id() {
        return None;
    }
    let id = {
        let cx = crate::engine::rules::fetch::Ctx {
            vars: Some(vars),
            caps: Some(caps),
            ..crate::engine::rules::fetch::Ctx::new(req, env)
        };
        env.unique_id(&cx)?;
        env.unique_id.get()?
    };
    if let Some(h) = &fh.unique_id_header {
        req.push(h.as_bytes(), id.as_bytes());
    }
    Some(id)
}

/// A reply as it goes out: head (after-response rules may still edit it)
/// and body.
pub struct Answer {
    pub head: Head,
    pub body: Vec<u8>,
}

/// Make `reply` a response: its own message, or the proxy's page for its
/// status with the reply's headers set on it.
pub fn answer(reply: Reply, fh: &HttpPlan) -> Answer {
    if let Some((head, body)) = reply.message {
        return Answer { head, body };
    }
    let mut page = fh.error_page(reply.status);
    let mut head = Head::new();
    let mut parser = HeadParser::new(Kind::Response(Method::Get), Options::default());
    let body = match parser.parse(&mut page, &mut head) {
        Ok(Progress::Done(n)) => page.get(n..).unwrap_or_default().to_vec(),
        _ => {
            // An errorfile that is not a response: HAProxy checked it at
            // start; send a bare status line.
            let _ = ringlb_proto::errors::to_head(reply.status, &mut head);
            Vec::new()
        }
    };
    for (n, v) in &reply.headers {
        head.set(n, v);
    }
    Answer { head, body }
}

/// The termination state of a reply the rules made in the request
/// (`response`: false) or the response phase.
pub fn termination(kind: ReplyKind, response: bool) -> Termination {
    let phase = if response {
        Phase::Headers
    } else {
        Phase::Request
    };
    let cause = match kind {
        ReplyKind::Deny => Cause::Proxy,
        ReplyKind::Tarpit(_) => {
            return Termination {
                cause: Cause::Proxy,
                phase: Phase::Tarpit,
            }
        }
        ReplyKind::Return | ReplyKind::Redirect | ReplyKind::Auth => Cause::Local,
    };
    Termination { cause, phase }
}
