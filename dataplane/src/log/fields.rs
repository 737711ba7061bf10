//! What a log line says about a stream: HAProxy's `struct strm_logs` plus
//! the few stream, session and proxy fields `sess_build_logline()` reads.
//! The stream layer fills a [`StreamLog`] as the stream goes, and hands it
//! to [`crate::log::format::render`] when the log is due.
//!
//! Timers are durations in milliseconds, each from its own start as the
//! manual's 8.4 defines them (not HAProxy's internal cumulative dates);
//! `None` is a timer whose event never happened and prints `-1`.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Instant, SystemTime};

use super::termination::{CookieStatus, Termination};

/// An address as the log sees it: HAProxy prints UNIX sockets as `unix`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogAddr {
    Inet(SocketAddr),
    Unix,
}

impl From<SocketAddr> for LogAddr {
    fn from(a: SocketAddr) -> Self {
        LogAddr::Inet(a)
    }
}

/// When / where the log was produced (`%OG`, manual 8.2.6).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Origin {
    #[default]
    Unspec,
    SessError,
    SessKill,
    TxnAccept,
    TxnRequest,
    TxnConnect,
    TxnResponse,
    TxnClose,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Unspec => "unspec",
            Origin::SessError => "sess_error",
            Origin::SessKill => "sess_killed",
            Origin::TxnAccept => "txn_accept",
            Origin::TxnRequest => "txn_request",
            Origin::TxnConnect => "txn_connect",
            Origin::TxnResponse => "txn_response",
            Origin::TxnClose => "txn_close",
        }
    }
}

/// Everything a log line can say about one stream.
///
/// Names are `Rc<str>`: cloned from the per-core configuration without
/// copying (a `StreamLog` never leaves its core; the rendered line does).
#[derive(Clone, Debug)]
pub struct StreamLog {
    // Addresses.
    /// `%ci` / `%cp`: the client (after PROXY protocol). `None` prints `-`.
    pub client: Option<LogAddr>,
    /// `%fi` / `%fp`: the address the client connected to.
    pub frontend_addr: Option<LogAddr>,
    /// The listener's id (`bind ... id`), printed as the port of a UNIX
    /// socket by `%cp` and `%fp`.
    pub listener_id: u32,
    /// `%bi` / `%bp`: the source address of the server connection.
    pub backend_src: Option<LogAddr>,
    /// `%si` / `%sp`: the server address connected to.
    pub server_addr: Option<LogAddr>,

    // Dates.
    /// `%t`, `%T`, `%Ts`, `%ms` ...: when the connection was accepted (in
    /// HTTP, when the stream became ready for a new request).
    pub accept_date: SystemTime,
    /// The same moment on the monotonic clock, for [`StreamLog::finish`].
    pub accept_instant: Instant,

    // Names.
    /// `%f`, `%ft`.
    pub frontend: Rc<str>,
    /// `%ft` appends `~` when the listener does TLS.
    pub frontend_ssl: bool,
    /// `%b`: the backend (the frontend's name until one is chosen).
    pub backend: Rc<str>,
    /// `%s`: the last server tried; `None` prints `<NOSRV>`.
    pub server: Option<Rc<str>>,
    /// `%H`: the system host name.
    pub hostname: Rc<str>,
    /// `%pid`.
    pub pid: u32,

    // Timers (manual 8.4), as HAProxy keeps them in `struct strm_logs`:
    // milliseconds since the accept, `None` for an event that never came.
    // The printed timers are differences of these, with HAProxy's formulas
    // and quirks: in TCP mode no request date is ever set, so `%Tw` prints
    // one more than the time spent in queues, as HAProxy prints it.
    /// `%Th`: connection handshake time (TLS, PROXY protocol).
    pub t_handshake: u64,
    /// `%Ti`: idle time before the request (HTTP).
    pub t_idle: Option<u64>,
    /// When the request was complete (HTTP; `%TR` = this - `%Ti` - `%Th`).
    pub t_request: Option<u64>,
    /// When the stream left the queues (`%Tw` = this - request date).
    pub t_queue: Option<u64>,
    /// When the server connection was established (`%Tc`).
    pub t_connect: Option<u64>,
    /// When the response headers were complete (HTTP, `%Tr`).
    pub t_data: Option<u64>,
    /// `%Tt`: the last close (or the log date with `option logasap`).
    pub t_close: u64,
    /// `option logasap`: the line is emitted before the end, so `%Tt`,
    /// `%Ta`, `%Tu` and `%B` are prefixed with `+`.
    pub partial: bool,
    /// HTTP mode (changes what `%Td` measures from).
    pub http: bool,

    // Volumes.
    /// `%U`: bytes from the client to the server.
    pub bytes_in: u64,
    /// `%B`: bytes from the server to the client.
    pub bytes_out: u64,

