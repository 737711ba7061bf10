//! Proxies (defaults, frontend, backend, listen) and what they hold.

mod actions;
mod bind;
mod checks;
mod log;
mod persistence;
mod rules;
mod server;
mod source;

use std::time::Duration;

use super::{Directive, Named};
use crate::acl::{AclDef, Condition};
use crate::diag::Loc;
use crate::logformat::LogFormat;
use crate::sample::SampleExpr;
pub use actions::*;
pub use bind::{Bind, BindOptions, Verify};
pub use checks::{CheckConnect, CheckExpect, CheckKind, CheckStep, CheckStepKind, ExpectKind};
pub use log::{Facility, Level, LogDest, LogTarget, LogTargetSpec, LogWireFormat};
pub use persistence::{
    CookieConf, CookieMode, StickKeyType, StickRule, StickRuleKind, StickStore, StickTable,
};
pub use rules::*;
pub use server::{InitAddr, Observe, OnError, ProxyProtocol, Server, ServerOptions, TrackRef};
pub use source::{Source, UseSrc};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyKind {
    Defaults,
    Frontend,
    Backend,
    Listen,
}

impl ProxyKind {
    pub fn keyword(self) -> &'static str {
        match self {
            ProxyKind::Defaults => "defaults",
            ProxyKind::Frontend => "frontend",
            ProxyKind::Backend => "backend",
            ProxyKind::Listen => "listen",
        }
    }
}

/// What a proxy can do: accept connections (frontend), pick servers
/// (backend), or both (listen, and defaults which carry both).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cap {
    pub frontend: bool,
    pub backend: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Tcp,
    Http,
    /// log-forward style syslog proxying (`mode log`).
    Log,
    /// Stream Processing Offload Protocol backends (`mode spop`, 3.1+).
    Spop,
}

impl Mode {
    pub fn keyword(self) -> &'static str {
        match self {
            Mode::Tcp => "tcp",
            Mode::Http => "http",
            Mode::Log => "log",
            Mode::Spop => "spop",
        }
    }

    /// Whether the multiplexer named by `proto <token>` can carry this
    /// mode's streams on the given side. HAProxy registers each mux for a
    /// mode and side (mux_pt: `none`, TCP, both; mux_h1/mux_h2: `h1`/`h2`,
    /// HTTP, both; mux_fcgi: `fcgi`, HTTP, back; mux_spop: `spop`, SPOP,
    /// back; mux_quic: `quic`, HTTP, front) and refuses the others once the
    /// proxy's mode is known (cfgparse.c: "MUX protocol ... is not usable").
    pub fn mux_usable(self, token: &str, side: MuxSide) -> bool {
        let Some(&(_, mode, sides)) = MUX_PROTOCOLS.iter().find(|(t, ..)| *t == token) else {
            return false;
        };
        let mode_ok = match mode {
            Mode::Http => self == Mode::Http,
            Mode::Spop => self == Mode::Spop,
            // mux_pt serves every mode that is neither HTTP nor SPOP
            // (HAProxy maps them all to PROTO_MODE_TCP).
            Mode::Tcp | Mode::Log => !matches!(self, Mode::Http | Mode::Spop),
        };
        mode_ok && (sides == MuxSide::Both || sides == side)
    }
}

/// Which end of a proxy a multiplexer serves: `bind` lines are the front,
/// `server` lines the back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MuxSide {
    Front,
    Back,
    Both,
}

/// The multiplexers `proto` may name (HAProxy 3.2 with QUIC), with the mode
/// and side each one is registered for.
pub const MUX_PROTOCOLS: &[(&str, Mode, MuxSide)] = &[
    ("none", Mode::Tcp, MuxSide::Both),
    ("h1", Mode::Http, MuxSide::Both),
    ("h2", Mode::Http, MuxSide::Both),
    ("fcgi", Mode::Http, MuxSide::Back),
    ("spop", Mode::Spop, MuxSide::Back),
    ("quic", Mode::Http, MuxSide::Front),
];

