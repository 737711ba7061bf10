//! The `peers` section: peers, binds, servers and their options.

use super::unknown;
use crate::addr::{parse_address, AddrRules, Address};
use crate::diag::{did_you_mean, Diagnostic};
use crate::keywords::{self, Section, SERVER_OPTIONS};
use crate::model::{Peer, PeersBind, PeersTable};
use crate::parse::common::parse_log;
use crate::parse::global::{bind_option_values, Modifier};
use crate::parse::{invalid_name_char, words_from, Line, Parser};
use crate::units::parse_uint;

pub(super) fn peers(
    p: &mut Parser<'_>,
    idx: usize,
    line: &Line<'_>,
    modifier: Modifier,
) -> Result<(), Diagnostic> {
    let kw = line.kw();
    let Some(sect) = p.cfg.peers.get(idx) else {
        return Ok(());
    };
    let has_peer_line = sect.peers.iter().any(|x| !x.server_line);
    match kw {
        "bind" => {
            if has_peer_line {
                return Err(line.err(0, "mixing \"peer\" and \"bind\" line is forbidden"));
            }
            if let Some(b) = &sect.bind {
                return Err(line.err(
                    0,
                    format!("One listener per \"peers\" section is authorized but another is already configured at [{}]", b.loc),
                ));
            }
            let text = line.word(1);
            if text.is_empty() {
                return Err(line.err(1, "'bind' expects an address"));
            }
            if text.contains(',') {
                return Err(line.err(
                    1,
                    "Only one listener per \"peers\" section is authorized. Multiple listening addresses or port range are not supported",
                ));
            }
            let rules = AddrRules {
                port_required: true,
                port_range: false,
                port_offset: false,
                names: true,
            };
            let addr = parse_address(text, rules)
                .map_err(|e| line.err(1, format!("'bind {text}' : {e}")))?;
            let options = bind_options(line, 2, &format!("bind {text}"))?;
            if let Some(s) = p.cfg.peers.get_mut(idx) {
                s.bind = Some(PeersBind {
                    addr,
                    options,
                    loc: line.loc.clone(),
                });
            }
        }
        "default-bind" => {
            let options = bind_options(line, 1, "default-bind")?;
            if let Some(s) = p.cfg.peers.get_mut(idx) {
                s.default_bind.extend(options);
            }
        }
        "default-server" => {
            let options = server_options(line, 1, "default-server")?;
            if let Some(s) = p.cfg.peers.get_mut(idx) {
                s.default_server.extend(options);
            }
        }
        "log" => {
            if modifier == Modifier::No {
                if line.len() > 1 {
                    return Err(line.err(1, "'no log' does not expect arguments"));
                }
                if let Some(s) = p.cfg.peers.get_mut(idx) {
                    s.logs.clear();
                }
            } else {
                let target = parse_log(line, true, &|n| p.getenv(n))?;
                if let Some(s) = p.cfg.peers.get_mut(idx) {
                    s.logs.push(target);
                }
            }
        }
        "peer" | "server" => {
            let name = line.word(1);
            if name.is_empty() {
                return Err(line.err(
                    1,
                    format!("'{kw}' expects <name> and <addr>[:<port>] as arguments"),
                ));
            }
            if let Some(c) = invalid_name_char(name) {
                return Err(line.err(
                    1,
                    format!("character '{c}' is not permitted in server name '{name}'"),
                ));
            }
            let server_line = kw == "server";
            if !server_line && sect.bind.is_some() {
                return Err(line.err(0, "mixing \"peer\" and \"bind\" line is forbidden"));
            }
            // On a "server" line the address may be absent (the local peer
            // takes the "bind" line's): the next word is then an option.
            // The local peer is named by 'localpeer', -L or the host name
            // (HAPROXY_LOCALPEER).
            let local = local_peer(p).is_some_and(|l| l == name);
            let addr_text = line
                .arg(2)
                .filter(|w| !(server_line && (local || is_server_option(w))));
            let Some(addr_text) = addr_text else {
                if !server_line {
                    // 3.2 warns and ignores the line (2.6 was silent).
                    p.push(line.warn(0, format!("'peer {name}' : ignoring invalid peer definition (missing address:port)")));
                    return Ok(());
                }
                let options = server_options(line, 2, &format!("server {name}"))?;
                push_peer(p, idx, line, name, None, server_line, options)?;
                return Ok(());
            };
            let rules = AddrRules {
                port_required: false,
                port_range: false,
                port_offset: false,
                names: true,
            };
            let addr = parse_address(addr_text, rules)
                .map_err(|e| line.err(2, format!("'{kw} {name}' : {e} in '{addr_text}'")))?;
            let options = server_options(line, 3, &format!("{kw} {name}"))?;
            if options.iter().any(|o| {
                matches!(
                    o.as_str(),
                    "init-addr" | "resolvers" | "check" | "agent-check"
                )
            }) {
                p.push(line.warn(0, format!("'{kw} {name}' : init-addr, resolvers, check and agent are ignored for peers")));
            }
            push_peer(p, idx, line, name, Some(addr), server_line, options)?;
        }
        "shards" => {
            line.no_more_than(1, 1, kw)?;
            let text = line.word(1);
            if text.is_empty() {
                return Err(line.err(1, "'shards' : missing value"));
            }
            let n: u32 = parse_uint(text).map_err(|_| {
                line.err(
                    1,
                    format!("'shards' : expects an integer argument, found '{text}'"),
                )
            })?;
            if n == 0 {
                return Err(line.err(1, "'shards' : expects a strictly positive integer argument"));
            }
            if let Some(s) = p.cfg.peers.get_mut(idx) {
                s.shards = Some(n);
            }
        }
        "table" => {
            let name = line.word(1);
            if name.is_empty() {
                return Err(line.err(1, "table: ID not provided"));
            }
            if let Some(prev) = sect.tables.iter().find(|t| t.name == name) {
                // 3.2 refuses it (2.6 accepted it silently).
                return Err(line.err(
                    1,
                    format!("stick-table name '{name}' conflicts with table declared in peers '{}' at {}", sect.name.name, prev.loc),
                ));
            }
            if let Some(i) = line
                .words
                .iter()
                .position(|w| w.text == "peers")
                .filter(|i| *i >= 2)
            {
                // The stick-table parser knows "peers", a peers section does not.
                return Err(line.err(i, "table: unknown argument 'peers'"));
            }
            let table = crate::parse::proxy::parse_stick_table(line, 2)?;
            if let Some(s) = p.cfg.peers.get_mut(idx) {
                s.tables.push(PeersTable {
                    name: name.to_string(),
                    table,
                    loc: line.loc.clone(),
                });
            }
        }
        "disabled" | "enabled" => {
            // HAProxy does not look at the rest of the line.
            ignore_extra(p, line, 1);
            if let Some(s) = p.cfg.peers.get_mut(idx) {
                s.disabled = kw == "disabled";
            }
        }
        _ => return Err(unknown(line, Section::Peers)),
    }
    Ok(())
}

