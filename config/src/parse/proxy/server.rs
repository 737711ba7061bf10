//! `server <name> <addr> [options]` and `default-server [options]`
//! (manual 4.2 "server", 5.2).

use super::bind::{check_mux_protocol, parse_verify, read_check, read_check_base, Base};
use super::source::SourceOn;
use super::{ms, Ctx, Line};
use crate::addr::{parse_address, AddrRules, Address};
use crate::diag::{did_you_mean, Diagnostic};
use crate::keywords;
use crate::model::{
    Directive, InitAddr, Observe, OnError, ProxyProtocol, Server, ServerOptions, TrackRef,
};
use crate::sample::parse_sample;

const SERVER_RULES: AddrRules = AddrRules {
    port_required: false,
    port_range: false,
    port_offset: true,
    names: true,
};

pub(crate) fn parse_server(cx: &mut Ctx<'_>, line: &Line<'_>) -> Result<Server, Diagnostic> {
    let (Some(name), Some(addr)) = (line.arg(1), line.arg(2)) else {
        return Err(line.err(
            line.len(),
            "'server' expects <name> and <addr>[:<port>] as arguments.",
        ));
    };
    if let Some(c) = crate::parse::invalid_name_char(name) {
        return Err(line.err(
            1,
            format!("character '{c}' is not permitted in server name '{name}'"),
        ));
    }
    let addr = crate::parse::expand_address(addr, cx.getenv)
        .map_err(|e| line.err(2, format!("'server {name}' : {e}")))?;
    let addr = parse_address(&addr, SERVER_RULES)
        .map_err(|e| line.err(2, format!("'server {name}' : {e}")))?;
    if let Address::Rhttp(target) = &addr {
        if !cx.experimental {
            return Err(line.err(2, format!("'server {name}' : address 'rhttp@' is experimental, must be allowed via a global 'expose-experimental-directives'")));
        }
        if !target.is_empty() {
            return Err(line.err(
                2,
                format!("'server {name}' : a reverse HTTP server address is 'rhttp@' alone (got 'rhttp@{target}')"),
            ));
        }
    }
    let mut opts = cx.px.default_server.clone();
    opts.other.clear();
    parse_server_options(cx, line, 3, &mut opts, false)?;
    Ok(Server {
        name: name.to_string(),
        addr,
        opts,
        loc: line.loc.clone(),
    })
}

pub(crate) fn parse_default_server(cx: &mut Ctx<'_>, line: &Line<'_>) -> Result<(), Diagnostic> {
    let mut opts = cx.px.default_server.clone();
    parse_server_options(cx, line, 1, &mut opts, true)?;
    cx.px.default_server = opts;
    Ok(())
}