/// Whether `proto <token>` names a multiplexer HAProxy knows.
pub fn is_mux_protocol(token: &str) -> bool {
    MUX_PROTOCOLS.iter().any(|(t, ..)| *t == token)
}

/// TCP keep-alive probes of one side (`clitcpka-*` or `srvtcpka-*`); the
/// kernel's defaults where unset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpKeepAlive {
    /// Idle time before the first probe (TCP_KEEPIDLE).
    pub idle: Option<Duration>,
    /// Time between probes (TCP_KEEPINTVL).
    pub intvl: Option<Duration>,
    /// Probes before the connection is dropped (TCP_KEEPCNT); HAProxy
    /// takes any integer and the kernel refuses what is not positive.
    pub cnt: Option<i32>,
}

/// A proxy section. Settings a `defaults` section passes down are copied in
/// when the proxy opens (as HAProxy does), then overridden line by line.
#[derive(Clone, Debug)]
pub struct Proxy {
    pub name: String,
    pub kind: ProxyKind,
    pub cap: Cap,
    pub loc: Loc,
    /// The defaults section this one inherits from (`from NAME`, or the last
    /// anonymous/named defaults above it).
    pub defaults: Option<Named>,
    pub id: Option<u32>,
    pub disabled: bool,
    pub description: Option<String>,
    /// `None` until a `mode` line or inherited defaults set it (tcp then).
    pub mode: Option<Mode>,
    pub binds: Vec<Bind>,
    pub servers: Vec<Server>,
    pub default_server: ServerOptions,
    pub default_backend: Option<Named>,
    pub use_backends: Vec<UseBackend>,
    pub use_servers: Vec<UseServer>,
    pub acls: Vec<Acl>,
    pub balance: Option<Balance>,
    /// `balance log-hash <converters>` (3.x, `mode log` backends): the
    /// converters applied to a log message to get the hash key. Kept out of
    /// [`Balance`], which lists the algorithms of TCP/HTTP backends; when
    /// set, `balance` is `None`.
    pub log_hash: Option<Vec<crate::sample::ConvCall>>,
    pub hash_type: Option<HashType>,
    pub hash_balance_factor: Option<u32>,
    pub timeouts: Timeouts,
    pub maxconn: Option<u32>,
    pub fullconn: Option<u32>,
    pub retries: Option<u32>,
    /// `retry-on`: when a request is retried (None: HAProxy's default,
    /// `conn-failure`).
    pub retry_on: Option<RetryOn>,
    pub backlog: Option<u32>,
    /// `clitcpka-idle/intvl/cnt` (client side) and `srvtcpka-*` (server
    /// side): the keep-alive probes `option clitcpka`/`srvtcpka` turn on.
    pub clitcpka: TcpKeepAlive,
    pub srvtcpka: TcpKeepAlive,
    pub rate_limit_sessions: Option<u32>,
    pub options: Options,
    pub rules: Rules,
    pub http_checks: Vec<CheckStep>,
    pub tcp_checks: Vec<CheckStep>,
    pub stats: Stats,
    pub logs: Vec<LogTarget>,
    /// `no log` was given: nothing is logged for this proxy.
    pub no_log: bool,
    pub log_format: Option<LogFormat>,
    pub log_tag: Option<String>,
    pub error_log_format: Option<LogFormat>,
    pub unique_id_format: Option<LogFormat>,
    pub unique_id_header: Option<String>,
    pub captures: Vec<Capture>,
    pub errorfiles: Vec<ErrorFile>,
    /// `errorfiles <http-errors section> [<code> ...]`.
    pub errorfile_groups: Vec<ErrorFilesRef>,
    pub cookie: Option<CookieConf>,
    pub stick_table: Option<StickTable>,
    pub stick_rules: Vec<StickRule>,
    pub http_reuse: Option<HttpReuse>,
    pub compression: Compression,
    pub monitor_uri: Option<String>,
    /// `source ...`: where connections to this backend's servers come
    /// from (a server's own `source` overrides it).
    pub source: Option<Source>,
    /// Recognised keywords kept as words (see `Directive`).
    pub directives: Vec<Directive>,
}

