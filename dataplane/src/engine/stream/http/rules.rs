//! The HTTP stream's side of the rule engine (`engine::rules::http`):
//! what a fetch may ask of the stream ([`StreamEnv`]), and the replies
//! rules answer with, made into a response head and body.

use std::cell::{Cell, OnceCell, RefCell};
use std::net::SocketAddr;
use std::time::Duration;

use ringlb_proto::h1::head::{HeadParser, Kind, Options, Progress};
use ringlb_proto::msg::{Head, Method};

use crate::engine::plan::{BackendPlan, FrontendPlan, Plan};
use crate::engine::rules::http::{EngineAction, Env, Reply, ReplyKind};
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
    /// The server once connected (an index that fits: a backend's server
    /// count is far below u32; the narrower field keeps the session small).
    pub server: Option<u32>,
    /// What the engine actions changed, made by the first one that runs
    /// (a transaction without them allocates nothing; one pointer here).
    pub over: OnceCell<Box<Overrides>>,
    /// `http-request set-retries`: the stream's `retries`.
    pub retries: std::cell::Cell<Option<u32>>,
    /// `http-request disable-l7-retry`.
    pub l7_retry_off: std::cell::Cell<bool>,
    /// HAProxy's stream `uniq_id` (`%rt`).
    pub stream_id: u32,
    /// When the transaction began (`%Ts`).
    pub accept_date: std::time::SystemTime,
    /// The unique id, once made (see [`Env::unique_id`]).
    pub unique_id: UniqueId,
}

/// A transaction's changes by its rules' engine actions (HAProxy keeps
/// them in the stream: `s->scf->src`, `s->res.rto`, `s->tunnel_timeout`).
#[derive(Debug, Default)]
pub struct Overrides {
    /// `set-src`, `set-src-port`: the stream's client address (the `src`
    /// fetches, the log's `%ci:%cp`, forwardfor, `usesrc client`).
    pub src: Cell<Option<SocketAddr>>,
    /// `set-dst`, `set-dst-port`: the address the client reached (`dst`,
    /// `%fi:%fp`, originalto, and a server without an address or port).
    pub dst: Cell<Option<SocketAddr>>,
    /// `set-timeout server|tunnel|client`: Some(ZERO) is no timeout (an
    /// expression that gives 0, as HAProxy's TICK_ETERNITY).
    pub timeout_server: Cell<Option<Duration>>,
    pub timeout_tunnel: Cell<Option<Duration>>,
    pub timeout_client: Cell<Option<Duration>>,
    /// `early-hint`: the 103 responses to send before anything else, as
    /// raw HTTP/1.1 (one per run of consecutive early-hint rules).
    pub hints: RefCell<Vec<u8>>,
    /// A 103 whose headers are being added (its run of rules goes on).
    pub hint_open: Cell<bool>,
    /// Their size as HAProxy's HTX holds them, which its log counts.
    pub hints_htx: Cell<u64>,
    /// `set-mark` / `set-tos` for the client connection, applied once the
    /// rule set has run.
    pub mark: Cell<Option<u32>>,
    pub tos: Cell<Option<u8>>,
}

/// A timeout as overridden: Some(ZERO) is none.
fn overridden(v: Option<Duration>, default: Option<Duration>) -> Option<Duration> {
    match v {
        Some(d) if d.is_zero() => None,
        Some(d) => Some(d),
        None => default,
    }
}