fn parse_server_options(
    cx: &mut Ctx<'_>,
    line: &Line<'_>,
    mut i: usize,
    o: &mut ServerOptions,
    is_default: bool,
) -> Result<(), Diagnostic> {
    while let Some(word) = line.arg(i) {
        // HAProxy looks a keyword up by what precedes its first '('
        // (srv_find_kw): `set-proxy-v2-tlv-fmt(<id>)` carries its argument
        // in its name.
        let (name, paren) = match word.split_once('(') {
            Some((n, rest)) => (n, Some(rest)),
            None => (word, None),
        };
        // `no-<opt>` forms undo a default-server setting. The manual's
        // table also lists several of them (`no-backup`, `no-check`, ...)
        // as keywords of their own: they are still the negation of `<opt>`.
        let negation = name
            .strip_prefix("no-")
            .filter(|b| keywords::server_option(b).is_some_and(|d| d.has_no_form));
        let (base, negated) = match (negation, keywords::server_option(name)) {
            (Some(b), _) => (b, true),
            (None, Some(_)) => (name, false),
            (None, None) => {
                let what = if is_default {
                    "default-server"
                } else {
                    "server"
                };
                let mut d = line.err(i, format!("'{what}' unknown keyword '{word}'."));
                if let Some(h) = did_you_mean(name, keywords::SERVER_OPTIONS.iter().map(|k| k.name))
                {
                    d = d.with_hint(format!("did you mean '{h}'?"));
                }
                return Err(d);
            }
        };
        let Some(def) = keywords::server_option(base) else {
            return Err(line.err(i, format!("unknown server keyword '{name}'")));
        };
        if is_default && !def.default_server && !negated {
            return Err(line.err(
                i,
                format!("'{name}' option is not accepted in default-server sections"),
            ));
        }
        let nvals = if negated { 0 } else { usize::from(def.values) };
        if line.len() < i + 1 + nvals {
            return Err(line.err(i + 1, format!("'{name}' expects an argument")));
        }
        let v = line.word(i + 1);
        let on = !negated;
        let s = || Some(v.to_string());
        match base {
            "check" => o.check = Some(on),
            "inter" => o.inter = Some(positive_ms(line, i + 1, name)?),
            "fastinter" => o.fastinter = Some(positive_ms(line, i + 1, name)?),
            "downinter" => o.downinter = Some(positive_ms(line, i + 1, name)?),
            "rise" | "fall" => {
                let n: u32 = line.uint(i + 1, name)?;
                if n == 0 {
                    return Err(line.err(i + 1, format!("'{name}' has to be > 0.")));
                }
                if base == "rise" {
                    o.rise = Some(n);
                } else {
                    o.fall = Some(n);
                }
            }
            "weight" => {
                let w: u32 = line.uint(i + 1, name)?;
                if w > 256 {
                    return Err(line.err(i + 1, "weight must be between 0 and 256."));
                }
                o.weight = Some(w);
            }
            "backup" => o.backup = Some(on),
            "maxconn" => o.maxconn = Some(line.uint(i + 1, name)?),
            "minconn" => o.minconn = Some(line.uint(i + 1, name)?),
            "maxqueue" => o.maxqueue = Some(line.uint(i + 1, name)?),
            "ssl" => o.ssl = Some(on),
            "verify" => o.verify = Some(parse_verify(line, i + 1)?),
            "verifyhost" => o.verifyhost = s(),
            "ca-file" => {
                if v != "@system-ca" {
                    read_check_base(cx, line, i + 1, Base::Ca)?;
                }
                o.ca_file = s();
            }
            "crt" => {
                read_check_base(cx, line, i + 1, Base::Crt)?;
                o.crt = s();
            }
            "sni" => {
                let e = parse_sample(v)
                    .map_err(|e| line.err(i + 1, format!("'sni' : {}", e.message)))?;
                o.sni = Some(e);
            }
            "alpn" => o.alpn = Some(v.split(',').map(str::to_string).collect()),
            "check-alpn" => o.check_alpn = Some(v.split(',').map(str::to_string).collect()),
            "check-sni" => o.check_sni = s(),
            "send-proxy" => o.send_proxy = Some(on.then_some(ProxyProtocol::V1)),
            "send-proxy-v2" => o.send_proxy = Some(on.then_some(ProxyProtocol::V2)),
            "check-send-proxy" => o.check_send_proxy = Some(on),
            "cookie" => o.cookie = s(),
            "redir" => o.redir = s(),
            "disabled" => o.disabled = Some(true),
            "enabled" => o.disabled = Some(false),
            "slowstart" => o.slowstart = Some(ms(line, i + 1, name)?),
            "observe" => {
                o.observe = Some(match v {
                    "layer4" => Observe::Layer4,
                    "layer7" => Observe::Layer7,
                    "none" => {
                        o.observe = None;
                        i += 2;
                        continue;
                    }
                    _ => {
                        return Err(line.err(
                            i + 1,
                            format!(
                                "'observe' expects one of 'none', 'layer4', 'layer7' but got '{v}'"
                            ),
                        ))
                    }
                });
            }
            "on-error" => {
                o.on_error = Some(match v {
                    "fastinter" => OnError::FastInter,
                    "fail-check" => OnError::FailCheck,
                    "sudden-death" => OnError::SuddenDeath,
                    "mark-down" => OnError::MarkDown,
                    _ => return Err(line.err(i + 1, format!("'on-error' expects one of 'fastinter', 'fail-check', 'sudden-death' or 'mark-down' but got '{v}'"))),
                });
            }
            "on-marked-down" => {
                if v != "shutdown-sessions" {
                    return Err(line.err(
                        i + 1,
                        format!("'on-marked-down' expects 'shutdown-sessions' but got '{v}'"),
                    ));
                }
                o.on_marked_down = s();
            }
            "on-marked-up" => {
                if v != "shutdown-backup-sessions" {
                    return Err(line.err(
                        i + 1,
                        format!("'on-marked-up' expects 'shutdown-backup-sessions' but got '{v}'"),
                    ));
                }
                o.on_marked_up = s();
            }
            "error-limit" => o.error_limit = Some(line.uint(i + 1, name)?),
            "track" => {
                o.track = Some(match v.split_once('/') {
                    Some((b, srv)) => TrackRef {
                        backend: Some(b.to_string()),
                        server: srv.to_string(),
                    },
                    None => TrackRef {
                        backend: None,
                        server: v.to_string(),
                    },
                });
            }
            "agent-check" => o.agent_check = Some(on),
            "agent-port" => o.agent_port = Some(port(line, i + 1, name)?),
            "agent-inter" => o.agent_inter = Some(positive_ms(line, i + 1, name)?),
            "agent-addr" => o.agent_addr = s(),
            "agent-send" => o.agent_send = s(),
            "check-ssl" => o.check_ssl = Some(on),
            "port" => o.port = Some(port(line, i + 1, name)?),
            "addr" => {
                parse_address(v, SERVER_RULES)
                    .map_err(|e| line.err(i + 1, format!("'addr' : {e}")))?;
                o.addr = s();
            }
            "init-addr" => {
                let mut list = Vec::new();
                for m in v.split(',') {
                    list.push(match m {
                        "last" => InitAddr::Last,
                        "libc" => InitAddr::Libc,
                        "none" => InitAddr::None,
                        ip => InitAddr::Ip(ip.parse().map_err(|_| line.err(i + 1, format!("'init-addr' : unknown method or invalid address '{ip}' (expects last, libc, none or an IP address)")))?),
                    });
                }
                o.init_addr = Some(list);
            }
            "resolvers" => o.resolvers = s(),
            "resolve-prefer" => {
                if v != "ipv4" && v != "ipv6" {
                    return Err(line.err(
                        i + 1,
                        format!("'resolve-prefer' expects 'ipv4' or 'ipv6' (got '{v}')"),
                    ));
                }
                o.resolve_prefer = s();
            }
            "source" => {
                let (source, next) = super::source::parse_source(line, i + 1, SourceOn::Server)?;
                o.source = Some(source);
                i = next;
                continue;
            }
            "pool-max-conn" => {
                let n = crate::units::parse_int(v)
                    .ok()
                    .and_then(|n| i32::try_from(n).ok())
                    .filter(|n| *n >= -1)
                    .ok_or_else(|| {
                        line.err(
                            i + 1,
                            format!("'pool-max-conn' expects -1 or a positive integer (got '{v}')"),
                        )
                    })?;
                o.pool_max_conn = Some(n);
            }
            "pool-purge-delay" => o.pool_purge_delay = Some(ms(line, i + 1, name)?),
            "pool-low-conn" => o.pool_low_conn = Some(atoi(v)),
            "max-reuse" => o.max_reuse = Some(atoi(v)),
            "ciphers" => o.ciphers = s(),
            "ssl-min-ver" => o.ssl_min_ver = s(),
            "ssl-max-ver" => o.ssl_max_ver = s(),
            "tfo" => o.tfo = Some(on),
            "tcp-ut" => o.tcp_ut = Some(ms(line, i + 1, "tcp-ut")?),
            "proto" => {
                check_mux_protocol(line, i + 1)?;
                o.proto = s();
            }
            "set-proxy-v2-tlv-fmt" => {
                let id = tlv_id(paren).ok_or_else(|| {
                    line.err(
                        i,
                        format!("'{word}' : expects set-proxy-v2-tlv-fmt(<TLV ID>) with an ID from 0 to 255"),
                    )
                })?;
                // Kept as `set-proxy-v2-tlv-fmt <id> <fmt>`; a server may
                // carry several TLVs, so earlier ones are not replaced.
                o.other.push(Directive {
                    keyword: base.to_string(),
                    args: vec![id.to_string(), v.to_string()],
                    loc: line.loc_at(i),
                });
            }
            "id" => {
                let id: u32 = line.uint(i + 1, name)?;
                if id == 0 {
                    return Err(line.err(i + 1, "'id' : custom id 0 is reserved for internal use"));
                }
                o.id = Some(id);
            }
            _ => {
                if nvals == 1 && base.ends_with("-file") {
                    read_check(cx, line, i + 1)?;
                }
                o.other.retain(|d| d.keyword != base && d.keyword != name);
                o.other.push(Directive {
                    keyword: name.to_string(),
                    args: (i + 1..i + 1 + nvals)
                        .map(|j| line.word(j).to_string())
                        .collect(),
                    loc: line.loc_at(i),
                });
            }
        }
        i += 1 + nvals;
    }
    Ok(())
}

