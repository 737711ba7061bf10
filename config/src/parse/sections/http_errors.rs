//! The `http-errors` section and the loading and checking of errorfiles.

use super::{unknown, ERRORFILE_CODES};
use crate::diag::Diagnostic;
use crate::keywords::Section;
use crate::model::SectionErrorFile;
use crate::parse::{Line, Parser};
use crate::units::parse_uint;

pub(super) fn http_errors(
    p: &mut Parser<'_>,
    idx: usize,
    line: &Line<'_>,
) -> Result<(), Diagnostic> {
    if line.kw() != "errorfile" {
        return Err(unknown(line, Section::HttpErrors));
    }
    if line.len() < 3 {
        return Err(line.err(
            line.len(),
            "errorfile: expects <status_code> and <file> as arguments",
        ));
    }
    if line.len() > 3 {
        // haproxy 2.6 ignores extra words here.
        p.push(line.warn(
            3,
            format!("errorfile: unexpected argument '{}' ignored", line.word(3)),
        ));
    }
    let code = line.word(1);
    let status = parse_uint::<u16>(code)
        .ok()
        .filter(|s| ERRORFILE_CODES.contains(s))
        .ok_or_else(|| line.err(1, format!("errorfile : status code '{code}' not handled")))?;
    let path = line.word(2);
    let content = load_errorfile(p, line, 2)?;
    if let Some(h) = p.cfg.http_errors.get_mut(idx) {
        // A later line for the same status replaces the earlier one.
        h.errorfiles.retain(|e| e.status != status);
        h.errorfiles.push(SectionErrorFile {
            status,
            path: path.to_string(),
            content,
            loc: line.loc.clone(),
        });
    }
    Ok(())
}

/// Read the errorfile named by word `i` through the host and check that it
/// is a complete HTTP/1 response, as HAProxy does when it loads it.
pub(crate) fn load_errorfile(
    p: &Parser<'_>,
    line: &Line<'_>,
    i: usize,
) -> Result<Vec<u8>, Diagnostic> {
    let path = line.word(i);
    let content = p
        .host
        .read_file(path)
        .map_err(|e| line.err(i, format!("errorfile : error opening file '{path}': {e}")))?;
    check_errorfile(&content).map_err(|e| line.err(i, format!("errorfile : '{path}': {e}")))?;
    Ok(content)
}

/// An errorfile is empty (close the connection silently) or a full HTTP/1.x
/// response: status line, headers, empty line, and a body matching any
/// Content-Length.
pub(crate) fn check_errorfile(content: &[u8]) -> Result<(), String> {
    if content.is_empty() {
        return Ok(());
    }
    let head_end = find(content, b"\r\n\r\n")
        .map(|i| (i, i + 4))
        .into_iter()
        .chain(find(content, b"\n\n").map(|i| (i, i + 2)))
        .min_by_key(|(i, _)| *i);
    let Some((head_len, body_at)) = head_end else {
        return Err("unable to parse headers (no empty line after them)".into());
    };
    let head = String::from_utf8_lossy(content.get(..head_len).unwrap_or_default());
    let mut lines = head.lines();
    let status_line = lines.next().unwrap_or("");
    let version = status_line.split(' ').next().unwrap_or("");
    if !version.starts_with("HTTP/") {
        return Err("unable to parse headers (no HTTP status line)".into());
    }
    if version != "HTTP/1.0" && version != "HTTP/1.1" {
        return Err(format!("invalid http version ({version})"));
    }
    let code = status_line.split(' ').nth(1).unwrap_or("");
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "unable to parse headers (invalid status code '{code}')"
        ));
    }
    let body_len = content.len().saturating_sub(body_at);
    for h in lines {
        let Some((name, value)) = h.split_once(':') else {
            return Err(format!(
                "unable to parse headers (malformed header '{}')",
                h.trim_end()
            ));
        };
        if name.eq_ignore_ascii_case("content-length") {
            let v = value.trim();
            let n: usize = v
                .parse()
                .map_err(|_| format!("unable to parse headers (invalid content-length '{v}')"))?;
            if n != body_len {
                return Err(format!(
                    "payload size does not match the announced content-length ({body_len} != {n})"
                ));
            }
        }
    }
    Ok(())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
