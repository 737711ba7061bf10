//! A TCP stream's rules (`engine::rules::tcp`): the bytes the client
//! sends before a server is picked, read into the stream's buffer while
//! the `tcp-request content` rules need more (HAProxy's
//! tcp_inspect_request, AN_REQ_INSPECT_FE / _BE), then `use_backend`
//! (process_switching_rules) and `use-server` (process_server_rules).
//! The bytes read are the server's first.
//!
//! The state lives in a box the stream makes only when its frontend or a
//! backend has such rules: a plain TCP stream's future does not carry it.

use std::cell::Cell;
use std::net::SocketAddr;
use std::time::Instant;

use crate::engine::plan::{BackendPlan, FrontendPlan};
use crate::engine::rules::env::{Captures, Env, Vars};
use crate::engine::rules::tcp::{TcpRules, TcpTxn, Verdict};
use crate::engine::runtime::buffer::{Class, Pooled};
use crate::engine::runtime::{timer, Core};
use crate::engine::session::Conn;
use crate::log::termination::{Cause, Phase, Termination};

/// A stream's rule state: its variables, captures, log level and the
/// bytes read while the rules inspected them.
#[derive(Debug)]
pub(crate) struct StreamRules<'c> {
    pub vars: Vars,
    pub caps: Captures,
    /// `set-log-level`: `Some(None)`: silent.
    pub log_level: Option<ringlb_config::model::LogLevel>,
    /// The request bytes read so far (None until a rule set reads).
    pub req: Option<Pooled<'c>>,
    /// Bytes read from the client during inspection.
    pub bytes_in: u64,
    /// Bytes read from the server during the response's inspection.
    pub bytes_out: u64,
    /// The client's timeout ran out while its bytes were inspected.
    timed_out: bool,
    may_change: Cell<bool>,
}

impl StreamRules<'_> {
    pub fn new(vars: Vars, caps: Captures) -> Self {
        StreamRules {
            vars,
            caps,
            log_level: None,
            req: None,
            bytes_in: 0,
            bytes_out: 0,
            timed_out: false,
            may_change: Cell::new(false),
        }
    }
}

/// What a content fetch may ask of the stream.
struct ContentEnv<'a> {
    src: Option<SocketAddr>,
    dst: Option<SocketAddr>,
    fe: &'a FrontendPlan,
    be: Option<&'a BackendPlan>,
    req: &'a [u8],
    bufsize: usize,
    /// None: the evaluation is final (may_change is ignored).
    may_change: Option<&'a Cell<bool>>,
}

impl Env for ContentEnv<'_> {
    fn src(&self) -> Option<SocketAddr> {
        self.src
    }
    fn dst(&self) -> Option<SocketAddr> {
        self.dst
    }
    fn frontend(&self) -> &str {
        &self.fe.name
    }
    fn backend(&self) -> Option<&str> {
        self.be.map(|b| b.name.as_str())
    }
    fn fe_conn(&self) -> Option<i64> {
        Some(i64::from(self.fe.feconn.get()))
    }
    fn req_payload(&self) -> Option<&[u8]> {
        Some(self.req)
    }
    fn bufsize(&self) -> usize {
        self.bufsize
    }
    fn may_change(&self) {
        if let Some(c) = self.may_change {
            c.set(true);
        }
    }
}

/// How an inspection ended when it did not let the stream go on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// `reject` (PR).
    Reject,
    /// `silent-drop` (PR; nothing sent to the client).
    SilentDrop,
    /// The client timed out (cR) or failed (CR) while inspected.
    Client(Termination),
}

