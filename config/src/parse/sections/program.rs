//! The `program` section: the command and how the master runs it.

use super::unknown;
use crate::diag::Diagnostic;
use crate::keywords::Section;
use crate::parse::global::Modifier;
use crate::parse::{words_from, Line, Parser};

pub(super) fn program(
    p: &mut Parser<'_>,
    idx: usize,
    line: &Line<'_>,
    modifier: Modifier,
) -> Result<(), Diagnostic> {
    let kw = line.kw();
    let Some(prog) = p.cfg.programs.get(idx) else {
        return Ok(());
    };
    match kw {
        "command" => {
            if line.word(1).is_empty() {
                return Err(line.err(
                    1,
                    "'command' expects a command with optional arguments separated in words",
                ));
            }
            let cmd = words_from(line.words, 1);
            if let Some(prog) = p.cfg.programs.get_mut(idx) {
                prog.command = cmd;
            }
        }
        "user" | "group" => {
            if line.word(1).is_empty() {
                let what = if kw == "user" {
                    "a user name"
                } else {
                    "a group name"
                };
                return Err(line.err(1, format!("'{kw}' expects {what}")));
            }
            line.no_more_than(1, 1, kw)?;
            let set = if kw == "user" {
                prog.user.is_some()
            } else {
                prog.group.is_some()
            };
            if set {
                // "user/uid already specified. Continuing." is not fatal.
                p.push(line.warn(
                    0,
                    format!("'{kw}' already specified, keeping the first value"),
                ));
                return Ok(());
            }
            let v = Some(line.word(1).to_string());
            if let Some(prog) = p.cfg.programs.get_mut(idx) {
                if kw == "user" {
                    prog.user = v;
                } else {
                    prog.group = v;
                }
            }
        }
        "option" => {
            let opt = line.word(1);
            if opt.is_empty() {
                return Err(line.err(1, "'option' expects an option name"));
            }
            if opt != "start-on-reload" {
                return Err(line.err(1, format!("unknown option '{opt}'")));
            }
            line.no_more_than(2, 0, "option start-on-reload")?;
            if let Some(prog) = p.cfg.programs.get_mut(idx) {
                prog.start_on_reload = modifier != Modifier::No;
            }
        }
        _ => return Err(unknown(line, Section::Program)),
    }
    Ok(())
}
