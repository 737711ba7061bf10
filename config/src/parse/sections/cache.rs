//! The `cache` section: sizes, ages and the vary/header options.

use super::{lookup, unknown};
use crate::diag::Diagnostic;
use crate::keywords::Section;
use crate::parse::{Line, Parser};

pub(super) fn cache(p: &mut Parser<'_>, idx: usize, line: &Line<'_>) -> Result<(), Diagnostic> {
    let kw = line.kw();
    if lookup(Section::Cache, line).is_none() {
        return Err(unknown(line, Section::Cache));
    }
    line.no_more_than(1, 1, kw)?;
    let text = line.word(1);
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    let Some(c) = p.cfg.caches.get_mut(idx) else {
        return Ok(());
    };
    match kw {
        "total-max-size" => {
            // HAProxy prints these with ha_warning() but fails the check.
            if !digits {
                return Err(line.err(1, format!("total-max-size wrong value '{text}'")));
            }
            let n = text
                .parse::<u32>()
                .ok()
                .filter(|n| *n <= 4095)
                .ok_or_else(|| {
                    line.err(
                        1,
                        format!("\"total-max-size\" ({text}) must not be greater than 4095"),
                    )
                })?;
            c.total_max_size_mb = Some(n);
        }
        "max-object-size" => {
            if !digits {
                return Err(line.err(1, format!("max-object-size wrong value '{text}'")));
            }
            let n = text
                .parse::<u32>()
                .map_err(|_| line.err(1, format!("max-object-size wrong value '{text}'")))?;
            c.max_object_size = Some(n);
        }
        "max-age" => {
            // HAProxy reads it with atoi(): warn, do not fail, on odd values.
            let lead: String = text.chars().take_while(char::is_ascii_digit).collect();
            let n = lead.parse::<u32>().unwrap_or(0);
            c.max_age = Some(n);
            if !digits {
                p.push(line.warn(
                    1,
                    format!(
                        "'max-age' expects an age parameter in seconds, '{text}' is read as {n}"
                    ),
                ));
            }
        }
        "process-vary" => match text {
            "on" => c.process_vary = Some(true),
            "off" => c.process_vary = Some(false),
            // A warning only in HAProxy (verified with 2.6).
            _ => p.push(line.warn(
                1,
                "'process-vary' expects \"on\" or \"off\" (enable or disable vary processing)",
            )),
        },
        _ => {
            // max-secondary-entries
            let n = text
                .parse::<u32>()
                .ok()
                .filter(|n| digits && *n > 0)
                .ok_or_else(|| {
                    line.err(1, format!("max-secondary-entries wrong value '{text}'"))
                })?;
            c.max_secondary_entries = Some(n);
        }
    }
    Ok(())
}
