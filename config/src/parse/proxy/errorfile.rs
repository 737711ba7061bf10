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

/// `http-error status <code> [content-type <type>] [payload] [hdr <n> <fmt>]*`
/// (2.6's proxy_parse_http_error): a reply for one of the statuses HAProxy
/// generates, taking the place of an earlier `errorfile` or `http-error`
/// for it.
pub(super) fn parse_http_error(cx: &mut Ctx<'_>, line: &Line<'_>) -> Result<(), Diagnostic> {
    if !allowed_kw(cx, line, "http-error")? {
        return Ok(());
    }
    let reply = super::actions::http_error_reply(line)?;
    let Some(status) = reply.status.filter(|_| line.arg(1) != Some("deny_status")) else {
        return Err(line.err(1, "http-error : expects at least a <status> as arguments."));
    };
    if !ERROR_CODES.contains(&status) {
        return Err(line.err(
            1,
            format!("http-error: status code '{status}' not handled."),
        ));
    }
    let content = match &reply.payload {
        Some(ReplyPayload::Errorfile(path) | ReplyPayload::File(path)) => {
            let at = (1..line.len()).find(|&i| line.word(i) == path).unwrap_or(1);
            let content = cx.host.read_file(path).map_err(|e| {
                line.err(
                    at,
                    format!("http-error : error opening file '{path}' : {e}."),
                )
            })?;
            if matches!(reply.payload, Some(ReplyPayload::Errorfile(_))) {
                if let Err(e) = crate::parse::sections::check_errorfile(&content) {
                    return Err(line.err(at, format!("http-error : '{path}' : {e}")));
                }
            }
            Some(content)
        }
        _ => None,
    };
    cx.px.errorfiles.retain(|e| e.status != status);
    cx.px.errorfiles.push(ErrorFile {
        status,
        source: ErrorSource::Reply { reply, content },
        loc: line.loc.clone(),
    });
    Ok(())
}
