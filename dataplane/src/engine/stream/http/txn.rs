//! One HTTP transaction of a session (see the module above): request in,
//! server picked and connected, request out while the response comes,
//! response out, log.

use crate::engine::checks::observe::Event;
use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::task::Poll;
use std::time::{Duration, Instant, SystemTime};

use futures_util::future::{select, Either};
use ringlb_proto::h1::conn::{self as h1conn, HttpMode, Want};
use ringlb_proto::h1::emit;
use ringlb_proto::h1::head::{HeadParser, Kind, Options};
use ringlb_proto::msg::{flags, Body, Head, Method};

use super::plan::HttpPlan;
use super::rules::StreamEnv;
use super::{HttpFacts, Next, Session};
use crate::engine::backend::queue;
use crate::engine::connect::{connect, HttpPick};
use crate::engine::mux::h1::{self, BodyEnd, Fail, HeadEnd, Path};
use crate::engine::plan::{BackendPlan, FrontendPlan};
use crate::engine::rules::http::{
    Captures, Env as _, HttpRules, Pick, Reply, ReplyKind, Stop, Txn, Vars, Verdict,
};
use crate::engine::runtime::buffer::{Buffer, Class, Pooled};
use crate::engine::session::transport::{no_provided_buffer, Provided};
use crate::engine::session::Conn;
use crate::engine::stream::tcp::StreamFacts;
use crate::log::termination::{Cause, Phase, Termination};
use ringlb_config::model::LogLevel;

mod retry;

fn term(cause: Cause, phase: Phase) -> Termination {
    Termination { cause, phase }
}

/// How the response side of a transaction ended.
#[derive(Debug)]
enum ResEnd {
    /// An http-response rule answered instead (deny, return, redirect).
    Rule(Reply),
    /// The server's response head was refused (502).
    Invalid,
    /// The server closed (`reset`: reset, or another read error) before
    /// a response head (502).
    Aborted { reset: bool },
    /// `timeout server` before a response head (504).
    Timeout,
    /// A response whose status `retry-on` names, with a retry left: it is
    /// dropped and the request sent again.
    Retry,
    /// The response body failed after its head went out.
    Body(BodyEnd),
    /// The backend's `tcp-response content` rules rejected the response
    /// (PD: both connections killed, nothing to the client).
    TcpReject,
    /// The server's streams were shut down (`Process::shutdown_streams`):
    /// 502 before the response head, the connections closed after it.
    Shutdown(Cause),
}

/// What the response side's rules need.
struct RuleState<'a, 'e> {
    env: &'a StreamEnv<'e>,
    be_rules: Option<&'a HttpRules>,
    vars: &'a mut Vars,
    caps: &'a mut Captures,
    log_level: &'a mut Option<LogLevel>,
}

/// How the two sides want their connection after a response.
#[derive(Clone, Copy, Debug)]
struct Outcome {
    client: Want,
    server: Want,
}