/// Run `rules`' `tcp-request content` set over the client's first bytes,
/// reading while a condition needs more and the inspect delay runs.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn inspect<'c>(
    core: &'c Core,
    fe: &FrontendPlan,
    be: Option<&BackendPlan>,
    rules: &TcpRules,
    client: &Conn,
    (src, dst): (Option<SocketAddr>, Option<SocketAddr>),
    st: &mut StreamRules<'c>,
) -> Result<(), Refused> {
    let start = Instant::now();
    let delay = rules.inspect_delay;
    let deadline = delay.map(|d| start + d);
    let mut eof = false;
    let mut last_read = start;
    loop {
        // What already waits in the socket is read before the rules run
        // (HAProxy reads before it analyses: without an inspect delay the
        // rules see what came with the connection).
        let full = st.req.as_ref().is_some_and(|b| b.room() == 0);
        if !eof && !full && client.has_bytes_to_read() {
            match read_some(core, client, st).await {
                Ok(0) => eof = true,
                Ok(_) => last_read = Instant::now(),
                Err(r) => return Err(r),
            }
            continue;
        }
        let now = Instant::now();
        let final_ = eof || full || st.timed_out || deadline.is_none_or(|d| now >= d);
        let verdict = {
            let data = st.req.as_ref().map_or(&[][..], |b| b.data());
            let env = ContentEnv {
                src,
                dst,
                fe,
                be,
                req: data,
                bufsize: core.shared.plan.bufsize,
                may_change: (!final_).then_some(&st.may_change),
            };
            let mut tx = TcpTxn {
                env: &env,
                vars: &st.vars,
                caps: &mut st.caps,
                log_level: st.log_level,
            };
            let v = rules.content(&mut tx, (!final_).then_some(&st.may_change));
            st.log_level = tx.log_level;
            v
        };
        match verdict {
            Verdict::Continue | Verdict::Close => return Ok(()),
            Verdict::Reject => return Err(Refused::Reject),
            Verdict::SilentDrop => return Err(Refused::SilentDrop),
            Verdict::Wait => {}
        }
        // Wait for bytes until the delay ends (or the client's timeout).
        let Some(deadline) = deadline.filter(|_| !final_) else {
            return Ok(());
        };
        let client_deadline = fe.timeout_client.map(|t| last_read + t);
        let until = client_deadline.map_or(deadline, |c| c.min(deadline));
        let Ok(ready) = client.readiness() else {
            return Err(Refused::Client(term(Cause::ClientAbort)));
        };
        let left = until.saturating_duration_since(Instant::now());
        match timer::timeout(&core.timers, left, ready.read_ready()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err(Refused::Client(term(Cause::ClientAbort))),
            Err(()) => {
                // The client's timeout: HAProxy evaluates the rules a
                // last time (a reject is PR), and otherwise ends the
                // stream cR once switched (see before_connect).
                if client_deadline.is_some_and(|c| c <= deadline && Instant::now() >= c) {
                    st.timed_out = true;
                }
                // The delay ran out: a final evaluation.
                continue;
            }
        }
        drop(ready);
        match read_some(core, client, st).await {
            Ok(0) => eof = true,
            Ok(_) => last_read = Instant::now(),
            Err(r) => return Err(r),
        }
    }
}

/// One read into the stream's buffer (taken from the core's pool at the
/// first): the client is readable, so it completes at once and is never
/// cancelled (nothing it takes is lost).
async fn read_some<'c>(
    core: &'c Core,
    client: &Conn,
    st: &mut StreamRules<'c>,
) -> Result<usize, Refused> {
    let buf = match &mut st.req {
        Some(b) => b,
        None => st.req.insert(core.bufs.get(Class::Std).await),
    };
    match client.read(buf).await {
        Ok(n) => {
            st.bytes_in += n as u64;
            Ok(n)
        }
        Err(_) => Err(Refused::Client(term(Cause::ClientAbort))),
    }
}

fn term(cause: Cause) -> Termination {
    Termination {
        cause,
        phase: Phase::Request,
    }
}

/// `use_backend` in TCP mode: the backend the rules pick (a dynamic name
/// that names no backend: the default one).
pub(crate) fn pick_backend(
    core: &Core,
    fe: &FrontendPlan,
    rules: &TcpRules,
    (src, dst): (Option<SocketAddr>, Option<SocketAddr>),
    st: &mut StreamRules<'_>,
) -> Option<usize> {
    use crate::engine::rules::tcp::Pick;
    let plan = &core.shared.plan;
    let data = st.req.as_ref().map_or(&[][..], |b| b.data());
    let env = ContentEnv {
        src,
        dst,
        fe,
        be: None,
        req: data,
        bufsize: plan.bufsize,
        may_change: None,
    };
    let mut tx = TcpTxn {
        env: &env,
        vars: &st.vars,
        caps: &mut st.caps,
        log_level: None,
    };
    match rules.pick_backend(&mut tx) {
        Some(Pick::Index(i)) => Some(i),
        Some(Pick::Name(n)) => plan
            .backends
            .iter()
            .position(|b| b.name == n && b.http.is_none())
            .or(fe.backend),
        None => fe.backend,
    }
}