impl Proxy {
    pub fn new(name: String, kind: ProxyKind, loc: Loc) -> Self {
        let cap = match kind {
            ProxyKind::Frontend => Cap {
                frontend: true,
                backend: false,
            },
            ProxyKind::Backend => Cap {
                frontend: false,
                backend: true,
            },
            ProxyKind::Listen | ProxyKind::Defaults => Cap {
                frontend: true,
                backend: true,
            },
        };
        Proxy {
            name,
            kind,
            cap,
            loc,
            defaults: None,
            id: None,
            disabled: false,
            description: None,
            mode: None,
            binds: Vec::new(),
            servers: Vec::new(),
            default_server: ServerOptions::default(),
            default_backend: None,
            use_backends: Vec::new(),
            use_servers: Vec::new(),
            acls: Vec::new(),
            balance: None,
            log_hash: None,
            hash_type: None,
            hash_balance_factor: None,
            timeouts: Timeouts::default(),
            maxconn: None,
            fullconn: None,
            retries: None,
            retry_on: None,
            backlog: None,
            clitcpka: TcpKeepAlive::default(),
            srvtcpka: TcpKeepAlive::default(),
            rate_limit_sessions: None,
            options: Options::default(),
            rules: Rules::default(),
            http_checks: Vec::new(),
            tcp_checks: Vec::new(),
            stats: Stats::default(),
            logs: Vec::new(),
            no_log: false,
            log_format: None,
            log_tag: None,
            error_log_format: None,
            unique_id_format: None,
            unique_id_header: None,
            captures: Vec::new(),
            errorfiles: Vec::new(),
            errorfile_groups: Vec::new(),
            cookie: None,
            stick_table: None,
            stick_rules: Vec::new(),
            http_reuse: None,
            compression: Compression::default(),
            monitor_uri: None,
            source: None,
            directives: Vec::new(),
        }
    }

    /// The effective mode (tcp when nothing set one).
    pub fn mode(&self) -> Mode {
        self.mode.unwrap_or_default()
    }
}

#[derive(Clone, Debug)]
pub struct Acl {
    pub def: AclDef,
    pub loc: Loc,
}

/// `use_backend <name|%[fmt]> [if|unless cond]`.
#[derive(Clone, Debug)]
pub struct UseBackend {
    pub target: BackendTarget,
    pub cond: Option<Condition>,
    pub loc: Loc,
}

#[derive(Clone, Debug)]
pub enum BackendTarget {
    Static(String),
    /// A name computed per request from a log-format expression.
    Dynamic(LogFormat),
}

/// `use-server <server> [if|unless cond]`.
#[derive(Clone, Debug)]
pub struct UseServer {
    pub server: String,
    pub cond: Option<Condition>,
    pub loc: Loc,
}

