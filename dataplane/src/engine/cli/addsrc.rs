//! The `add server` keywords that reach beyond the server's own line:
//! `source` (with `usesrc` and `interface`), `track`, and the mux words
//! `proto`, `ws` and `check-proto`, with haproxy 2.6's answers where it
//! refuses them and ringlb's "not supported yet" where ringlb cannot do
//! what haproxy would.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;

use crate::engine::checks::{tcpcheck, Kind};
use crate::engine::plan::{BackendPlan, Plan, SourcePlan, UseSrc};
use ringlb_config::addr::{parse_address, AddrRules, Address, Host, IpFamily, Port, Transport};

/// haproxy 2.6's tail for a `usesrc` or `interface` error: its keyword
/// parser names the word it stopped at.
fn processing(kw: &str) -> String {
    format!("error encountered while processing '{kw}'.\n")
}

/// What ringlb cannot bind yet (haproxy accepts it).
fn not_yet(what: &str) -> String {
    format!("'{what}' is not supported yet on a server added at run time.\n")
}

/// An address as `source` or `usesrc` reads it (str2sa_range with
/// PA_O_PORT_OK, a range for `source` only): an IP and a port, or the
/// answer. `usesrc`'s errors carry haproxy's keyword-parser tail.
fn bind_addr(kw: &str, text: &str) -> Result<SocketAddr, String> {
    let rules = AddrRules {
        port_required: false,
        port_range: true,
        port_offset: true,
        names: true,
    };
    let usesrc = kw == "usesrc";
    let tail = if usesrc {
        processing("usesrc")
    } else {
        String::new()
    };
    // haproxy takes a range starting at 0, which the address rules refuse.
    let range = text
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.contains('-') && !p.starts_with('-'));
    let parsed = match parse_address(text, rules) {
        Ok(a) => a,
        Err(_) if range && !usesrc => return Err(not_yet(&format!("source {text}"))),
        Err(e) => return Err(format!("'{kw} {text}' : {e}\n{tail}")),
    };
    match parsed {
        Address::Inet {
            transport: Transport::Dgram,
            ..
        }
        | Address::Unix {
            transport: Transport::Dgram,
            ..
        } => Err(format!(
            "\n  '{kw} {text}' : dgram-type address not acceptable in '{text}'\n  \n.\n{tail}"
        )),
        Address::Inet {
            port: Port::Offset(_),
            ..
        } => Err(if usesrc {
            format!("'{kw} {text}' : port offset not permitted here in '{text}'\n{tail}")
        } else {
            format!("'{kw} {text}' : port offset not permitted here in '{text}'.\n")
        }),
        Address::Inet {
            port: Port::Range(..),
            ..
        } if usesrc => Err(format!(
            "'{kw} {text}' : port range not permitted here in '{text}'\n{tail}"
        )),
        Address::Inet {
            host: host @ (Host::Ip(_) | Host::Any(_)),
            port: port @ (Port::None | Port::One(_)),
            ..
        } => {
            let ip = match host {
                Host::Ip(ip) => ip,
                Host::Any(IpFamily::V6) => IpAddr::from([0u16; 8]),
                _ => IpAddr::from([0u8; 4]),
            };
            Ok(SocketAddr::new(
                ip,
                match port {
                    Port::One(p) => p,
                    _ => 0,
                },
            ))
        }
        // A port range (one source port per connection), a host name
        // (resolving it would block the core the CLI runs on), a UNIX or
        // abstract socket: ringlb's connector binds one IP address and
        // port (support.rs refuses the same on a configured server).
        _ => Err(not_yet(&format!("{kw} {text}"))),
    }
}

/// `source <addr>[:<port>] [usesrc <addr>[:<port>]|client|clientip]
/// [interface <name>]` at `args[i]` (srv_parse_source): the plan and the
/// index of the first word after it.
pub(super) fn source(args: &[String], i: usize) -> Result<(SourcePlan, usize), String> {
    let word = |j: usize| args.get(j).map_or("", String::as_str);
    let text = word(i + 1);
    if text.is_empty() {
        return Err("'source' expects <addr>[:<port>[-<port>]], and optionally 'usesrc' <addr>, and 'interface' <name> as argument..\n".into());
    }
    let mut plan = SourcePlan {
        addr: bind_addr("source", text)?,
        usesrc: None,
        interface: None,
    };
    let mut j = i + 2;
    loop {
        match word(j) {
            "usesrc" => {
                let v = word(j + 1);
                plan.usesrc = Some(match v {
                    "" => {
                        return Err(format!(
                            "'usesrc' expects <addr>[:<port>], 'client', 'clientip', or 'hdr_ip(name,#)' as argument.\n{}",
                            processing("usesrc")
                        ))
                    }
                    "client" => UseSrc::Client,
                    "clientip" => UseSrc::ClientIp,
                    _ if v.starts_with("hdr_ip(") => {
                        if hdr_occ(v) < -10 {
                            return Err(format!(
                                "usesrc hdr_ip(name,num) does not support negative occurrences values smaller than 10.\n{}",
                                processing("usesrc")
                            ));
                        }
                        // Reading the address from a request header is
                        // not implemented for any server yet.
                        return Err(not_yet(&format!("usesrc {v}")));
                    }
                    _ => UseSrc::Addr(bind_addr("usesrc", v)?),
                });
            }
            "interface" => {
                let name = word(j + 1);
                if name.is_empty() {
                    return Err(format!(
                        "'server' : missing interface name.\n{}",
                        processing("interface")
                    ));
                }
                plan.interface = Some(name.to_string());
            }
            _ => return Ok((plan, j)),
        }
        j += 2;
    }
}

