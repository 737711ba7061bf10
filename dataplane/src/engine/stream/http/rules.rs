//! The HTTP stream's side of the rule engine (`engine::rules::http`):
//! what a fetch may ask of the stream ([`StreamEnv`]), and the replies
//! rules answer with, made into a response head and body.

use std::net::SocketAddr;

use ringlb_proto::h1::head::{HeadParser, Kind, Options, Progress};
use ringlb_proto::msg::{Head, Method};

use crate::engine::plan::{BackendPlan, FrontendPlan, Plan};
use crate::engine::rules::engine_act::EngineAction;
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
    /// `http-request set-retries`: the stream's `retries`.
    pub retries: std::cell::Cell<Option<u32>>,
    /// `http-request disable-l7-retry`.
    pub l7_retry_off: std::cell::Cell<bool>,
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
    fn srv_is_up(&self, backend: &str, server: &str) -> Option<bool> {
        let be = self.backend_named(Some(backend))?;
        let s = be.servers.iter().find(|s| s.name == server)?;
        Some(s.state.get().usable())
    }
    fn apply(&self, action: EngineAction) {
        match action {
            // Out of [0, 100]: ignored, as HAProxy's action does.
            EngineAction::SetRetries(n) => {
                if let Some(n) = u32::try_from(n).ok().filter(|n| *n <= 100) {
                    self.retries.set(Some(n));
                }
            }
            EngineAction::DisableL7Retry => self.l7_retry_off.set(true),
            _ => {}
        }
    }
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