/// `use-server`: the server the backend's rules name, if any.
pub(crate) fn pick_server(
    core: &Core,
    fe: &FrontendPlan,
    be: &BackendPlan,
    rules: &TcpRules,
    (src, dst): (Option<SocketAddr>, Option<SocketAddr>),
    st: &mut StreamRules<'_>,
) -> Option<usize> {
    use crate::engine::backend::server::Oper;
    let data = st.req.as_ref().map_or(&[][..], |b| b.data());
    let env = ContentEnv {
        src,
        dst,
        fe,
        be: Some(be),
        req: data,
        bufsize: core.shared.plan.bufsize,
        may_change: None,
    };
    let mut tx = TcpTxn {
        env: &env,
        vars: &st.vars,
        caps: &mut st.caps,
        log_level: None,
    };
    // HAProxy's test is `cur_state != SRV_ST_STOPPED`: a server in
    // maintenance or down is passed over, one with weight 0 is not.
    let alive = |i: usize| {
        be.servers
            .get(i)
            .is_some_and(|s| !matches!(s.state.get().oper, Oper::Stopped))
    };
    rules.pick_server(&mut tx, None, &alive)
}

/// Where the rules sent a stream: its backend (None: none) and the
/// server `use-server` named.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Switched {
    pub backend: Option<usize>,
    pub server: Option<usize>,
}

/// Everything the rules do before a server connection, in HAProxy's
/// analyser order: the frontend's `tcp-request content` rules,
/// `use_backend`, the backend's content rules (a listen section has one
/// set), `use-server`. Err: refused (with the backend chosen by then).
pub(crate) async fn before_connect<'c>(
    core: &'c Core,
    fe: &FrontendPlan,
    client: &Conn,
    addrs: (Option<SocketAddr>, Option<SocketAddr>),
    st: &mut StreamRules<'c>,
) -> Result<Switched, (Refused, Option<usize>)> {
    let plan = &core.shared.plan;
    let mut backend = fe.backend;
    if let Some(fr) = fe.tcp.as_deref() {
        if fr.has_content_rules() {
            inspect(core, fe, None, fr, client, addrs, st)
                .await
                .map_err(|r| (r, None))?;
        }
        if fr.has_backend_rules() {
            backend = pick_backend(core, fe, fr, addrs, st);
        }
    }
    if st.timed_out {
        return Err((Refused::Client(term(Cause::ClientTimeout)), backend));
    }
    let mut server = None;
    if let Some(be) = backend.and_then(|i| plan.backends.get(i)) {
        if let Some(br) = be.tcp.as_deref() {
            if br.has_content_rules() && be.name != fe.name {
                inspect(core, fe, Some(be), br, client, addrs, st)
                    .await
                    .map_err(|r| (r, backend))?;
                if st.timed_out {
                    return Err((Refused::Client(term(Cause::ClientTimeout)), backend));
                }
            }
            if br.has_server_rules() {
                server = pick_server(core, fe, be, br, addrs, st);
            }
        }
    }
    Ok(Switched { backend, server })
}

/// What the `tcp-response content` rules decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ResVerdict {
    /// Forward: the bytes read go to the client first.
    Go,
    /// `reject` (PD): the server connection is killed, the client closed.
    Reject,
    /// `close`: the bytes read go to the client, then both connections
    /// close (the server's with a reset).
    Close,
    /// A side failed while inspected.
    Failed(Termination),
}

/// The response rules' state: the server's first bytes.
struct ResEnv<'a> {
    inner: ContentEnv<'a>,
    res: &'a [u8],
}

impl Env for ResEnv<'_> {
    fn src(&self) -> Option<SocketAddr> {
        self.inner.src
    }
    fn dst(&self) -> Option<SocketAddr> {
        self.inner.dst
    }
    fn frontend(&self) -> &str {
        &self.inner.fe.name
    }
    fn backend(&self) -> Option<&str> {
        self.inner.backend()
    }
    fn res_payload(&self) -> Option<&[u8]> {
        Some(self.res)
    }
    fn bufsize(&self) -> usize {
        self.inner.bufsize
    }
    fn may_change(&self) {
        self.inner.may_change();
    }
}

