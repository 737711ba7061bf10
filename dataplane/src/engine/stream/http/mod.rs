//! The HTTP-mode session: an HTTP/1 client connection served one
//! transaction (stream) after another, keep-alive, until one side closes.
//!
//! A transaction: wait for the request (`timeout http-keep-alive` idle,
//! `http-request` for the head), parse it with HAProxy's rules (400 on a
//! refusal), pick a backend and a server connection (an idle one when
//! `http-reuse` allows), send the head and the body while the response
//! comes (interim 1xx forwarded), then the response head and body to the
//! client, log, and keep or close each side as HAProxy's `mux_h1` decides
//! (`proto::h1::conn`). A 101 or a CONNECT's 2xx turns both into a tunnel.

mod cookie;
pub mod plan;
mod rules;
mod txn;

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use ringlb_proto::msg::Head;

use crate::engine::plan::{BackendPlan, FrontendPlan};
use crate::engine::runtime::buffer::Pooled;
use crate::engine::runtime::Core;
use crate::engine::session::Conn;
use crate::engine::stream::tcp::StreamFacts;
use crate::log::termination::Cause;

use self::plan::HttpPlan;

/// What the log needs about a transaction beyond [`StreamFacts`].
#[derive(Debug, Default)]
pub struct HttpFacts {
    /// `%ST`: the status sent to the client (0: none).
    pub status: u16,
    /// `%r`: the request line as received; None prints `<BADREQ>`.
    pub request_line: Option<Rc<str>>,
    /// `%Ti`: from ready for a request to its first byte, in
    /// milliseconds.
    pub t_idle: u32,
    /// The request head complete, since the transaction began.
    pub t_request: Option<Duration>,
    /// The response head complete, since the transaction began.
    pub t_data: Option<Duration>,
    /// `%tsc`'s cookie letters, when the backend uses a cookie.
    pub cookie: Option<crate::log::termination::CookieStatus>,
    /// What `capture` lines took: boxed, and only when something was
    /// captured (most transactions carry none, and the session's task
    /// stays small: see `a_session_stays_small`).
    pub captured: Option<Box<Captured>>,
    /// `%rt`: HAProxy's stream counter ([`Core::next_stream_id`]).
    pub uniq_id: u32,
    /// `%ID`: the unique id, once made.
    pub unique_id: Option<Rc<str>>,
    /// No line to write: `option logasap` wrote it already, or
    /// `set-log-level silent` (the transaction is counted all the same).
    pub logged: bool,
    /// Counted as a request when its head was parsed, then refused as
    /// invalid before its request line was kept (`PRI`): the end of the
    /// transaction does not count it again.
    pub counted_bad: bool,
    /// Closed without an answer, a log line or a response counted
    /// (HAProxy's abort_keep_alive, txn->status 0).
    pub unanswered: bool,
    /// The persistence cookie's dates (`maxidle`, `maxlife`).
    pub cookie_dates: cookie::Dates,
    /// The applet that answered (`%s` prints its name: `<PROMEX>`).
    pub applet: Option<&'static str>,
}

/// A transaction's captures, for the log.
#[derive(Clone, Debug, Default)]
pub struct Captured {
    /// `%CC`, `%CS`: `capture cookie`.
    pub req_cookie: Option<Rc<str>>,
    pub res_cookie: Option<Rc<str>>,
    /// `%hr`, `%hs`: the header captures (empty when none is declared).
    pub req_captures: Vec<Option<String>>,
    pub res_captures: Vec<Option<String>>,
}

/// What becomes of the client connection after a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Next {
    KeepAlive,
    Close,
}

