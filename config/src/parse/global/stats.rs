//! `stats socket`, `stats timeout` and `stats maxconn` in the global section.

use super::bind_option_values;
use crate::addr::{parse_address, AddrRules, Address};
use crate::diag::Diagnostic;
use crate::keywords;
use crate::model::global::{Account, CliLevel, StatsSocket};
use crate::model::Directive;
use crate::parse::{Line, Parser};
use crate::units::TimeUnit;

/// `stats socket|timeout|maxconn`.
pub(super) fn stats(p: &mut Parser<'_>, line: &Line<'_>) -> Result<(), Diagnostic> {
    match line.arg(1) {
        Some("socket") => {
            let sockets = stats_socket(line)?;
            p.cfg.global.stats_sockets.extend(sockets);
        }
        Some("timeout") => {
            line.no_more_than(2, 1, "stats timeout")?;
            let d = line.duration(2, "stats timeout", TimeUnit::Millis)?;
            if d.is_zero() {
                return Err(line.err(2, "'stats timeout' expects a positive value"));
            }
            p.cfg.global.stats_timeout = Some(d);
        }
        Some("maxconn") => {
            line.no_more_than(2, 1, "stats maxconn")?;
            let n: u32 = line
                .uint(2, "stats maxconn")
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| line.err(2, "'stats maxconn' expects a positive value"))?;
            p.cfg.global.stats_maxconn = Some(n);
        }
        Some("bind-process") => {
            return Err(line.err(
                1,
                "'stats bind-process' is not supported any more: processes were replaced by threads in HAProxy 2.5; use the 'thread' option on the 'stats socket' line instead",
            ))
        }
        other => {
            let got = other.unwrap_or("");
            let mut d = line.err(
                1,
                format!("'stats' only supports 'socket', 'maxconn' and 'timeout' in 'global' section (got '{got}')"),
            );
            if !got.is_empty() && keywords::proxy_keyword(&format!("stats {got}")).is_some() {
                d = d.with_hint(format!(
                    "'stats {got}' is a proxy keyword: it belongs in a 'frontend', 'backend', 'listen' or 'defaults' section"
                ));
            }
            return Err(d);
        }
    }
    Ok(())
}

/// `stats socket <addr>[,<addr>...] [bind options]`: one socket per
/// address, sharing the options.
fn stats_socket(line: &Line<'_>) -> Result<Vec<StatsSocket>, Diagnostic> {
    let text = line.word(2);
    if text.is_empty() {
        return Err(line.err(
            2,
            "'stats socket' in global section expects an address or a path to a UNIX socket",
        ));
    }
    let rules = AddrRules {
        port_required: true,
        port_range: true,
        port_offset: false,
        names: true,
    };
    let mut addrs: Vec<Address> = Vec::new();
    for part in text.split(',') {
        let a =
            parse_address(part, rules).map_err(|e| line.err(2, format!("'stats socket' : {e}")))?;
        addrs.push(a);
    }
    let mut proto = StatsSocket {
        addr: addrs.first().cloned().unwrap_or(Address::Fd(0)),
        level: None,
        mode: None,
        user: None,
        group: None,
        expose_fd_listeners: false,
        options: Vec::new(),
        loc: line.loc.clone(),
    };
    let mut i = 3;
    while let Some(name) = line.arg(i) {
        let value = |k: usize| -> Result<&str, Diagnostic> {
            match line.arg(i + k) {
                Some(v) if !v.is_empty() => Ok(v),
                _ => Err(line.err(
                    i + k,
                    format!("'stats socket' : '{name}' expects an argument"),
                )),
            }
        };
        match name {
            "level" => {
                proto.level = Some(match value(1)? {
                    "user" => CliLevel::User,
                    "operator" => CliLevel::Operator,
                    "admin" => CliLevel::Admin,
                    v => {
                        return Err(line.err(
                            i + 1,
                            format!("'stats socket' : 'level' only supports 'user', 'operator', and 'admin' (got '{v}')"),
                        ))
                    }
                });
                i += 2;
            }
            "mode" => {
                let v = value(1)?;
                let mode = u32::from_str_radix(v, 8).map_err(|_| {
                    line.err(i + 1, format!("'stats socket' : 'mode' : missing or invalid mode '{v}' (octal integer expected)"))
                })?;
                proto.mode = Some(mode);
                i += 2;
            }
            "user" | "group" => {
                let acc = Account::Name(value(1)?.to_string());
                if name == "user" {
                    proto.user = Some(acc);
                } else {
                    proto.group = Some(acc);
                }
                i += 2;
            }
            "uid" | "gid" => {
                let v = value(1)?;
                let n: u32 = v.parse().map_err(|_| {
                    line.err(i + 1, format!("'stats socket' : '{name}' expects a numeric id (got '{v}')"))
                })?;
                if name == "uid" {
                    proto.user = Some(Account::Id(n));
                } else {
                    proto.group = Some(Account::Id(n));
                }
                i += 2;
            }
            "expose-fd" => {
                let v = value(1)?;
                if v != "listeners" {
                    return Err(line.err(
                        i + 1,
                        format!("'stats socket' : 'expose-fd' only supports 'listeners' (got '{v}')"),
                    ));
                }
                proto.expose_fd_listeners = true;
                i += 2;
            }
            "process" => {
                return Err(line.err(
                    i,
                    "'stats socket' : 'process' was removed in HAProxy 2.7 (processes were replaced by threads in 2.5); use 'thread' instead",
                ))
            }
            _ => {
                let n = bind_option_values(line, i, "stats socket")?;
                proto.options.push(Directive {
                    keyword: name.to_string(),
                    args: crate::parse::words_from(line.words.get(..i + 1 + n).unwrap_or_default(), i + 1),
                    loc: line.loc_at(i),
                });
                i += 1 + n;
            }
        }
    }
    Ok(addrs
        .into_iter()
        .map(|addr| StatsSocket {
            addr,
            ..proto.clone()
        })
        .collect())
}