/// The occurrence of `hdr_ip(<name>[,<occ>])` as haproxy reads it (-1,
/// the last one, when none is given).
fn hdr_occ(v: &str) -> i64 {
    let inner = v.trim_start_matches("hdr_ip(");
    let Some((_, rest)) = inner.split_once(',') else {
        return -1;
    };
    let rest = rest.trim_start();
    let (neg, digits) = match rest.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, rest),
    };
    let n = digits
        .bytes()
        .take_while(u8::is_ascii_digit)
        .fold(0i64, |v, d| {
            v.saturating_mul(10).saturating_add(i64::from(d - b'0'))
        });
    if neg {
        -n
    } else {
        n
    }
}

/// `track [<backend>/]<server>` of a server added to backend `b`
/// (srv_apply_track): the tracked server, pinned (HAProxy's
/// SRV_F_NON_PURGEABLE, which stays once set), or haproxy's refusal.
pub(super) fn track(plan: &Plan, b: usize, text: &str) -> Result<(usize, usize), String> {
    let (pname, sname) = match text.rsplit_once('/') {
        Some((p, s)) => (Some(p), s),
        None => (None, text),
    };
    let tb = match pname {
        None => b,
        Some(p) => plan
            .backends
            .iter()
            .position(|x| x.name == p)
            .ok_or_else(|| format!("unable to find required proxy '{p}' for tracking.\n"))?,
    };
    let Some(tbe) = plan.backends.get(tb) else {
        return Err(format!(
            "unable to find required proxy '{}' for tracking.\n",
            pname.unwrap_or("")
        ));
    };
    let Some(ts) = tbe
        .servers
        .iter()
        .position(|x| !x.is_vacant() && x.conf().name == sname)
    else {
        return Err(format!(
            "unable to find required server '{sname}' for tracking.\n"
        ));
    };
    let Some(tsv) = tbe.servers.get(ts) else {
        return Err(format!(
            "unable to find required server '{sname}' for tracking.\n"
        ));
    };
    let px = tbe.name.as_str();
    if tsv.conf().loc == super::checks::ADDED_LOC {
        return Err(format!(
            "unable to use {px}/{sname} for tracking as it is a dynamic server.\n"
        ));
    }
    let checks = &plan.checks;
    if checks.check_of(tb, ts).is_none()
        && checks.agent_of(tb, ts).is_none()
        && !crate::engine::checks::track::tracks_statically(plan, tb, ts)
    {
        return Err(format!(
            "unable to use {px}/{sname} for tracking as it does not have any check nor agent enabled.\n"
        ));
    }
    // (No loop can pass through a server being added: nothing tracks it.)
    let d404 = |i: usize| checks.backends.get(i).is_some_and(|l| l.disable_on_404);
    if tb != b && d404(tb) != d404(b) {
        // haproxy 2.6's words, its missing space included.
        return Err(format!(
            "unable to use {px}/{sname} fortracking: disable-on-404 option inconsistency.\n"
        ));
    }
    tsv.pinned.store(true, Ordering::Relaxed);
    Ok((tb, ts))
}

/// A mux protocol name haproxy 2.6 knows on the server side.
fn known_mux(v: &str) -> bool {
    matches!(v, "h1" | "h2" | "fcgi" | "none")
}

/// `proto <name>` (srv_parse_proto): haproxy's refusal of an unknown
/// name; the rest is judged by [`mux_usable`] once the line is read.
pub(super) fn proto(kw: &str, v: &str) -> Result<(), String> {
    if v.is_empty() {
        return Err(format!("'{kw}' : missing value.\n"));
    }
    if !known_mux(v) {
        return Err(format!("'{kw}' :  unknown MUX protocol '{v}'.\n"));
    }
    Ok(())
}

/// `ws <auto|h1|h2>` (srv_parse_ws). ringlb speaks HTTP/1 to servers:
/// `auto` follows `proto`, which is h1 here.
pub(super) fn ws(v: &str) -> Result<(), String> {
    match v {
        "auto" | "h1" => Ok(()),
        "h2" => Err(not_yet("ws h2")),
        _ => Err("'ws' has to be 'auto', 'h1' or 'h2'.\n".into()),
    }
}