impl<'c> Session<'c> {
    /// Serve one transaction; what becomes of the client connection.
    pub(super) async fn transaction(&mut self, (ready, ready_date): (Instant, SystemTime)) -> Next {
        let core = self.core;
        let fe = self.fe;
        let fh = self.fh;
        let first = self.count == 0;
        let mut facts = self.facts(ready_date);
        let mut http = HttpFacts::default();

        // Wait for the request's first byte, holding no buffer while idle.
        let buffered = self.cbuf.as_ref().is_some_and(|b| !b.is_empty());
        if !buffered {
            self.cbuf = None;
            let idle = if first {
                fh.timeout_http_request.or(fe.timeout_client)
            } else {
                fh.timeout_http_keep_alive
                    .or(fh.timeout_http_request)
                    .or(fe.timeout_client)
            };
            match self.wait_request(idle, first).await {
                Wait::Data(p) => {
                    // What the ring's buffer holds goes to the pooled one
                    // (all of it: the reserve only bounds the head, which
                    // the parser checks).
                    let mut b = core.bufs.get(Class::Std).await;
                    let reserve = b.reserve();
                    b.set_reserve(0);
                    b.put(p.bytes());
                    b.set_reserve(reserve);
                    self.cbuf = Some(b);
                }
                Wait::Ready => {}
                // `option http-ignore-probes`: an empty connection that
                // closes is no request at all.
                Wait::Closed if first && !fh.ignore_probes => {
                    http.uniq_id = core.next_stream_id();
                    facts.termination = term(Cause::ClientAbort, Phase::Request);
                    // Sent to a client that only half-closed, as
                    // HAProxy's h1_process does on a read0.
                    self.reply_raw(400, &mut http).await;
                    self.finish(None, facts, &http, ready);
                    return Next::Close;
                }
                Wait::Closed => return Next::Close,
                Wait::Timeout if first && !fh.ignore_probes => {
                    http.uniq_id = core.next_stream_id();
                    facts.termination = term(Cause::ClientTimeout, Phase::Request);
                    self.reply_raw(408, &mut http).await;
                    self.finish(None, facts, &http, ready);
                    return Next::Close;
                }
                Wait::Timeout | Wait::Stop => return Next::Close,
            }
        }
        http.uniq_id = core.next_stream_id();
        http.t_idle = u32::try_from(ready.elapsed().as_millis()).unwrap_or(u32::MAX);
        let mut cbuf = match self.cbuf.take() {
            Some(b) => b,
            None => core.bufs.get(Class::Std).await,
        };
        let deadline =
            fh.timeout_http_request
                .map(|t| if first { ready + t } else { Instant::now() + t });
        let mut parser = HeadParser::new(
            Kind::Request,
            Options {
                accept_invalid: fh.accept_invalid_request,
                max_headers: fh.max_headers,
                max_head: cbuf.max_input(),
            },
        );
        let head = h1::read_head(
            self.client,
            &mut cbuf,
            &mut parser,
            &mut self.req,
            &core.timers,
            fe.timeout_client,
            deadline,
        )
        .await;
        let head_len = match head {
            Ok(n) => n,
            Err(end) => {
                // HAProxy's mux refuses the head before any stream: no
                // byte counted (bin, %U), whatever the client sent.
                facts.bytes_in = 0;
                let (status, cause) = match end {
                    HeadEnd::Invalid(_) => (Some(400), Cause::Proxy),
                    HeadEnd::Timeout { .. } => (Some(408), Cause::ClientTimeout),
                    HeadEnd::Closed { partial } | HeadEnd::Error { partial }
                        if !partial && !first =>
                    {
                        // A keep-alive connection closed between
                        // requests: nothing to say.
                        return Next::Close;
                    }
                    // A half-closed client still reads: HAProxy's
                    // h1_process answers the read0 with its 400.
                    HeadEnd::Closed { .. } => (Some(400), Cause::ClientAbort),
                    HeadEnd::Error { .. } => (None, Cause::ClientAbort),
                };
                facts.termination = term(cause, Phase::Request);
                self.cbuf = Some(cbuf);
                match status {
                    Some(s) => {
                        // Answered by HAProxy's mux before any stream:
                        // its log counts no bytes.
                        self.reply_raw(s, &mut http).await;
                    }
                    // The client is gone: HAProxy logs its 400 unsent.
                    None => http.status = 400,
                }
                self.cbuf = None;
                self.finish(None, facts, &http, ready);
                return Next::Close;
            }
        };
        // A chunked body whose framing is already wrong in what came with
        // the head is refused with the head, as HAProxy's mux parses both
        // before any stream: 400, PR, <BADREQ>, nothing counted.
        if self.req.body == Body::Chunked && chunks_invalid(cbuf.data()) {
            facts.termination = term(Cause::Proxy, Phase::Request);
            self.reply_raw(400, &mut http).await;
            drop(cbuf);
            self.finish(None, facts, &http, ready);
            return Next::Close;
        }
        http.t_request = Some(ready.elapsed());
        // A stream now (HAProxy's comes with the parsed head).
        self.reg.begin(http.uniq_id, (ready, ready_date));
        // One more valid request (proxy_inc_fe_req_ctr), counted as it
        // is parsed: a stats page printed now counts itself, as HAProxy's.
        crate::engine::stats::count_request(core, self.fe_idx);
        // HAProxy counts the message as HTX holds it (%U, %B).
        let _ = head_len;
        facts.bytes_in = self.req.htx_size();
        if fe.log.enabled {
            let [m, u, v] = self.req.line_parts();
            let mut line = String::with_capacity(m.len() + u.len() + v.len() + 2);
            line.push_str(&String::from_utf8_lossy(m));
            line.push(' ');
            line.push_str(&String::from_utf8_lossy(u));
            if !v.is_empty() {
                line.push(' ');
                line.push_str(&String::from_utf8_lossy(v));
            }
            http.request_line = Some(line.into());
        }
        let plan = &core.shared.plan;
        let mut caps = fh.rules.new_captures();
        let mut env = StreamEnv {
            plan,
            fe_idx: self.fe_idx,
            fe,
            src: self.peer,
            dst: self.dst,
            be: None,
            server: None,
            over: Default::default(),
            retries: Cell::new(None),
            l7_retry_off: Cell::new(false),
            stream_id: http.uniq_id,
            accept_date: ready_date,
            unique_id: Default::default(),
        };
        // tcp-request content, first (HAProxy's AN_REQ_INSPECT_FE): a
        // refusal logs PR with no request line nor request time.
        let (refused, mut log_level) = super::rules::tcp_content(
            fe.tcp.as_deref(),
            &self.req,
            &env,
            &self.vars,
            &mut caps,
            self.client,
        );
        if refused {
            (http.request_line, http.t_request) = (None, None);
            facts.termination = term(Cause::Proxy, Phase::Request);
            http.set_captures(&caps);
            drop(cbuf);
            // `set-log-level silent`: counted, not logged.
            if matches!(log_level, Some(None)) {
                http.logged = true;
            }
            self.finish(None, facts, &http, ready);
            return Next::Close;
        }
        // PRI is the HTTP/2 preface's method (http_wait_for_request's
        // return_bad_req): 400, an invalid request, PR. HAProxy's mux
        // would have upgraded a whole preface to HTTP/2 before this;
        // ringlb has no HTTP/2 (docs/differences.md).
        if self.req.method == Method::Other && self.req.line_parts()[0].eq_ignore_ascii_case(b"PRI")
        {
            // Its line and time are kept later there: <BADREQ>, Tr -1.
            (http.request_line, http.t_request) = (None, None);
            http.counted_bad = true;
            facts.termination = term(Cause::Proxy, Phase::Request);
            self.cbuf = Some(cbuf);
            self.reply_error(400, &mut facts, &mut http).await;
            self.finish(None, facts, &http, ready);
            return Next::Close;
        }
        fh.rules.capture_request(&mut Txn {
            req: &mut self.req,
            res: None,
            env: &env,
            vars: &mut self.vars,
            caps: &mut caps,
            log_level: None,
        });
        // `monitor-uri`: answered here, before any rule, and not logged;
        // 503 when a `monitor fail` condition holds.
        if fh
            .monitor_uri
            .as_deref()
            .is_some_and(|m| m.as_bytes() == self.req.line_parts()[1])
        {
            let fails = fh.rules.monitor_fails(&Txn {
                req: &mut self.req,
                res: None,
                env: &env,
                vars: &mut self.vars,
                caps: &mut caps,
                log_level: None,
            });
            self.cbuf = Some(cbuf);
            let status = if fails { 503 } else { 200 };
            self.reply_error(status, &mut facts, &mut http).await;
            return Next::Close;
        }
        // The stats page (`stats uri`): answered by the proxy itself, as
        // HAProxy's stats applet, before the frontend's rules.
        if let Some(conf) = plan
            .stats
            .pages
            .get(self.fe_idx)
            .and_then(|p| p.as_deref())
            .filter(|c| crate::engine::stats::page::matches(c, self.req.line_parts()[1]))
        {
            return self
                .stats_page(conf, cbuf, (&env, &mut caps), (facts, &mut http), ready)
                .await;
        }
        let stopping = core.stop_accepting.is_fired();
        let client_want = h1conn::client_after_request(&self.req, Want::KeepAlive, stopping);

        if fh.buffer_request && self.req.body != Body::None {
            match self.buffer_request(&mut cbuf).await {
                Ok(interim) => facts.bytes_out += interim,
                Err(end) => {
                    return self
                        .body_wait_failed(end, cbuf, (facts, &mut http), None, ready)
                        .await;
                }
            }
        }
        // The frontend's http-request rules, then content switching.
        let mut tx = Txn {
            req: &mut self.req,
            res: None,
            env: &env,
            vars: &mut self.vars,
            caps: &mut caps,
            log_level: None,
        };
        let verdict = fh.rules.request(&mut tx);
        log_level = tx.log_level.or(log_level);
        let pick = match verdict {
            Verdict::Continue => fh.rules.pick_backend(&mut tx),
            _ => None,
        };
        log_level = tx.log_level.or(log_level);
        self.after_rules(&env, &mut facts);
        if !matches!(verdict, Verdict::Continue) {
            http.set_captures(&caps);
            return self
                .rule_stop(
                    verdict,
                    None,
                    &env,
                    &mut caps,
                    (cbuf, facts, http, client_want),
                    ready,
                    log_level,
                )
                .await;
        }
        let be_at = match pick {
            Some(Pick::Index(i)) => Some(i),
            Some(Pick::Name(n)) => plan
                .backends
                .iter()
                .position(|b| b.name == n)
                .or(fe.backend),
            None => fe.backend,
        };
        let Some((be_idx, be)) = be_at.and_then(|i| plan.backends.get(i).map(|b| (i, b))) else {
            facts.termination = term(Cause::Proxy, Phase::Request);
            self.cbuf = Some(cbuf);
            self.reply_error(503, &mut facts, &mut http).await;
            http.set_captures(&caps);
            self.finish(None, facts, &http, ready);
            return Next::Close;
        };
        let bh = be.http.as_deref().unwrap_or(fh);
        self.be_http = Some(bh);
        env.be = Some((be_idx, be));
        self.reg.set_backend(be_idx);
        // The backend's own rules (a listen section has one set): its
        // tcp-request content rules first (AN_REQ_INSPECT_BE), then its
        // http-request rules.
        let be_rules = backend_rules((fe, fh), (be, bh));
        if be_rules.is_some() {
            let (refused, level) = super::rules::tcp_content(
                be.tcp.as_deref(),
                &self.req,
                &env,
                &self.vars,
                &mut caps,
                self.client,
            );
            log_level = level.or(log_level);
            if refused {
                facts.termination = term(Cause::Proxy, Phase::Request);
                http.set_captures(&caps);
                drop(cbuf);
                // `set-log-level silent`: counted, not logged.
                if matches!(log_level, Some(None)) {
                    http.logged = true;
                }
                self.finish(Some((be_idx, be)), facts, &http, ready);
                return Next::Close;
            }
        }
        if let Some(rules) = be_rules {
            let mut tx = Txn {
                req: &mut self.req,
                res: None,
                env: &env,
                vars: &mut self.vars,
                caps: &mut caps,
                log_level: None,
            };
            let verdict = rules.request(&mut tx);
            log_level = tx.log_level.or(log_level);
            self.after_rules(&env, &mut facts);
            if !matches!(verdict, Verdict::Continue) {
                http.set_captures(&caps);
                return self
                    .rule_stop(
                        verdict,
                        Some((be_idx, be)),
                        &env,
                        &mut caps,
                        (cbuf, facts, http, client_want),
                        ready,
                        log_level,
                    )
                    .await;
            }
        }
        if bh.buffer_request && self.req.body != Body::None {
            let waited = self.buffer_request(&mut cbuf).await;
            if let Ok(interim) = waited {
                facts.bytes_out += interim;
            }
            if let Err(end) = waited {
                http.set_captures(&caps);
                return self
                    .body_wait_failed(end, cbuf, (facts, &mut http), Some((be_idx, be)), ready)
                    .await;
            }
        }
        if let Some((name, len)) = &fh.capture_cookie {
            if let Some(c) = super::cookie::capture(&self.req, false, name, *len) {
                http.captured_mut().req_cookie = Some(c.into());
            }
        }
        // Cookie persistence: the server the request's cookie names.
        let persist = bh.cookie.as_ref().map(|c| {
            let p = super::cookie::request(&mut self.req, c, be);
            http.cookie_dates = p.dates;
            http.cookie = Some(crate::log::termination::CookieStatus {
                request: p.status,
                response: crate::log::termination::ResponseCookie::None,
            });
            p
        });
        let used = super::rules::use_server(be, &self.req, &env, &self.vars, &mut caps);
        if let (Some(_), Some(st)) = (used, http.cookie.as_mut()) {
            // HAProxy assigns the use-server's server first, so the cookie
            // names no server it looks up: 'U' (manage_client_side_cookies;
            // an expired or old one keeps its letter).
            use crate::log::termination::RequestCookie as Rc;
            if matches!(st.request, Rc::Valid | Rc::Invalid | Rc::Down) {
                st.request = Rc::Unused;
            }
        }
        let force = used.or(persist.and_then(|p| p.server));
        // `balance url_param`: a POST not sent by its cookie waits for its
        // body (what the buffer holds), which the balancer searches when
        // the query string lacks the parameter (haproxy 2.6 does this
        // with or without `check_post`).
        if force.is_none()
            && !bh.buffer_request
            && self.req.method == Method::Post
            && self.req.body != Body::None
            && url_param_balance(core, be_idx)
        {
            match self.buffer_request(&mut cbuf).await {
                Ok(interim) => facts.bytes_out += interim,
                Err(end) => {
                    http.set_captures(&caps);
                    return self
                        .body_wait_failed(end, cbuf, (facts, &mut http), Some((be_idx, be)), ready)
                        .await;
                }
            }
        }
        facts.beconn = be.beconn.inc();
        crate::engine::stats::count_backend_stream(core, be_idx, facts.beconn);
        http.unique_id = super::rules::unique_id(&env, &mut self.req, &self.vars, &caps, fh);
        self.forwarded_for(bh, env.src(), env.dst());
        let fe_mode = fh.conn_mode;
        let be_mode = bh.conn_mode;
        let server_want =
            h1conn::server_for_request(&self.req, Want::KeepAlive, fe_mode, be_mode, stopping);
        if let Some(v) = h1conn::request_connection(&self.req, server_want, bh.pretend_keepalive) {
            self.req.push(b"Connection", v.as_bytes());
        }

        if env.over.get().is_some() {
            // Boxed: only a transaction with engine actions pays for it.
            Box::pin(self.send_hints(&env, &mut facts)).await;
        }

        // The server connection.
        use ringlb_config::model::HttpReuse;
        let reuse = match bh.reuse {
            HttpReuse::Never => false,
            HttpReuse::Safe => !first,
            HttpReuse::Aggressive | HttpReuse::Always => true,
        };
        let mut retry = retry::Retry::new(
            core,
            (
                be.retry_on,
                env.retries.get().unwrap_or(be.retries),
                !env.l7_retry_off.get(),
            ),
            self.req.body,
            &cbuf,
        );
        let (srv_idx, sconn, exchange, mut owned, mut pooled, (in_use, served)) = loop {
            let own = &self.own;
            // An idle connection is looked at before use (one system call)
            // and left if the server closed it: HAProxy watches its idle
            // connections and drops one the server closes, so a request
            // never goes on it. One the server closes once it has the
            // request is not sent again unless `retry-on` says so (a
            // request the server may have acted on): a 502, or closing
            // the client's keep-alive connection without a word
            // (abort_keep_alive, below).
            // The requests the connection taken served (`max-reuse`).
            let taken_served = Cell::new(0u32);
            let take_idle = |srv: usize| {
                let idle = match own.take() {
                    Some((b, s, idle))
                        if (b, s) == (be_idx, srv)
                            && matches!(idle.0.peek(), Err(nix::errno::Errno::EAGAIN)) =>
                    {
                        Some(idle)
                    }
                    _ if reuse => core.idle.take(be_idx, srv, true),
                    _ => None,
                };
                idle.map(|(conn, addr, served)| {
                    taken_served.set(served);
                    (conn, addr)
                })
            };
            let start = Instant::now();
            // `balance hash <expr>`: the sample's bytes, in the head
            // buffer the exchange reuses (no allocation kept).
            let sampled = bh.rules.balance_hash_key(
                &crate::engine::rules::fetch::Ctx {
                    vars: Some(&self.vars),
                    caps: Some(&caps),
                    ..crate::engine::rules::fetch::Ctx::new(&self.req, &env)
                },
                &mut self.req_out,
            );
            let connected = match connect(
                core,
                be_idx,
                be,
                env.dst(),
                env.src(),
                Some(&HttpPick {
                    idle: &take_idle,
                    key: if sampled {
                        Some(&self.req_out)
                    } else {
                        balance_key(core, be_idx, &self.req, cbuf.data())
                    },
                    // `option prefer-last-server`: the server of the
                    // session's own connection, when no persistence names
                    // one and the algorithm is no hash (assign_server;
                    // HAProxy's session holds connections under
                    // `http-reuse never` only, as here).
                    force: retry.stay().or(force).or_else(|| {
                        (bh.prefer_last_server || self.auth_bound)
                            .then(|| self.last_server(core, be_idx, be))
                            .flatten()
                    }),
                    abort: bh.abortonclose.then_some(self.client),
                    retried: retry.retried,
                    redispatched: retry.redispatched,
                    avoid: retry.avoid(),
                    max_retries: retry.max,
                }),
            )
            .await
            {
                Ok(c) => c,
                Err(failure) => {
                    facts.termination = term(failure.cause, failure.phase);
                    facts.server = failure.server;
                    facts.tw = failure.tw;
                    facts.retries = failure.retries;
                    facts.redispatched = failure.redispatched;
                    facts.queue = failure.queue;
                    if failure.cause == Cause::ClientAbort {
                        // `abortonclose`: nobody to answer.
                        be.beconn.dec();
                        self.finish(Some((be_idx, be)), facts, &http, ready);
                        return Next::Close;
                    }
                    // No server (none usable, queue full or timed out,
                    // connect failed): HAProxy's 503.
                    self.cbuf = Some(cbuf);
                    let sent = self.reply_error(503, &mut facts, &mut http).await;
                    be.beconn.dec();
                    self.finish(Some((be_idx, be)), facts, &http, ready);
                    return self.after_error(sent, 503, self.req.body == Body::None, client_want);
                }
            };
            let srv_idx = connected.server;
            facts.server = Some(srv_idx);
            facts.server_addr = connected.addr;
            let (tw, tc) = retry.timers(start, connected.tw, connected.tc);
            (facts.tw, facts.tc) = (Some(tw), Some(tc));
            facts.retries = connected.retries;
            facts.redispatched = connected.redispatched;
            // Connection retries count against the same `retries`.
            (retry.retried, retry.redispatched) = (connected.retries, connected.redispatched);
            // A redispatch away from the cookie's server: the cookie's
            // server failed (assign_server_and_queue's TX_CK_DOWN).
            if let Some(st) = http
                .cookie
                .as_mut()
                .filter(|_| force.is_some_and(|f| f != srv_idx))
            {
                if st.request == crate::log::termination::RequestCookie::Valid {
                    st.request = crate::log::termination::RequestCookie::Down;
                }
            }
            facts.queue = connected.queue;
            let sconn = connected.conn;
            let reused = connected.reused;
            let served = if reused { taken_served.get() } else { 0 };
            // Counted in use until it is kept idle or closed (the need
            // idle connections are kept for).
            let in_use = core.idle.in_use(be_idx, srv_idx);

            // The exchange.
            let mut owned: Option<Buffer> = None;
            let mut pooled: Option<Pooled<'_>> = core.bufs.try_get(Class::Std);
            let sbuf: &mut Buffer = match pooled.as_deref_mut() {
                Some(b) => b,
                None => owned.insert(Buffer::new(core.bufs.size(), core.shared.plan.maxrewrite)),
            };
            let req_bytes = Cell::new(0u64);
            let res_bytes = Cell::new(0u64);
            env.server = u32::try_from(srv_idx).ok();
            let mut vars = std::mem::take(&mut self.vars);
            let on = self
                .reg
                .on_server(&sconn, (be_idx, srv_idx), facts.server_addr);
            let exchange = self
                .exchange(
                    &mut cbuf,
                    sbuf,
                    &sconn,
                    (be, srv_idx, force == Some(srv_idx), be_idx),
                    (client_want, server_want, &mut retry),
                    (&req_bytes, &res_bytes),
                    &mut http,
                    (ready, &facts),
                    RuleState {
                        env: &env,
                        be_rules,
                        vars: &mut vars,
                        caps: &mut caps,
                        log_level: &mut log_level,
                    },
                )
                .await;
            drop(on);
            self.vars = vars;
            // A killed stream is not sent again.
            let killed = self.reg.killed();
            if !killed && retry.wanted(&exchange.1, res_bytes.get()) {
                // Sent again (do_l7_retry): the connection closed, its
                // slot given back, the client's bytes as they came.
                drop(sconn);
                queue::offer(core, be_idx, srv_idx, true);
                retry.next(core, (be_idx, be), srv_idx, force == Some(srv_idx));
                retry.restore(&mut cbuf);
                http.status = 0;
                http.t_data = None;
                continue;
            }
            facts.bytes_in += req_bytes.get();
            facts.bytes_out += res_bytes.get();
            break (srv_idx, sconn, exchange, owned, pooled, (in_use, served));
        };
        let sbuf: &mut Buffer = match pooled.as_deref_mut() {
            Some(b) => b,
            None => owned.get_or_insert_with(|| Buffer::new(0, 0)),
        };
        let (req_done, result) = exchange;
        let mut next = Next::Close;
        let mut keep_server = false;
        match result {
            Ok(out) => {
                facts.termination = term(Cause::None, Phase::None);
                if out.client == Want::Tunnel {
                    // Bytes each side sent early go first, then the pump.
                    let ok = sconn.write_all(&mut cbuf).await.is_ok()
                        && self.client.write_all(sbuf).await.is_ok();
                    if ok {
                        let mut tfacts = self.facts(ready_date);
                        let on = self
                            .reg
                            .on_server(&sconn, (be_idx, srv_idx), facts.server_addr);
                        crate::engine::forward::forward(
                            core,
                            fe,
                            be,
                            (self.client, &sconn),
                            env.tunnel_timeouts(fe.timeout_client, be),
                            &mut tfacts,
                            crate::engine::backend::server::shutdown_of(core, be_idx, srv_idx),
                        )
                        .await;
                        drop(on);
                        facts.bytes_in += tfacts.bytes_in;
                        facts.bytes_out += tfacts.bytes_out;
                        facts.termination = tfacts.termination;
                    }
                } else {
                    if req_done && out.client == Want::KeepAlive {
                        next = Next::KeepAlive;
                    }
                    keep_server = req_done
                        && out.server == Want::KeepAlive
                        && sbuf.is_empty()
                        && be_mode == HttpMode::KeepAlive
                        && fe_mode == HttpMode::KeepAlive;
                }
            }
            Err((ResEnd::Rule(reply), _)) => {
                // An http-response rule answered instead of the server:
                // its response is dropped with the connection. A deny is
                // HAProxy's denied_resp (http_process_res_common).
                if matches!(reply.kind, crate::engine::rules::http::ReplyKind::Deny) {
                    use crate::engine::runtime::counters::{Be, Fe};
                    let at = Some((be_idx, facts.server));
                    let c = (Fe::DeniedResp, Be::DeniedResp);
                    crate::engine::stats::count_fe_be(core, (self.fe_idx, self.luid), at, c);
                }
                let response = true;
                next = self
                    .send_answer(
                        reply,
                        be_rules,
                        &env,
                        &mut caps,
                        (&mut facts, &mut http),
                        response,
                        client_want,
                        req_done,
                        None,
                    )
                    .await;
            }
            Err((_, false)) if !first && self.reg.killed() => {
                // `shutdown session` on a request that is not its
                // connection's first, before its response: HAProxy's
                // abort_keep_alive closes the client without a word and
                // without a log line (the client may send it again), and
                // counts no response.
                http.unanswered = true;
            }
            Err((ResEnd::Aborted { reset }, false)) if !first => {
                // The server closed before any response to a request that
                // is not its client connection's first: HAProxy's
                // abort_keep_alive (http_wait_for_response, TX_NOT_FIRST)
                // closes the client without a word, as a keep-alive close
                // the client answers by sending its request again: no
                // page, no log line, no response counted (status 0). A
                // reset is still counted by stream.c's server-side error
                // (failed_resp, and srv_aborts with the analysers gone);
                // a close is not.
                if reset {
                    use crate::engine::runtime::counters::{Be, Fe};
                    let at = Some((be_idx, facts.server));
                    crate::engine::stats::count_be(core, be_idx, facts.server, Be::FailedResp);
                    let c = (Fe::SrvAbrt, Be::SrvAbrt);
                    crate::engine::stats::count_fe_be(core, (self.fe_idx, self.luid), at, c);
                }
                facts.termination = term(Cause::ServerAbort, Phase::Headers);
                http.unanswered = true;
            }
            Err((res_end, sent_head)) => {
                // No valid response head: HAProxy's failed_resp
                // (http_wait_for_response).
                if matches!(
                    res_end,
                    ResEnd::Invalid | ResEnd::Aborted { .. } | ResEnd::Timeout
                ) {
                    use crate::engine::runtime::counters::Be;
                    crate::engine::stats::count_be(core, be_idx, facts.server, Be::FailedResp);
                }
                if let ResEnd::Aborted { reset } = res_end {
                    // A reset counts once more: stream.c's server-side
                    // error (SE_FL_ERROR) counts failed_resp too (seen on
                    // haproxy 2.6: eresp 2 for one reset before the
                    // response head).
                    if reset {
                        use crate::engine::runtime::counters::Be;
                        crate::engine::stats::count_be(core, be_idx, facts.server, Be::FailedResp);
                    }
                    // `observe layer7`: the server closed or failed
                    // instead of a response head.
                    if let Some(s) = be.servers.get(srv_idx) {
                        s.observe.report(if reset {
                            Event::HttpReadError
                        } else {
                            Event::HttpBrokenPipe
                        });
                    }
                }
                let (status, t) = match res_end {
                    ResEnd::Rule(_) | ResEnd::Retry => (0, term(Cause::Internal, Phase::Headers)),
                    // Both connections killed (sc_must_kill_conn): the
                    // server's with a reset, the client's with nothing.
                    ResEnd::TcpReject => {
                        let _ = socket2::SockRef::from(&sconn).set_linger(Some(Duration::ZERO));
                        (0, term(Cause::Proxy, Phase::Data))
                    }
                    ResEnd::Invalid => (502, term(Cause::Proxy, Phase::Headers)),
                    // stream_shutdown: DH with a 502, or DD (UH, UD ...).
                    ResEnd::Shutdown(c) if sent_head => (0, term(c, Phase::Data)),
                    ResEnd::Shutdown(c) => (502, term(c, Phase::Headers)),
                    ResEnd::Aborted { .. } => (502, term(Cause::ServerAbort, Phase::Headers)),
                    ResEnd::Timeout => (504, term(Cause::ServerTimeout, Phase::Headers)),
                    // A chunked request body that turns invalid after its
                    // head went out: HAProxy answers 400 and logs PH.
                    ResEnd::Body(BodyEnd::Invalid) if !sent_head => {
                        (400, term(Cause::Proxy, Phase::Headers))
                    }
                    ResEnd::Body(e) => (0, body_termination(e, sent_head)),
                };
                facts.termination = t;
                if !sent_head && status != 0 {
                    self.cbuf = Some(cbuf);
                    let sent = self.reply_error(status, &mut facts, &mut http).await;
                    cbuf = match self.cbuf.take() {
                        Some(b) => b,
                        None => core.bufs.get(Class::Std).await,
                    };
                    // The request went out whole: the client may go on.
                    next = self.after_error(sent, status, req_done, client_want);
                }
            }
        }
        drop(pooled.take());
        let srv = be.servers.get(srv_idx);
        // `max-reuse`: this request was the connection's reuse number
        // `served`; it goes on while the next one stays within the limit.
        keep_server &= srv.and_then(|s| s.max_reuse).is_none_or(|m| served < m);
        let idle = (sconn, facts.server_addr, served.saturating_add(1));
        // A 401 / 407 challenge bound to the connection (NTLM,
        // Negotiate): HAProxy makes it the session's (private) and
        // prefers its server from then on (http_wait_for_response).
        if matches!(http.status, 401 | 407) && auth_bound(&self.res) {
            self.auth_bound = true;
        }
        if keep_server && (bh.reuse == HttpReuse::Never || self.auth_bound) {
            self.own.set(Some((be_idx, srv_idx, idle)));
        } else if let Some(s) = srv.filter(|_| keep_server) {
            // Kept as HAProxy's srv_add_to_idle_list decides (the need,
            // `pool-low-conn`, `pool-max-conn`, `pool-purge-delay`; see
            // backend::idle), and never more than the core's live client
            // sessions (each uses one server connection at a time), with
            // a floor: without a bound, `http-reuse safe` would keep one
            // per client (each first request opens one).
            let limits = crate::engine::backend::idle::Limits {
                max: s.pool.max(),
                low: s.pool.low(),
                purge_delay: s.pool.purge_delay(),
            };
            let cap = core.live.get().max(IDLE_FLOOR).saturating_add(s.pool.low());
            core.idle.put(be_idx, srv_idx, idle, limits, cap);
        } else {
            drop(idle);
        }
        drop(in_use);
        queue::offer(core, be_idx, srv_idx, true);
        be.beconn.dec();
        if next == Next::KeepAlive && !cbuf.is_empty() {
            self.cbuf = Some(cbuf);
        } else {
            drop(cbuf);
        }
        http.set_captures(&caps);
        // Logged with its variables (the log's `%[var(txn...)]`).
        // `set-log-level silent`: counted, not logged.
        if matches!(log_level, Some(None)) {
            http.logged = true;
        }
        self.finish(Some((be_idx, be)), facts, &http, ready);
        self.vars.end_txn();
        next
    }

