//! Filters (manual section 9): `filter` and `compression`.

use super::{allowed_kw, Ctx};
use crate::diag::Diagnostic;
use crate::parse::common::Line;
use crate::parse::words_from;

/// The filters HAProxy 3.2 registers (manual section 9).
const FILTERS: &[&str] = &[
    "bwlim-in",
    "bwlim-out",
    "cache",
    "compression",
    "fcgi-app",
    "opentracing",
    "spoe",
    "trace",
];

/// `filter <name> [param*]` from word `i` (the name): the name must be a
/// registered filter, and `spoe` needs its configuration file, which
/// HAProxy opens while parsing (flt_spoe.c parse_spoe_flt). The SPOE file's
/// own sections are not read.
pub(super) fn check_filter(cx: &Ctx<'_>, line: &Line<'_>, i: usize) -> Result<(), Diagnostic> {
    let name = line.word(i);
    if !FILTERS.contains(&name) {
        return Err(line
            .err(i, format!("'filter' : unknown keyword '{name}'"))
            .with_hint(format!("registered filters: {}", FILTERS.join(", "))));
    }
    if name != "spoe" {
        return Ok(());
    }
    let mut config = None;
    let mut j = i + 1;
    while let Some(w) = line.arg(j) {
        match w {
            "engine" | "config" => {
                let Some(v) = line.arg(j + 1) else {
                    return Err(
                        line.err(j, format!("'filter' : 'spoe' : '{w}' option without value"))
                    );
                };
                if w == "config" {
                    config = Some((j + 1, v));
                }
                j += 2;
            }
            o => {
                return Err(line.err(j, format!("'filter' : 'spoe' : unknown keyword '{o}'")));
            }
        }
    }
    let Some((at, path)) = config else {
        return Err(line.err(i, "'filter' : 'spoe' : missing config file"));
    };
    cx.host.read_file(path).map_err(|e| {
        line.err(
            at,
            format!("'filter' : 'spoe' : Could not open configuration file {path} : {e}"),
        )
    })?;
    Ok(())
}
pub(super) fn parse_compression(cx: &mut Ctx<'_>, line: &Line<'_>) -> Result<(), Diagnostic> {
    if !allowed_kw(cx, line, "compression")? {
        return Ok(());
    }
    let sub = line.word(1);
    let list = || words_from(line.words, 2);
    let c = &mut cx.px.compression;
    match sub {
        "algo" | "algo-req" | "algo-res" => {
            let algos = list();
            if algos.is_empty() {
                return Err(line.err(2, format!("'compression {sub}' expects at least one algorithm")));
            }
            for (n, a) in algos.iter().enumerate() {
                if !matches!(a.as_str(), "identity" | "gzip" | "deflate" | "raw-deflate") {
                    return Err(line.err(n + 2, format!("'{a}' : '{sub}' unknown compression algorithm (expects identity, gzip, deflate, raw-deflate)")));
                }
            }
            if sub == "algo-req" && algos.len() > 1 {
                return Err(line.err(3, "'compression algo-req' expects exactly one algorithm"));
            }
            match sub {
                "algo" => {
                    c.algos_res = algos;
                }
                "algo-req" => c.algos_req = algos,
                _ => c.algos_res = algos,
            }
        }
        "type" | "type-res" => c.types_res = list(),
        "type-req" => c.types_req = list(),
        "offload" => c.offload = true,
        "direction" => {
            let d = line.word(2);
            if !matches!(d, "request" | "response" | "both") {
                return Err(line.err(2, format!("'compression direction' expects 'request', 'response' or 'both' (got '{d}')")));
            }
            c.direction = Some(d.to_string());
        }
        "minsize-req" | "minsize-res" => {
            let s = crate::units::parse_size(line.word(2)).map_err(|e| line.err(2, format!("'compression {sub}': {e}")))?;
            if sub == "minsize-req" {
                c.minsize_req = Some(s);
            } else {
                c.minsize_res = Some(s);
            }
        }
        o => return Err(line.err(1, format!("'compression' expects 'algo', 'type', 'direction', 'offload', 'algo-req', 'algo-res', 'type-req', 'type-res', 'minsize-req' or 'minsize-res' (got '{o}')"))),
    }
    Ok(())
}