    // State.
    /// `%ts`.
    pub termination: Termination,
    /// `%tsc`: set when the backend uses a persistence cookie.
    pub cookie: Option<CookieStatus>,
    /// `%ac`: process-wide concurrent connections.
    pub actconn: u32,
    /// `%fc`: frontend concurrent connections.
    pub feconn: u32,
    /// `%bc`: backend concurrent connections.
    pub beconn: u32,
    /// `%sc`: server concurrent connections.
    pub srv_conn: u32,
    /// `%rc`: connection retries.
    pub retries: u32,
    /// `%rc` is prefixed with `+` after a redispatch.
    pub redispatched: bool,
    /// `%sq`: requests processed before this one in the server queue.
    pub srv_queue: u32,
    /// `%bq`: requests processed before this one in the backend queue.
    pub backend_queue: u32,
    /// `%rt`: the request counter (HAProxy's stream `uniq_id`).
    pub request_counter: u32,
    /// `%lc`: logs emitted by the frontend before this one.
    pub log_counter: u32,
    /// `%ID`: the unique id, when `unique-id-format` made one.
    pub unique_id: Option<Rc<str>>,
    /// `%OG`.
    pub origin: Origin,

    // TLS.
    /// `%sslv`.
    pub ssl_version: Option<Rc<str>>,
    /// `%sslc`.
    pub ssl_cipher: Option<Rc<str>>,

    // HTTP (filled by the HTTP layer).
    /// `%ST` (0 when there is none, as HAProxy prints).
    pub status: u16,
    /// The request line (`%r`, `%HM`, `%HU` ...); `None` prints `<BADREQ>`.
    pub request_line: Option<Rc<str>>,
    /// `%CC` / `%CS`: captured cookies.
    pub captured_request_cookie: Option<Rc<str>>,
    pub captured_response_cookie: Option<Rc<str>>,
    /// `%hr` / `%hrl`: one entry per `capture request header`, `None` when
    /// the header was absent.
    pub request_captures: Vec<Option<String>>,
    /// `%hs` / `%hsl`.
    pub response_captures: Vec<Option<String>>,
}

impl StreamLog {
    /// A stream accepted now by `frontend` on `hostname` (`%H`), everything
    /// else unknown yet. Both are shared names: no allocation per line.
    pub fn new(
        frontend: Rc<str>,
        hostname: Rc<str>,
        accept_date: SystemTime,
        accept_instant: Instant,
    ) -> Self {
        StreamLog {
            client: None,
            frontend_addr: None,
            listener_id: 0,
            backend_src: None,
            server_addr: None,
            accept_date,
            accept_instant,
            backend: frontend.clone(),
            hostname,
            frontend,
            frontend_ssl: false,
            server: None,
            pid: std::process::id(),
            t_handshake: 0,
            t_idle: None,
            t_request: None,
            t_queue: None,
            t_connect: None,
            t_data: None,
            t_close: 0,
            partial: false,
            http: false,
            bytes_in: 0,
            bytes_out: 0,
            termination: Termination::NORMAL,
            cookie: None,
            actconn: 0,
            feconn: 0,
            beconn: 0,
            srv_conn: 0,
            retries: 0,
            redispatched: false,
            srv_queue: 0,
            backend_queue: 0,
            request_counter: 0,
            log_counter: 0,
            unique_id: None,
            origin: Origin::Unspec,
            ssl_version: None,
            ssl_cipher: None,
            status: 0,
            request_line: None,
            captured_request_cookie: None,
            captured_response_cookie: None,
            request_captures: Vec::new(),
            response_captures: Vec::new(),
        }
    }

    /// Milliseconds from the accept to `now` on the monotonic clock, to
    /// fill the `t_*` dates.
    pub fn since_accept(&self, now: Instant) -> u64 {
        let ms = now
            .saturating_duration_since(self.accept_instant)
            .as_millis();
        u64::try_from(ms).unwrap_or(u64::MAX)
    }

    /// Sets `%Tt` at `now` (the last close).
    pub fn finish(&mut self, now: Instant) {
        self.t_close = self.since_accept(now);
    }

    /// Whether HAProxy's `strm_log()` counts the stream as an error (for
    /// `option dontlog-normal` and `option log-separate-errors`): a
    /// redispatch, a cause past `L`, retries without an error, or an HTTP
    /// status of 500 or more.
    pub fn is_error(&self) -> bool {
        self.redispatched
            || self.termination.cause.is_error()
            || self.retries > 0
            || (self.http && self.status >= 500)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::termination::{Cause, Phase};
    use std::time::Duration;

    #[test]
    fn defaults_and_finish() {
        let now = Instant::now();
        let mut f = StreamLog::new(Rc::from("fe"), Rc::from(""), SystemTime::now(), now);
        assert_eq!(&*f.backend, "fe");
        assert!(f.server.is_none());
        assert!(!f.is_error());
        f.finish(now + Duration::from_millis(1234));
        assert_eq!(f.t_close, 1234);
        f.retries = 1;
        assert!(f.is_error());
        f.retries = 0;
        f.termination = Termination::new(Cause::ClientAbort, Phase::Data);
        assert!(f.is_error());
        f.termination = Termination::new(Cause::Local, Phase::None);
        assert!(!f.is_error());
        f.http = true;
        f.status = 503;
        assert!(f.is_error());
        assert_eq!(Origin::SessKill.as_str(), "sess_killed");
    }
}