#[derive(Clone, Debug)]
pub enum Balance {
    RoundRobin,
    StaticRr,
    LeastConn,
    First,
    Source,
    /// `random[(<draws>)]`: power of `draws` choices (2 by default).
    Random {
        draws: u32,
    },
    Uri {
        whole: bool,
        path_only: bool,
        len: Option<u32>,
        depth: Option<u32>,
    },
    UrlParam {
        param: String,
        check_post: bool,
    },
    Hdr {
        name: String,
        use_domain_only: bool,
    },
    RdpCookie {
        name: String,
    },
    /// `hash <expr>`.
    Hash(SampleExpr),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashMethod {
    MapBased,
    Consistent,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashFunction {
    Sdbm,
    Djb2,
    Wt6,
    Crc32,
    /// `none`: the sample is already a hash.
    None,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashType {
    pub method: HashMethod,
    pub function: HashFunction,
    pub avalanche: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timeouts {
    pub client: Option<Duration>,
    pub server: Option<Duration>,
    pub connect: Option<Duration>,
    pub queue: Option<Duration>,
    pub http_request: Option<Duration>,
    pub http_keep_alive: Option<Duration>,
    pub tunnel: Option<Duration>,
    pub client_fin: Option<Duration>,
    pub server_fin: Option<Duration>,
    pub check: Option<Duration>,
    pub tarpit: Option<Duration>,
    pub client_hs: Option<Duration>,
}

/// How HTTP connections are handled (the last of `option http-keep-alive`,
/// `http-server-close`, `httpclose` wins, as in HAProxy).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum HttpConnMode {
    #[default]
    KeepAlive,
    ServerClose,
    Close,
}

/// `option forwardfor [except <net>] [header <name>] [if-none]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForwardFor {
    pub except: Option<String>,
    pub header: String,
    pub if_none: bool,
}

/// `option originalto [except <net>] [header <name>]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginalTo {
    pub except: Option<String>,
    pub header: String,
}

/// `option httplog [clf]` / `tcplog` / `httpslog`: which predefined format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogStyle {
    Tcp,
    Http,
    HttpClf,
    Https,
}

/// Options (`option X` / `no option X`). Flags without arguments are kept in
/// `flags` by their manual name with their on/off state (a missing name
/// means "HAProxy's default"); options with arguments are typed.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub flags: Vec<(&'static str, bool)>,
    pub log_style: Option<LogStyle>,
    pub http_conn_mode: Option<HttpConnMode>,
    pub check: Option<CheckKind>,
    pub forwardfor: Option<ForwardFor>,
    pub originalto: Option<OriginalTo>,
    /// `option redispatch [<interval>]`: Some(interval) when enabled (-1
    /// without one: the last retry, as HAProxy's redispatch_after).
    pub redispatch: Option<i32>,
    /// `option http-restrict-req-hdr-names`: None is `preserve`.
    pub restrict_req_hdr_names: Option<RestrictHdrNames>,
}

/// What `option http-restrict-req-hdr-names` does with a request header
/// whose name has a character outside `[A-Za-z0-9-]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestrictHdrNames {
    Delete,
    Reject,
}

impl Options {
    /// The explicit state of a flag option, if one was set.
    pub fn flag(&self, name: &str) -> Option<bool> {
        self.flags
            .iter()
            .rev()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
    }

    pub fn is_set(&self, name: &str) -> bool {
        self.flag(name) == Some(true)
    }

    pub fn set_flag(&mut self, name: &'static str, on: bool) {
        self.flags.retain(|(n, _)| *n != name);
        self.flags.push((name, on));
    }
}

/// The stats page of a proxy (`stats enable`, `stats uri` ...).
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub enabled: bool,
    pub uri: Option<String>,
    pub realm: Option<String>,
    pub auth: Vec<(String, String)>,
    pub refresh: Option<Duration>,
    pub admin: Vec<Condition>,
    pub hide_version: bool,
    pub show_legends: bool,
    pub show_node: Option<String>,
    pub show_desc: Option<String>,
    pub show_modules: bool,
    pub scope: Vec<String>,
    pub http_request: Vec<Rule<HttpRequestAction>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Capture {
    RequestHeader {
        name: String,
        len: u32,
    },
    ResponseHeader {
        name: String,
        len: u32,
    },
    Cookie {
        name: String,
        len: u32,
    },
    /// `declare capture request|response len <n>`.
    Declared {
        response: bool,
        len: u32,
    },
}

#[derive(Clone, Debug)]
pub struct ErrorFile {
    pub status: u16,
    pub source: ErrorSource,
    pub loc: Loc,
}

#[derive(Clone, Debug)]
pub enum ErrorSource {
    /// `errorfile <code> <file>`: the raw HTTP response read at start-up.
    File { path: String, content: Vec<u8> },
    /// `errorloc`/`errorloc302`/`errorloc303 <code> <url>`.
    Redirect { status: u16, url: String },
    /// `http-error status <code> ...`: the reply, with the content of its
    /// `errorfile` or `file` read at start-up.
    Reply {
        reply: Reply,
        content: Option<Vec<u8>>,
    },
}