/// Run the backend's `tcp-response content` rules over the server's first
/// bytes (HAProxy's tcp_inspect_response), reading while a condition
/// needs more and the response inspect delay runs, which starts when the
/// server connection is up. Meanwhile what the client sends still goes to
/// the server. The server's bytes read are in `res` on return.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn inspect_response<'c>(
    core: &'c Core,
    fe: &FrontendPlan,
    be: &BackendPlan,
    rules: &TcpRules,
    (client, server): (&Conn, &Conn),
    (src, dst): (Option<SocketAddr>, Option<SocketAddr>),
    st: &mut StreamRules<'c>,
    res: &mut Pooled<'c>,
) -> ResVerdict {
    use futures_util::future::{select, Either};
    let deadline = rules.res_inspect_delay.map(|d| Instant::now() + d);
    let (mut server_eof, mut client_eof) = (false, false);
    // The server's timeout runs meanwhile (HAProxy's read timeout on the
    // response channel): it ends the wait with a last evaluation.
    let server_timeout = be.timeout_tunnel.or(be.timeout_server);
    let mut server_last = Instant::now();
    let mut server_timed_out = false;
    loop {
        let full = res.room() == 0;
        // What already waits is read first (as on the request side).
        if !server_eof && !full && server.has_bytes_to_read() {
            match server.read(res).await {
                Ok(0) => server_eof = true,
                Ok(n) => st.bytes_out += n as u64,
                Err(_) => return ResVerdict::Failed(data_end(Cause::ServerAbort)),
            }
            continue;
        }
        let final_ =
            server_eof || full || server_timed_out || deadline.is_none_or(|d| Instant::now() >= d);
        let verdict = {
            let env = ResEnv {
                inner: ContentEnv {
                    src,
                    dst,
                    fe,
                    be: Some(be),
                    req: &[],
                    bufsize: core.shared.plan.bufsize,
                    may_change: (!final_).then_some(&st.may_change),
                },
                res: res.data(),
            };
            let mut tx = TcpTxn {
                env: &env,
                vars: &st.vars,
                caps: &mut st.caps,
                log_level: st.log_level,
            };
            let v = rules.response(&mut tx, (!final_).then_some(&st.may_change));
            st.log_level = tx.log_level;
            v
        };
        match verdict {
            // Let through, but the server timed out: sD.
            Verdict::Continue if server_timed_out => {
                return ResVerdict::Failed(data_end(Cause::ServerTimeout))
            }
            Verdict::Continue => return ResVerdict::Go,
            Verdict::Reject | Verdict::SilentDrop => return ResVerdict::Reject,
            Verdict::Close => return ResVerdict::Close,
            Verdict::Wait => {}
        }
        let Some(deadline) = deadline.filter(|_| !final_) else {
            return ResVerdict::Go;
        };
        let server_deadline = server_timeout.map(|t| server_last + t);
        let until = server_deadline.map_or(deadline, |d| d.min(deadline));
        // Wait for the server, the client (its bytes go on to the server)
        // or the end of the delay; only readiness is raced, so no read is
        // ever cancelled.
        let left = until.saturating_duration_since(Instant::now());
        let woke = {
            let from_server = std::pin::pin!(async {
                if server_eof {
                    std::future::pending::<()>().await;
                }
                let _ = server.read_ready().await;
            });
            let from_client = std::pin::pin!(async {
                if client_eof {
                    std::future::pending::<()>().await;
                }
                let _ = client.read_ready().await;
            });
            let either = select(from_server, from_client);
            match timer::timeout(&core.timers, left, either).await {
                Ok(Either::Left(_)) => Some(true),
                Ok(Either::Right(_)) => Some(false),
                Err(()) => None,
            }
        };
        match woke {
            // The delay or the server's timeout ran out: a final
            // evaluation.
            None => {
                server_timed_out =
                    server_deadline.is_some_and(|d| d <= deadline && Instant::now() >= d);
            }
            Some(true) => match server.read(res).await {
                Ok(0) => server_eof = true,
                Ok(n) => {
                    st.bytes_out += n as u64;
                    server_last = Instant::now();
                }
                Err(_) => return ResVerdict::Failed(data_end(Cause::ServerAbort)),
            },
            Some(false) => {
                let buf = match &mut st.req {
                    Some(b) => b,
                    None => st.req.insert(core.bufs.get(Class::Std).await),
                };
                match client.read(buf).await {
                    Ok(0) => {
                        client_eof = true;
                        server.shutdown_write();
                    }
                    Ok(n) => {
                        st.bytes_in += n as u64;
                        if server.write_all(buf).await.is_err() {
                            return ResVerdict::Failed(data_end(Cause::ServerAbort));
                        }
                    }
                    Err(_) => return ResVerdict::Failed(data_end(Cause::ClientAbort)),
                }
            }
        }
    }
}

fn data_end(cause: Cause) -> Termination {
    Termination {
        cause,
        phase: Phase::Data,
    }
}
