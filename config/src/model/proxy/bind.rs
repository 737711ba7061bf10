//! `bind` lines and their options.

use crate::addr::Address;
use crate::diag::Loc;
use crate::model::Directive;
use std::time::Duration;

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