/// Words from `from` on that HAProxy ignores: a warning.
pub(super) fn ignore_extra(p: &mut Parser<'_>, line: &Line<'_>, from: usize) {
    if let Some(w) = line.arg(from) {
        let msg = format!("'{}' takes no argument, '{w}' is ignored", line.kw());
        p.push(line.warn(from, msg));
    }
}

fn push_peer(
    p: &mut Parser<'_>,
    idx: usize,
    line: &Line<'_>,
    name: &str,
    addr: Option<Address>,
    server_line: bool,
    options: Vec<String>,
) -> Result<(), Diagnostic> {
    let dup = p
        .cfg
        .peers
        .get(idx)
        .and_then(|s| s.peers.iter().find(|x| x.name == name))
        .map(|x| x.loc.to_string());
    if let Some(prev) = dup {
        if local_peer(p).is_some_and(|l| l == name) {
            // Fatal for the local peer (verified with 2.6).
            return Err(line.err(
                1,
                format!(
                    "'{} {name}' : local peer name already referenced at {prev}",
                    line.kw()
                ),
            ));
        }
        // HAProxy accepts it (verified with 2.6) but only one can be used.
        p.push(line.warn(1, format!("peer '{name}' is already declared at {prev}")));
    }
    if let Some(s) = p.cfg.peers.get_mut(idx) {
        s.peers.push(Peer {
            name: name.to_string(),
            addr,
            server_line,
            options,
            loc: line.loc.clone(),
        });
    }
    Ok(())
}

/// The local peer's name, when known.
pub(super) fn local_peer(p: &Parser<'_>) -> Option<String> {
    p.cfg
        .global
        .localpeer
        .clone()
        .or_else(|| p.host.env("HAPROXY_LOCALPEER"))
}

/// Whether a word is a server option name (so not an address).
fn is_server_option(w: &str) -> bool {
    let base = w.split('(').next().unwrap_or(w);
    keywords::server_option(base).is_some()
}

/// Bind options from word `from` on, checked against the bind keyword
/// table, kept as words.
fn bind_options(line: &Line<'_>, from: usize, what: &str) -> Result<Vec<String>, Diagnostic> {
    let mut i = from;
    while line.arg(i).is_some() {
        i += 1 + bind_option_values(line, i, what)?;
    }
    Ok(words_from(line.words, from))
}

/// Server options from word `from` on, checked against the server keyword
/// table (with the `no-<opt>` forms), kept as words.
pub(super) fn server_options(
    line: &Line<'_>,
    from: usize,
    what: &str,
) -> Result<Vec<String>, Diagnostic> {
    let mut i = from;
    while let Some(w) = line.arg(i) {
        // "set-proxy-v2-tlv-fmt(<id>)" carries its argument in the name.
        let base = w.split('(').next().unwrap_or(w);
        let values = match keywords::server_option(base) {
            Some(o) => usize::from(o.values),
            None => {
                let negated = base
                    .strip_prefix("no-")
                    .and_then(keywords::server_option)
                    .is_some_and(|o| o.has_no_form);
                if !negated {
                    let mut d = line.err(i, format!("'{what}' : unknown keyword '{w}'"));
                    if let Some(h) = did_you_mean(base, SERVER_OPTIONS.iter().map(|o| o.name)) {
                        d = d.with_hint(format!("did you mean '{h}'?"));
                    }
                    return Err(d);
                }
                0
            }
        };
        for k in 1..=values {
            if line.arg(i + k).is_none() {
                return Err(line.err(i + k, format!("'{what}' : '{w}' expects an argument")));
            }
        }
        i += 1 + values;
        // "source <addr> [usesrc <addr>] [interface <name>]".
        if base == "source" {
            while matches!(line.arg(i), Some("usesrc" | "interface")) {
                i += 2;
            }
        }
    }
    Ok(words_from(line.words, from))
}
