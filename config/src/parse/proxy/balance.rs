//! Load balancing: `balance` and `hash-type`.

use crate::diag::{did_you_mean, Diagnostic};
use crate::model::*;
use crate::parse::common::Line;
use crate::sample::parse_sample;

/// `balance log-hash <converter>[,<converter>...]` (3.2 manual 4.2
/// "balance"). The converters are parsed as the converters of a sample
/// expression: after a placeholder fetch, which is then dropped (a log
/// message is a string, as `str()` is).
pub(super) fn parse_log_hash(line: &Line<'_>) -> Result<Vec<crate::sample::ConvCall>, Diagnostic> {
    let Some(list) = line.arg(2).filter(|l| !l.is_empty()) else {
        return Err(line.err(2, "'balance log-hash' requires a converter list."));
    };
    line.no_more_than(1, 2, "balance")?;
    let e = parse_sample(&format!("str(),{list}"))
        .map_err(|e| line.err(2, format!("'balance log-hash': {}", e.message)))?;
    Ok(e.converters)
}

pub(super) fn parse_balance(line: &Line<'_>) -> Result<Balance, Diagnostic> {
    let algo = line.word(1);
    let b = match algo {
        "roundrobin" => Balance::RoundRobin,
        "static-rr" => Balance::StaticRr,
        "leastconn" => Balance::LeastConn,
        "first" => Balance::First,
        "source" => Balance::Source,
        "random" => Balance::Random { draws: 2 },
        a if a.starts_with("random(") => {
            let n = a
                .strip_prefix("random(")
                .and_then(|r| r.strip_suffix(')'))
                .and_then(|n| n.parse::<u32>().ok())
                .filter(|n| *n >= 1)
                .ok_or_else(|| line.err(1, format!("'balance random' expects a positive number of draws in parentheses (got '{a}')")))?;
            Balance::Random { draws: n }
        }
        "uri" => {
            let mut whole = false;
            let mut path_only = false;
            let mut len = None;
            let mut depth = None;
            let mut i = 2;
            while let Some(w) = line.arg(i) {
                match w {
                    "whole" => whole = true,
                    "path-only" => path_only = true,
                    "len" => {
                        len = Some(line.uint(i + 1, "balance uri len")?);
                        i += 1;
                    }
                    "depth" => {
                        depth = Some(line.uint(i + 1, "balance uri depth")?);
                        i += 1;
                    }
                    o => return Err(line.err(i, format!("'balance uri' only accepts parameters 'whole', 'path-only', 'len' and 'depth' (got '{o}')."))),
                }
                i += 1;
            }
            return Ok(Balance::Uri {
                whole,
                path_only,
                len,
                depth,
            });
        }
        "url_param" => {
            let Some(param) = line.arg(2) else {
                return Err(line.err(2, "'balance url_param' requires an URL parameter name."));
            };
            let mut check_post = false;
            let mut i = 3;
            while let Some(w) = line.arg(i) {
                match w {
                    "check_post" => {
                        check_post = true;
                        // An optional legacy size limit may follow.
                        if line
                            .arg(i + 1)
                            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
                        {
                            i += 1;
                        }
                    }
                    o => {
                        return Err(line.err(
                            i,
                            format!(
                                "'balance url_param' only accepts check_post modifier (got '{o}')."
                            ),
                        ))
                    }
                }
                i += 1;
            }
            return Ok(Balance::UrlParam {
                param: param.to_string(),
                check_post,
            });
        }
        a if a.starts_with("hdr(") => {
            let name = a
                .strip_prefix("hdr(")
                .and_then(|r| r.strip_suffix(')'))
                .filter(|n| !n.is_empty())
                .ok_or_else(|| line.err(1, "'balance hdr' requires an http header field name."))?;
            let mut use_domain_only = false;
            if let Some(w) = line.arg(2) {
                if w == "use_domain_only" {
                    use_domain_only = true;
                } else {
                    return Err(line.err(
                        2,
                        format!(
                            "'balance hdr()' only accepts 'use_domain_only' modifier (got '{w}')."
                        ),
                    ));
                }
            }
            line.no_more_than(1, 2, "balance")?;
            return Ok(Balance::Hdr {
                name: name.to_string(),
                use_domain_only,
            });
        }
        a if a == "rdp-cookie" || a.starts_with("rdp-cookie(") => {
            let name = a
                .strip_prefix("rdp-cookie(")
                .and_then(|r| r.strip_suffix(')'))
                .unwrap_or("mstshash");
            Balance::RdpCookie {
                name: name.to_string(),
            }
        }
        "hash" => {
            let Some(expr) = line.arg(2) else {
                return Err(line.err(2, "'balance hash' requires a sample expression."));
            };
            let e = parse_sample(expr)
                .map_err(|e| line.err(2, format!("'balance hash': {}", e.message)))?;
            line.no_more_than(1, 2, "balance")?;
            return Ok(Balance::Hash(e));
        }
        "" => return Err(line.err(1, "'balance' expects an algorithm name")),
        o => {
            let algos = [
                "roundrobin",
                "static-rr",
                "leastconn",
                "first",
                "source",
                "random",
                "uri",
                "url_param",
                "hdr",
                "rdp-cookie",
                "hash",
            ];
            let mut d = line.err(1, format!("'balance' only supports 'roundrobin', 'static-rr', 'leastconn', 'source', 'uri', 'url_param', 'hash', 'hdr(name)', 'rdp-cookie(name)', 'random', 'first' and 'log-hash' (got '{o}')."));
            if let Some(h) = did_you_mean(o, algos) {
                d = d.with_hint(format!("did you mean '{h}'?"));
            }
            return Err(d);
        }
    };
    line.no_more_than(1, 1, "balance")?;
    Ok(b)
}

pub(super) fn parse_hash_type(line: &Line<'_>) -> Result<HashType, Diagnostic> {
    let method = match line.word(1) {
        "map-based" => HashMethod::MapBased,
        "consistent" => HashMethod::Consistent,
        "avalanche" => {
            return Err(line.err(1, "experimental feature 'hash-type avalanche' is not supported anymore, please use 'map-based avalanche' instead."));
        }
        o => {
            return Err(line.err(
                1,
                format!("'hash-type' requires 'map-based' or 'consistent' (got '{o}')"),
            ))
        }
    };
    let function = match line.arg(2) {
        None | Some("sdbm") => HashFunction::Sdbm,
        Some("djb2") => HashFunction::Djb2,
        Some("wt6") => HashFunction::Wt6,
        Some("crc32") => HashFunction::Crc32,
        Some("none") => HashFunction::None,
        Some(o) => {
            return Err(line.err(
                2,
                format!("unknown hash function '{o}' (expects sdbm, djb2, wt6, crc32 or none)"),
            ))
        }
    };
    let avalanche = match line.arg(3) {
        // HAProxy: "if consistent with no argument, then avalanche modifier
        // is also applied" (sdbm + avalanche, as the manual says).
        None => method == HashMethod::Consistent && line.arg(2).is_none(),
        Some("avalanche") => true,
        Some(o) => {
            return Err(line.err(
                3,
                format!("unknown hash modifier '{o}' (expects 'avalanche')"),
            ))
        }
    };
    line.no_more_than(1, 3, "hash-type")?;
    Ok(HashType {
        method,
        function,
        avalanche,
    })
}