impl StreamEnv<'_> {
    fn over(&self) -> &Overrides {
        self.over.get_or_init(Box::default)
    }

    /// `timeout server` for this stream (`set-timeout server`).
    pub fn timeout_server(&self, default: Option<Duration>) -> Option<Duration> {
        overridden(
            self.over.get().and_then(|o| o.timeout_server.get()),
            default,
        )
    }

    /// `timeout client` for this stream (`set-timeout client`).
    pub fn timeout_client(&self, default: Option<Duration>) -> Option<Duration> {
        overridden(
            self.over.get().and_then(|o| o.timeout_client.get()),
            default,
        )
    }

    /// The tunnel's timeouts (client side, server side): `timeout tunnel`
    /// (or `set-timeout tunnel`) supersedes the others once set.
    pub fn tunnel_timeouts(
        &self,
        fe_client: Option<Duration>,
        be: &BackendPlan,
    ) -> (Option<Duration>, Option<Duration>) {
        let tunnel = match self.over.get().and_then(|o| o.timeout_tunnel.get()) {
            Some(d) if d.is_zero() => None,
            Some(d) => return (Some(d), Some(d)),
            None => be.timeout_tunnel,
        };
        (
            tunnel.or(self.timeout_client(fe_client)),
            tunnel.or(self.timeout_server(be.timeout_server)),
        )
    }

    /// The 103 responses the rules asked for so far (taken), with their
    /// size as the log counts it.
    pub fn take_hints(&self) -> Option<(Vec<u8>, u64)> {
        let o = self.over.get()?;
        let mut h = o.hints.borrow_mut();
        (!h.is_empty()).then(|| (std::mem::take(&mut *h), o.hints_htx.take()))
    }
}

/// The port of `a`, 0 when there is none (a UNIX client): HAProxy keeps
/// the port of an INET address and starts from 0 otherwise.
fn with_ip(a: Option<SocketAddr>, ip: std::net::IpAddr) -> SocketAddr {
    SocketAddr::new(ip, a.map_or(0, |a| a.port()))
}

/// `a` with `port`; a missing (UNIX) address becomes 0.0.0.0:port, as
/// HAProxy's set-src-port does.
fn with_port(a: Option<SocketAddr>, port: u16) -> SocketAddr {
    let ip = a.map_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), |a| {
        a.ip()
    });
    SocketAddr::new(ip, port)
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
        self.over.get().and_then(|o| o.src.get()).or(self.src)
    }
    fn dst(&self) -> Option<SocketAddr> {
        self.over.get().and_then(|o| o.dst.get()).or(self.dst)
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
    fn server(&self) -> Option<crate::engine::rules::env::SrvName<'_>> {
        let (_, be) = self.be?;
        be.servers
            .get(usize::try_from(self.server?).ok()?)
            .map(|s| crate::engine::rules::env::SrvName::Conf(s.conf()))
    }
    fn server_id(&self) -> Option<i64> {
        let (_, be) = self.be?;
        be.servers
            .get(usize::try_from(self.server?).ok()?)
            .map(|s| i64::from(s.conf().id))
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
        let s = be.servers.iter().find(|s| s.conf().name == server)?;
        Some(s.state.get().usable())
    }
    fn apply(&self, action: EngineAction) {
        use ringlb_config::model::{SockOpt, TimeoutName};
        match action {
            EngineAction::SetTimeout { timeout, value } => {
                let o = self.over();
                match timeout {
                    TimeoutName::Server => o.timeout_server.set(Some(value)),
                    TimeoutName::Tunnel => o.timeout_tunnel.set(Some(value)),
                    TimeoutName::Client => o.timeout_client.set(Some(value)),
                }
            }
            EngineAction::SetSrc(ip) => self.over().src.set(Some(with_ip(self.src(), ip))),
            EngineAction::SetSrcPort(p) => self.over().src.set(Some(with_port(self.src(), p))),
            EngineAction::SetDst(ip) => self.over().dst.set(Some(with_ip(self.dst(), ip))),
            EngineAction::SetDstPort(p) => self.over().dst.set(Some(with_port(self.dst(), p))),
            EngineAction::EarlyHint { name, value, last } => {
                let o = self.over();
                let mut h = o.hints.borrow_mut();
                let mut htx = o.hints_htx.get();
                if !o.hint_open.get() {
                    h.extend_from_slice(b"HTTP/1.1 103 Early Hints\r\n");
                    o.hint_open.set(true);
                    // The start line's block: 20 bytes and its parts.
                    htx += 20 + 8 + 3 + 11;
                }
                htx += (name.len() + value.len()) as u64;
                // HTX holds header names in lower case.
                h.extend(name.iter().map(u8::to_ascii_lowercase));
                h.extend_from_slice(b": ");
                h.extend_from_slice(&value);
                h.extend_from_slice(b"\r\n");
                if last {
                    h.extend_from_slice(b"\r\n");
                    o.hint_open.set(false);
                    htx += 1;
                }
                o.hints_htx.set(htx);
            }
            EngineAction::SetSockOpt { opt, value } => {
                // HAProxy casts the value to the option's type.
                let o = self.over();
                match opt {
                    SockOpt::Mark | SockOpt::FcMark => o.mark.set(Some(value as u32)),
                    SockOpt::Tos | SockOpt::FcTos => o.tos.set(Some(value as u8)),
                    // Refused at start (not in ENGINE_ACTIONS' names).
                    SockOpt::BcMark | SockOpt::BcTos => {}
                }
            }
            // `set-nice` only weighs the stream in HAProxy's scheduler;
            // `wait-for-handshake` waits for a TLS handshake, and a
            // plain connection has none to wait for.
            EngineAction::SetNice(_) | EngineAction::WaitForHandshake => {}
            // Out of [0, 100]: ignored, as HAProxy's action does.
            EngineAction::SetRetries(n) => {
                if let Some(n) = u32::try_from(n).ok().filter(|n| *n <= 100) {
                    self.retries.set(Some(n));
                }
            }
            EngineAction::DisableL7Retry => self.l7_retry_off.set(true),
            // The others are not declared in ENGINE_ACTIONS.
            _ => {}
        }
    }
}

