//! `source` on a proxy line (manual 4.2 "source") and as a server option
//! (5.2 "source"). HAProxy parses both with the same words and messages;
//! a server's address may carry a port range, a proxy's may not.

use super::{Ctx, Line};
use crate::addr::{parse_address, AddrRules, Address, Port, Transport};
use crate::diag::Diagnostic;
use crate::model::{Source, UseSrc};

/// HAProxy's MAX_HDR_HISTORY: `hdr_ip(<hdr>,<occ>)` counts back at most
/// this many values from the last one.
const MAX_HDR_HISTORY: i32 = 10;

/// Which line the `source` words are on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SourceOn {
    /// A `source` proxy keyword: nothing else may follow.
    Proxy,
    /// A server option: other server options may follow.
    Server,
}

/// The proxy keyword `source ...`.
pub(super) fn parse_proxy_source(cx: &mut Ctx<'_>, line: &Line<'_>) -> Result<(), Diagnostic> {
    if !super::allowed_kw(cx, line, "source")? {
        return Ok(());
    }
    let (source, _) = parse_source(line, 1, SourceOn::Proxy)?;
    cx.px.source = Some(source);
    Ok(())
}

/// `source` whose address is word `i` of `line`: the value and the index
/// of the first word after it.
pub(crate) fn parse_source(
    line: &Line<'_>,
    i: usize,
    on: SourceOn,
) -> Result<(Source, usize), Diagnostic> {
    let text = line.word(i);
    if text.is_empty() {
        return Err(line.err(
            i,
            match on {
                SourceOn::Proxy => "'source' expects <addr>[:<port>], and optionally 'usesrc' <addr>, and 'interface' <name>",
                SourceOn::Server => "'source' expects <addr>[:<port>[-<port>]], and optionally 'usesrc' <addr>, and 'interface' <name> as argument",
            },
        ));
    }
    let addr = source_address(text, on == SourceOn::Server)
        .map_err(|e| line.err(i, format!("'source {text}' : {e}")))?;
    let mut source = Source {
        addr,
        usesrc: None,
        interface: None,
        loc: line.loc.clone(),
    };
    let mut j = i + 1;
    while let Some(kw) = line.arg(j) {
        match kw {
            "usesrc" => source.usesrc = Some(usesrc(line, j + 1, on)?),
            "interface" => {
                let name = line.word(j + 1);
                if name.is_empty() {
                    return Err(line.err(j + 1, "'source' : missing interface name"));
                }
                source.interface = Some(name.to_string());
            }
            _ if on == SourceOn::Server => break,
            _ => {
                return Err(line.err(
                    j,
                    "'source' only supports optional keywords 'interface' and 'usesrc'",
                ))
            }
        }
        j += 2;
    }
    Ok((source, j))
}

/// A source address: IP (a name is resolved at start-up) with an optional
/// port, or a port range when `range`; or a UNIX stream path.
fn source_address(text: &str, range: bool) -> Result<Address, String> {
    let rules = AddrRules {
        port_required: false,
        port_range: range,
        port_offset: false,
        names: true,
    };
    // A server's range may start at port 0 (haproxy accepts `:0-100`),
    // which the address rules refuse as a port of its own.
    let zero_low = text
        .rsplit_once(':')
        .and_then(|(host, p)| Some((host, p.strip_prefix("0-")?)))
        .filter(|_| range);
    let addr = match zero_low {
        Some((host, high)) => match parse_address(&format!("{host}:1-{high}"), rules)? {
            Address::Inet {
                host,
                port: Port::Range(_, high),
                transport,
            } => Address::Inet {
                host,
                port: Port::Range(0, high),
                transport,
            },
            other => other,
        },
        None => parse_address(text, rules)?,
    };
    match &addr {
        Address::Inet {
            transport: Transport::Stream,
            ..
        }
        | Address::Unix {
            transport: Transport::Stream,
            ..
        }
        // HAProxy accepts an abstract socket too; the engine refuses
        // whatever it cannot bind (support.rs).
        | Address::Abstract { .. } => Ok(addr),
        Address::Inet { .. } | Address::Unix { .. } => {
            Err(format!("dgram-type address not acceptable in '{text}'"))
        }
        _ => Err(format!("address '{text}' cannot be a source address")),
    }
}

