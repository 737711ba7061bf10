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
}

/// The frontend's `tcp-request content` rules over a request whose head
/// is parsed, before anything else looks at it (HAProxy 2.6 runs them per
/// request on the HTX message, before the HTTP analysers): whether they
/// refused it (`reject`, `silent-drop`: the client is dropped), and the
/// log level they set.
pub fn tcp_content(
    fe: &FrontendPlan,
    req: &Head,
    env: &StreamEnv<'_>,
    vars: &crate::engine::rules::env::Vars,
    caps: &mut crate::engine::rules::env::Captures,
    client: &crate::engine::session::Conn,
) -> (bool, Option<ringlb_config::model::LogLevel>) {
    use crate::engine::rules::tcp::{TcpTxn, Verdict};
    let Some(rules) = fe.tcp.as_deref().filter(|r| r.has_content_rules()) else {
        return (false, None);
    };
    let mut tx = TcpTxn {
        env,
        vars,
        caps,
        log_level: None,
    };
    let refused = match rules.content_http(req, &mut tx) {
        Verdict::Reject => true,
        Verdict::SilentDrop => {
            client.silent_drop();
            true
        }
        Verdict::Continue | Verdict::Wait | Verdict::Close => false,
    };
    (refused, tx.log_level)
}

/// `use-server`: the server the backend's rules name for this request,
/// if any (HAProxy's process_server_rules: a stopped server is passed
/// over; it wins over a persistence cookie, as the manual says and 2.6
/// does).
pub fn use_server(
    be: &BackendPlan,
    req: &Head,
    env: &StreamEnv<'_>,
    vars: &crate::engine::rules::env::Vars,
    caps: &mut crate::engine::rules::env::Captures,
) -> Option<usize> {
    use crate::engine::backend::server::Oper;
    use crate::engine::rules::tcp::TcpTxn;
    let rules = be.tcp.as_deref().filter(|r| r.has_server_rules())?;
    let mut tx = TcpTxn {
        env,
        vars,
        caps,
        log_level: None,
    };
    let alive = |i: usize| {
        be.servers
            .get(i)
            .is_some_and(|s| !matches!(s.state.get().oper, Oper::Stopped))
    };
    rules.pick_server(&mut tx, Some(req), &alive)
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