/// One client connection in HTTP mode.
struct Session<'c> {
    core: &'c Rc<Core>,
    fe_idx: usize,
    fe: &'c FrontendPlan,
    fh: &'c HttpPlan,
    client: &'c Conn,
    /// The connection's place in the core's stream registry.
    reg: &'c crate::engine::runtime::Registered<'c>,
    peer: Option<SocketAddr>,
    dst: Option<SocketAddr>,
    luid: u32,
    /// Transactions served so far.
    count: u32,
    /// Reused for every transaction (their allocations stay).
    req: Head,
    res: Head,
    req_out: Vec<u8>,
    res_out: Vec<u8>,
    /// The client's input buffer, held while it has bytes.
    cbuf: Option<Pooled<'c>>,
    /// The session's own idle server connection (backend, server): what
    /// its next request to that server uses first (HAProxy's session
    /// connection list; the only reuse under `http-reuse never`).
    own: std::cell::Cell<Option<(usize, usize, crate::engine::backend::idle::Idle)>>,
    /// The current transaction's backend settings (its errorfiles come
    /// first), once it is chosen.
    be_http: Option<&'c HttpPlan>,
    /// A server answered an NTLM or Negotiate challenge: the session
    /// keeps its server connections and prefers their server (HAProxy's
    /// private connection and SESS_FL_PREFER_LAST).
    auth_bound: bool,
    /// The session's variables (`sess`; `txn`, `req`, `res` cleared
    /// between transactions).
    vars: crate::engine::rules::http::Vars,
}

/// Serve one HTTP client connection to its end.
pub(crate) async fn handle(
    core: &Rc<Core>,
    fe_idx: usize,
    luid: u32,
    client: Conn,
    peer: Option<SocketAddr>,
    late: bool,
) {
    let accepted = Instant::now();
    let accept_date = SystemTime::now();
    let plan = &core.shared.plan;
    let Some(fe) = plan.frontends.get(fe_idx) else {
        return;
    };
    let Some(fh) = fe.http.as_deref() else {
        return;
    };
    let _ = late;
    let reg = core.register((fe_idx, luid), &client, (peer, None), true);
    // Scoped: what admission returns is moved into the session and takes
    // no second place in its future.
    let mut s = {
        let Some(admitted) = crate::engine::session::admit(core, (fe_idx, luid), fe, &client, peer)
        else {
            return;
        };
        reg.set_dst(admitted.dst);
        Session {
            reg: &reg,
            core,
            fe_idx,
            fe,
            fh,
            client: &client,
            peer,
            dst: admitted.dst,
            luid,
            count: 0,
            req: Head::new(),
            res: Head::new(),
            req_out: Vec::new(),
            res_out: Vec::new(),
            cbuf: None,
            own: std::cell::Cell::new(None),
            vars: admitted.vars,
            be_http: None,
            auth_bound: false,
        }
    };
    let mut since = (accepted, accept_date);
    loop {
        // A hard stop ends the session wherever it is (a request waiting
        // for its server included), as the TCP pump's watchdog does.
        s.be_http = None;
        let next = {
            let txn = std::pin::pin!(s.transaction(since));
            let kill = std::pin::pin!(core.kill.wait());
            match futures_util::future::select(txn, kill).await {
                futures_util::future::Either::Left((next, _)) => next,
                futures_util::future::Either::Right(_) => Next::Close,
            }
        };
        s.count += 1;
        reg.end();
        // Whatever way the transaction ended (a 503 goes on keep-alive
        // without passing its end), its variables do not reach the next.
        s.vars.end_txn();
        if next == Next::Close || core.kill.is_fired() {
            break;
        }
        since = (Instant::now(), SystemTime::now());
    }
    s.cbuf = None;
    drop(s);
    drop(reg);
    client.shutdown_write();
}

impl HttpFacts {
    /// The capture slots as the log prints them (`%hr`, `%hs`).
    pub(crate) fn set_captures(&mut self, caps: &crate::engine::rules::http::Captures) {
        let text = |v: &Vec<Option<Vec<u8>>>| -> Vec<Option<String>> {
            v.iter()
                .map(|c| c.as_ref().map(|b| String::from_utf8_lossy(b).into_owned()))
                .collect()
        };
        if caps.req.is_empty() && caps.res.is_empty() {
            return;
        }
        let c = self.captured_mut();
        c.req_captures = text(&caps.req);
        c.res_captures = text(&caps.res);
    }

