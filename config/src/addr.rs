//! Socket addresses as HAProxy writes them (manual 2.9): `ipv4:port`,
//! `[ipv6]:port`, `*:80`, `:80`, port ranges `:8000-8010` (bind), port
//! offsets `+1` (server), and the family / socket-type prefixes
//! `ipv4@`, `ipv6@`, `unix@`, `abns@`, `abnsz@`, `fd@N`, `sockpair@N`,
//! `tcp@`, `udp@`, `quic4@` ...
//!
//! Host names are kept as names: resolving them is the binary's job (it
//! follows `init-addr`), so this module stays sans-IO.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Host {
    /// `*`, empty, or `::` / `0.0.0.0`: every address of the family.
    Any(IpFamily),
    Ip(IpAddr),
    /// A name to resolve at start-up.
    Name(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpFamily {
    /// No prefix: IPv4 for `*`/empty, or decided by the literal.
    Unspecified,
    V4,
    V6,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Port {
    /// No port given: a server then uses the client's destination port.
    None,
    One(u16),
    /// `first-last`, only on bind lines.
    Range(u16, u16),
    /// `+N` / `-N`: the client's destination port plus an offset (servers).
    Offset(i32),
}

/// The transport an address prefix asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Stream,
    Dgram,
    Quic,
    Mptcp,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Address {
    Inet {
        host: Host,
        port: Port,
        transport: Transport,
    },
    /// A UNIX socket path (`/run/x.sock`, `unix@x.sock`).
    Unix { path: String, transport: Transport },
    /// An abstract-namespace UNIX socket (`abns@name`, `abnsz@name`).
    Abstract { name: String, zero_padded: bool },
    /// An inherited file descriptor (`fd@3`).
    Fd(i32),
    /// A socketpair end whose fd is given (`sockpair@5`).
    SockPair(i32),
    /// Reverse HTTP (3.x, experimental): `rhttp@<backend>/<server>` on a
    /// bind (the server whose connections are reversed), `rhttp@` alone on
    /// a passive server.
    Rhttp(String),
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Inet { host, port, .. } => {
                match host {
                    Host::Any(_) => f.write_str("*")?,
                    Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]")?,
                    Host::Ip(ip) => write!(f, "{ip}")?,
                    Host::Name(n) => f.write_str(n)?,
                }
                match port {
                    Port::None => Ok(()),
                    Port::One(p) => write!(f, ":{p}"),
                    Port::Range(a, b) => write!(f, ":{a}-{b}"),
                    Port::Offset(o) => write!(f, ":{o:+}"),
                }
            }
            Address::Unix { path, .. } => write!(f, "unix@{path}"),
            Address::Abstract { name, .. } => write!(f, "abns@{name}"),
            Address::Fd(n) => write!(f, "fd@{n}"),
            Address::SockPair(n) => write!(f, "sockpair@{n}"),
            Address::Rhttp(t) => write!(f, "rhttp@{t}"),
        }
    }
}

/// Which address forms a keyword accepts.
#[derive(Clone, Copy, Debug, Default)]
pub struct AddrRules {
    /// A port is mandatory (bind on an IP address).
    pub port_required: bool,
    /// `first-last` accepted (bind).
    pub port_range: bool,
    /// `+N`/`-N` accepted (server).
    pub port_offset: bool,
    /// Host names accepted (server: yes; bind: yes, resolved at start).
    pub names: bool,
}

