//! Proxies (defaults, frontend, backend, listen) and what they hold.

use std::time::Duration;

use super::{Directive, Named};
use crate::acl::{AclDef, Condition};
use crate::addr::Address;
use crate::diag::Loc;
use crate::logformat::LogFormat;
use crate::sample::SampleExpr;

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
    pub backlog: Option<u32>,
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
            backlog: None,
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

/// The health-check kind a backend's `check` servers run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckKind {
    /// A plain TCP connect (no option given).
    Tcp,
    Http {
        method: Option<String>,
        uri: Option<String>,
        version: Option<String>,
    },
    SslHello,
    Mysql {
        user: Option<String>,
        post_41: bool,
    },
    Pgsql {
        user: String,
    },
    Redis,
    Smtp {
        hello: Option<(String, String)>,
    },
    Ldap,
    Spop,
    /// `option tcp-check`: the `tcp-check` rules.
    TcpCheck,
    External,
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
    /// `option redispatch [<interval>]`: Some(interval) when enabled.
    pub redispatch: Option<i32>,
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

/// A rule of one rule set: an action with its arguments and an optional
/// condition.
#[derive(Clone, Debug)]
pub struct Rule {
    pub action: Action,
    pub cond: Option<Condition>,
    pub loc: Loc,
}

/// An action as written: its name (`set-header`), the argument in
/// parentheses some actions take (`set-var(txn.x)` -> `txn.x`), and the
/// words before the condition. Values that are log-format strings or sample
/// expressions are parsed into `formats` / `exprs` by the rule parser.
#[derive(Clone, Debug)]
pub struct Action {
    pub name: String,
    pub param: Option<String>,
    pub args: Vec<String>,
    pub formats: Vec<LogFormat>,
    pub exprs: Vec<SampleExpr>,
}

#[derive(Clone, Debug, Default)]
pub struct Rules {
    pub http_request: Vec<Rule>,
    pub http_response: Vec<Rule>,
    pub http_after_response: Vec<Rule>,
    pub tcp_request_connection: Vec<Rule>,
    pub tcp_request_session: Vec<Rule>,
    pub tcp_request_content: Vec<Rule>,
    pub tcp_request_inspect_delay: Option<Duration>,
    pub tcp_response_content: Vec<Rule>,
    pub tcp_response_inspect_delay: Option<Duration>,
}

impl Rules {
    pub fn is_empty(&self) -> bool {
        self.http_request.is_empty()
            && self.http_response.is_empty()
            && self.http_after_response.is_empty()
            && self.tcp_request_connection.is_empty()
            && self.tcp_request_session.is_empty()
            && self.tcp_request_content.is_empty()
            && self.tcp_response_content.is_empty()
    }
}

/// One step of an `http-check` / `tcp-check` sequence.
#[derive(Clone, Debug)]
pub struct CheckStep {
    pub kind: CheckStepKind,
    /// `comment <msg>` on the step.
    pub comment: Option<String>,
    pub loc: Loc,
}

#[derive(Clone, Debug)]
pub enum CheckStepKind {
    Connect(CheckConnect),
    /// `http-check send`.
    HttpSend {
        method: Option<String>,
        uri: Option<String>,
        uri_lf: bool,
        version: Option<String>,
        headers: Vec<(String, String)>,
        body: Option<String>,
        body_lf: bool,
    },
    /// `tcp-check send <data>` / `send-lf`.
    Send {
        data: String,
        lf: bool,
    },
    /// `tcp-check send-binary <hex>` / `send-binary-lf`.
    SendBinary {
        data: Vec<u8>,
        lf: Option<String>,
    },
    Expect(CheckExpect),
    /// `http-check disable-on-404`, `tcp-check comment`, `set-var`,
    /// `unset-var`: kept as words.
    Other {
        keyword: String,
        args: Vec<String>,
    },
}

#[derive(Clone, Debug, Default)]
pub struct CheckConnect {
    pub default: bool,
    pub port: Option<String>,
    pub addr: Option<Address>,
    pub send_proxy: bool,
    pub via_socks4: bool,
    pub ssl: bool,
    pub sni: Option<String>,
    pub alpn: Option<String>,
    pub proto: Option<String>,
    pub linger: bool,
}

