//! Performance tuning (manual 3.2): the typed `tune.*` keywords.

use super::{deprecated, strict_uint};
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