/// The `usesrc` value at word `i`.
fn usesrc(line: &Line<'_>, i: usize, on: SourceOn) -> Result<UseSrc, Diagnostic> {
    let v = line.word(i);
    Ok(match v {
        "" => {
            return Err(line.err(
                i,
                match on {
                    SourceOn::Proxy => {
                        "'usesrc' expects <addr>[:<port>], 'client', or 'clientip' as argument"
                    }
                    SourceOn::Server => "'usesrc' expects <addr>[:<port>], 'client', 'clientip', or 'hdr_ip(name,#)' as argument",
                },
            ))
        }
        "client" => UseSrc::Client,
        "clientip" => UseSrc::ClientIp,
        _ => match v.strip_prefix("hdr_ip(") {
            Some(inner) => {
                let (name, occ) = hdr_ip(inner);
                if occ < -MAX_HDR_HISTORY {
                    return Err(line.err(i, format!("usesrc hdr_ip(name,num) does not support negative occurrences values smaller than {MAX_HDR_HISTORY}")));
                }
                UseSrc::HdrIp { name, occ }
            }
            None => {
                let a = source_address(v, false)
                    .map_err(|e| line.err(i, format!("'usesrc {v}' : {e}")))?;
                UseSrc::Addr(a)
            }
        },
    })
}

/// What follows `hdr_ip(`, read as HAProxy does: the name up to ',' or
/// ')' (a missing ')' is tolerated), then an optional occurrence, a sign
/// and digits (anything else reads as 0; none given: -1, the last one).
fn hdr_ip(inner: &str) -> (String, i32) {
    let inner = inner.trim_start();
    let end = inner.find([',', ')']).unwrap_or(inner.len());
    let (name, rest) = inner.split_at(end);
    let occ = match rest.trim_start().strip_prefix(',') {
        None => -1,
        Some(n) => {
            let (neg, digits) = match n.strip_prefix('-') {
                Some(d) => (true, d),
                None => (false, n),
            };
            let len = digits.bytes().take_while(u8::is_ascii_digit).count();
            let value = digits
                .get(..len)
                .and_then(|d| d.parse::<i32>().ok())
                .unwrap_or(if len == 0 { 0 } else { i32::MAX });
            if neg {
                -value
            } else {
                value
            }
        }
    };
    (name.to_string(), occ)
}

#[cfg(test)]
mod tests {
    use super::{hdr_ip, source_address};
    use crate::addr::{Address, Host, Port};
    use crate::model::{Config, Source, UseSrc};
    use crate::{Diagnostics, NoHost, SourceFile};

    fn load(backend: &str) -> (Config, Diagnostics) {
        let text = format!(
            "defaults\n mode tcp\n timeout connect 5s\n timeout client 30s\n timeout server 30s\n\
             backend be\n{backend}"
        );
        crate::load(&[SourceFile::new("t.cfg", text)], &NoHost)
    }

    /// The one error of `backend`'s lines: (line, message).
    fn error(backend: &str) -> (u32, String) {
        let (_, d) = load(backend);
        let e: Vec<_> = d
            .errors()
            .map(|e| (e.loc.as_ref().map_or(0, |l| l.line), e.message.clone()))
            .collect();
        assert_eq!(e.len(), 1, "{backend}: {e:?}");
        e.into_iter().next().unwrap_or_default()
    }

    fn proxy_source(backend: &str) -> Source {
        let (cfg, d) = load(backend);
        assert!(!d.has_errors(), "{backend}");
        let px = cfg.proxies.iter().find(|p| p.name == "be");
        px.and_then(|p| p.source.clone()).unwrap_or_else(|| {
            panic!("no source in {backend}");
        })
    }

    #[test]
    fn proxy_source_is_typed() {
        let s = proxy_source(" source 10.0.0.1:2000 usesrc clientip interface eth0\n");
        assert_eq!(s.addr.to_string(), "10.0.0.1:2000");
        assert_eq!(s.usesrc, Some(UseSrc::ClientIp));
        assert_eq!(s.interface.as_deref(), Some("eth0"));
        assert_eq!(s.loc.line, 7);
        // The last usesrc wins, as in HAProxy.
        let s = proxy_source(" source * usesrc client usesrc 10.0.0.2:80\n");
        assert!(matches!(s.usesrc, Some(UseSrc::Addr(_))));
        let s = proxy_source(" source 0.0.0.0 usesrc hdr_ip(x-forwarded-for,-2)\n");
        assert_eq!(s.hdr_ip(), Some("x-forwarded-for"));
        assert_eq!(
            s.usesrc,
            Some(UseSrc::HdrIp {
                name: "x-forwarded-for".into(),
                occ: -2
            })
        );
    }

