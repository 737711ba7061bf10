//! `capture request/response header` and `capture cookie`.

use super::{allowed_kw, Ctx};
use crate::diag::Diagnostic;
use crate::model::*;
use crate::parse::common::Line;

pub(super) fn parse_capture(cx: &mut Ctx<'_>, line: &Line<'_>) -> Result<(), Diagnostic> {
    let (kwname, name_idx) = match (line.word(1), line.word(2)) {
        ("cookie", _) => ("capture cookie", 2),
        ("request", "header") => ("capture request header", 3),
        ("response", "header") => ("capture response header", 3),
        _ => {
            return Err(line.err(
                1,
                "'capture' expects 'cookie', 'request header' or 'response header'.",
            ))
        }
    };
    if !allowed_kw(cx, line, kwname)? {
        return Ok(());
    }
    let name = line
        .arg(name_idx)
        .ok_or_else(|| line.err(name_idx, format!("'{kwname}' expects a name")))?
        .to_string();
    if line.word(name_idx + 1) != "len" {
        return Err(line.err(name_idx + 1, format!("'{kwname}' expects 'len' <length>")));
    }
    let len: u32 = line.uint(name_idx + 2, kwname)?;
    line.no_more_than(name_idx, 3, kwname)?;
    cx.px.captures.push(match kwname {
        "capture cookie" => Capture::Cookie { name, len },
        "capture request header" => Capture::RequestHeader { name, len },
        _ => Capture::ResponseHeader { name, len },
    });
    Ok(())
}