#[derive(Clone, Debug)]
pub struct ErrorFilesRef {
    pub section: Named,
    pub codes: Vec<u16>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpReuse {
    Never,
    Safe,
    Aggressive,
    Always,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Compression {
    pub algos_req: Vec<String>,
    pub algos_res: Vec<String>,
    pub types_req: Vec<String>,
    pub types_res: Vec<String>,
    pub offload: bool,
    pub direction: Option<String>,
    pub minsize_req: Option<u64>,
    pub minsize_res: Option<u64>,
}

/// `retry-on`'s events as a set (HAProxy's `PR_RE_*` bits).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RetryOn(pub u32);

impl RetryOn {
    pub const CONN_FAILURE: u32 = 1 << 0;
    pub const EMPTY_RESPONSE: u32 = 1 << 1;
    pub const JUNK_RESPONSE: u32 = 1 << 2;
    pub const RESPONSE_TIMEOUT: u32 = 1 << 3;
    pub const EARLY_ERROR: u32 = 1 << 4;
    /// The statuses HAProxy may retry on, each its bit from 5 on (421 and
    /// 429 are 3.x's: haproxy 2.6 refuses them).
    pub const STATUSES: [u16; 12] = [401, 403, 404, 408, 421, 425, 429, 500, 501, 502, 503, 504];

    /// HAProxy's default: connection failures only.
    pub const DEFAULT: RetryOn = RetryOn(Self::CONN_FAILURE);

    fn status_bit(status: u16) -> Option<u32> {
        let i = Self::STATUSES.iter().position(|s| *s == status)?;
        Some(1 << (5 + i))
    }

    /// The keywords of a `retry-on` line (proxy_parse_retry_on): each
    /// adds its event; `none` alone clears them all.
    pub fn parse<'a>(words: impl IntoIterator<Item = &'a str>) -> Result<RetryOn, String> {
        let words: Vec<&str> = words.into_iter().collect();
        if words.is_empty() {
            return Err("'retry-on' needs at least one keyword to specify when to retry".into());
        }
        let mut bits = 0;
        for (i, w) in words.iter().enumerate() {
            bits |= match *w {
                "conn-failure" => Self::CONN_FAILURE,
                "empty-response" => Self::EMPTY_RESPONSE,
                "junk-response" => Self::JUNK_RESPONSE,
                "response-timeout" => Self::RESPONSE_TIMEOUT,
                "0rtt-rejected" => Self::EARLY_ERROR,
                "all-retryable-errors" => {
                    Self::CONN_FAILURE
                        | Self::EMPTY_RESPONSE
                        | Self::RESPONSE_TIMEOUT
                        | Self::JUNK_RESPONSE
                        | Self::EARLY_ERROR
                        | [500, 502, 503, 504]
                            .iter()
                            .filter_map(|s| Self::status_bit(*s))
                            .fold(0, |a, b| a | b)
                }
                "none" => {
                    if i != 0 || words.len() > 1 {
                        return Err("'retry-on' 'none' keyworld only usable alone".into());
                    }
                    0
                }
                w => match w.parse::<u16>().ok().and_then(Self::status_bit) {
                    Some(b) => b,
                    None => return Err(format!("'retry-on': unknown keyword '{w}'")),
                },
            };
        }
        Ok(RetryOn(bits))
    }

    pub fn has(self, bit: u32) -> bool {
        self.0 & bit != 0
    }

    /// Whether a response with `status` is retried.
    pub fn status(self, status: u16) -> bool {
        Self::status_bit(status).is_some_and(|b| self.has(b))
    }

    /// Whether anything beyond a connection failure is retried: the
    /// request must then be kept until its response comes (HAProxy's
    /// TX_L7_RETRY).
    pub fn l7(self) -> bool {
        self.0 & !Self::CONN_FAILURE != 0
    }
}
