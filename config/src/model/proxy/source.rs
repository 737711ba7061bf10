//! `source`: the local address of connections to servers, on a proxy
//! (manual 4.2 "source") or a server line (5.2 "source").

use crate::addr::Address;
use crate::diag::Loc;

/// `source <addr>[:<port>] [usesrc {<addr2>[:<port2>] | client | clientip |
/// hdr_ip(<hdr>[,<occ>])}] [interface <name>]`. A server's may also give a
/// port range (`<addr>:<low>-<high>`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    /// The address to bind before connecting: an `Address::Inet` (host
    /// names are resolved by the binary; a port range only on a server
    /// line) or a UNIX stream path, which HAProxy accepts too.
    pub addr: Address,
    /// Full transparent proxy: the address presented to the server.
    pub usesrc: Option<UseSrc>,
    /// `interface <name>`: SO_BINDTODEVICE.
    pub interface: Option<String>,
    pub loc: Loc,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UseSrc {
    /// `usesrc <addr2>[:<port2>]` (no port range).
    Addr(Address),
    /// The client's address and port.
    Client,
    /// The client's address, any port.
    ClientIp,
    /// `hdr_ip(<hdr>[,<occ>])`: the address in an HTTP request header
    /// (HTTP mode only). `occ` counts from the last value when negative
    /// (-1, HAProxy's default, is the last one), down to -10.
    HdrIp { name: String, occ: i32 },
}

impl Source {
    /// The header `usesrc hdr_ip()` reads, if that is the form used.
    pub fn hdr_ip(&self) -> Option<&str> {
        match &self.usesrc {
            Some(UseSrc::HdrIp { name, .. }) => Some(name),
            _ => None,
        }
    }
}