#[derive(Clone, Debug)]
pub struct CheckExpect {
    pub negate: bool,
    pub kind: ExpectKind,
    pub pattern: String,
    pub min_recv: Option<i64>,
    pub ok_status: Option<String>,
    pub error_status: Option<String>,
    pub tout_status: Option<String>,
    pub on_success: Option<String>,
    pub on_error: Option<String>,
    pub status_code: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpectKind {
    Status,
    RStatus,
    Hdr,
    Fhdr,
    String,
    RString,
    Binary,
    RBinary,
    StringLf,
    BinaryLf,
    Custom,
}

impl ExpectKind {
    pub fn from_keyword(k: &str) -> Option<Self> {
        Some(match k {
            "status" => ExpectKind::Status,
            "rstatus" => ExpectKind::RStatus,
            "hdr" => ExpectKind::Hdr,
            "fhdr" => ExpectKind::Fhdr,
            "string" => ExpectKind::String,
            "rstring" => ExpectKind::RString,
            "binary" => ExpectKind::Binary,
            "rbinary" => ExpectKind::RBinary,
            "string-lf" => ExpectKind::StringLf,
            "binary-lf" => ExpectKind::BinaryLf,
            _ => return None,
        })
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
    pub http_request: Vec<Rule>,
}

/// Where a proxy (or the global section) sends its logs.
#[derive(Clone, Debug)]
pub enum LogTarget {
    /// `log global`: use the global section's targets.
    Global {
        loc: Loc,
    },
    Target(LogTargetSpec),
}

#[derive(Clone, Debug)]
pub struct LogTargetSpec {
    pub dest: LogDest,
    pub max_len: Option<u32>,
    pub format: LogWireFormat,
    /// `sample <ranges>:<size>`.
    pub sample: Option<String>,
    pub facility: Facility,
    pub level: Option<Level>,
    pub min_level: Option<Level>,
    /// `profile <name>` (3.1+).
    pub profile: Option<String>,
    pub loc: Loc,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogDest {
    Stdout,
    Stderr,
    /// A syslog server or UNIX datagram socket.
    Socket(Address),
    /// `ring@<name>`.
    Ring(String),
    /// A `log-forward`/backend of `mode log` servers (`backend@<name>`).
    Backend(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LogWireFormat {
    #[default]
    Rfc3164,
    Rfc5424,
    Local,
    Short,
    Priority,
    Timed,
    Iso,
    Raw,
}

impl LogWireFormat {
    pub fn from_keyword(k: &str) -> Option<Self> {
        Some(match k {
            "rfc3164" => LogWireFormat::Rfc3164,
            "rfc5424" => LogWireFormat::Rfc5424,
            "local" => LogWireFormat::Local,
            "short" => LogWireFormat::Short,
            "priority" => LogWireFormat::Priority,
            "timed" => LogWireFormat::Timed,
            "iso" => LogWireFormat::Iso,
            "raw" => LogWireFormat::Raw,
            _ => return None,
        })
    }
}

/// Syslog facilities, numbered as syslog does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Facility(pub u8);

impl Facility {
    pub const NAMES: [&'static str; 24] = [
        "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "auth2",
        "ftp", "ntp", "audit", "alert", "cron2", "local0", "local1", "local2", "local3", "local4",
        "local5", "local6", "local7",
    ];
    pub fn from_keyword(k: &str) -> Option<Self> {
        Facility::NAMES
            .iter()
            .position(|n| *n == k)
            .and_then(|i| u8::try_from(i).ok())
            .map(Facility)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Emerg,
    Alert,
    Crit,
    Err,
    Warning,
    Notice,
    Info,
    Debug,
}

impl Level {
    pub fn from_keyword(k: &str) -> Option<Self> {
        Some(match k {
            "emerg" => Level::Emerg,
            "alert" => Level::Alert,
            "crit" => Level::Crit,
            "err" => Level::Err,
            "warning" => Level::Warning,
            "notice" => Level::Notice,
            "info" => Level::Info,
            "debug" => Level::Debug,
            _ => return None,
        })
    }
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
}

#[derive(Clone, Debug)]
pub struct ErrorFilesRef {
    pub section: Named,
    pub codes: Vec<u16>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CookieMode {
    Rewrite,
    Insert,
    Prefix,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CookieConf {
    pub name: String,
    pub mode: Option<CookieMode>,
    pub indirect: bool,
    pub nocache: bool,
    pub postonly: bool,
    pub preserve: bool,
    pub httponly: bool,
    pub secure: bool,
    pub dynamic: bool,
    pub domains: Vec<String>,
    pub maxidle: Option<Duration>,
    pub maxlife: Option<Duration>,
    pub attrs: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StickKeyType {
    Ip,
    Ipv6,
    Integer,
    String { len: u32 },
    Binary { len: u32 },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StickTable {
    pub key: StickKeyType,
    pub size: u64,
    pub expire: Option<Duration>,
    pub nopurge: bool,
    pub peers: Option<String>,
    pub srvkey: Option<String>,
    pub write_to: Option<String>,
    pub recv_only: bool,
    /// `store` data types, e.g. `conn_cur`, `http_req_rate(10s)`.
    pub store: Vec<StickStore>,
    pub loc_line: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StickStore {
    pub name: String,
    /// The period of a `_rate` counter, or the array size of `gpc(n)`.
    pub arg: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StickRuleKind {
    On,
    Match,
    StoreRequest,
    StoreResponse,
}

#[derive(Clone, Debug)]
pub struct StickRule {
    pub kind: StickRuleKind,
    pub expr: SampleExpr,
    pub table: Option<String>,
    pub cond: Option<Condition>,
    pub loc: Loc,
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

/// A `bind` line: one or more addresses sharing options.
#[derive(Clone, Debug)]
pub struct Bind {
    pub addrs: Vec<Address>,
    pub opts: BindOptions,
    pub loc: Loc,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verify {
    None,
    Optional,
    Required,
}

#[derive(Clone, Debug, Default)]
pub struct BindOptions {
    pub name: Option<String>,
    pub id: Option<u32>,
    pub ssl: bool,
    pub crt: Vec<String>,
    pub crt_list: Vec<String>,
    pub ca_file: Option<String>,
    pub crl_file: Option<String>,
    pub verify: Option<Verify>,
    pub alpn: Option<Vec<String>>,
    pub ciphers: Option<String>,
    pub ciphersuites: Option<String>,
    pub curves: Option<String>,
    pub ssl_min_ver: Option<String>,
    pub ssl_max_ver: Option<String>,
    pub strict_sni: bool,
    pub accept_proxy: bool,
    pub accept_netscaler_cip: Option<u32>,
    pub v4v6: bool,
    pub v6only: bool,
    pub transparent: bool,
    pub defer_accept: bool,
    pub tfo: bool,
    pub interface: Option<String>,
    pub namespace: Option<String>,
    pub maxconn: Option<u32>,
    pub backlog: Option<u32>,
    pub mss: Option<i32>,
    pub nice: Option<i32>,
    pub tcp_ut: Option<Duration>,
    /// UNIX socket permissions: `mode`, `uid`/`user`, `gid`/`group`.
    pub unix_mode: Option<u32>,
    pub unix_user: Option<String>,
    pub unix_group: Option<String>,
    pub level: Option<String>,
    pub expose_fd_listeners: bool,
    pub proto: Option<String>,
    /// `thread`/`process`: accepted and ignored (ringlb places listeners
    /// on every executor).
    pub thread: Option<String>,
    /// Recognised options not modelled field by field.
    pub other: Vec<Directive>,
}

/// A `server` line.
#[derive(Clone, Debug)]
pub struct Server {
    pub name: String,
    pub addr: Address,
    pub opts: ServerOptions,
    pub loc: Loc,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyProtocol {
    V1,
    V2,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Observe {
    Layer4,
    Layer7,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnError {
    FastInter,
    FailCheck,
    SuddenDeath,
    MarkDown,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InitAddr {
    Last,
    Libc,
    None,
    Ip(std::net::IpAddr),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackRef {
    pub backend: Option<String>,
    pub server: String,
}

/// Server settings; every field is optional so `default-server` lines and
/// defaults sections layer under a server's own settings.
#[derive(Clone, Debug, Default)]
pub struct ServerOptions {
    pub id: Option<u32>,
    pub check: Option<bool>,
    pub inter: Option<Duration>,
    pub fastinter: Option<Duration>,
    pub downinter: Option<Duration>,
    pub rise: Option<u32>,
    pub fall: Option<u32>,
    pub weight: Option<u32>,
    pub backup: Option<bool>,
    pub maxconn: Option<u32>,
    pub minconn: Option<u32>,
    pub maxqueue: Option<u32>,
    pub ssl: Option<bool>,
    pub verify: Option<Verify>,
    pub verifyhost: Option<String>,
    pub ca_file: Option<String>,
    pub crt: Option<String>,
    pub sni: Option<SampleExpr>,
    pub alpn: Option<Vec<String>>,
    pub check_alpn: Option<Vec<String>>,
    pub check_sni: Option<String>,
    pub send_proxy: Option<Option<ProxyProtocol>>,
    pub check_send_proxy: Option<bool>,
    pub cookie: Option<String>,
    pub disabled: Option<bool>,
    pub slowstart: Option<Duration>,
    pub observe: Option<Observe>,
    pub on_error: Option<OnError>,
    pub on_marked_down: Option<String>,
    pub on_marked_up: Option<String>,
    pub error_limit: Option<u32>,
    pub track: Option<TrackRef>,
    pub agent_check: Option<bool>,
    pub agent_port: Option<u16>,
    pub agent_inter: Option<Duration>,
    pub agent_addr: Option<String>,
    pub agent_send: Option<String>,
    pub check_ssl: Option<bool>,
    pub port: Option<u16>,
    pub addr: Option<String>,
    pub init_addr: Option<Vec<InitAddr>>,
    pub resolvers: Option<String>,
    pub resolve_prefer: Option<String>,
    pub source: Option<String>,
    pub pool_max_conn: Option<i32>,
    pub ciphers: Option<String>,
    pub ssl_min_ver: Option<String>,
    pub ssl_max_ver: Option<String>,
    pub tfo: Option<bool>,
    /// `tcp-ut <delay>`: TCP_USER_TIMEOUT on connections to the server.
    pub tcp_ut: Option<Duration>,
    pub proto: Option<String>,
    /// `redir <prefix>`: answer GET/HEAD requests for this server with a
    /// redirect to `<prefix><path>` (HTTP mode only).
    pub redir: Option<String>,
    /// Recognised options not modelled field by field.
    pub other: Vec<Directive>,
}
