//! The `ring` section: size, format, servers and timeouts of a sink.

use super::peers::server_options;
use super::{time_arg, unknown};
use crate::addr::{parse_address, AddrRules};
use crate::diag::Diagnostic;
use crate::keywords::Section;
use crate::model::{LogWireFormat, RingServer};
use crate::parse::{invalid_name_char, Line, Parser};
use crate::units::{parse_size, parse_uint};

pub(super) fn ring(p: &mut Parser<'_>, idx: usize, line: &Line<'_>) -> Result<(), Diagnostic> {
    let kw = line.kw();
    let Some(r) = p.cfg.rings.get(idx) else {
        return Ok(());
    };
    let ring_name = r.name.name.clone();
    match kw {
        "size" => {
            line.no_more_than(1, 1, kw)?;
            let text = line.word(1);
            if r.backing_file.is_some() {
                return Err(line.err(
                    0,
                    "cannot resize an already mapped file, please specify 'size' before 'backing-file'",
                ));
            }
            // 3.2 takes a size with units; 2.6 used atol() and refused sizes
            // below the default buffer size, 3.2 accepts them.
            let n = parse_size(text)
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| line.err(1, format!("invalid size '{text}' for new sink buffer")))?;
            if let Some(r) = p.cfg.rings.get_mut(idx) {
                r.size = Some(n);
            }
        }
        "backing-file" => {
            line.no_more_than(1, 1, kw)?;
            let path = line.word(1);
            if path.is_empty() {
                return Err(line.err(1, "'backing-file' expects a file path"));
            }
            if let Some(prev) = &r.backing_file {
                return Err(line.err(
                    1,
                    format!(
                        "'backing-file' already specified for ring '{ring_name}' (was '{prev}')"
                    ),
                ));
            }
            if let Some(r) = p.cfg.rings.get_mut(idx) {
                r.backing_file = Some(path.to_string());
            }
        }
        "format" => {
            line.no_more_than(1, 1, kw)?;
            let f = line.word(1);
            let format = LogWireFormat::from_keyword(f)
                .ok_or_else(|| line.err(1, format!("unknown format '{f}'")))?;
            if let Some(r) = p.cfg.rings.get_mut(idx) {
                r.format = Some(format);
            }
        }
        "maxlen" => {
            line.no_more_than(1, 1, kw)?;
            let text = line.word(1);
            let n = parse_uint::<u32>(text)
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| line.err(1, format!("invalid size '{text}' for new sink buffer")))?;
            if let Some(r) = p.cfg.rings.get_mut(idx) {
                r.maxlen = Some(n);
            }
        }
        "description" => {
            let text = line.word(1);
            if text.is_empty() {
                return Err(line.err(1, "missing ring description text"));
            }
            if line.len() > 2 {
                p.push(line.warn(
                    2,
                    "'description' takes one word (use quotes), the rest is ignored",
                ));
            }
            if let Some(r) = p.cfg.rings.get_mut(idx) {
                r.description = Some(text.to_string());
            }
        }
        "server" => {
            let (name, text) = (line.word(1), line.word(2));
            if name.is_empty() || text.is_empty() {
                return Err(line.err(
                    line.len(),
                    "'server' expects <name> and <addr>[:<port>] as arguments",
                ));
            }
            if let Some(c) = invalid_name_char(name) {
                return Err(line.err(
                    1,
                    format!("character '{c}' is not permitted in server name '{name}'"),
                ));
            }
            let rules = AddrRules {
                port_required: false,
                port_range: false,
                port_offset: false,
                names: true,
            };
            let addr = parse_address(text, rules)
                .map_err(|e| line.err(2, format!("'server {ring_name}/{name}' : {e}")))?;
            let options = server_options(line, 3, &format!("server {ring_name}/{name}"))?;
            if let Some(r) = p.cfg.rings.get_mut(idx) {
                r.servers.push(RingServer {
                    name: name.to_string(),
                    addr,
                    options,
                    loc: line.loc.clone(),
                });
            }
        }
        "timeout" => {
            let which = line.word(1);
            if which != "connect" && which != "server" {
                // HAProxy silently ignores other timeouts here.
                p.push(line.warn(1, format!("'timeout {which}' is ignored in a ring section (only 'connect' and 'server' apply)")));
                return Ok(());
            }
            line.no_more_than(2, 1, &format!("timeout {which}"))?;
            let d = time_arg(line, 2, &format!("timeout {which}"))?;
            if let Some(r) = p.cfg.rings.get_mut(idx) {
                if which == "connect" {
                    r.timeout_connect = Some(d);
                } else {
                    r.timeout_server = Some(d);
                }
            }
        }
        _ => return Err(unknown(line, Section::Ring)),
    }
    Ok(())
}
