//! The HTTP responses actions build: `deny`, `tarpit` and `return`
//! (http_parse_http_reply) and `redirect` (http_parse_redirect_rule).

use super::Words;
use crate::diag::Diagnostic;
use crate::model::{Redirect, RedirectKind, Reply, ReplyPayload};

/// `deny`/`tarpit`/`return` take the same response arguments, plus the
/// older `deny_status` for deny/tarpit. The payload sources are exclusive;
/// the errorfile-based ones only know the status codes HAProxy has an
/// error message for.
pub(super) fn reply(w: &Words<'_, '_>) -> Result<Reply, Diagnostic> {
    let name = w.base;
    let mut reply = Reply::default();
    let mut i = 0;
    let mut source: Option<(usize, &str)> = None;
    let mut implied = None;
    while let Some(kw) = w.arg(i) {
        match kw {
            // `deny_status <code>` (deny/tarpit, first only) is `status
            // <code>` with default-errorfiles unless a payload follows.
            "status" | "deny_status" if kw == "status" || (i == 0 && name != "return") => {
                let code = w
                    .arg(i + 1)
                    .and_then(|c| c.parse::<u16>().ok())
                    .filter(|c| (200..600).contains(c));
                let Some(code) = code else {
                    return Err(w.err(
                        i + 1,
                        format!("'{name}' : '{kw}' expects a valid HTTP status code (200-599)"),
                    ));
                };
                reply.status = Some(code);
                if kw == "deny_status" {
                    implied = Some((i, "default-errorfiles"));
                }
                i += 2;
                continue;
            }
            "content-type" | "default-errorfiles" | "errorfile" | "errorfiles" | "file"
            | "lf-file" | "string" | "lf-string" => {}
            "hdr" => {
                let (Some(hname), Some(_)) = (w.arg(i + 1), w.arg(i + 2)) else {
                    return Err(w.err(i + 1, format!("'{name}' : 'hdr' expects <name> <fmt>")));
                };
                reply.headers.push((hname.to_string(), w.fmt(i + 2)?));
                i += 3;
                continue;
            }
            o => {
                return Err(w.err(i, format!("'{name}' : unexpected argument '{o}'")));
            }
        }
        if kw != "content-type" {
            if let Some((_, first)) = source {
                return Err(w.err(
                    i,
                    format!("'{name}' : unexpected '{kw}' argument, '{first}' already defined"),
                ));
            }
            source = Some((i, kw));
        }
        if kw == "default-errorfiles" {
            reply.payload = Some(ReplyPayload::DefaultErrorfiles);
            i += 1;
            continue;
        }
        let Some(v) = w.arg(i + 1) else {
            return Err(w.err(i + 1, format!("'{name}' : '{kw}' expects an argument")));
        };
        let v = v.to_string();
        match kw {
            "content-type" => reply.content_type = Some(v),
            "errorfile" => reply.payload = Some(ReplyPayload::Errorfile(v)),
            "errorfiles" => reply.payload = Some(ReplyPayload::Errorfiles(v)),
            "file" => reply.payload = Some(ReplyPayload::File(v)),
            "lf-file" => reply.payload = Some(ReplyPayload::LfFile(v)),
            "string" => reply.payload = Some(ReplyPayload::String(v)),
            _ => reply.payload = Some(ReplyPayload::LfString(w.fmt(i + 1)?)),
        }
        i += 2;
    }
    if let (Some((at, kw @ ("default-errorfiles" | "errorfile" | "errorfiles"))), Some(code)) =
        (source.or(implied), reply.status)
    {
        if !crate::parse::sections::ERRORFILE_CODES.contains(&code) {
            return Err(w.err(
                at,
                format!(
                    "'{name}' : status code '{code}' not handled by default with '{kw}' argument"
                ),
            ));
        }
    }
    if reply.payload.is_none() && implied.is_some() {
        reply.payload = Some(ReplyPayload::DefaultErrorfiles);
    }
    Ok(reply)
}

/// `redirect {location|prefix|scheme} <dst> [code <n>] <option>*`, options
/// in any order before or after the destination, the last destination
/// winning (http_parse_redirect_rule).
pub(super) fn redirect(w: &Words<'_, '_>) -> Result<Redirect, Diagnostic> {
    let mut dest = None;
    let mut cookie_fmt = None;
    let mut code = None;
    let mut set_cookie = None;
    let mut clear_cookie = None;
    let mut flags = [false; 4];
    let mut i = 0;
    while let Some(kw) = w.arg(i) {
        let takes_value = matches!(
            kw,
            "location"
                | "prefix"
                | "scheme"
                | "code"
                | "set-cookie"
                | "set-cookie-fmt"
                | "clear-cookie"
        );
        let value = w.arg(i + 1);
        if takes_value && value.is_none() {
            return Err(w.err(i + 1, format!("'redirect': missing argument for '{kw}'")));
        }
        let value = value.unwrap_or("");
        match kw {
            "location" => dest = Some((RedirectKind::Location, i + 1)),
            "prefix" => dest = Some((RedirectKind::Prefix, i + 1)),
            "scheme" => dest = Some((RedirectKind::Scheme, i + 1)),
            "set-cookie-fmt" => cookie_fmt = Some(i + 1),
            "code" => {
                let c = atol(value);
                if !matches!(c, 301..=303 | 307 | 308) {
                    return Err(w.err(
                        i + 1,
                        format!("'redirect': 'code': unsupported HTTP code '{value}' (must be one of 301, 302, 303, 307 or 308)"),
                    ));
                }
                code = u16::try_from(c).ok();
            }
            "set-cookie" => set_cookie = Some(value.to_string()),
            "clear-cookie" => clear_cookie = Some(value.to_string()),
            "drop-query" | "append-slash" | "ignore-empty" | "keep-query" => {
                let at = match kw {
                    "drop-query" => 0,
                    "append-slash" => 1,
                    "ignore-empty" => 2,
                    _ => 3,
                };
                if let Some(f) = flags.get_mut(at) {
                    *f = true;
                }
                i += 1;
                continue;
            }
            o => return Err(w.err(i, format!("'redirect': expects 'code', 'prefix', 'location', 'scheme', 'set-cookie', 'set-cookie-fmt', 'clear-cookie', 'drop-query', 'ignore-empty', 'append-slash' or 'keep-query' (got '{o}')"))),
        }
        i += 2;
    }
    let Some((kind, at)) = dest else {
        return Err(w.err(
            0,
            "'redirect': redirection type expected ('prefix', 'location', or 'scheme')",
        ));
    };
    let [drop_query, append_slash, ignore_empty, keep_query] = flags;
    Ok(Redirect {
        kind,
        target: w.fmt(at)?,
        code,
        drop_query,
        append_slash,
        ignore_empty,
        keep_query,
        set_cookie,
        set_cookie_fmt: cookie_fmt.map(|c| w.fmt(c)).transpose()?,
        clear_cookie,
    })
}

/// C's `atol` on a status code: the leading digits (HAProxy reads
/// `code 301x` as 301), 0 when there are none.
pub(super) fn atol(text: &str) -> u64 {
    let t = text.trim_start();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    t.get(..digits.min(6))
        .and_then(|d| d.parse().ok())
        .unwrap_or(0)
}