    /// The captures, made on first use.
    pub(crate) fn captured_mut(&mut self) -> &mut Captured {
        self.captured.get_or_insert_with(Default::default)
    }
}

impl<'c> Session<'c> {
    fn facts(&self, date: SystemTime) -> StreamFacts {
        let core = self.core;
        StreamFacts {
            uniq_id: 0,
            accept_date: date,
            client: self.peer,
            listener_id: self.luid,
            frontend_addr: self.dst,
            server: None,
            server_addr: None,
            tw: None,
            tc: None,
            tt: Duration::ZERO,
            bytes_in: 0,
            bytes_out: 0,
            termination: crate::log::termination::Termination {
                cause: Cause::None,
                phase: crate::log::termination::Phase::None,
            },
            retries: 0,
            redispatched: false,
            queue: Default::default(),
            actconn: core.shared.actconn.get(),
            feconn: self.fe.feconn.get(),
            beconn: 0,
            srv_conn: 0,
        }
    }

    /// Count and log a finished transaction.
    fn finish(
        &self,
        be_at: Option<(usize, &BackendPlan)>,
        mut facts: StreamFacts,
        http: &HttpFacts,
        start: Instant,
    ) {
        facts.tt = start.elapsed();
        if self.reg.killed() {
            // `shutdown session`: the transaction lost its connections as
            // on an abort; HAProxy's stream_shutdown(SF_ERR_KILLED) says
            // `K` in the phase it was in (KH with a 502, KD). A response
            // cut counts as the server's abort (http_ana's return_srv_abort
            // sees its side shut), not as a failed one (no error on it).
            if facts.termination.phase == crate::log::termination::Phase::Data {
                use crate::engine::runtime::counters::{Be, Fe};
                let at = be_at.map(|(b, _)| (b, facts.server));
                crate::engine::stats::count_fe_be(
                    self.core,
                    (self.fe_idx, self.luid),
                    at,
                    (Fe::SrvAbrt, Be::SrvAbrt),
                );
            }
            facts.termination.cause = Cause::Killed;
        }
        // The response head's date after the request's (HAProxy's t_data
        // counts from the accept as the queue and connect times do).
        let ms = |d: Duration| u32::try_from(d.as_millis()).unwrap_or(u32::MAX);
        let t_data = http
            .t_data
            .map(|d| ms(d).saturating_sub(http.t_request.map_or(0, ms)));
        let be = be_at.map(|(i, _)| i);
        super::tcp::count_with(self.core, self.fe_idx, be, &facts, t_data);
        let dates = Some((http.t_request, http.t_data));
        crate::engine::stats::prometheus::record(self.core, self.fe_idx, be, &facts, dates);
        if http.unanswered {
            return;
        }
        self.count_http(be_at.map(|(i, _)| i), &facts, http);
        if http.logged || !self.fe.log.enabled {
            // `option logasap` logged it with its response head.
            return;
        }
        let uid = http
            .unique_id
            .clone()
            .or_else(|| self.late_unique_id(be_at, &facts, http));
        // The response for the log's samples: this transaction's, if its
        // head came.
        let res = http.t_data.map(|_| &self.res);
        self.log_cx()
            .log(be_at, facts, http, uid, start, (&self.req, res, &self.vars));
    }

