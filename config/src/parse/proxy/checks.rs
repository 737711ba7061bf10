//! `http-check` and `tcp-check` rule sequences (manual 4.2).

use super::{allowed_kw, Ctx, Line};
use crate::addr::{parse_address, AddrRules};
use crate::diag::Diagnostic;
use crate::model::{CheckConnect, CheckExpect, CheckStep, CheckStepKind, ExpectKind};

pub(crate) fn parse_check_line(cx: &mut Ctx<'_>, line: &Line<'_>) -> Result<(), Diagnostic> {
    let kw = line.kw();
    let sub = line.word(1);
    let http = kw == "http-check";
    let known: &[&str] = if http {
        &[
            "comment",
            "connect",
            "disable-on-404",
            "expect",
            "send",
            "send-state",
            "set-var",
            "unset-var",
        ]
    } else {
        &[
            "comment",
            "connect",
            "expect",
            "send",
            "send-lf",
            "send-binary",
            "send-binary-lf",
            "set-var",
            "unset-var",
        ]
    };
    let base = sub.split('(').next().unwrap_or(sub);
    if !known.contains(&base) {
        return Err(line.err(
            1,
            format!(
                "'{kw}' expects {} (got '{sub}')",
                known
                    .iter()
                    .map(|k| format!("'{k}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let kwname = format!("{kw} {base}");
    let allowed = if crate::keywords::proxy_keyword(&kwname).is_some() {
        allowed_kw(cx, line, &kwname)?
    } else {
        allowed_kw(cx, line, kw)?
    };
    if !allowed {
        return Ok(());
    }
    let mut comment = None;
    let kind = match base {
        "connect" => CheckStepKind::Connect(parse_connect(line, &mut comment)?),
        "send" if http => parse_http_send(line, &mut comment)?,
        "send" | "send-lf" => {
            let data = line.arg(2).ok_or_else(|| {
                line.err(2, format!("'{kw} {sub}' expects a <data> as argument."))
            })?;
            take_comment(line, 3, &mut comment)?;
            CheckStepKind::Send {
                data: data.to_string(),
                lf: base == "send-lf",
            }
        }
        "send-binary" | "send-binary-lf" => {
            let data = line.arg(2).ok_or_else(|| {
                line.err(
                    2,
                    format!("'{kw} {sub}' expects a <hexstring> as argument."),
                )
            })?;
            take_comment(line, 3, &mut comment)?;
            if base == "send-binary" {
                CheckStepKind::SendBinary {
                    data: hex(data).ok_or_else(|| {
                        line.err(
                            2,
                            format!(
                                "'{kw} send-binary' : '{data}' is not a valid hexadecimal string"
                            ),
                        )
                    })?,
                    lf: None,
                }
            } else {
                CheckStepKind::SendBinary {
                    data: Vec::new(),
                    lf: Some(data.to_string()),
                }
            }
        }
        "expect" => CheckStepKind::Expect(parse_expect(line, &mut comment, http)?),
        "comment" => {
            let c = line
                .arg(2)
                .ok_or_else(|| line.err(2, format!("'{kw} comment' expects a message")))?;
            comment = Some(c.to_string());
            CheckStepKind::Other {
                keyword: "comment".into(),
                args: Vec::new(),
            }
        }
        _ => CheckStepKind::Other {
            keyword: sub.to_string(),
            args: crate::parse::words_from(line.words, 2),
        },
    };
    let step = CheckStep {
        kind,
        comment,
        loc: line.loc.clone(),
    };
    if http {
        cx.px.http_checks.push(step);
    } else {
        cx.px.tcp_checks.push(step);
    }
    Ok(())
}

fn take_comment(line: &Line<'_>, i: usize, comment: &mut Option<String>) -> Result<(), Diagnostic> {
    match line.arg(i) {
        None => Ok(()),
        Some("comment") => {
            let c = line
                .arg(i + 1)
                .ok_or_else(|| line.err(i + 1, "'comment' expects a string as argument."))?;
            *comment = Some(c.to_string());
            if line.len() > i + 2 {
                return Err(line.err(i + 2, format!("unexpected argument '{}'", line.word(i + 2))));
            }
            Ok(())
        }
        Some(o) => Err(line.err(i, format!("unexpected argument '{o}' (expects 'comment')"))),
    }
}

fn parse_connect(
    line: &Line<'_>,
    comment: &mut Option<String>,
) -> Result<CheckConnect, Diagnostic> {
    let mut c = CheckConnect::default();
    let mut i = 2;
    while let Some(w) = line.arg(i) {
        let val = || {
            line.arg(i + 1)
                .map(str::to_string)
                .ok_or_else(|| line.err(i + 1, format!("'{w}' expects an argument")))
        };
        match w {
            "default" => c.default = true,
            "send-proxy" => c.send_proxy = true,
            "via-socks4" => c.via_socks4 = true,
            "ssl" => c.ssl = true,
            "linger" => c.linger = true,
            "port" => {
                c.port = Some(val()?);
                i += 1;
            }
            "addr" => {
                let v = val()?;
                let rules = AddrRules { port_required: false, port_range: false, port_offset: false, names: true };
                c.addr = Some(parse_address(&v, rules).map_err(|e| line.err(i + 1, format!("'addr' : {e}")))?);
                i += 1;
            }
            "sni" => {
                c.sni = Some(val()?);
                i += 1;
            }
            "alpn" => {
                c.alpn = Some(val()?);
                i += 1;
            }
            "proto" => {
                c.proto = Some(val()?);
                i += 1;
            }
            "comment" => {
                *comment = Some(val()?);
                i += 1;
            }
            o => return Err(line.err(i, format!("'{} connect' : unexpected argument '{o}', expects 'comment', 'port', 'addr', 'send-proxy', 'via-socks4', 'ssl', 'sni', 'alpn', 'proto', 'linger' or 'default'", line.kw()))),
        }
        i += 1;
    }
    Ok(c)
}

fn parse_http_send(
    line: &Line<'_>,
    comment: &mut Option<String>,
) -> Result<CheckStepKind, Diagnostic> {
    let mut method = None;
    let mut uri = None;
    let mut uri_lf = false;
    let mut version = None;
    let mut headers = Vec::new();
    let mut body = None;
    let mut body_lf = false;
    let mut i = 2;
    while let Some(w) = line.arg(i) {
        let val = |k: usize| {
            line.arg(i + k).map(str::to_string).ok_or_else(|| {
                line.err(
                    i + k,
                    format!("'http-check send' : '{w}' expects an argument"),
                )
            })
        };
        match w {
            "meth" => method = Some(val(1)?),
            "uri" | "uri-lf" => {
                uri = Some(val(1)?);
                uri_lf = w == "uri-lf";
            }
            "ver" => version = Some(val(1)?),
            "body" | "body-lf" => {
                body = Some(val(1)?);
                body_lf = w == "body-lf";
            }
            "comment" => *comment = Some(val(1)?),
            "hdr" => {
                headers.push((val(1)?, val(2)?));
                i += 3;
                continue;
            }
            o => return Err(line.err(i, format!("'http-check send' : unexpected argument '{o}', expects 'meth', 'uri', 'uri-lf', 'ver', 'hdr', 'body', 'body-lf' or 'comment'"))),
        }
        i += 2;
    }
    Ok(CheckStepKind::HttpSend {
        method,
        uri,
        uri_lf,
        version,
        headers,
        body,
        body_lf,
    })
}

fn parse_expect(
    line: &Line<'_>,
    comment: &mut Option<String>,
    http: bool,
) -> Result<CheckExpect, Diagnostic> {
    let mut e = CheckExpect {
        negate: false,
        kind: ExpectKind::Custom,
        pattern: String::new(),
        min_recv: None,
        ok_status: None,
        error_status: None,
        tout_status: None,
        on_success: None,
        on_error: None,
        status_code: None,
        hdr: Vec::new(),
    };
    let mut i = 2;
    let mut have_kind = false;
    // A '!' negates the match keyword it precedes, glued to it (`!rstring`)
    // or as words of its own (`! string`); each '!' toggles, as HAProxy's
    // parse_tcpcheck_expect does, and it is refused before anything else.
    let mut bang = false;
    while let Some(word) = line.arg(i) {
        let w = word.trim_start_matches('!');
        if w.len() != word.len() {
            if (word.len() - w.len()) % 2 == 1 {
                e.negate = !e.negate;
            }
            bang = true;
            if w.is_empty() {
                i += 1;
                continue;
            }
        }
        let negated = std::mem::take(&mut bang);
        if negated && ExpectKind::from_keyword(w).is_none() {
            return Err(line.err(
                i,
                format!("'{} expect' : [!] not supported with '{w}'", line.kw()),
            ));
        }
        let val = || {
            line.arg(i + 1).map(str::to_string).ok_or_else(|| {
                line.err(
                    i + 1,
                    format!("'{} expect' : '{w}' expects an argument", line.kw()),
                )
            })
        };
        match w {
            "min-recv" => {
                let v = val()?;
                e.min_recv = Some(crate::units::parse_int(&v).map_err(|m| line.err(i + 1, m))?);
            }
            "comment" => *comment = Some(val()?),
            "ok-status" | "error-status" | "tout-status" => {
                let v = val()?;
                // HAProxy's lists: each keyword its own statuses.
                let known: &[&str] = match w {
                    "ok-status" => &["L7OK", "L7OKC", "L6OK", "L4OK"],
                    "error-status" => &["L7RSP", "L7STS", "L6RSP", "L4CON"],
                    _ => &["L7TOUT", "L6TOUT", "L4TOUT"],
                };
                if !known.contains(&v.as_str()) {
                    return Err(line.err(i + 1, format!("'{w}' : unknown status '{v}'")));
                }
                match w {
                    "ok-status" => e.ok_status = Some(v),
                    "error-status" => e.error_status = Some(v),
                    _ => e.tout_status = Some(v),
                }
            }
            "on-success" => e.on_success = Some(val()?),
            "on-error" => e.on_error = Some(val()?),
            "status-code" => e.status_code = Some(val()?),
            k if !have_kind => {
                let kind = ExpectKind::from_keyword(k).ok_or_else(|| {
                    line.err(
                        i,
                        format!("'{} expect' : unknown match keyword '{k}'", line.kw()),
                    )
                })?;
                let http_only = matches!(
                    kind,
                    ExpectKind::Status | ExpectKind::RStatus | ExpectKind::Hdr | ExpectKind::Fhdr
                );
                let tcp_only = matches!(
                    kind,
                    ExpectKind::Binary | ExpectKind::RBinary | ExpectKind::BinaryLf
                );
                if (http_only && !http) || (tcp_only && http) {
                    return Err(line.err(
                        i,
                        format!("'{} expect' : '{k}' is not supported here", line.kw()),
                    ));
                }
                e.kind = kind;
                have_kind = true;
                if matches!(kind, ExpectKind::Hdr | ExpectKind::Fhdr) {
                    // `hdr name [-m <meth>] <pattern> [value [-m <meth>]
                    // <pattern>]`: the words go to `hdr`, the options
                    // after them are parsed as the others.
                    let mut j = i + 1;
                    if line.arg(j) != Some("name") {
                        return Err(line.err(
                            j,
                            format!(
                                "'{} expect {k}' expects at least 'name' keyword as first argument",
                                line.kw()
                            ),
                        ));
                    }
                    let mut words = vec!["name".to_string()];
                    j += 1;
                    let pattern = |j: &mut usize,
                                   words: &mut Vec<String>|
                     -> Result<(), Diagnostic> {
                        if line.arg(*j) == Some("-m") {
                            let m = line.arg(*j + 1).ok_or_else(|| {
                                line.err(*j + 1, "'-m' expects a matching method")
                            })?;
                            words.push("-m".into());
                            words.push(m.to_string());
                            *j += 2;
                        }
                        let p = line.arg(*j).ok_or_else(|| {
                            line.err(*j, format!("'{} expect {k}' expects a pattern", line.kw()))
                        })?;
                        words.push(p.to_string());
                        *j += 1;
                        Ok(())
                    };
                    pattern(&mut j, &mut words)?;
                    if line.arg(j) == Some("value") {
                        words.push("value".into());
                        j += 1;
                        pattern(&mut j, &mut words)?;
                    }
                    e.hdr = words;
                    i = j;
                    continue;
                }
                e.pattern = val()?;
            }
            k if ExpectKind::from_keyword(k).is_some() => {
                return Err(line.err(
                    i,
                    format!("'{} expect' : only one pattern expected", line.kw()),
                ))
            }
            o => {
                return Err(line.err(
                    i,
                    format!("'{} expect' : unexpected argument '{o}'", line.kw()),
                ))
            }
        }
        i += 2;
    }
    if bang {
        return Err(line.err(
            i,
            format!("'{} expect' : expects a match keyword after '!'", line.kw()),
        ));
    }
    if !have_kind {
        return Err(line.err(
            i,
            format!(
                "'{} expect' : expects a match keyword such as 'status', 'string' or 'rstring'",
                line.kw()
            ),
        ));
    }
    Ok(e)
}

fn hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}