/// Parse one address (no comma lists: the caller splits those).
pub fn parse_address(text: &str, rules: AddrRules) -> Result<Address, String> {
    let (prefix, rest) = match text.split_once('@') {
        Some((p, r)) if is_prefix(p) => (Some(p), r),
        _ => (None, text),
    };
    let mut family = IpFamily::Unspecified;
    let mut transport = Transport::Stream;
    match prefix {
        Some("unix" | "uxst") => {
            return unix_path(rest, Transport::Stream);
        }
        Some("uxdg") => return unix_path(rest, Transport::Dgram),
        Some("abns" | "abnsz") => {
            if rest.is_empty() {
                return Err("missing abstract socket name".into());
            }
            return Ok(Address::Abstract {
                name: rest.to_string(),
                zero_padded: prefix == Some("abnsz"),
            });
        }
        Some("fd") => return fd_number(rest).map(Address::Fd),
        Some("sockpair") => return fd_number(rest).map(Address::SockPair),
        // Whether the target must be empty (server) or name a server (bind)
        // is the caller's business; so is the experimental status.
        Some("rhttp") => return Ok(Address::Rhttp(rest.to_string())),
        Some("ipv4" | "tcp4" | "stream+ipv4") => family = IpFamily::V4,
        Some("ipv6" | "tcp6" | "stream+ipv6") => family = IpFamily::V6,
        Some("tcp") => {}
        Some("udp") => transport = Transport::Dgram,
        Some("udp4" | "dgram+ipv4") => {
            transport = Transport::Dgram;
            family = IpFamily::V4;
        }
        Some("udp6" | "dgram+ipv6") => {
            transport = Transport::Dgram;
            family = IpFamily::V6;
        }
        Some("quic4") => {
            transport = Transport::Quic;
            family = IpFamily::V4;
        }
        Some("quic6") => {
            transport = Transport::Quic;
            family = IpFamily::V6;
        }
        Some("mptcp") => transport = Transport::Mptcp,
        Some("mptcp4") => {
            transport = Transport::Mptcp;
            family = IpFamily::V4;
        }
        Some("mptcp6") => {
            transport = Transport::Mptcp;
            family = IpFamily::V6;
        }
        _ => {}
    }
    if prefix.is_none() && rest.starts_with('/') {
        return unix_path(rest, Transport::Stream);
    }
    let (host, port) = split_host_port(rest)?;
    let host = parse_host(host, family, rules)?;
    let port = parse_port(port, rules)?;
    if port == Port::None && rules.port_required {
        return Err(format!("missing port number in '{text}'"));
    }
    Ok(Address::Inet {
        host,
        port,
        transport,
    })
}

fn is_prefix(p: &str) -> bool {
    matches!(
        p,
        "unix"
            | "uxst"
            | "uxdg"
            | "abns"
            | "abnsz"
            | "fd"
            | "sockpair"
            | "rhttp"
            | "ipv4"
            | "ipv6"
            | "tcp"
            | "tcp4"
            | "tcp6"
            | "udp"
            | "udp4"
            | "udp6"
            | "quic4"
            | "quic6"
            | "mptcp"
            | "mptcp4"
            | "mptcp6"
            | "stream+ipv4"
            | "stream+ipv6"
            | "dgram+ipv4"
            | "dgram+ipv6"
    )
}

fn unix_path(path: &str, transport: Transport) -> Result<Address, String> {
    if path.is_empty() {
        return Err("missing UNIX socket path".into());
    }
    // sun_path is 108 bytes including the terminating NUL.
    if path.len() > 107 {
        return Err(format!(
            "UNIX socket path '{path}' is too long ({} bytes, maximum 107)",
            path.len()
        ));
    }
    Ok(Address::Unix {
        path: path.to_string(),
        transport,
    })
}

fn fd_number(text: &str) -> Result<i32, String> {
    text.parse::<i32>()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| format!("'{text}' is not a valid file descriptor number"))
}

/// Split `host:port`, `[v6]:port`, `v6:addr:port` (the last colon separates
/// the port, as HAProxy does), `host` alone.
fn split_host_port(text: &str) -> Result<(&str, Option<&str>), String> {
    if let Some(inner) = text.strip_prefix('[') {
        let (host, after) = inner
            .split_once(']')
            .ok_or_else(|| format!("missing ']' in '{text}'"))?;
        return match after {
            "" => Ok((host, None)),
            p => p
                .strip_prefix(':')
                .map(|p| (host, Some(p)))
                .ok_or_else(|| format!("unexpected '{p}' after ']' in '{text}'")),
        };
    }
    Ok(match text.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (text, None),
    })
}

