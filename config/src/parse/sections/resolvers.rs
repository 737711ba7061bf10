//! The `resolvers` section: nameservers, timeouts and hold periods.

use super::peers::{ignore_extra, server_options};
use super::{time_arg, unknown};
use crate::addr::{parse_address, AddrRules, Address, Transport};
use crate::diag::Diagnostic;
use crate::keywords::Section;
use crate::model::Nameserver;
use crate::parse::{invalid_name_char, Line, Parser};
use crate::units::parse_uint;

pub(super) fn resolvers(p: &mut Parser<'_>, idx: usize, line: &Line<'_>) -> Result<(), Diagnostic> {
    let kw = line.kw();
    let Some(r) = p.cfg.resolvers.get(idx) else {
        return Ok(());
    };
    match kw {
        "nameserver" => {
            let (name, text) = (line.word(1), line.word(2));
            if name.is_empty() || text.is_empty() {
                return Err(line.err(line.len(), "'nameserver' expects <name> and <addr>[:<port>] as arguments"));
            }
            if let Some(c) = invalid_name_char(name) {
                return Err(line.err(1, format!("character '{c}' is not permitted in server name '{name}'")));
            }
            if let Some(prev) = r.nameservers.iter().find(|n| n.name == name) {
                return Err(line.err(
                    1,
                    format!("nameserver '{name}' has same name as another nameserver (declared at {})", prev.loc),
                ));
            }
            let rules = AddrRules {
                port_required: true,
                port_range: false,
                port_offset: false,
                names: true,
            };
            let mut addr =
                parse_address(text, rules).map_err(|e| line.err(2, format!("'nameserver {name}' : {e}")))?;
            // Datagram unless a stream prefix says otherwise.
            let stream_prefix = text
                .split_once('@')
                .is_some_and(|(pre, _)| matches!(pre, "tcp" | "tcp4" | "tcp6" | "stream+ipv4" | "stream+ipv6"));
            let stream = match &mut addr {
                Address::Inet { transport, .. } => {
                    if !stream_prefix {
                        *transport = Transport::Dgram;
                    }
                    stream_prefix
                }
                _ => {
                    // haproxy 2.6: "resolvers 'r': can't create socket for nameserver 'c'."
                    return Err(line.err(2, format!("'nameserver {name}' : only IPv4/IPv6 addresses are supported (can't create socket for '{text}')")));
                }
            };
            let options = if stream {
                server_options(line, 3, &format!("nameserver {name}"))?
            } else {
                if line.len() > 3 {
                    // Ignored by HAProxy for datagram nameservers.
                    p.push(line.warn(3, format!("'nameserver {name}' : options are ignored on UDP nameservers")));
                }
                Vec::new()
            };
            let ns = Nameserver {
                name: name.to_string(),
                addr,
                options,
                loc: line.loc.clone(),
            };
            if let Some(r) = p.cfg.resolvers.get_mut(idx) {
                r.nameservers.push(ns);
            }
        }
        "parse-resolv-conf" => {
            ignore_extra(p, line, 1);
            if let Some(r) = p.cfg.resolvers.get_mut(idx) {
                r.parse_resolv_conf = true;
                r.resolv_conf_at = Some(r.nameservers.len());
            }
        }
        "hold" => {
            line.no_more_than(1, 2, kw)?;
            if line.word(2).is_empty() {
                return Err(line
                    .err(line.len(), "'hold' expects an <event> and a <time> as arguments")
                    .with_hint("<event> can be either 'valid', 'nx', 'refused', 'timeout', 'obsolete' or 'other'"));
            }
            let d = time_arg(line, 2, "hold")?;
            let event = line.word(1);
            let Some(r) = p.cfg.resolvers.get_mut(idx) else {
                return Ok(());
            };
            let h = &mut r.hold;
            let slot = match event {
                "nx" => &mut h.nx,
                "other" => &mut h.other,
                "refused" => &mut h.refused,
                "timeout" => &mut h.timeout,
                "valid" => &mut h.valid,
                "obsolete" => &mut h.obsolete,
                _ => {
                    return Err(line.err(
                        1,
                        format!("'hold' unknown <event>: '{event}', expects either 'nx', 'refused', 'timeout', 'valid', 'obsolete' or 'other'"),
                    ))
                }
            };
            *slot = Some(d);
        }
        "accepted_payload_size" => {
            line.no_more_than(1, 1, kw)?;
            let text = line.word(1);
            if text.is_empty() {
                return Err(line.err(1, "'accepted_payload_size' expects <nb> as argument"));
            }
            let n = parse_uint::<u16>(text)
                .ok()
                .filter(|n| *n >= 12)
                .ok_or_else(|| line.err(1, format!("'accepted_payload_size' must be between 12 and 65535 inclusive (was {text})")))?;
            if let Some(r) = p.cfg.resolvers.get_mut(idx) {
                r.accepted_payload_size = Some(n);
            }
        }
        "resolution_pool_size" => {
            return Err(line.err(
                0,
                "'resolution_pool_size' directive is not supported anymore (it never appeared in a stable release)",
            ))
        }
        "resolve_retries" => {
            line.no_more_than(1, 1, kw)?;
            let text = line.word(1);
            if text.is_empty() {
                return Err(line.err(1, "'resolve_retries' expects <nb> as argument"));
            }
            let n: u32 = parse_uint(text).map_err(|e| line.err(1, format!("'resolve_retries': {e}")))?;
            if let Some(r) = p.cfg.resolvers.get_mut(idx) {
                r.resolve_retries = Some(n);
            }
        }
        "timeout" => {
            let which = line.word(1);
            if which.is_empty() {
                return Err(line.err(1, "'timeout' expects 'retry' or 'resolve' and <time> as arguments"));
            }
            if which != "retry" && which != "resolve" {
                return Err(line.err(
                    1,
                    format!("'timeout' expects 'retry' or 'resolve' and <time> as arguments got '{which}'"),
                ));
            }
            line.no_more_than(2, 1, &format!("timeout {which}"))?;
            let d = time_arg(line, 2, &format!("timeout {which}"))?;
            if let Some(r) = p.cfg.resolvers.get_mut(idx) {
                if which == "retry" {
                    r.timeout_retry = Some(d);
                } else {
                    r.timeout_resolve = Some(d);
                }
            }
        }
        _ => return Err(unknown(line, Section::Resolvers)),
    }
    Ok(())
}
