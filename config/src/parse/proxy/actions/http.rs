//! Actions with HTTP-specific arguments: `del-header`, `set-status`,
//! `normalize-uri`, `capture`, `do-resolve`.

use super::{atoi, Words};
use crate::diag::Diagnostic;
use crate::keywords::RuleSet;
use crate::model::*;
use crate::sample::parse_var_name;

/// `del-header <name> [-m <meth>]`.
pub(super) fn del_header(w: &Words<'_, '_>) -> Result<DelHeader, Diagnostic> {
    let n = w.nargs();
    if n != 1 && n != 3 {
        return Err(w.err(
            0,
            format!(
                "'{}' expects a header name, optionally followed by '-m <method>'",
                w.base
            ),
        ));
    }
    let method = match w.arg(1) {
        None => HdrMatch::Str,
        Some("-m") => match w.arg(2).unwrap_or("") {
            "str" => HdrMatch::Str,
            "beg" => HdrMatch::Beg,
            "end" => HdrMatch::End,
            "sub" => HdrMatch::Sub,
            "reg" => HdrMatch::Reg,
            m => return Err(w.rule_err(2, format!("-m with unsupported matching method '{m}'"))),
        },
        Some(_) => return Err(w.extra(1)),
    };
    Ok(DelHeader {
        name: w.word(0, "header name")?,
        method,
    })
}

/// `set-status <code> [reason <str>]`: HAProxy's strtol, 100..999.
pub(super) fn set_status(w: &Words<'_, '_>) -> Result<SetStatus, Diagnostic> {
    let status = w
        .arg(0)
        .and_then(|c| c.parse::<u16>().ok())
        .filter(|c| (100..=999).contains(c))
        .ok_or_else(|| w.rule_err(0, "expects an integer status code between 100 and 999"))?;
    let reason = match w.arg(1) {
        Some("reason") => Some(w.word(2, "reason string")?),
        _ => None,
    };
    w.no_more(if reason.is_some() { 3 } else { 1 })?;
    Ok(SetStatus { status, reason })
}

/// `normalize-uri <normalizer> [full|strict]`.
pub(super) fn normalizer(w: &Words<'_, '_>) -> Result<Normalizer, Diagnostic> {
    let name = w.arg(0).unwrap_or("");
    let opt = w.arg(1);
    let flag = |want: &str| -> Result<bool, Diagnostic> {
        match opt {
            None => Ok(false),
            Some(o) if o == want => Ok(true),
            Some(o) => {
                Err(w.rule_err(1, format!("unknown argument '{o}' for '{name}' normalizer")))
            }
        }
    };
    let n = match name {
        "fragment-encode" => Normalizer::FragmentEncode,
        "fragment-strip" => Normalizer::FragmentStrip,
        "path-merge-slashes" => Normalizer::PathMergeSlashes,
        "path-strip-dot" => Normalizer::PathStripDot,
        "path-strip-dotdot" => Normalizer::PathStripDotdot {
            full: flag("full")?,
        },
        "percent-decode-unreserved" => Normalizer::PercentDecodeUnreserved {
            strict: flag("strict")?,
        },
        "percent-to-uppercase" => Normalizer::PercentToUppercase {
            strict: flag("strict")?,
        },
        "query-sort-by-name" => Normalizer::QuerySortByName,
        "" => return Err(w.rule_err(0, "expects a normalizer name")),
        o => return Err(w.rule_err(0, format!("unknown normalizer '{o}'"))),
    };
    let takes_opt = matches!(
        n,
        Normalizer::PathStripDotdot { .. }
            | Normalizer::PercentDecodeUnreserved { .. }
            | Normalizer::PercentToUppercase { .. }
    );
    w.no_more(if takes_opt && opt.is_some() { 2 } else { 1 })?;
    Ok(n)
}

/// `capture <sample> [len <length> | id <id>]`: `len` (a new request
/// slot) is mandatory in tcp-request content and the usual form in
/// http-request; the response sets only take `id`.
pub(super) fn capture(w: &Words<'_, '_>) -> Result<CaptureSample, Diagnostic> {
    let expr = w.expr(0)?;
    let kw = w.arg(1);
    let value = w.arg(2).unwrap_or("");
    let slot = match (w.set, kw) {
        (RuleSet::TcpRequestContent, Some("len")) | (RuleSet::HttpRequest, Some("len")) => {
            let n = u32::try_from(atoi(value))
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| match w.set {
                    RuleSet::TcpRequestContent => {
                        w.rule_err(2, "a positive 'len' argument is mandatory")
                    }
                    _ => w.rule_err(2, "length must be > 0"),
                })?;
            CaptureSlot::Len(n)
        }
        (RuleSet::TcpRequestContent, _) => {
            return Err(w.rule_err(1, "a positive 'len' argument is mandatory"))
        }
        (_, Some("id")) => {
            let n = value
                .parse::<u32>()
                .map_err(|_| w.rule_err(2, format!("cannot parse id '{value}'")))?;
            CaptureSlot::Id(n)
        }
        (RuleSet::HttpRequest, _) => {
            return Err(w.rule_err(1, "expects <expression> [ 'len' <length> | id <idx> ]"))
        }
        (_, other) => {
            return Err(w.rule_err(1, format!("expects 'id', found '{}'", other.unwrap_or(""))))
        }
    };
    w.no_more(3)?;
    Ok(CaptureSample { expr, slot })
}

/// `do-resolve(<var>,<resolvers>[,ipv4|ipv6]) <expr>`.
pub(super) fn do_resolve(w: &Words<'_, '_>) -> Result<DoResolve, Diagnostic> {
    let bad = || {
        w.rule_err(
            0,
            format!("Can't parse '{}'. Expects 'do-resolve(<varname>,<resolvers>[,<options>]) <expr>'. Available options are 'ipv4' and 'ipv6'", w.written),
        )
    };
    let param = w.param.ok_or_else(bad)?;
    let mut parts = param.split(',');
    let (scope, name) = parse_var_name(parts.next().unwrap_or("")).map_err(|_| bad())?;
    let resolvers = parts
        .next()
        .filter(|r| !r.is_empty())
        .ok_or_else(bad)?
        .to_string();
    let family = match parts.next() {
        None => None,
        Some("ipv4") => Some(ResolveFamily::Ipv4),
        Some("ipv6") => Some(ResolveFamily::Ipv6),
        Some(_) => return Err(bad()),
    };
    if parts.next().is_some() || w.arg(0).is_none() {
        return Err(bad());
    }
    Ok(DoResolve {
        var: VarName { scope, name },
        resolvers,
        family,
        expr: w.only_expr()?,
    })
}