    /// The transaction's HTTP counters: requests, status classes
    /// (stream.c's end of stream, http_ana.c for the server's), invalid
    /// requests, the request rate.
    fn count_http(&self, be: Option<usize>, facts: &StreamFacts, http: &HttpFacts) {
        use crate::engine::runtime::counters::{be_rsp, fe_rsp, Be, Fe, FeRate, Obj, Stat};
        let core = self.core;
        let st = &core.shared.stats;
        let fe = self.fe_idx;
        let add = |s, n| st.add(core.id, s, n);
        // A request the mux answered before it was whole (400, 408)
        // counts as a request too (mux_h1's h1_handle_*_err).
        if http.counted_bad {
            st.add_fe(core.id, fe, facts.listener_id, Fe::FailedReq, 1);
        } else if http.t_request.is_none() && http.status != 0 {
            add(Stat::Fe(fe, Fe::ReqTot), 1);
            st.tick(core.id, Obj::Fe(fe), FeRate::Req, core.shared.now_ms());
            // h1_handle_parsing_error, _req_tout, _not_impl_err.
            if matches!(http.status, 400 | 408 | 501) {
                st.add_fe(core.id, fe, facts.listener_id, Fe::FailedReq, 1);
            }
        }
        // A transaction that ended without a status (a client gone in the
        // middle of its request body, say) still counts: HAProxy's
        // txn->status is -1 then, which its end of stream counts as an
        // "other" response and a backend request (stream.c).
        if http.status == 0 && http.t_request.is_none() {
            return;
        }
        add(Stat::Fe(fe, fe_rsp(http.status)), 1);
        let Some(b) = be else { return };
        add(Stat::Be(b, be_rsp(http.status)), 1);
        add(Stat::Be(b, Be::ReqTot), 1);
        // A server's class is its own response's (http_wait_for_response
        // counts it on arrival), whatever a rule answered instead.
        if let (Some(s), Some(_)) = (facts.server, http.t_data) {
            add(Stat::Srv(b, s, be_rsp(self.res.status)), 1);
            add(Stat::Srv(b, s, Be::ReqTot), 1);
        }
    }

    fn log_cx(&self) -> LogCx<'c> {
        LogCx {
            core: self.core,
            fe_idx: self.fe_idx,
            fe: self.fe,
            fh: self.fh,
        }
    }
}

/// What logging a transaction needs of its session (no borrow of it:
/// `option logasap` logs while the session is busy with the response).
#[derive(Clone, Copy)]
pub(super) struct LogCx<'c> {
    pub core: &'c Rc<Core>,
    pub fe_idx: usize,
    pub fe: &'c FrontendPlan,
    pub fh: &'c HttpPlan,
}