/// A proxy's `tcp-request content` rules over a request whose head is
/// parsed: the frontend's before anything else looks at it (HAProxy 2.6
/// runs them per request on the HTX message, before the HTTP analysers),
/// a backend's once the stream switched to it, before its http-request
/// rules (AN_REQ_INSPECT_BE). Whether they refused it (`reject`,
/// `silent-drop`: the client is dropped), and the log level they set.
pub fn tcp_content(
    tcp: Option<&crate::engine::rules::tcp::TcpRules>,
    req: &Head,
    env: &StreamEnv<'_>,
    vars: &crate::engine::rules::env::Vars,
    caps: &mut crate::engine::rules::env::Captures,
    client: &crate::engine::session::Conn,
) -> (bool, Option<ringlb_config::model::LogLevel>) {
    use crate::engine::rules::tcp::{TcpTxn, Verdict};
    let Some(rules) = tcp.filter(|r| r.has_content_rules()) else {
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
        Ok(Progress::Done(n)) => {
            // The page goes through HTX in HAProxy (http_reply_message):
            // its names reach the client lower-cased.
            head.lowercase_names();
            page.get(n..).unwrap_or_default().to_vec()
        }
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

#[cfg(test)]
mod tests {
    use super::{overridden, with_ip, with_port};
    use std::time::Duration;

    /// set-src keeps the port; set-src-port keeps the address, and makes
    /// a UNIX client's 0.0.0.0:port (tcp_action_req_set_src_port).
    #[test]
    fn addresses_change_as_haproxy_changes_them() {
        let a = "192.0.2.1:5555".parse().ok();
        assert_eq!(
            with_ip(a, [10, 0, 0, 1].into()).to_string(),
            "10.0.0.1:5555"
        );
        assert_eq!(
            with_ip(a, "2001:db8::1".parse().unwrap()).to_string(),
            "[2001:db8::1]:5555"
        );
        assert_eq!(
            with_ip(None, [10, 0, 0, 1].into()).to_string(),
            "10.0.0.1:0"
        );
        assert_eq!(with_port(a, 80).to_string(), "192.0.2.1:80");
        assert_eq!(with_port(None, 80).to_string(), "0.0.0.0:80");
    }

    /// A timeout set to 0 (an expression's) is none, as TICK_ETERNITY.
    #[test]
    fn a_zero_timeout_is_none() {
        let d = Some(Duration::from_secs(5));
        assert_eq!(overridden(None, d), d);
        assert_eq!(overridden(Some(Duration::ZERO), d), None);
        assert_eq!(
            overridden(Some(Duration::from_millis(3)), d),
            Some(Duration::from_millis(3))
        );
    }
}