fn parse_host(host: &str, family: IpFamily, rules: AddrRules) -> Result<Host, String> {
    if host.is_empty() || host == "*" {
        return Ok(Host::Any(family));
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        match (family, ip) {
            (IpFamily::V4, IpAddr::V6(_)) => {
                return Err(format!("'{host}' is not an IPv4 address"));
            }
            (IpFamily::V6, IpAddr::V4(v4)) => {
                // ipv6@1.2.3.4 means the v4-mapped address, as getaddrinfo does.
                return Ok(Host::Ip(IpAddr::V6(v4.to_ipv6_mapped())));
            }
            _ => {}
        }
        if ip == IpAddr::V4(Ipv4Addr::UNSPECIFIED) {
            return Ok(Host::Any(IpFamily::V4));
        }
        if ip == IpAddr::V6(Ipv6Addr::UNSPECIFIED) {
            return Ok(Host::Any(IpFamily::V6));
        }
        return Ok(Host::Ip(ip));
    }
    if !rules.names {
        return Err(format!("invalid address '{host}'"));
    }
    let valid_name = host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    if !valid_name {
        return Err(format!("invalid address or host name '{host}'"));
    }
    Ok(Host::Name(host.to_string()))
}

fn parse_port(port: Option<&str>, rules: AddrRules) -> Result<Port, String> {
    let Some(p) = port else {
        return Ok(Port::None);
    };
    if p.is_empty() {
        return Ok(Port::None);
    }
    if let Some(sign) = p.chars().next().filter(|c| *c == '+' || *c == '-') {
        if !rules.port_offset {
            return Err(format!("port offset '{p}' is not allowed here"));
        }
        let n: i32 = p
            .get(1..)
            .and_then(|d| d.parse::<u16>().ok())
            .map(i32::from)
            .ok_or_else(|| format!("invalid port offset '{p}'"))?;
        return Ok(Port::Offset(if sign == '-' { -n } else { n }));
    }
    if let Some((a, b)) = p.split_once('-') {
        if !rules.port_range {
            return Err(format!("port range '{p}' is not allowed here"));
        }
        let a = one_port(a)?;
        let b = one_port(b)?;
        if b < a {
            return Err(format!("invalid port range '{p}' (end before start)"));
        }
        return Ok(Port::Range(a, b));
    }
    // Where a port is optional (server, log, ...), HAProxy's str2sa_range
    // reads port 0 as "no port given": `server s 1.2.3.4:0` forwards to the
    // client's destination port, `log 1.2.3.4:0` uses 514. Only a
    // mandatory port (bind) refuses it.
    if !rules.port_required && p.parse::<u16>() == Ok(0) {
        return Ok(Port::None);
    }
    one_port(p).map(Port::One)
}