    /// Send the request (head and body) while the response comes back,
    /// then the response to the client. Whether the request went out
    /// whole, and how the response side ended (with whether its head had
    /// reached the client).
    #[allow(clippy::too_many_arguments)]
    async fn exchange(
        &mut self,
        cbuf: &mut Buffer,
        sbuf: &mut Buffer,
        sconn: &Conn,
        (be, srv_idx, direct, be_idx): (&BackendPlan, usize, bool, usize),
        (client_want, server_want, retry): (Want, Want, &mut retry::Retry<'_>),
        (req_bytes, res_bytes): (&Cell<u64>, &Cell<u64>),
        http: &mut HttpFacts,
        (ready, facts): (Instant, &StreamFacts),
        rs: RuleState<'_, '_>,
    ) -> (bool, Result<Outcome, (ResEnd, bool)>) {
        let core = self.core;
        let fe = self.fe;
        let fh = self.fh;
        let bh = be.http.as_deref().unwrap_or(fh);
        // `http-send-name-header`: set as the request leaves, to the
        // server it goes to (again on a retry to another one).
        if let Some((name, srv)) = bh.send_name_header.as_deref().zip(be.servers.get(srv_idx)) {
            self.req.set(name, srv.conf().name.as_bytes());
        }
        self.req_out.clear();
        emit::head(&self.req, &mut self.req_out);
        let body = self.req.body;
        let method = self.req.method;
        let to_server = Path {
            from: self.client,
            to: sconn,
            timers: &core.timers,
            from_timeout: Cell::new(rs.env.timeout_client(fe.timeout_client)),
            to_timeout: Cell::new(rs.env.timeout_server(be.timeout_server)),
            bytes: req_bytes,
            bufs: Some(&core.bufs),
            pipes: (fe.splice_request || be.splice_request).then_some(&core.pipes),
        };
        let to_client = Path {
            from: sconn,
            to: self.client,
            timers: &core.timers,
            from_timeout: Cell::new(rs.env.timeout_server(be.timeout_server)),
            to_timeout: Cell::new(rs.env.timeout_client(fe.timeout_client)),
            bytes: res_bytes,
            bufs: Some(&core.bufs),
            pipes: (fe.splice_response || be.splice_response).then_some(&core.pipes),
        };
        let req_out = &mut self.req_out;
        // Whether the request went out whole (for an exchange cut short).
        let req_sent = Cell::new(false);
        let request = async {
            let r = h1::forward_body(&to_server, cbuf, req_out, body).await;
            req_sent.set(r.is_ok());
            r
        };
        let req_head = &mut self.req;
        let client_conn = self.client;
        let res = &mut self.res;
        let res_out = &mut self.res_out;
        let sent_head = Cell::new(false);
        let response = async {
            // The backend's tcp-response content rules (HAProxy's
            // AN_RES_INSPECT): in HTTP mode they run once the server
            // connection is up, before the response is looked at (its
            // HTTP and payload fetches find nothing there, as 2.6's).
            if let Some(rr) = be.tcp.as_deref().filter(|r| r.has_response_rules()) {
                use crate::engine::rules::tcp::{TcpTxn, Verdict as TcpVerdict};
                let mut tx = TcpTxn {
                    env: rs.env,
                    vars: &*rs.vars,
                    caps: &mut *rs.caps,
                    log_level: None,
                };
                let v = rr.response(&mut tx, None);
                *rs.log_level = tx.log_level.or(*rs.log_level);
                if matches!(v, TcpVerdict::Reject | TcpVerdict::SilentDrop) {
                    return Err(ResEnd::TcpReject);
                }
            }
            let mut parser_opts = Options {
                accept_invalid: bh.accept_invalid_response,
                max_headers: bh.max_headers,
                max_head: sbuf.max_input(),
            };
            parser_opts.max_head = parser_opts.max_head.max(1);
            loop {
                let mut parser = HeadParser::new(Kind::Response(method), parser_opts);
                let n = h1::read_head(
                    sconn,
                    sbuf,
                    &mut parser,
                    res,
                    &core.timers,
                    rs.env.timeout_server(be.timeout_server),
                    None,
                )
                .await
                .map_err(|e| {
                    // `observe layer7`: what the server did instead of a
                    // response head.
                    let (end, seen) = match e {
                        // Bytes that never made a head before the close
                        // (an HTTP/0.9 body): an invalid response, as
                        // HAProxy reports it (PH), not an abort.
                        HeadEnd::Invalid(_) | HeadEnd::Closed { partial: true } => {
                            (ResEnd::Invalid, Event::HttpHdrRsp)
                        }
                        HeadEnd::Timeout { .. } => (ResEnd::Timeout, Event::HttpReadTimeout),
                        HeadEnd::Closed { .. } => {
                            (ResEnd::Aborted { reset: false }, Event::HttpBrokenPipe)
                        }
                        HeadEnd::Error { .. } => {
                            (ResEnd::Aborted { reset: true }, Event::HttpReadError)
                        }
                    };
                    // A close or reset is reported once the transaction
                    // knows it is neither retried nor a keep-alive abort
                    // (HAProxy's health_adjust comes after both).
                    if let (Some(s), false) = (
                        be.servers.get(srv_idx),
                        matches!(end, ResEnd::Aborted { .. }),
                    ) {
                        s.observe.report(seen);
                    }
                    end
                })?;
                let _ = n;
                res_bytes.set(res_bytes.get() + res.htx_size());
                if (100..200).contains(&res.status) && res.status != 101 {
                    // Interim: to the client as it is, then the final one.
                    res_out.clear();
                    emit::head(res, res_out);
                    let v = std::mem::take(res_out);
                    let (r, v) = client_conn.write_vec(v).await;
                    *res_out = v;
                    r.map_err(|_| ResEnd::Body(BodyEnd::ToFail(Fail::Error)))?;
                    continue;
                }
                break;
            }
            // http_wait_for_response: 5xx but 501 and 505 (which a
            // request provokes) count against the server.
            if let Some(s) = be.servers.get(srv_idx) {
                s.observe.report(Event::of_status(res.status));
            }
            if retry.statuses().status(res.status) {
                return Err(ResEnd::Retry);
            }
            // The response stays: the request is no longer kept (HAProxy
            // frees its L7 buffer here).
            retry.release();
            http.t_data = Some(ready.elapsed());
            http.status = res.status;
            // The rules of the response: captures, the backend's then the
            // frontend's http-response, then http-after-response.
            rs.vars.enter_response();
            {
                let mut tx = Txn {
                    req: &mut *req_head,
                    res: Some(&mut *res),
                    env: rs.env,
                    vars: &mut *rs.vars,
                    caps: &mut *rs.caps,
                    log_level: None,
                };
                fh.rules.capture_response(&mut tx);
                for rules in [rs.be_rules, Some(&fh.rules)].into_iter().flatten() {
                    match rules.response(&mut tx) {
                        Verdict::Continue => {}
                        Verdict::Reply(r) => {
                            *rs.log_level = tx.log_level.or(*rs.log_level);
                            // HAProxy counted what came with the head
                            // into its channel before the rule dropped it.
                            res_bytes
                                .set(res_bytes.get() + early_body(tx.res.as_deref(), sbuf.data()));
                            return Err(ResEnd::Rule(r));
                        }
                        // No engine action stops a response.
                        Verdict::Stop(_) => return Err(ResEnd::Invalid),
                    }
                }
                for rules in [rs.be_rules, Some(&fh.rules)].into_iter().flatten() {
                    let _ = rules.after_response(&mut tx);
                }
                *rs.log_level = tx.log_level.or(*rs.log_level);
            }
            if let Some((name, len)) = &fh.capture_cookie {
                if let Some(c) = super::cookie::capture(res, true, name, *len) {
                    http.captured_mut().res_cookie = Some(c.into());
                }
            }
            let had_set_cookie = bh.checkcache && res.first(b"set-cookie").is_some();
            if let (Some(c), Some(st)) = (bh.cookie.as_ref(), http.cookie.as_mut()) {
                let ck = be.servers.get(srv_idx).and_then(|s| s.cookie.as_deref());
                st.response =
                    super::cookie::response(res, c, ck, (direct, http.cookie_dates), method);
            }
            // `option checkcache`: a cacheable response with a cookie is
            // blocked (502, PH) and an alert logged.
            if had_set_cookie && super::cookie::blocks_cacheable_cookie(res, method, true) {
                super::cookie::alert_cacheable_cookie(core.id, fe, be, srv_idx);
                return Err(ResEnd::Invalid);
            }
            if let (false, Some(be_at)) = (matches!(*rs.log_level, Some(None)), rs.env.be) {
                let log_cx = super::LogCx {
                    core,
                    fe_idx: rs.env.fe_idx,
                    fe,
                    fh,
                };
                http.logged = log_cx.log_early(
                    be_at,
                    facts,
                    http,
                    rs.caps,
                    (req_head, res, rs.vars),
                    sbuf.data(),
                    ready,
                );
            }
            // A soft stop while the server was answering closes the
            // client side after this response (HAProxy decides as it
            // formats the response): the flag taken when the request left
            // is stale, and a keep-alive answer would be followed by a
            // close under the client's next request.
            let stopping = core.stop_accepting.is_fired();
            let client =
                h1conn::client_for_response(res, method, client_want, fh.conn_mode, stopping);
            let server = h1conn::server_after_response(res, method, server_want);
            if let Some(v) = h1conn::response_connection(res, req_head, client) {
                res.push(b"Connection", v.as_bytes());
            }
            res_out.clear();
            emit::head(res, res_out);
            sent_head.set(true);
            let body = if client == Want::Tunnel {
                Body::None
            } else {
                res.body
            };
            // `http-response set-timeout`, `set-tos`, `set-mark` count
            // from here.
            retime(&to_client, rs.env, be);

            h1::forward_body(&to_client, sbuf, res_out, body)
                .await
                .map_err(ResEnd::Body)?;
            Ok(Outcome { client, server })
        };
        // The exchange ends when the server's streams are shut down
        // (on-marked-down, shutdown sessions).
        let (req_result, res_result) = {
            let both = std::pin::pin!(until_response(request, response));
            match crate::engine::backend::server::shutdown_of(core, be_idx, srv_idx) {
                None => both.await,
                Some(sh) => {
                    let shut = std::pin::pin!(sh.event.wait());
                    match select(both, shut).await {
                        Either::Left((r, _)) => r,
                        Either::Right(_) => {
                            let end = ResEnd::Shutdown(sh.why.get());
                            return (req_sent.get(), Err((end, sent_head.get())));
                        }
                    }
                }
            }
        };
        let req_done = matches!(req_result, Some(Ok(())));
        let result = match (req_result, res_result) {
            (_, Some(r)) => r.map_err(|e| (e, sent_head.get())),
            (Some(Err(e)), None) => Err((ResEnd::Body(e), sent_head.get())),
            // `until_response` returns only with one of them.
            (_, None) => Err((ResEnd::Aborted { reset: false }, sent_head.get())),
        };
        (req_done, result)
    }

    /// `option http-buffer-request`: wait for the body (what the buffer
    /// holds of it), answering a client that waits for `100 Continue`
    /// as HAProxy does (http_handle_expect_hdr: the 100 sent, the Expect
    /// header dropped).
    async fn buffer_request(&mut self, cbuf: &mut Buffer) -> Result<u64, Fail> {
        let t = self.fh.timeout_http_request.or(self.fe.timeout_client);
        let mut sent = 0;
        if self.req.has(flags::VER_11)
            && self
                .req
                .first(b"expect")
                .is_some_and(|v| v.eq_ignore_ascii_case(b"100-continue"))
        {
            self.req.remove(b"expect");
            let interim = b"HTTP/1.1 100 Continue\r\n\r\n".to_vec();
            let _ = self.client.write_vec(interim).await;
            sent = INTERIM_100_HTX;
        }
        buffer_body(self.client, cbuf, self.req.body, &self.core.timers, t)
            .await
            .map(|()| sent)
    }

    /// Serve the stats page (see `engine::stats::page`); the client
    /// keeps its connection when it wants to, as HAProxy's applet lets it.
    async fn stats_page(
        &mut self,
        conf: &crate::engine::stats::PageConf,
        mut cbuf: Pooled<'c>,
        (env, caps): (&StreamEnv<'_>, &mut Captures),
        (mut facts, http): (StreamFacts, &mut HttpFacts),
        ready: Instant,
    ) -> Next {
        use crate::engine::runtime::counters::{Fe, Stat};
        let post = self.req.method == Method::Post;
        if post && self.req.body != Body::None {
            if let Err(end) = self.buffer_request(&mut cbuf).await {
                return self
                    .body_wait_failed(end, cbuf, (facts, http), None, ready)
                    .await;
            }
        }
        let admin = self.fh.rules.stats_admin(&Txn {
            req: &mut self.req,
            res: None,
            env,
            vars: &mut self.vars,
            caps,
            log_level: None,
        });
        // Counted before the page is printed: it counts itself, as
        // HAProxy's (http_ana.c counts intercepted_req as it intercepts).
        self.core
            .shared
            .stats
            .add(self.core.id, Stat::Fe(self.fe_idx, Fe::Intercepted), 1);
        let stopping = self.core.stop_accepting.is_fired();
        let want = h1conn::client_after_request(&self.req, Want::KeepAlive, stopping);
        // A body the page does not read (not a POST's form), or a form
        // with more behind it than its length (the buffer holds it, not
        // told apart), ends the connection.
        let whole = match self.req.body {
            Body::None => true,
            Body::Length(n) => post && cbuf.data().len() as u64 == n,
            _ => false,
        };
        let reply = {
            let req = crate::engine::stats::page::PageReq {
                post,
                uri: self.req.line_parts()[1],
                authorization: self.req.first(b"authorization"),
                body: if post { cbuf.data() } else { &[] },
                // A form longer than HAProxy's buffer holds (its EXCD).
                whole: match self.req.body {
                    Body::Length(n) => {
                        let plan = &self.core.shared.plan;
                        cbuf.data().len() as u64 >= n
                            && crate::engine::stats::page::form_fits(
                                self.req.htx_size(),
                                self.req.fields().count(),
                                cbuf.data().len(),
                                (plan.bufsize, plan.maxrewrite),
                            )
                    }
                    _ => true,
                },
                admin,
                close: want != Want::KeepAlive || !whole,
                http10: !self.req.has(flags::VER_11),
            };
            crate::engine::stats::page::serve(self.core, conf, &req)
        };
        // What the client sent after the request (a pipelined one) stays.
        if reply.keep_alive && !post && !cbuf.is_empty() {
            self.cbuf = Some(cbuf);
        } else {
            drop(cbuf);
        }
        let keep_alive = reply.keep_alive;
        let core = self.core;
        http.status = reply.status;
        facts.termination = term(Cause::Proxy, Phase::Request);
        let n = reply.bytes.len() as u64;
        let sent = h1::within(&core.timers, self.fe.timeout_client, async {
            let (r, _) = self.client.write_vec(reply.bytes).await;
            r
        })
        .await;
        let sent = sent.is_ok();
        if sent {
            facts.bytes_out += n;
        }
        self.finish(None, facts, http, ready);
        if sent && keep_alive {
            Next::KeepAlive
        } else {
            Next::Close
        }
    }

    /// The body never came whole: 408 on a timeout, 400 when the client
    /// left; the connection closes.
    async fn body_wait_failed(
        &mut self,
        end: Fail,
        cbuf: Pooled<'c>,
        (mut facts, http): (StreamFacts, &mut HttpFacts),
        be_at: Option<(usize, &BackendPlan)>,
        ready: Instant,
    ) -> Next {
        let (status, cause) = match end {
            Fail::Timeout => (408, Cause::ClientTimeout),
            Fail::Error => (400, Cause::ClientAbort),
        };
        facts.termination = term(cause, Phase::Request);
        self.cbuf = Some(cbuf);
        self.reply_error(status, &mut facts, http).await;
        self.finish(be_at, facts, http, ready);
        self.vars.end_txn();
        Next::Close
    }

    /// A request rule stopped the transaction: its reply (after the
    /// after-response rules), or a close (`reject`, `silent-drop`).
    #[allow(clippy::too_many_arguments)]
    async fn rule_stop(
        &mut self,
        verdict: Verdict,
        be_at: Option<(usize, &BackendPlan)>,
        env: &StreamEnv<'_>,
        caps: &mut Captures,
        (mut cbuf, mut facts, mut http, client_want): (Pooled<'c>, StreamFacts, HttpFacts, Want),
        ready: Instant,
        log_level: Option<LogLevel>,
    ) -> Next {
        // `use-service prometheus-exporter`: the exporter answers as a
        // `return` would (LR), counted as intercepted when the frontend's
        // rules chose it (process_use_service: `sess->fe == s->be`).
        let mut service_body = None;
        let (verdict, service) = match verdict {
            Verdict::Stop(Stop::UseService(_)) => {
                // Counted before the exporter prints: it counts itself.
                if be_at.is_none() {
                    use crate::engine::runtime::counters::{Fe, Stat};
                    let core = self.core;
                    let st = &core.shared.stats;
                    st.add(core.id, Stat::Fe(self.fe_idx, Fe::Intercepted), 1);
                }
                // An applet's stream: HAProxy's log shows its name and no
                // wait for a server (0/0/0 for Tw/Tc/Tr).
                http.applet = Some("<PROMEX>");
                http.t_data = http.t_request;
                facts.tw = Some(Duration::ZERO);
                facts.tc = Some(Duration::ZERO);
                let (reply, q) = self.service_reply();
                service_body = q;
                (Verdict::Reply(reply), true)
            }
            v => (v, false),
        };
        // A body already whole in the buffer (a Content-Length one) is
        // read and dropped, and counted (%U), and the connection may go
        // on, as haproxy 2.6 does after a deny; any other body ends it.
        let request_done = match self.req.body {
            Body::None => true,
            Body::Length(n) => match usize::try_from(n) {
                Ok(n) if n <= cbuf.len() => {
                    cbuf.consume(n);
                    facts.bytes_in += n as u64;
                    true
                }
                _ => false,
            },
            _ => false,
        };
        if request_done && !cbuf.is_empty() {
            self.cbuf = Some(cbuf);
        } else {
            drop(cbuf);
        }
        let be_rules = be_at.and_then(|(_, be)| {
            let bh = be.http.as_deref()?;
            backend_rules((self.fe, self.fh), (be, bh))
        });
        {
            // HAProxy's denied_req (deny, tarpit, reject) and
            // intercepted_req (redirect, return).
            use crate::engine::rules::http::ReplyKind;
            use crate::engine::runtime::counters::{Be, Fe, Stat};
            let core = self.core;
            let (denied, intercepted) = match &verdict {
                Verdict::Reply(_) if service => (false, false),
                Verdict::Reply(r) => (
                    matches!(r.kind, ReplyKind::Deny | ReplyKind::Tarpit(_)),
                    matches!(r.kind, ReplyKind::Return | ReplyKind::Redirect),
                ),
                Verdict::Stop(_) => (true, false),
                Verdict::Continue => (false, false),
            };
            let st = &core.shared.stats;
            if denied {
                st.add_fe(core.id, self.fe_idx, self.luid, Fe::DeniedReq, 1);
                if let Some((b, _)) = be_at {
                    st.add(core.id, Stat::Be(b, Be::DeniedReq), 1);
                }
            }
            if intercepted {
                st.add(core.id, Stat::Fe(self.fe_idx, Fe::Intercepted), 1);
            }
        }
        let next = match verdict {
            Verdict::Reply(reply) => {
                if env.over.get().is_some() {
                    Box::pin(self.send_hints(env, &mut facts)).await;
                }
                self.send_answer(
                    reply,
                    be_rules,
                    env,
                    caps,
                    (&mut facts, &mut http),
                    false,
                    client_want,
                    request_done,
                    service_body,
                )
                .await
            }
            Verdict::Stop(_) | Verdict::Continue => {
                // reject / silent-drop: closed without a word (PR).
                facts.termination = term(Cause::Proxy, Phase::Request);
                Next::Close
            }
        };
        if next == Next::Close {
            self.cbuf = None;
        }
        http.set_captures(caps);
        http.unique_id = env.unique_id.get();
        // `set-log-level silent`: counted, not logged.
        if matches!(log_level, Some(None)) {
            http.logged = true;
        }
        self.finish(be_at, facts, &http, ready);
        self.vars.end_txn();
        next
    }

    /// The Prometheus exporter's answer to this request, as a `return`
    /// reply with its head alone, and what its body prints (None: no
    /// body, a HEAD or a 400); see `engine::stats::prometheus`.
    fn service_reply(&self) -> (Reply, Option<crate::engine::stats::prometheus::Query>) {
        use crate::engine::stats::prometheus;
        let head_only = self.req.method == Method::Head;
        let q = prometheus::serve(self.req.line_parts()[1]);
        let message = q.and_then(|_| prometheus::head()).map(|h| {
            // A HEAD's answer ends with its head; a GET's chunked body
            // follows it (stream_service).
            (h, Vec::new())
        });
        let reply = Reply {
            kind: ReplyKind::Return,
            status: if message.is_some() { 200 } else { 400 },
            message,
            headers: Vec::new(),
        };
        (reply, q.filter(|_| !head_only))
    }

    /// The exporter's body, one chunk of about `prometheus::PIECE` bytes
    /// at a time: each waits for the client to take the one before
    /// (`timeout client` each), so a slow reader holds one piece, not the
    /// whole answer. Whether it all went out.
    async fn stream_service(
        &mut self,
        q: crate::engine::stats::prometheus::Query,
        facts: &mut StreamFacts,
    ) -> bool {
        let core = self.core;
        let mut scrape = crate::engine::stats::prometheus::Scrape::new(&core.shared, q);
        let mut out = std::mem::take(&mut self.res_out);
        loop {
            out.clear();
            let more = scrape.chunk(&mut out);
            let n = out.len() as u64;
            let mut back = None;
            let write = async {
                let (r, v) = self.client.write_vec(out).await;
                back = Some(v);
                r
            };
            let sent = h1::within(&core.timers, self.fe.timeout_client, write).await;
            // A client gone or too slow (`timeout client`) ends the
            // stream; the log keeps `LR`, as haproxy 2.6's does for its
            // applet's stream.
            let Some(v) = back else {
                // Timed out with the write in flight: the buffer went
                // with it.
                return false;
            };
            out = v;
            if sent.is_err() {
                self.res_out = out;
                return false;
            }
            facts.bytes_out += n;
            if !more {
                // Keep the session's buffer to a piece's size.
                out.clear();
                out.shrink_to(2 * crate::engine::stats::prometheus::PIECE);
                self.res_out = out;
                return true;
            }
        }
    }

    /// Send a rule's reply (deny, return, redirect, auth, tarpit) after
    /// the after-response rules; what becomes of the client connection.
    #[allow(clippy::too_many_arguments)]
    async fn send_answer(
        &mut self,
        reply: Reply,
        be_rules: Option<&HttpRules>,
        env: &StreamEnv<'_>,
        caps: &mut Captures,
        (facts, http): (&mut StreamFacts, &mut HttpFacts),
        response: bool,
        client_want: Want,
        request_done: bool,
        service: Option<crate::engine::stats::prometheus::Query>,
    ) -> Next {
        let kind = reply.kind;
        if let ReplyKind::Tarpit(d) = kind {
            // Held, then answered (HAProxy's timeout tarpit); without one,
            // until the client timeout.
            let hold = if d.is_zero() {
                self.fe.timeout_client
            } else {
                Some(d)
            };
            if let Some(d) = hold {
                crate::engine::runtime::timer::sleep(&self.core.timers, d).await;
            }
        }
        let mut ans = super::rules::answer(reply, self.fh);
        {
            let mut tx = Txn {
                req: &mut self.req,
                res: Some(&mut ans.head),
                env,
                vars: &mut self.vars,
                caps,
                log_level: None,
            };
            tx.vars.enter_response();
            for rules in [be_rules, Some(&self.fh.rules)].into_iter().flatten() {
                let _ = rules.after_response(&mut tx);
            }
        }
        http.status = ans.head.status;
        facts.termination = super::rules::termination(kind, response);
        let closes = ans
            .head
            .first(b"connection")
            .is_some_and(|v| v.eq_ignore_ascii_case(b"close"));
        let n = ans.head.htx_size() + ans.body.len() as u64;
        self.answer_connection(&mut ans.head);
        let mut out = std::mem::take(&mut self.res_out);
        out.clear();
        emit::head(&ans.head, &mut out);
        out.extend_from_slice(&ans.body);
        let write = async {
            let (r, v) = self.client.write_vec(out).await;
            (r, v)
        };
        let sent = match h1::within(&self.core.timers, self.fe.timeout_client, async {
            let (r, v) = write.await;
            self.res_out = v;
            r
        })
        .await
        {
            Ok(()) => {
                facts.bytes_out += n;
                match service {
                    Some(q) => Box::pin(self.stream_service(q, facts)).await,
                    None => true,
                }
            }
            Err(_) => false,
        };
        // A deny or a tarpit keeps the connection too, as haproxy 2.6
        // does (tests/h1/fixes_dec8.rs deny_keeps_alive).
        if sent && !closes && request_done && client_want == Want::KeepAlive {
            Next::KeepAlive
        } else {
            Next::Close
        }
    }

    /// What a request rule set's engine actions leave to do once it ran:
    /// the stream's addresses for the log, the client socket's mark and
    /// TOS (set-mark, set-tos). The 103 Early Hints go out with
    /// `send_hints` (HAProxy forwards each as its run of early-hint rules
    /// ends; here, once the rules ran).
    fn after_rules(&self, env: &StreamEnv<'_>, facts: &mut StreamFacts) {
        let Some(o) = env.over.get() else { return };
        facts.client = env.src();
        facts.frontend_addr = env.dst();
        client_sockopts(self.client, env, o);
    }

    /// Send the 103 Early Hints the rules made (before the request goes
    /// on to a server or a reply; a client that did not send HTTP/1.1
    /// gets none).
    async fn send_hints(&self, env: &StreamEnv<'_>, facts: &mut StreamFacts) {
        let Some((hints, n)) = env.take_hints().filter(|_| self.req.has(flags::VER_11)) else {
            return;
        };
        let write = async { self.client.write_vec(hints).await.0 };
        if h1::within(&self.core.timers, self.fe.timeout_client, write)
            .await
            .is_ok()
        {
            facts.bytes_out += n;
        }
    }

    /// The usable server of `be` the session's own connection goes to,
    /// unless the backend hashes (`option prefer-last-server`).
    fn last_server(
        &self,
        core: &crate::engine::runtime::Core,
        be_idx: usize,
        be: &BackendPlan,
    ) -> Option<usize> {
        let own = self.own.take();
        let last = own.as_ref().map(|(b, s, _)| (*b, *s));
        self.own.set(own);
        let (b, s) = last?;
        let hash = core
            .balancers
            .get(be_idx)
            .is_some_and(|bal| !matches!(bal.borrow().needs_key(), crate::balance::KeyKind::None));
        let usable = be
            .servers
            .get(s)
            .is_some_and(|srv| srv.state.get().usable());
        (b == be_idx && usable && !hash).then_some(s)
    }

    /// `option forwardfor` then `option originalto`, as http_process_request
    /// adds them: the client's address in `X-Forwarded-For` (or the
    /// configured header; the backend's name wins) unless `if-none` on
    /// both sides finds one, or the address is in either side's `except`
    /// network; the address the client connected to in `X-Original-To`
    /// likewise. Formatted on the stack: no allocation per request.
    fn forwarded_for(
        &mut self,
        bh: &super::plan::HttpPlan,
        src: Option<std::net::SocketAddr>,
        dst: Option<std::net::SocketAddr>,
    ) {
        let fh = self.fh;
        let (fe_ff, be_ff) = (fh.forwardfor.as_ref(), bh.forwardfor.as_ref());
        if let (Some(ff), Some(src)) = (be_ff.or(fe_ff), src) {
            let always = fe_ff.is_some_and(|f| !f.if_none) || be_ff.is_some_and(|f| !f.if_none);
            let name = ff.header.as_bytes();
            let excepted = [fh.forwardfor_except, bh.forwardfor_except]
                .into_iter()
                .flatten()
                .any(|net| super::plan::in_net(src.ip(), net));
            if (always || self.req.first(name).is_none()) && !excepted {
                let mut text = [0u8; 48];
                self.req.push(name, ip_text(src.ip(), &mut text));
            }
        }
        let (fe_ot, be_ot) = (fh.originalto.as_ref(), bh.originalto.as_ref());
        if let Some(ot) = be_ot.or(fe_ot) {
            let dst = dst.or_else(|| self.client.local_inet());
            if let Some(dst) = dst {
                let excepted = [fh.originalto_except, bh.originalto_except]
                    .into_iter()
                    .flatten()
                    .any(|net| super::plan::in_net(dst.ip(), net));
                if !excepted {
                    let mut text = [0u8; 48];
                    self.req
                        .push(ot.header.as_bytes(), ip_text(dst.ip(), &mut text));
                }
            }
        }
    }

    /// What follows an error page the proxy answered: the client goes on
    /// when the page was sent, does not say `Connection: close` (HAProxy's
    /// 400, 408 ... do; its 502, 503, 504 do not), the request was read
    /// whole, and the client wants to.
    fn after_error(&self, sent: bool, status: u16, request_done: bool, client: Want) -> Next {
        let closes = self.fh.errors.contains_key(&status)
            || self
                .be_http
                .is_some_and(|bh| bh.errors.contains_key(&status))
            || ringlb_proto::errors::message(status).is_none_or(|m| m.close);
        if sent && !closes && request_done && client == Want::KeepAlive {
            Next::KeepAlive
        } else {
            Next::Close
        }
    }

    /// Answer the client with the proxy's page for `status`; whether it
    /// was sent.
    pub(super) async fn reply_error(
        &mut self,
        status: u16,
        facts: &mut StreamFacts,
        http: &mut HttpFacts,
    ) -> bool {
        http.status = status;
        // The proxy's errorfile as it is, else HAProxy's page as its
        // stream sends it: the HTX form, a closing page's Connection
        // header last (the mux's own answers, a refused head or a 408,
        // use reply_raw).
        // The backend's errorfile first, then the frontend's (HAProxy's
        // http_error_message).
        let custom = self
            .be_http
            .and_then(|bh| bh.errors.get(&status))
            .or_else(|| self.fh.errors.get(&status))
            .cloned();
        let mut head = Head::new();
        let (page, n) = match (custom, ringlb_proto::errors::message(status)) {
            (None, Some(m)) => {
                let body = ringlb_proto::errors::to_head(status, &mut head).unwrap_or_default();
                if m.close {
                    head.push(b"connection", b"close");
                }
                let n = head.htx_size() + body.len() as u64;
                self.answer_connection(&mut head);
                let mut page = Vec::with_capacity(256);
                emit::head(&head, &mut page);
                page.extend_from_slice(body.as_bytes());
                (page, n)
            }
            (custom, _) => {
                // An errorfile goes through HTX too: its names reach the
                // client lower-cased, the mux's Connection after them.
                let mut page = custom.unwrap_or_else(|| self.fh.error_page(status));
                let mut p = HeadParser::new(Kind::Response(Method::Get), Options::default());
                match p.parse(&mut page, &mut head) {
                    Ok(ringlb_proto::h1::head::Progress::Done(hn)) => {
                        let body = page.get(hn..).unwrap_or_default();
                        let n = head.htx_size() + body.len() as u64;
                        head.lowercase_names();
                        self.answer_connection(&mut head);
                        let mut out = Vec::with_capacity(page.len() + 32);
                        emit::head(&head, &mut out);
                        out.extend_from_slice(body);
                        (out, n)
                    }
                    // Not a response: sent as it is (HAProxy checked it
                    // at start).
                    _ => {
                        let n = page.len() as u64;
                        (page, n)
                    }
                }
            }
        };
        let write = async { self.client.write_vec(page).await.0 };
        if h1::within(&self.core.timers, self.fe.timeout_client, write)
            .await
            .is_ok()
        {
            facts.bytes_out += n;
            return true;
        }
        false
    }

    /// The Connection header HAProxy's H1 mux adds to an answer of the
    /// proxy, from what the client asked (its request's version and
    /// Connection, `option httpclose`), whether or not the proxy then
    /// closes: `close` to an HTTP/1.0 request, `keep-alive` to one that
    /// asked for it. Not counted in the log's bytes (the mux adds it past
    /// HTX). A header the page or the rules set stays.
    fn answer_connection(&self, head: &mut Head) {
        if head.first(b"connection").is_some() {
            return;
        }
        let want = h1conn::client_after_request(&self.req, Want::KeepAlive, false);
        let want =
            h1conn::client_for_response(head, self.req.method, want, self.fh.conn_mode, false);
        if let Some(v) = h1conn::response_connection(head, &self.req, want) {
            head.push(b"connection", v.as_bytes());
        }
    }

    /// An answer of HAProxy's mux, before any stream (a refused head, a
    /// 408): the raw page, not counted in the log.
    async fn reply_raw(&mut self, status: u16, http: &mut HttpFacts) {
        http.status = status;
        let page = self.fh.error_page(status);
        let write = async { self.client.write_vec(page).await.0 };
        let _ = h1::within(&self.core.timers, self.fe.timeout_client, write).await;
    }

    /// Wait until the client sends (or closes), without a buffer of
    /// ours: the first bytes land in one of the ring's provided buffers
    /// (one I/O operation), or when the ring has none left, readiness is
    /// awaited and the bytes left in the socket.
    async fn wait_request(&self, idle: Option<Duration>, first: bool) -> Wait {
        let core = self.core;
        // A stopping process closes an idle keep-alive connection, not
        // one whose next request is already here: as HAProxy's mux reads
        // before it decides the connection is idle, that request is
        // served and its response says close. Closing over unread bytes
        // would reset the connection under the client's request.
        if !first && core.stop_accepting.is_fired() && !self.client.has_bytes_to_read() {
            return Wait::Stop;
        }
        let ready = async {
            match self.client.read_provided().await {
                Ok(Some(p)) if !p.is_empty() => Wait::Data(p),
                Ok(_) => Wait::Closed,
                Err(e) if no_provided_buffer(&e) => match self.client.read_ready().await {
                    Ok(()) => Wait::Ready,
                    Err(_) => Wait::Closed,
                },
                Err(_) => Wait::Closed,
            }
        };
        let ready = pin!(ready);
        let stop = async {
            if first {
                core.kill.wait().await;
            } else {
                // A stopping process closes idle keep-alive connections
                // (see above): a read under way is given a moment to
                // land first, and bytes left waiting keep it open.
                let kill = pin!(core.kill.wait());
                let soft = pin!(async {
                    core.stop_accepting.wait().await;
                    crate::engine::runtime::timer::sleep(&core.timers, Duration::from_millis(1))
                        .await;
                    if self.client.has_bytes_to_read() {
                        std::future::pending::<()>().await;
                    }
                });
                let _ = select(kill, soft).await;
            }
        };
        let stop = pin!(stop);
        let waited = async {
            match idle {
                Some(t) => crate::engine::runtime::timer::timeout(&core.timers, t, ready)
                    .await
                    .unwrap_or(Wait::Timeout),
                None => ready.await,
            }
        };
        let waited = pin!(waited);
        match select(waited, stop).await {
            Either::Left((w, _)) => w,
            Either::Right(_) => Wait::Stop,
        }
    }
}

/// How the wait for a request ended.
#[derive(Debug)]
enum Wait {
    /// Its first bytes.
    Data(Provided),
    /// Readable (the ring had no buffer to give).
    Ready,
    /// The client closed (or reset) first.
    Closed,
    Timeout,
    Stop,
}

/// `set-mark` / `set-tos` on the client connection, as the rules left
/// them. As HAProxy's conn_set_mark / conn_set_tos, a failure (no
/// privilege, a UNIX client) goes unnoticed.
fn client_sockopts(client: &Conn, env: &StreamEnv<'_>, o: &super::rules::Overrides) {
    use nix::sys::socket::{setsockopt, sockopt};
    if let Some(mark) = o.mark.take() {
        let _ = setsockopt(client, sockopt::Mark, &mark);
    }
    if let Some(tos) = o.tos.take() {
        let tos = i32::from(tos);
        // The connection's family (its peer's, not a set-src's).
        let _ = match env.src {
            Some(a) if a.is_ipv6() => setsockopt(client, sockopt::Ipv6TClass, &tos),
            Some(_) => setsockopt(client, sockopt::Ipv4Tos, &tos),
            None => Ok(()),
        };
    }
}

/// The response path's timeouts as the rules left them (server side,
/// client side), and the client socket's options.
fn retime(to_client: &Path<'_>, env: &StreamEnv<'_>, be: &BackendPlan) {
    if let Some(o) = env.over.get() {
        client_sockopts(to_client.to, env, o);
        to_client
            .from_timeout
            .set(env.timeout_server(be.timeout_server));
        to_client
            .to_timeout
            .set(env.timeout_client(env.fe.timeout_client));
    }
}

/// Whether a 401's `WWW-Authenticate` (a 407's `Proxy-Authenticate`)
/// starts with `NTLM` or `Nego` (Negotiate, Nego2): an authentication
/// bound to the connection, as HAProxy checks it.
fn auth_bound(res: &Head) -> bool {
    let name: &[u8] = if res.status == 401 {
        b"www-authenticate"
    } else {
        b"proxy-authenticate"
    };
    // Each comma-separated value, as http_find_header(..., 0) walks them.
    res.fields()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .flat_map(|(_, v)| v.split(|c| *c == b','))
        .map(ringlb_proto::h1::chars::trim_lws)
        .any(|v| {
            v.get(..4)
                .is_some_and(|p| p.eq_ignore_ascii_case(b"ntlm") || p.eq_ignore_ascii_case(b"nego"))
        })
}

/// The idle connections a core keeps per server whatever the load.
const IDLE_FLOOR: usize = 8;

/// `HTTP/1.1 100 Continue` as HAProxy's HTX counts it (20 + 8 + 3 + 8 +
/// 1).
const INTERIM_100_HTX: u64 = 40;

/// The body bytes of response `res` already read with its head (`read`,
/// what is buffered), as HAProxy's channel holds them in HTX: no more
/// than the Content-Length; a chunked body's data without its framing,
/// and, when its end came, its trailer fields (name and value, as HTX
/// holds them) and one byte for the end (the EOT block).
fn early_body(res: Option<&Head>, read: &[u8]) -> u64 {
    let len = read.len() as u64;
    match res.map(|r| r.body) {
        Some(Body::Length(n)) => len.min(n),
        Some(Body::UntilClose) => len,
        Some(Body::Chunked) => {
            use ringlb_proto::h1::chunked::{Decoder, Step};
            let mut dec = Decoder::new(read.len());
            let (mut at, mut data) = (0, 0u64);
            loop {
                match dec.step(read.get(at..).unwrap_or_default()) {
                    Ok(Step::Data(n)) => {
                        at += n;
                        data += n as u64;
                    }
                    Ok(Step::Framing(n)) => at += n,
                    Ok(Step::End(n)) => {
                        let trailers = read.get(at..at + n).unwrap_or_default();
                        return data + trailers_htx(trailers) + 1;
                    }
                    Ok(Step::NeedMore) | Err(_) => return data,
                }
            }
        }
        _ => 0,
    }
}

/// Trailer fields `block` (the lines after the last chunk, with the
/// empty line) as HAProxy's HTX holds them: each name and its value
/// without the blanks around it.
fn trailers_htx(block: &[u8]) -> u64 {
    let blank = |b: &u8| *b == b' ' || *b == b'\t';
    block
        .split(|b| *b == b'\n')
        .filter_map(|line| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let colon = line.iter().position(|b| *b == b':')?;
            let (name, value) = line.split_at(colon);
            let value = value.get(1..).unwrap_or_default();
            let start = value.iter().position(|b| !blank(b)).unwrap_or(value.len());
            let end = value
                .iter()
                .rposition(|b| !blank(b))
                .map_or(start, |e| e + 1);
            Some((name.len() + end.saturating_sub(start)) as u64)
        })
        .sum()
}

/// The backend's rule set when it is not the frontend's own (a listen
/// section runs one set).
fn backend_rules<'p>(
    (fe, fh): (&FrontendPlan, &HttpPlan),
    (be, bh): (&BackendPlan, &'p HttpPlan),
) -> Option<&'p HttpRules> {
    let same = std::ptr::eq(bh, fh) || (fh.listen && bh.listen && be.name == fe.name);
    (!same).then_some(&bh.rules)
}

/// `ip` as text in `buf` (inet_ntop's form; an IPv4-mapped IPv6 address
/// stays IPv6, as HAProxy prints it).
fn ip_text(ip: std::net::IpAddr, buf: &mut [u8; 48]) -> &[u8] {
    use std::io::Write;
    let mut w = std::io::Cursor::new(&mut buf[..]);
    let _ = write!(w, "{ip}");
    let n = usize::try_from(w.position()).unwrap_or(0);
    buf.get(..n).unwrap_or_default()
}

/// Whether the chunked framing of `data` (a body's first bytes) is
/// already invalid.
fn chunks_invalid(data: &[u8]) -> bool {
    use ringlb_proto::h1::chunked::{Decoder, Step};
    let mut dec = Decoder::new(data.len());
    let mut at = 0;
    loop {
        match dec.step(data.get(at..).unwrap_or_default()) {
            Err(_) => return true,
            Ok(Step::NeedMore | Step::End(_)) => return false,
            Ok(Step::Framing(n) | Step::Data(n)) => at += n,
        }
    }
}

/// Read until `buf` holds the whole body or is full (`option
/// http-buffer-request`).
async fn buffer_body(
    client: &Conn,
    buf: &mut Buffer,
    body: Body,
    timers: &crate::engine::runtime::timer::Timers,
    t: Option<Duration>,
) -> Result<(), Fail> {
    let deadline = t.map(|t| Instant::now() + t);
    loop {
        let complete = match body {
            Body::Length(n) => buf.len() as u64 >= n,
            Body::Chunked => {
                let mut dec = ringlb_proto::h1::chunked::Decoder::new(buf.max_input());
                let mut at = 0;
                loop {
                    match dec.step(buf.data().get(at..).unwrap_or_default()) {
                        Ok(ringlb_proto::h1::chunked::Step::End(_)) => break true,
                        Ok(ringlb_proto::h1::chunked::Step::NeedMore) => break false,
                        // The forwarding refuses it: no need to wait.
                        Err(_) => break true,
                        Ok(
                            ringlb_proto::h1::chunked::Step::Framing(n)
                            | ringlb_proto::h1::chunked::Step::Data(n),
                        ) => at += n,
                    }
                }
            }
            _ => true,
        };
        if complete || buf.room() == 0 {
            return Ok(());
        }
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        match h1::within(timers, left, client.read(buf)).await {
            Ok(0) => return Err(Fail::Error),
            Ok(_) => {}
            Err(f) => return Err(f),
        }
    }
}

/// The bytes the backend's hashing balancer asks of `req` (`balance uri`,
/// `url_param`, `hdr`), as HAProxy's get_server_* functions take them.
fn balance_key<'r>(
    core: &crate::engine::runtime::Core,
    be_idx: usize,
    req: &'r Head,
    body: &'r [u8],
) -> Option<&'r [u8]> {
    use crate::balance::{key, KeyKind};
    let balancer = core.balancers.get(be_idx)?.borrow();
    let [_, uri, _] = req.line_parts();
    match balancer.needs_key() {
        KeyKind::Uri { path_only } => Some(if path_only {
            uri.iter()
                .position(|c| *c == b'/')
                .and_then(|i| uri.get(i..))
                .unwrap_or_default()
        } else {
            uri
        }),
        KeyKind::UrlParam { name, .. } => key::url_param(uri, name.as_bytes()).or_else(|| {
            // A POST's body (its first data: the first chunk's when
            // chunked), as HAProxy's get_server_ph_post.
            if req.method != Method::Post {
                return None;
            }
            key::body_param(first_data(req.body, body), name.as_bytes())
        }),
        KeyKind::Hdr(name) => req
            .first(name.as_bytes())
            .map(|v| {
                let end = v.iter().position(|c| *c == b',').unwrap_or(v.len());
                ringlb_proto::h1::chars::trim_lws(v.get(..end).unwrap_or_default())
            })
            .filter(|v| !v.is_empty()),
        KeyKind::None | KeyKind::Source | KeyKind::RdpCookie(_) | KeyKind::Sample => None,
    }
}

