//! `errorfile`: custom error responses of a proxy.

use super::{allowed_kw, Ctx};
use crate::diag::Diagnostic;
use crate::model::*;
use crate::parse::common::Line;

/// Status codes HAProxy can customise with errorfile (shared with http-errors).
use crate::parse::sections::ERRORFILE_CODES as ERROR_CODES;

pub(super) fn parse_errorfile(cx: &mut Ctx<'_>, line: &Line<'_>) -> Result<(), Diagnostic> {
    if !allowed_kw(cx, line, "errorfile")? {
        return Ok(());
    }
    if line.len() < 3 {
        return Err(line.err(
            line.len(),
            "'errorfile' expects <status_code> and <file> as arguments.",
        ));
    }
    let status: u16 = line.uint(1, "errorfile")?;
    let path = line.word(2);
    let content = cx
        .host
        .read_file(path)
        .map_err(|e| line.err(2, format!("error opening file '{path}' : {e}.")))?;
    if let Err(e) = crate::parse::sections::check_errorfile(&content) {
        return Err(line.err(2, format!("'errorfile {status} {path}' : {e}")));
    }
    if !ERROR_CODES.contains(&status) {
        let w = line.warn(1, format!("status code '{status}' not handled by 'errorfile', error customization will be ignored."));
        cx.push(w);
        return Ok(());
    }
    cx.px.errorfiles.retain(|e| e.status != status);
    cx.px.errorfiles.push(ErrorFile {
        status,
        source: ErrorSource::File {
            path: path.to_string(),
            content,
        },
        loc: line.loc.clone(),
    });
    Ok(())
}
