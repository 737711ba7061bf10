//! The `mailers` section: mailers and their timeout.

use super::{time_arg, unknown};
use crate::addr::{parse_address, AddrRules, Address, Transport};
use crate::diag::Diagnostic;
use crate::keywords::Section;
use crate::model::Mailer;
use crate::parse::{invalid_name_char, Line, Parser};

pub(super) fn mailers(p: &mut Parser<'_>, idx: usize, line: &Line<'_>) -> Result<(), Diagnostic> {
    match line.kw() {
        "mailer" => {
            let (name, text) = (line.word(1), line.word(2));
            if name.is_empty() || text.is_empty() {
                return Err(line.err(
                    line.len(),
                    "'mailer' expects <name> and <addr>[:<port>] as arguments",
                ));
            }
            if let Some(c) = invalid_name_char(name) {
                return Err(line.err(
                    1,
                    format!("character '{c}' is not permitted in server name '{name}'"),
                ));
            }
            let rules = AddrRules {
                port_required: true,
                port_range: false,
                port_offset: false,
                names: true,
            };
            let addr = parse_address(text, rules)
                .map_err(|e| line.err(2, format!("'mailer {name}' : {e}")))?;
            if !matches!(
                addr,
                Address::Inet {
                    transport: Transport::Stream,
                    ..
                }
            ) {
                return Err(line.err(
                    2,
                    format!("'mailer {name}' : TCP not supported for this address family"),
                ));
            }
            if line.len() > 3 {
                p.push(line.warn(
                    3,
                    format!(
                        "'mailer {name}' : unexpected argument '{}' ignored",
                        line.word(3)
                    ),
                ));
            }
            if let Some(m) = p.cfg.mailers.get_mut(idx) {
                m.mailers.push(Mailer {
                    name: name.to_string(),
                    addr,
                    loc: line.loc.clone(),
                });
            }
        }
        "timeout" => {
            match line.arg(1) {
                None | Some("") => {
                    return Err(line.err(1, "'timeout' expects 'mail' and <time> as arguments"))
                }
                Some("mail") => {}
                Some(o) => {
                    return Err(line.err(
                        1,
                        format!("'timeout' expects 'mail' and <time> as arguments got '{o}'"),
                    ))
                }
            }
            line.no_more_than(2, 1, "timeout mail")?;
            let d = time_arg(line, 2, "timeout mail")?;
            if let Some(m) = p.cfg.mailers.get_mut(idx) {
                m.timeout_mail = Some(d);
            }
        }
        _ => return Err(unknown(line, Section::Mailers)),
    }
    Ok(())
}