    /// Refusals checked with haproxy 2.6 -c.
    #[test]
    fn proxy_source_refusals() {
        for (cfg, msg) in [
            (" source\n", "'source' expects <addr>"),
            (" source 10.0.0.1 usesrc\n", "'usesrc' expects"),
            (" source 10.0.0.1 usesrc foo:x\n", "'usesrc foo:x'"),
            (
                " source 10.0.0.1 bogus\n",
                "only supports optional keywords",
            ),
            (" source 10.0.0.1 interface\n", "missing interface name"),
            (" source 10.0.0.1 interface lo extra\n", "only supports"),
            (" source 10.0.0.1:1000-2000\n", "port range"),
            (" source 10.0.0.1:+5\n", "port offset"),
            (" source 10.0.0.1:70000\n", "invalid port"),
            (" source udp@10.0.0.1\n", "dgram-type"),
            (" source 10.0.0.1 usesrc 10.0.0.2:1-2\n", "port range"),
            (" source 10.0.0.1 usesrc hdr_ip(x,-11)\n", "smaller than 10"),
        ] {
            let (line, m) = error(cfg);
            assert_eq!(line, 7, "{cfg}");
            assert!(m.contains(msg), "{cfg}: {m}");
        }
    }

    #[test]
    fn server_source_is_typed() {
        let (cfg, d) = load(
            " default-server source 10.0.0.9\n server a 127.0.0.1:1 source 10.0.0.1:1000-2000 usesrc client interface lo check\n server b 127.0.0.1:2\n",
        );
        assert!(!d.has_errors());
        let px = cfg.proxies.iter().find(|p| p.name == "be");
        let servers = px.map(|p| p.servers.clone()).unwrap_or_default();
        let a = servers.first().and_then(|s| s.opts.source.clone());
        let a = a.unwrap_or_else(|| panic!("server a has a source"));
        assert_eq!(a.addr.to_string(), "10.0.0.1:1000-2000");
        assert_eq!(a.usesrc, Some(UseSrc::Client));
        assert_eq!(a.interface.as_deref(), Some("lo"));
        assert_eq!(servers.first().and_then(|s| s.opts.check), Some(true));
        let b = servers.get(1).and_then(|s| s.opts.source.clone());
        assert_eq!(b.map(|b| b.addr.to_string()), Some("10.0.0.9".into()));
        for (cfg, msg) in [
            (" server a 127.0.0.1:1 source\n", "expects an argument"),
            (
                " server a 127.0.0.1:1 source 10.0.0.1:2000-1000\n",
                "port range",
            ),
            (
                " server a 127.0.0.1:1 source 10.0.0.1 usesrc\n",
                "hdr_ip(name,#)",
            ),
            (
                " server a 127.0.0.1:1 source 10.0.0.1 interface\n",
                "missing interface name",
            ),
            (
                " server a 127.0.0.1:1 source 10.0.0.1 bogus x\n",
                "unknown keyword 'bogus'",
            ),
        ] {
            let (line, m) = error(cfg);
            assert_eq!(line, 7, "{cfg}");
            assert!(m.contains(msg), "{cfg}: {m}");
        }
    }

    #[test]
    fn hdr_ip_reads_name_and_occurrence() {
        assert_eq!(hdr_ip("x-forwarded-for)"), ("x-forwarded-for".into(), -1));
        assert_eq!(hdr_ip("x,-1)"), ("x".into(), -1));
        assert_eq!(hdr_ip("x,3)"), ("x".into(), 3));
        assert_eq!(hdr_ip("x"), ("x".into(), -1), "no ')'");
        assert_eq!(hdr_ip(")"), (String::new(), -1));
        assert_eq!(hdr_ip("x,abc)"), ("x".into(), 0));
        assert_eq!(hdr_ip("x,-99999999999)"), ("x".into(), -i32::MAX));
    }

    #[test]
    fn source_addresses() {
        assert!(matches!(
            source_address("10.0.0.1", false),
            Ok(Address::Inet {
                port: Port::None,
                ..
            })
        ));
        assert!(matches!(
            source_address("10.0.0.1:1000-2000", true),
            Ok(Address::Inet {
                port: Port::Range(1000, 2000),
                ..
            })
        ));
        assert!(source_address("10.0.0.1:1000-2000", false).is_err());
        assert!(source_address("10.0.0.1:+5", true).is_err());
        assert!(source_address("10.0.0.1:70000", false).is_err());
        assert!(source_address("udp@10.0.0.1", false).is_err());
        assert!(source_address("fd@3", false).is_err());
        assert!(matches!(
            source_address("abns@x", false),
            Ok(Address::Abstract { .. })
        ));
        assert!(matches!(
            source_address("10.0.0.1:0-100", true),
            Ok(Address::Inet {
                port: Port::Range(0, 100),
                ..
            })
        ));
        assert!(source_address("10.0.0.1:0-100", false).is_err());
        assert!(matches!(
            source_address("localhost", false),
            Ok(Address::Inet {
                host: Host::Name(_),
                ..
            })
        ));
        assert!(matches!(
            source_address("unix@/tmp/x", false),
            Ok(Address::Unix { .. })
        ));
    }
}