impl LogCx<'_> {
    /// Log a transaction with the counters as they are now, unless a
    /// filter drops the line (`dontlognull`, `dontlog-normal`); whether
    /// it was logged.
    pub(super) fn log(
        &self,
        be_at: Option<(usize, &BackendPlan)>,
        mut facts: StreamFacts,
        http: &HttpFacts,
        unique_id: Option<Rc<str>>,
        start: Instant,
        (req, res, vars): (&Head, Option<&Head>, &crate::engine::rules::http::Vars),
    ) -> bool {
        let fe = self.fe;
        let shared = &self.core.shared;
        facts.actconn = shared.actconn.get();
        facts.feconn = fe.feconn.get();
        facts.beconn = be_at.map_or(0, |(_, b)| b.beconn.get());
        facts.srv_conn = be_at
            .zip(facts.server)
            .and_then(|((_, b), i)| b.servers.get(i))
            .map_or(0, |s| s.conns.get());
        if !fe.log.enabled {
            return false;
        }
        let normal = facts.termination.cause == Cause::None && http.status < 500;
        // `option dontlognull`: a connection that sent nothing (closed or
        // timed out empty) is not logged, whatever ended it (haproxy 2.6
        // still answers the 408, unlogged).
        if fe.log.dontlognull && facts.bytes_in == 0 && !http.logged
            || (self.fh.dontlog_normal && normal && facts.retries == 0 && !facts.redispatched)
        {
            return false;
        }
        let Some(sink) = &fe.sink else {
            return false;
        };
        // A transaction that ended before its headers were captured
        // still prints one (empty) field per capture.
        let fill = |v: &Vec<Option<String>>, n: usize| {
            if v.is_empty() && n > 0 {
                vec![None; n]
            } else {
                v.clone()
            }
        };
        let (nreq, nres) = (self.fh.req_captures.len(), self.fh.res_captures.len());
        let captured = match &http.captured {
            Some(c) => Some(Box::new(Captured {
                req_captures: fill(&c.req_captures, nreq),
                res_captures: fill(&c.res_captures, nres),
                ..(**c).clone()
            })),
            None if nreq + nres > 0 => Some(Box::new(Captured {
                req_captures: vec![None; nreq],
                res_captures: vec![None; nres],
                ..Captured::default()
            })),
            None => None,
        };
        let http = &HttpFacts {
            captured,
            request_line: http.request_line.clone(),
            unique_id,
            ..*http
        };
        // `%[...]` items over the transaction as it ends: its response
        // when there is one (the request's fetches then find nothing, as
        // HAProxy's at log time), its variables.
        let env = rules::StreamEnv {
            plan: &self.core.shared.plan,
            fe_idx: self.fe_idx,
            fe,
            src: facts.client,
            dst: facts.frontend_addr,
            be: be_at,
            server: facts.server.and_then(|i| u32::try_from(i).ok()),
            over: Default::default(),
            retries: std::cell::Cell::new(None),
            l7_retry_off: std::cell::Cell::new(false),
            stream_id: http.uniq_id,
            accept_date: facts.accept_date,
            unique_id: Default::default(),
        };
        // `capture.req.hdr(n)` / `capture.res.hdr(n)`: the captures as
        // the log holds them (made only when something was captured).
        let bytes = |v: &Vec<Option<String>>| -> Vec<Option<Vec<u8>>> {
            v.iter()
                .map(|c| c.as_ref().map(|s| s.as_bytes().to_vec()))
                .collect()
        };
        let sampled = !fe.log.samples.is_empty() || !fe.log.sd_samples.is_empty();
        let caps = http.captured.as_ref().filter(|_| sampled).map(|c| {
            crate::engine::rules::http::Captures {
                req: bytes(&c.req_captures),
                res: bytes(&c.res_captures),
            }
        });
        // The proxy's own reply (deny, return) is no response here: the
        // `status` fetch finds nothing, as haproxy 2.6's at log time.
        let cx = crate::engine::rules::fetch::Ctx {
            res,
            vars: Some(vars),
            caps: caps.as_ref(),
            ..crate::engine::rules::fetch::Ctx::new(req, &env)
        };
        let eval = |e: &crate::engine::rules::expr::Expr| super::tcp::sample_text(e.eval(&cx));
        crate::engine::logging::log_stream(
            sink,
            self.core,
            self.fe_idx,
            be_at.map(|(i, _)| i),
            fe,
            &facts,
            start,
            Some(http),
            None,
            &eval,
        );
        true
    }

    /// `option logasap`: log the transaction now that its response head
    /// is ready (HAProxy's http_process_res_common, after the response
    /// rules): the end date is the response's, `%B` what the response
    /// holds so far (its head and the body bytes already read), nothing
    /// counted from the client yet (haproxy 2.6 prints `%U` 0 there).
    /// Whether it was logged (the end of the transaction logs otherwise).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn log_early(
        &self,
        be_at: (usize, &BackendPlan),
        facts: &StreamFacts,
        http: &HttpFacts,
        caps: &crate::engine::rules::http::Captures,
        (req, res, vars): (&Head, &Head, &crate::engine::rules::http::Vars),
        buffered: &[u8],
        start: Instant,
    ) -> bool {
        if !(self.fe.log.logasap && self.fe.log.enabled && self.fe.log.format.is_some()) {
            return false;
        }
        let body = match res.body {
            ringlb_proto::msg::Body::None => 0,
            ringlb_proto::msg::Body::Length(n) => (buffered.len() as u64).min(n),
            ringlb_proto::msg::Body::Chunked => chunked_payload(buffered),
            _ => buffered.len() as u64,
        };
        let facts = StreamFacts {
            tt: http.t_data.unwrap_or_default(),
            bytes_in: 0,
            bytes_out: res.htx_size() + body,
            termination: crate::log::termination::Termination::NORMAL,
            ..*facts
        };
        let mut h = HttpFacts {
            captured: http.captured.clone(),
            request_line: http.request_line.clone(),
            unique_id: None,
            ..*http
        };
        h.set_captures(caps);
        let uid = http.unique_id.clone();
        self.log(Some(be_at), facts, &h, uid, start, (req, Some(res), vars))
    }
}

