//! Performance tuning (manual 3.2): the typed `tune.*` keywords.

use super::{already, deprecated, strict_uint};
use crate::diag::Diagnostic;
use crate::parse::{Line, Parser};
use crate::units::{parse_size, TimeUnit};

/// The typed `tune.*` keywords.
pub(super) fn tune(p: &mut Parser<'_>, line: &Line<'_>) -> Result<(), Diagnostic> {
    let kw = line.kw();
    if kw == "tune.ssl.force-private-cache" {
        line.no_more_than(1, 0, kw)?;
        p.cfg.global.tune.ssl.force_private_cache = true;
        return Ok(());
    }
    line.no_more_than(1, 1, kw)?;
    if line.word(1).is_empty() {
        return Err(line.err(1, format!("'{kw}' expects an integer argument")));
    }
    let t = &mut p.cfg.global.tune;
    match kw {
        "tune.bufsize" => {
            let text = line.word(1);
            let n = parse_size(text)
                .ok()
                .filter(|n| *n > 0)
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| i32::try_from(*n).is_ok())
                .ok_or_else(|| line.err(1, "'tune.bufsize' expects a positive integer argument"))?;
            t.bufsize = Some(n);
        }
        "tune.maxrewrite" => t.maxrewrite = Some(strict_uint(line, 1, kw)?),
        "tune.http.maxhdr" => {
            let n: u16 = line
                .uint(1, kw)
                .ok()
                .filter(|n| (1..=32767).contains(n))
                .ok_or_else(|| {
                    line.err(
                        1,
                        "'tune.http.maxhdr' expects a numeric value between 1 and 32767",
                    )
                })?;
            t.http_maxhdr = Some(n);
        }
        "tune.ssl.cachesize" => t.ssl.cachesize = Some(strict_uint(line, 1, kw)?),
        "tune.ssl.lifetime" => t.ssl.lifetime = Some(line.duration(1, kw, TimeUnit::Seconds)?),
        "tune.ssl.maxrecord" => t.ssl.maxrecord = Some(strict_uint(line, 1, kw)?),
        "tune.ssl.default-dh-param" => {
            let n: u32 = strict_uint(line, 1, kw)?;
            if n < 1024 {
                return Err(line.err(1, "'tune.ssl.default-dh-param' expects a value >= 1024"));
            }
            t.ssl.default_dh_param = Some(n);
        }
        _ => {
            // tune.ssl.capture-buffer-size and its deprecated alias.
            t.ssl.capture_buffer_size = Some(strict_uint(line, 1, kw)?);
            if kw == "tune.ssl.capture-cipherlist-size" {
                p.push(deprecated(line, "tune.ssl.capture-buffer-size"));
            }
        }
    }
    Ok(())
}

/// The largest socket buffer size: setsockopt takes an `int`, and the
/// kernel caps it further at `net.core.wmem_max` / `rmem_max`.
const SOCKBUF_MAX: u32 = 0x7fff_ffff;

/// `tune.sndbuf.client|server` and `tune.rcvbuf.client|server <size>`.
/// HAProxy reads them with atol(): whatever follows the leading digits is
/// ignored and nothing is refused but an empty word. The manual says
/// `<size>`, so a k/m/g unit counts here (as for `tune.bufsize`); anything
/// else is read the way HAProxy reads it, with a warning.
pub(super) fn socket_buffer(p: &mut Parser<'_>, line: &Line<'_>) -> Result<(), Diagnostic> {
    let kw = line.kw();
    line.no_more_than(1, 1, kw)?;
    let text = line.word(1);
    if text.is_empty() {
        return Err(line.err(1, format!("'{kw}' expects an integer argument")));
    }
    let t = &mut p.cfg.global.tune;
    let slot = match kw {
        "tune.sndbuf.client" => &mut t.sndbuf_client,
        "tune.sndbuf.server" => &mut t.sndbuf_server,
        "tune.rcvbuf.client" => &mut t.rcvbuf_client,
        _ => &mut t.rcvbuf_server,
    };
    // HAProxy: "'x' already specified. Continuing." once a non-zero value
    // is set; a 0 leaves the setting open.
    if slot.is_some() {
        p.push(already(line));
        return Ok(());
    }
    let (n, note) = socket_buffer_size(text);
    *slot = (n > 0).then_some(n);
    if let Some(note) = note {
        p.push(line.warn(1, format!("'{kw}' {note}")));
    }
    Ok(())
}

/// The buffer size `text` stands for, and a note when HAProxy's reading of
/// it is not what it looks like.
fn socket_buffer_size(text: &str) -> (u32, Option<String>) {
    let too_large =
        || format!("value '{text}' is larger than a socket accepts; the kernel's maximum is used");
    if let Ok(n) = parse_size(text) {
        return match u32::try_from(n).ok().filter(|n| *n <= SOCKBUF_MAX) {
            Some(n) => (n, None),
            None => (SOCKBUF_MAX, Some(too_large())),
        };
    }
    // atol(): a sign, the leading digits, the rest ignored.
    let (negative, rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let ndigits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let digits = rest.get(..ndigits).unwrap_or("");
    let value = if digits.is_empty() {
        0
    } else {
        digits.parse::<u64>().unwrap_or(u64::MAX)
    };
    if negative && value > 0 {
        // The kernel reads the int as unsigned and caps it.
        return (
            SOCKBUF_MAX,
            Some(format!(
                "value '{text}' is negative; the kernel reads it as its maximum buffer size"
            )),
        );
    }
    match u32::try_from(value).ok().filter(|n| *n <= SOCKBUF_MAX) {
        Some(n) => (
            n,
            Some(format!(
                "expects a size in bytes; '{text}' is read as {n} (its leading digits), as HAProxy does"
            )),
        ),
        None => (SOCKBUF_MAX, Some(too_large())),
    }
}

#[cfg(test)]
mod tests {
    use super::{socket_buffer_size, SOCKBUF_MAX};

    #[test]
    fn socket_buffer_sizes_read_as_haproxy_does() {
        assert_eq!(socket_buffer_size("4096"), (4096, None));
        assert_eq!(socket_buffer_size("4k"), (4096, None));
        assert_eq!(socket_buffer_size("0"), (0, None));
        let (n, note) = socket_buffer_size("30x");
        assert_eq!(n, 30);
        assert!(note.is_some_and(|n| n.contains("read as 30")));
        let (n, note) = socket_buffer_size("abc");
        assert_eq!(n, 0);
        assert!(note.is_some());
        assert_eq!(socket_buffer_size("-0").0, 0);
        let (n, note) = socket_buffer_size("-1");
        assert_eq!(n, SOCKBUF_MAX);
        assert!(note.is_some_and(|n| n.contains("negative")));
        for big in ["99999999999", "3g", "99999999999999999999999x"] {
            let (n, note) = socket_buffer_size(big);
            assert_eq!(n, SOCKBUF_MAX, "{big}");
            assert!(note.is_some_and(|n| n.contains("larger")), "{big}");
        }
    }
}
