//! Persistence: `cookie`, stick tables and `stick` rules.

use crate::acl::Condition;
use crate::diag::Loc;
use crate::sample::SampleExpr;
use std::time::Duration;

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