/// The TLV type of `set-proxy-v2-tlv-fmt(<id>)`: what follows the '(', read
/// as C's strtoul(.., 0) does (decimal, 0x hex or 0 octal), up to a ')'. No
/// parenthesis means type 0, as in HAProxy (srv_parse_set_proxy_v2_tlv_fmt).
fn tlv_id(paren: Option<&str>) -> Option<u8> {
    let Some(rest) = paren else {
        return Some(0);
    };
    let (num, _) = rest.split_once(')')?;
    let n = if let Some(h) = num.strip_prefix("0x").or_else(|| num.strip_prefix("0X")) {
        u32::from_str_radix(h, 16).ok()?
    } else if let Some(o) = num.strip_prefix('0').filter(|o| !o.is_empty()) {
        u32::from_str_radix(o, 8).ok()?
    } else {
        num.parse().ok()?
    };
    u8::try_from(n).ok()
}

fn positive_ms(line: &Line<'_>, i: usize, what: &str) -> Result<std::time::Duration, Diagnostic> {
    let d = ms(line, i, what)?;
    if d.is_zero() {
        return Err(line.err(
            i,
            format!("invalid value 0 for argument '{what}': must be > 0"),
        ));
    }
    Ok(d)
}

fn port(line: &Line<'_>, i: usize, what: &str) -> Result<u16, Diagnostic> {
    let p: u16 = line.uint(i, what)?;
    if p == 0 {
        return Err(line.err(i, format!("'{what}' expects a valid TCP port (1-65535)")));
    }
    Ok(p)
}