/// Whether the backend balances on a URL parameter.
fn url_param_balance(core: &crate::engine::runtime::Core, be_idx: usize) -> bool {
    core.balancers.get(be_idx).is_some_and(|b| {
        matches!(
            b.borrow().needs_key(),
            crate::balance::KeyKind::UrlParam { .. }
        )
    })
}

/// A body's first data as HAProxy's HTX holds it: the bytes up to its
/// length, or the first chunk's payload (as much of it as is there).
fn first_data(body: Body, data: &[u8]) -> &[u8] {
    use ringlb_proto::h1::chunked::{Decoder, Step};
    match body {
        Body::Length(n) => data
            .get(..usize::try_from(n).unwrap_or(usize::MAX).min(data.len()))
            .unwrap_or_default(),
        Body::Chunked => {
            let mut dec = Decoder::new(data.len());
            let mut at = 0;
            loop {
                match dec.step(data.get(at..).unwrap_or_default()) {
                    Ok(Step::Framing(n)) => at += n,
                    Ok(Step::Data(n)) => return data.get(at..at + n).unwrap_or_default(),
                    _ => return &[],
                }
            }
        }
        _ => &[],
    }
}

/// The termination state of a transaction whose body transfer failed.
/// `sent_head`: the response head had gone to the client (else the
/// request body failed, before any response).
fn body_termination(e: BodyEnd, sent_head: bool) -> Termination {
    // The sender and the receiver of the body that failed: the server to
    // the client for a response, the client to the server for a request.
    let ((from_abort, from_timeout), (to_abort, to_timeout)) = {
        let client = (Cause::ClientAbort, Cause::ClientTimeout);
        let server = (Cause::ServerAbort, Cause::ServerTimeout);
        if sent_head {
            (server, client)
        } else {
            (client, server)
        }
    };
    match e {
        BodyEnd::FromClosed | BodyEnd::FromFail(Fail::Error) => term(from_abort, Phase::Data),
        BodyEnd::FromFail(Fail::Timeout) => term(from_timeout, Phase::Data),
        BodyEnd::ToFail(Fail::Error) => term(to_abort, Phase::Data),
        BodyEnd::ToFail(Fail::Timeout) => term(to_timeout, Phase::Data),
        BodyEnd::Invalid if sent_head => term(Cause::Proxy, Phase::Data),
        BodyEnd::Invalid => term(Cause::Proxy, Phase::Request),
    }
}

