//! The `option` keywords (manual 4.2 "option ...").

use super::{allowed, arity_text, Ctx};
use crate::diag::{did_you_mean, Diagnostic};
use crate::keywords;
use crate::model::*;
use crate::parse::common::Line;

/// `option <name> ...` (`start` = index of the option name), `on` false for
/// `no option`.
pub(super) fn parse_option(
    cx: &mut Ctx<'_>,
    line: &Line<'_>,
    start: usize,
    on: bool,
) -> Result<(), Diagnostic> {
    let Some(name) = line.arg(start) else {
        return Err(line.err(start, "'option' expects an option name."));
    };
    let Some(k) = keywords::option(name) else {
        let mut d = line.err(start, format!("unknown option '{name}'."));
        if let Some(h) = did_you_mean(name, keywords::OPTIONS.iter().map(|o| o.name)) {
            d = d.with_hint(format!("did you mean '{h}'?"));
        }
        return Err(d);
    };
    let kwname = format!("option {}", k.name);
    if start > 1 && !k.negatable {
        // 2.6: same verdict and wording for `no option` and `default option`.
        return Err(line.err(
            0,
            format!("negation/default is not supported for option '{name}'."),
        ));
    }
    let fe = k.frontend || (k.listen && cx.px.kind == ProxyKind::Listen);
    let be = k.backend || (k.listen && cx.px.kind == ProxyKind::Listen);
    if !allowed(cx, line, &kwname, fe, be, k.defaults)? {
        return Ok(());
    }
    let nargs = line.len().saturating_sub(start + 1);
    if on && !k.arity.accepts(nargs) {
        return Err(line
            .err(
                start + 1,
                format!("'{kwname}' expects {} (got {nargs})", arity_text(k.arity)),
            )
            .with_hint(format!("usage: {}", k.usage)));
    }
    if !on && nargs > 0 {
        return Err(line.err(start + 1, format!("'no {kwname}' cannot handle arguments")));
    }
    if k.deprecated {
        let w = line.warn(start, format!("'{kwname}' is deprecated"));
        cx.push(w);
    }
    let o = &mut cx.px.options;
    let arg = |i: usize| line.arg(start + i);
    match k.name {
        "httplog" => {
            o.log_style = on.then_some(if arg(1) == Some("clf") {
                LogStyle::HttpClf
            } else {
                LogStyle::Http
            });
            if let Some(a) = arg(1).filter(|a| *a != "clf") {
                return Err(line.err(
                    start + 1,
                    format!("'option httplog' only supports 'clf' (got '{a}')"),
                ));
            }
        }
        "tcplog" => o.log_style = on.then_some(LogStyle::Tcp),
        "httpslog" => o.log_style = on.then_some(LogStyle::Https),
        "http-keep-alive" => o.http_conn_mode = on.then_some(HttpConnMode::KeepAlive),
        "http-server-close" => o.http_conn_mode = on.then_some(HttpConnMode::ServerClose),
        "httpclose" => o.http_conn_mode = on.then_some(HttpConnMode::Close),
        "redispatch" => {
            o.redispatch = if on {
                Some(match arg(1) {
                    Some(n) => crate::units::parse_int(n)
                        .ok()
                        .and_then(|n| i32::try_from(n).ok())
                        .ok_or_else(|| {
                            line.err(
                                start + 1,
                                format!(
                                    "'option redispatch' expects an integer interval (got '{n}')"
                                ),
                            )
                        })?,
                    // HAProxy's redispatch_after: -1, the last retry.
                    None => -1,
                })
            } else {
                None
            };
        }
        "http-restrict-req-hdr-names" => {
            let expects = "option 'http-restrict-req-hdr-names' expects 'preserve', 'reject' or 'delete' option.";
            o.restrict_req_hdr_names = match arg(1) {
                Some("preserve") => None,
                Some("delete") => Some(RestrictHdrNames::Delete),
                Some("reject") => Some(RestrictHdrNames::Reject),
                Some(a) => {
                    return Err(line.err(start + 1, format!("invalid parameter '{a}'. {expects}")))
                }
                None => return Err(line.err(start + 1, format!("missing parameter. {expects}"))),
            };
        }
        "forwardfor" => {
            o.forwardfor = if on {
                Some(parse_forwardfor(line, start + 1)?)
            } else {
                None
            };
        }
        "originalto" => {
            o.originalto = if on {
                let ff = parse_forwardfor(line, start + 1)?;
                Some(OriginalTo {
                    except: ff.except,
                    header: if ff.header == "X-Forwarded-For" {
                        "X-Original-To".into()
                    } else {
                        ff.header
                    },
                })
            } else {
                None
            };
        }
        "httpchk" => {
            // `option httpchk [<method>] [<uri>] [<version>]`; a single
            // argument is the URI.
            let (method, uri, version) = match (arg(1), arg(2), arg(3)) {
                (Some(u), None, None) => (None, Some(u.to_string()), None),
                (m, u, v) => (
                    m.map(str::to_string),
                    u.map(str::to_string),
                    v.map(str::to_string),
                ),
            };
            o.check = on.then_some(CheckKind::Http {
                method,
                uri,
                version,
            });
        }
        "ssl-hello-chk" => o.check = on.then_some(CheckKind::SslHello),
        "mysql-check" => {
            let (user, post_41) = match (arg(1), arg(2), arg(3)) {
                (None, ..) => (None, false),
                // post-41 is the default (the manual, tcpcheck.c).
                (Some("user"), Some(u), None) => (Some(u.to_string()), true),
                (Some("user"), Some(u), Some("post-41")) => (Some(u.to_string()), true),
                (Some("user"), Some(_), Some("pre-41")) => (arg(2).map(str::to_string), false),
                _ => {
                    return Err(line.err(
                        start + 1,
                        "'option mysql-check' only supports 'user <username> [{post|pre}-41]'",
                    ))
                }
            };
            o.check = on.then_some(CheckKind::Mysql { user, post_41 });
        }
        "pgsql-check" => {
            let user = match (arg(1), arg(2)) {
                (Some("user"), Some(u)) => u.to_string(),
                _ => {
                    return Err(
                        line.err(start + 1, "'option pgsql-check' requires 'user <username>'")
                    )
                }
            };
            o.check = on.then_some(CheckKind::Pgsql { user });
        }
        "redis-check" => o.check = on.then_some(CheckKind::Redis),
        "smtpchk" => {
            let hello = match (arg(1), arg(2)) {
                (Some(h @ ("HELO" | "EHLO")), Some(d)) => Some((h.to_string(), d.to_string())),
                _ => None,
            };
            o.check = on.then_some(CheckKind::Smtp { hello });
        }
        "ldap-check" => o.check = on.then_some(CheckKind::Ldap),
        "spop-check" => o.check = on.then_some(CheckKind::Spop),
        "tcp-check" => o.check = on.then_some(CheckKind::TcpCheck),
        "external-check" => o.check = on.then_some(CheckKind::External),
        flag => o.set_flag(flag_name(flag), on),
    }
    Ok(())
}

/// The static name of an option from the table (options are `&'static`).
fn flag_name(name: &str) -> &'static str {
    keywords::option(name).map_or("", |k| k.name)
}

fn parse_forwardfor(line: &Line<'_>, mut i: usize) -> Result<ForwardFor, Diagnostic> {
    let mut ff = ForwardFor {
        except: None,
        header: "X-Forwarded-For".into(),
        if_none: false,
    };
    while let Some(w) = line.arg(i) {
        match w {
            "except" => {
                let n = line.arg(i + 1).ok_or_else(|| line.err(i + 1, "'except' expects <address>[/mask] as argument."))?;
                ff.except = Some(n.to_string());
                i += 2;
            }
            "header" => {
                let h = line.arg(i + 1).ok_or_else(|| line.err(i + 1, "'header' expects <header_name> as argument."))?;
                ff.header = h.to_string();
                i += 2;
            }
            "if-none" => {
                ff.if_none = true;
                i += 1;
            }
            o => return Err(line.err(i, format!("'option {}' only supports optional values: 'except', 'header' and 'if-none' (got '{o}').", line.word(1)))),
        }
    }
    Ok(ff)
}