fn one_port(p: &str) -> Result<u16, String> {
    match p.parse::<u16>() {
        Ok(0) | Err(_) => Err(format!("invalid port '{p}'")),
        Ok(n) => Ok(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BIND: AddrRules = AddrRules {
        port_required: true,
        port_range: true,
        port_offset: false,
        names: true,
    };
    const SERVER: AddrRules = AddrRules {
        port_required: false,
        port_range: false,
        port_offset: true,
        names: true,
    };

    fn inet(host: Host, port: Port) -> Address {
        Address::Inet {
            host,
            port,
            transport: Transport::Stream,
        }
    }

    #[test]
    fn ipv4_and_any() {
        assert_eq!(
            parse_address("127.0.0.1:80", BIND),
            Ok(inet(Host::Ip("127.0.0.1".parse().unwrap()), Port::One(80)))
        );
        assert_eq!(
            parse_address("*:80", BIND),
            Ok(inet(Host::Any(IpFamily::Unspecified), Port::One(80)))
        );
        assert_eq!(
            parse_address(":80", BIND),
            Ok(inet(Host::Any(IpFamily::Unspecified), Port::One(80)))
        );
        assert!(
            parse_address("127.0.0.1", BIND).is_err(),
            "bind needs a port"
        );
        assert!(parse_address("127.0.0.1:0", BIND).is_err());
        assert!(parse_address("127.0.0.1:65536", BIND).is_err());
    }

    #[test]
    fn ipv6_forms() {
        let v6 = Host::Ip("::1".parse().unwrap());
        assert_eq!(
            parse_address("[::1]:443", BIND),
            Ok(inet(v6.clone(), Port::One(443)))
        );
        assert_eq!(
            parse_address("::1:443", BIND),
            Ok(inet(v6.clone(), Port::One(443)))
        );
        assert_eq!(
            parse_address("ipv6@::1:443", BIND),
            Ok(inet(v6, Port::One(443)))
        );
        assert_eq!(
            parse_address("[::]:443", BIND),
            Ok(inet(Host::Any(IpFamily::V6), Port::One(443)))
        );
        assert!(parse_address("ipv4@::1:443", BIND).is_err());
        assert!(parse_address("[::1:443", BIND).is_err());
    }

    #[test]
    fn ranges_and_offsets() {
        assert_eq!(
            parse_address(":8000-8010", BIND),
            Ok(inet(
                Host::Any(IpFamily::Unspecified),
                Port::Range(8000, 8010)
            ))
        );
        assert!(parse_address(":8010-8000", BIND).is_err());
        assert!(parse_address("1.2.3.4:8000-8010", SERVER).is_err());
        assert_eq!(
            parse_address("1.2.3.4:+1", SERVER),
            Ok(inet(Host::Ip("1.2.3.4".parse().unwrap()), Port::Offset(1)))
        );
        assert_eq!(
            parse_address("1.2.3.4", SERVER),
            Ok(inet(Host::Ip("1.2.3.4".parse().unwrap()), Port::None))
        );
        assert!(parse_address(":+1", BIND).is_err());
    }

    #[test]
    fn port_zero_is_no_port_where_a_port_is_optional() {
        // 2.6: `server s 1.2.3.4:0` is valid, `bind 1.2.3.4:0` is not.
        assert_eq!(
            parse_address("1.2.3.4:0", SERVER),
            Ok(inet(Host::Ip("1.2.3.4".parse().unwrap()), Port::None))
        );
        assert_eq!(
            parse_address(":00", SERVER),
            Ok(inet(Host::Any(IpFamily::Unspecified), Port::None))
        );
        assert!(parse_address("1.2.3.4:0", BIND).is_err());
    }

    #[test]
    fn names_and_prefixes() {
        assert_eq!(
            parse_address("localhost:80", SERVER),
            Ok(inet(Host::Name("localhost".into()), Port::One(80)))
        );
        assert!(parse_address("bad name:80", SERVER).is_err());
        assert_eq!(
            parse_address("/run/haproxy.sock", BIND),
            Ok(Address::Unix {
                path: "/run/haproxy.sock".into(),
                transport: Transport::Stream
            })
        );
        assert_eq!(
            parse_address("unix@rel.sock", BIND),
            Ok(Address::Unix {
                path: "rel.sock".into(),
                transport: Transport::Stream
            })
        );
        assert_eq!(parse_address("fd@3", BIND), Ok(Address::Fd(3)));
        assert_eq!(
            parse_address("rhttp@be/srv", BIND),
            Ok(Address::Rhttp("be/srv".into()))
        );
        assert_eq!(
            parse_address("rhttp@", SERVER),
            Ok(Address::Rhttp(String::new()))
        );
        assert!(parse_address("fd@x", BIND).is_err());
        assert!(matches!(
            parse_address("abns@peers", BIND),
            Ok(Address::Abstract { .. })
        ));
        assert!(matches!(
            parse_address("udp@127.0.0.1:514", SERVER),
            Ok(Address::Inet {
                transport: Transport::Dgram,
                ..
            })
        ));
    }
}
