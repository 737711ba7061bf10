//! `server` lines and their options.

use super::bind::Verify;
use crate::addr::Address;
use crate::diag::Loc;
use crate::model::Directive;
use crate::sample::SampleExpr;
use std::time::Duration;

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
    pub source: Option<super::Source>,
    pub pool_max_conn: Option<i32>,
    /// `pool-purge-delay <time>` (HAProxy's default 5s).
    pub pool_purge_delay: Option<Duration>,
    /// `pool-low-conn <n>` and `max-reuse <n>`, read as HAProxy's atoi
    /// reads them (no error: a word that is no number is 0).
    pub pool_low_conn: Option<i64>,
    pub max_reuse: Option<i64>,
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