/// C's atoi: an optional sign and the digits that follow, 0 when none;
/// what follows them is ignored (HAProxy reads `pool-low-conn` and
/// `max-reuse` so, without an error).
fn atoi(text: &str) -> i64 {
    let t = text.trim_start();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, t.get(1..).unwrap_or_default()),
        Some(b'+') => (false, t.get(1..).unwrap_or_default()),
        _ => (false, t),
    };
    let n = digits
        .bytes()
        .take_while(u8::is_ascii_digit)
        .fold(0i64, |n, d| {
            n.saturating_mul(10).saturating_add(i64::from(d - b'0'))
        });
    if neg {
        -n
    } else {
        n
    }
}

#[cfg(test)]
mod tests {
    use super::tlv_id;

    #[test]
    fn tlv_id_reads_like_strtoul() {
        assert_eq!(tlv_id(None), Some(0));
        assert_eq!(tlv_id(Some("0xE1)")), Some(0xE1));
        assert_eq!(tlv_id(Some("0XE1)")), Some(0xE1));
        assert_eq!(tlv_id(Some("32)")), Some(32));
        assert_eq!(tlv_id(Some("040)")), Some(32));
        assert_eq!(tlv_id(Some("0)")), Some(0));
        assert_eq!(tlv_id(Some("255)")), Some(255));
        // HAProxy: "the maximum allowed TLV ID is 255".
        assert_eq!(tlv_id(Some("256)")), None);
        // "could not convert TLV ID" / "expects set-proxy-v2-tlv(<TLV ID>)".
        assert_eq!(tlv_id(Some(")")), None);
        assert_eq!(tlv_id(Some("0xE1")), None);
        assert_eq!(tlv_id(Some("x)")), None);
        assert_eq!(tlv_id(Some("09)")), None);
    }
}