/// The payload bytes of the whole chunks and chunk parts in `data`.
fn chunked_payload(data: &[u8]) -> u64 {
    use ringlb_proto::h1::chunked::{Decoder, Step};
    let mut dec = Decoder::new(data.len());
    let (mut at, mut n) = (0, 0u64);
    loop {
        match dec.step(data.get(at..).unwrap_or_default()) {
            Ok(Step::Data(k)) => {
                at += k;
                n += k as u64;
            }
            Ok(Step::Framing(k)) => at += k,
            Ok(Step::NeedMore | Step::End(_)) | Err(_) => return n,
        }
    }
}

impl Session<'_> {
    /// A unique id made for the log line when nothing asked for it
    /// before (HAProxy's `strm_log`): over what the transaction knows.
    fn late_unique_id(
        &self,
        be_at: Option<(usize, &BackendPlan)>,
        facts: &StreamFacts,
        http: &HttpFacts,
    ) -> Option<Rc<str>> {
        if !self.fh.rules.has_unique_id() {
            return None;
        }
        let env = rules::StreamEnv {
            plan: &self.core.shared.plan,
            fe_idx: self.fe_idx,
            fe: self.fe,
            src: self.peer,
            dst: self.dst,
            be: be_at,
            server: facts.server.and_then(|i| u32::try_from(i).ok()),
            over: Default::default(),
            retries: std::cell::Cell::new(None),
            l7_retry_off: std::cell::Cell::new(false),
            stream_id: http.uniq_id,
            accept_date: facts.accept_date,
            unique_id: Default::default(),
        };
        let cx = crate::engine::rules::fetch::Ctx {
            vars: Some(&self.vars),
            ..crate::engine::rules::fetch::Ctx::new(&self.req, &env)
        };
        crate::engine::rules::env::Env::unique_id(&env, &cx)?;
        env.unique_id.get()
    }
}

#[cfg(test)]
mod tests {
    /// The size of the future an async fn returns.
    fn future_size<A, B, C, D, E, G, F: std::future::Future>(
        _: impl FnOnce(A, B, C, D, E, G) -> F,
    ) -> usize {
        std::mem::size_of::<F>()
    }

    /// An HTTP session's task is most of an idle keep-alive connection's
    /// memory: about 9.7 KB, measured by this test (9,432 bytes before
    /// HTTP bodies could be spliced (+56) and `retry-on` came (+280); the
    /// transaction's states, a connect and the
    /// body transfers among them, all inline: none is boxed, so a request
    /// allocates nothing; 96 of them the hard stop's watch; 208 the
    /// `retry-on` state: the kept request buffer's guard, the retry count
    /// and server, the timers across attempts; 64 the idle pool's
    /// accounting: the in-use guard, the requests a connection served; 8
    /// the NTLM binding's flag; 40 the exchange's watch of its server's
    /// shutdown; 24 the stream registry's reference and the server
    /// connection's mark, for `show sess` and `shutdown session`). Several times what HAProxy holds for an idle
    /// keep-alive connection (it frees the stream between requests): see
    /// docs/differences.md. It must not grow unnoticed.
    #[test]
    fn a_session_stays_small() {
        let size = future_size(super::handle);
        assert!(size <= 9_808, "an HTTP session's future takes {size} bytes");
    }
}