/// After the line's keywords (cli_parse_add_server's check of
/// `srv->mux_proto`): haproxy 2.6 finds no mux usable for any `proto` in
/// a TCP backend; in an HTTP one ringlb speaks h1 only.
pub(super) fn mux_usable(be: &BackendPlan, proto: Option<&str>) -> Result<(), String> {
    let Some(p) = proto else { return Ok(()) };
    if be.http.is_none() {
        return Err("MUX protocol is not usable for server.\n".into());
    }
    match p {
        "h1" => Ok(()),
        // haproxy would run the pass-through mux under HTTP streams.
        _ => Err(not_yet(&format!("proto {p}"))),
    }
}

/// `check-proto <name>` with `check` (init_srv_check): the mux must suit
/// the backend's check kind, an HTTP mux for `option httpchk`, `none` for
/// the others; ringlb's checks speak HTTP/1.
pub(super) fn check_mux(
    plan: &Plan,
    b: usize,
    name: &str,
    proto: Option<&str>,
    check: bool,
) -> Result<(), String> {
    let Some(p) = proto else { return Ok(()) };
    if matches!(p, "h2" | "fcgi") {
        return Err(not_yet(&format!("check-proto {p}")));
    }
    if !check {
        return Ok(());
    }
    let http = plan
        .checks
        .list
        .iter()
        .find(|k| k.backend == b)
        .is_some_and(|k| match &k.kind {
            Kind::TcpCheck(tc) => tc
                .rules
                .iter()
                .any(|r| matches!(r.action, tcpcheck::Action::HttpSend(_))),
            Kind::Tcp => false,
        });
    if http != (p == "h1") {
        let be = plan.backends.get(b).map_or("", |x| x.name.as_str());
        return Err(format!(
            "config: backend '{be}': server '{name}' uses an incompatible MUX protocol for the selected check type\n"
        ));
    }
    Ok(())
}

/// The source an added server connects from: its own, else the
/// backend's.
pub(super) fn source_of(
    be: &BackendPlan,
    own: Option<SourcePlan>,
) -> Option<std::sync::Arc<SourcePlan>> {
    own.map(std::sync::Arc::new).or_else(|| be.source.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        line.split(' ').map(String::from).collect()
    }

    #[test]
    fn source_reads_its_options_and_stops_at_the_next_keyword() {
        let args = words("127.0.0.1:80 source 127.0.0.2:4000 usesrc clientip interface lo check");
        let (plan, next) = source(&args, 1).unwrap();
        assert_eq!(plan.addr, "127.0.0.2:4000".parse().unwrap());
        assert_eq!(plan.usesrc, Some(UseSrc::ClientIp));
        assert_eq!(plan.interface.as_deref(), Some("lo"));
        assert_eq!(args[next], "check");
        let args = words("x source * usesrc 10.0.0.1:1");
        let (plan, next) = source(&args, 1).unwrap();
        assert_eq!(plan.addr, "0.0.0.0:0".parse().unwrap());
        assert_eq!(
            plan.usesrc,
            Some(UseSrc::Addr("10.0.0.1:1".parse().unwrap()))
        );
        assert_eq!(next, args.len());
    }

    #[test]
    fn source_refuses_what_haproxy_refuses_and_what_ringlb_cannot_bind() {
        let err = |l: &str| source(&words(l), 0).unwrap_err();
        assert_eq!(
            err("source 127.0.0.2:+5"),
            "'source 127.0.0.2:+5' : port offset not permitted here in '127.0.0.2:+5'.\n"
        );
        assert!(err("source 127.0.0.2:10-20").contains("is not supported yet"));
        assert!(err("source 127.0.0.2:0-20").contains("is not supported yet"));
        assert!(err("source some.name").contains("is not supported yet"));
        assert!(err("source 127.0.0.2 usesrc hdr_ip(x,-3)").contains("is not supported yet"));
        assert!(err("source 127.0.0.2 usesrc hdr_ip(x,-11)").starts_with("usesrc hdr_ip(name,num)"));
        assert!(err("source 127.0.0.2 usesrc 1.2.3.4:5-6").contains("port range not permitted"));
    }

    #[test]
    fn hdr_occ_reads_as_haproxy() {
        assert_eq!(hdr_occ("hdr_ip(x)"), -1);
        assert_eq!(hdr_occ("hdr_ip(x, -11)"), -11);
        assert_eq!(hdr_occ("hdr_ip(x,3)"), 3);
    }

    #[test]
    fn mux_words() {
        assert!(proto("proto", "h1").is_ok());
        assert_eq!(
            proto("proto", "x").unwrap_err(),
            "'proto' :  unknown MUX protocol 'x'.\n"
        );
        assert!(ws("auto").is_ok() && ws("h1").is_ok());
        assert!(ws("h2").unwrap_err().contains("not supported yet"));
        assert_eq!(
            ws("").unwrap_err(),
            "'ws' has to be 'auto', 'h1' or 'h2'.\n"
        );
    }
}