/// Run the request body and the response side together until the
/// response side ends (a server may answer before the body's end) or the
/// request side fails. What each returned, if it did.
async fn until_response<A, B, EA, TB, EB>(
    a: A,
    b: B,
) -> (Option<Result<(), EA>>, Option<Result<TB, EB>>)
where
    A: Future<Output = Result<(), EA>>,
    B: Future<Output = Result<TB, EB>>,
{
    let mut a = pin!(a);
    let mut b = pin!(b);
    let mut ra: Option<Result<(), EA>> = None;
    let mut rb: Option<Result<TB, EB>> = None;
    std::future::poll_fn(|cx| {
        if ra.is_none() {
            if let Poll::Ready(r) = a.as_mut().poll(cx) {
                ra = Some(r);
            }
        }
        if rb.is_none() {
            if let Poll::Ready(r) = b.as_mut().poll(cx) {
                rb = Some(r);
            }
        }
        if rb.is_some() || matches!(ra, Some(Err(_))) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    (ra, rb)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chunked body read with its head: its data, its trailers as HTX
    /// holds them, and the end's byte (haproxy 2.6: 2 + 6 + 16 + 1, see
    /// tests/h1/fixes_dec8.rs).
    #[test]
    fn early_body_counts_trailers() {
        let mut head = Head::default();
        head.body = Body::Chunked;
        let read = b"2\r\nok\r\n0\r\nx-t: abc\r\nX-Longer-Name:   v 1  \r\n\r\n";
        assert_eq!(early_body(Some(&head), read), 25);
        assert_eq!(early_body(Some(&head), b"2\r\nok\r\n0\r\n\r\n"), 3);
        // The end not there yet: the data alone.
        assert_eq!(early_body(Some(&head), b"2\r\nok\r\n0\r\nx-t: a"), 2);
        assert_eq!(trailers_htx(b"a:b\nc:\t d \t\n\n"), 4);
    }
}
