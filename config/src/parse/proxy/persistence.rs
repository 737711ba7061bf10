//! Persistence: `cookie`, `stick-table` and the `stick` rules.

use super::{allowed_kw, cond_at, Ctx};
use crate::diag::Diagnostic;
use crate::model::*;
use crate::parse::common::Line;
use crate::sample::parse_sample;
use crate::units::TimeUnit;

pub(super) fn parse_cookie(line: &Line<'_>) -> Result<CookieConf, Diagnostic> {
    let name = line
        .arg(1)
        .ok_or_else(|| line.err(1, "'cookie' expects <cookie_name> as argument."))?;
    let mut c = CookieConf {
        name: name.to_string(),
        mode: None,
        indirect: false,
        nocache: false,
        postonly: false,
        preserve: false,
        httponly: false,
        secure: false,
        dynamic: false,
        domains: Vec::new(),
        maxidle: None,
        maxlife: None,
        attrs: Vec::new(),
    };
    let mut i = 2;
    while let Some(w) = line.arg(i) {
        match w {
            "rewrite" => c.mode = Some(CookieMode::Rewrite),
            "insert" => c.mode = Some(CookieMode::Insert),
            "prefix" => c.mode = Some(CookieMode::Prefix),
            "indirect" => c.indirect = true,
            "nocache" => c.nocache = true,
            "postonly" => c.postonly = true,
            "preserve" => c.preserve = true,
            "httponly" => c.httponly = true,
            "secure" => c.secure = true,
            "dynamic" => c.dynamic = true,
            "domain" => {
                let d = line
                    .arg(i + 1)
                    .ok_or_else(|| line.err(i + 1, "'domain' expects <domain> as argument."))?;
                c.domains.push(d.to_string());
                i += 1;
            }
            "maxidle" => {
                c.maxidle = Some(line.duration(i + 1, "cookie maxidle", TimeUnit::Seconds)?);
                i += 1;
            }
            "maxlife" => {
                c.maxlife = Some(line.duration(i + 1, "cookie maxlife", TimeUnit::Seconds)?);
                i += 1;
            }
            "attr" => {
                let a = line
                    .arg(i + 1)
                    .ok_or_else(|| line.err(i + 1, "'attr' expects <value> as argument."))?;
                if a.bytes().any(|b| b == b';' || b.is_ascii_control()) {
                    return Err(line.err(i + 1, "'attr' value contains a forbidden character"));
                }
                c.attrs.push(a.to_string());
                i += 1;
            }
            o => {
                return Err(line.err(i, format!("'cookie' supports 'rewrite', 'insert', 'prefix', 'indirect', 'nocache', 'postonly', 'domain', 'maxidle', 'dynamic', 'maxlife', 'attr', 'httponly' and 'secure' options (got '{o}').")));
            }
        }
        i += 1;
    }
    let modes = [
        c.mode == Some(CookieMode::Rewrite),
        c.mode == Some(CookieMode::Insert),
        c.mode == Some(CookieMode::Prefix),
    ];
    debug_assert!(modes.iter().filter(|m| **m).count() <= 1);
    if c.postonly && c.mode != Some(CookieMode::Insert) {
        return Err(line.err(
            0,
            "cookie 'postonly' option can only be used with 'insert'.",
        ));
    }
    Ok(c)
}

pub(crate) fn parse_stick_table(line: &Line<'_>, mut i: usize) -> Result<StickTable, Diagnostic> {
    let mut key = None;
    let mut size = None;
    let mut t = StickTable {
        key: StickKeyType::Ip,
        size: 0,
        expire: None,
        nopurge: false,
        peers: None,
        srvkey: None,
        write_to: None,
        recv_only: false,
        store: Vec::new(),
        loc_line: line.loc.line,
    };
    while let Some(w) = line.arg(i) {
        match w {
            "type" => {
                let ty = line.word(i + 1);
                i += 2;
                let mut len_of = |default: u32| -> Result<u32, Diagnostic> {
                    if line.arg(i) == Some("len") {
                        let n = line.uint(i + 1, "stick-table len")?;
                        i += 2;
                        Ok(n)
                    } else {
                        Ok(default)
                    }
                };
                key = Some(match ty {
                    "ip" | "ipv4" => StickKeyType::Ip,
                    "ipv6" => StickKeyType::Ipv6,
                    "integer" => StickKeyType::Integer,
                    "string" => StickKeyType::String { len: len_of(32)? },
                    "binary" => StickKeyType::Binary { len: len_of(32)? },
                    o => return Err(line.err(i - 1, format!("'stick-table': unknown type '{o}' (expects ip, ipv6, integer, string or binary)"))),
                });
                continue;
            }
            "size" => {
                let s = line.word(i + 1);
                size = Some(
                    crate::units::parse_size(s)
                        .map_err(|e| line.err(i + 1, format!("'stick-table size': {e}")))?,
                );
                i += 2;
            }
            "expire" => {
                t.expire = Some(line.duration(i + 1, "stick-table expire", TimeUnit::Millis)?);
                i += 2;
            }
            "nopurge" => {
                t.nopurge = true;
                i += 1;
            }
            "recv-only" => {
                t.recv_only = true;
                i += 1;
            }
            "peers" | "srvkey" | "write-to" => {
                let v = line
                    .arg(i + 1)
                    .ok_or_else(|| {
                        line.err(i + 1, format!("'stick-table {w}' expects an argument"))
                    })?
                    .to_string();
                match w {
                    "peers" => t.peers = Some(v),
                    "srvkey" => {
                        if v != "name" && v != "addr" {
                            return Err(line.err(
                                i + 1,
                                format!("'srvkey' expects 'name' or 'addr' (got '{v}')"),
                            ));
                        }
                        t.srvkey = Some(v);
                    }
                    _ => t.write_to = Some(v),
                }
                i += 2;
            }
            "store" => {
                let list = line.arg(i + 1).ok_or_else(|| {
                    line.err(
                        i + 1,
                        "'store' expects a comma-delimited list of data types",
                    )
                })?;
                for item in list.split(',') {
                    let (name, arg) = match item.split_once('(') {
                        Some((n, rest)) => {
                            let a = rest.strip_suffix(')').ok_or_else(|| {
                                line.err(i + 1, format!("missing closing parenthesis in '{item}'"))
                            })?;
                            (n, Some(a.to_string()))
                        }
                        None => (item, None),
                    };
                    check_store_type(name, arg.as_deref()).map_err(|e| line.err(i + 1, e))?;
                    t.store.push(StickStore {
                        name: name.to_string(),
                        arg,
                    });
                }
                i += 2;
            }
            o => return Err(line.err(i, format!("'stick-table': unknown argument '{o}'"))),
        }
    }
    t.key = key.ok_or_else(|| line.err(line.len(), "'stick-table' requires a 'type' parameter"))?;
    t.size =
        size.ok_or_else(|| line.err(line.len(), "'stick-table' requires a 'size' parameter"))?;
    Ok(t)
}

/// Stick-table data types (manual 11.1, "store").
fn check_store_type(name: &str, arg: Option<&str>) -> Result<(), String> {
    const PLAIN: &[&str] = &[
        "server_id",
        "server_key",
        "server_name",
        "gpt0",
        "gpc0",
        "gpc1",
        "conn_cnt",
        "conn_cur",
        "sess_cnt",
        "http_req_cnt",
        "http_err_cnt",
        "http_fail_cnt",
        "bytes_in_cnt",
        "bytes_out_cnt",
        "glitch_cnt",
    ];
    const RATES: &[&str] = &[
        "gpc0_rate",
        "gpc1_rate",
        "conn_rate",
        "sess_rate",
        "http_req_rate",
        "http_err_rate",
        "http_fail_rate",
        "bytes_in_rate",
        "bytes_out_rate",
        "glitch_rate",
    ];
    const ARRAYS: &[&str] = &["gpt", "gpc", "gpc_rate"];
    if PLAIN.contains(&name) {
        return if arg.is_some() {
            Err(format!("data type '{name}' takes no argument"))
        } else {
            Ok(())
        };
    }
    if RATES.contains(&name) {
        let a =
            arg.ok_or_else(|| format!("data type '{name}' expects a period, e.g. {name}(10s)"))?;
        crate::units::parse_duration(a, TimeUnit::Millis).map_err(|e| format!("'{name}': {e}"))?;
        return Ok(());
    }
    if ARRAYS.contains(&name) {
        let a = arg.ok_or_else(|| format!("data type '{name}' expects a number of elements"))?;
        let n = a.split(',').next().unwrap_or("");
        crate::units::parse_uint::<u32>(n).map_err(|e| format!("'{name}': {e}"))?;
        return Ok(());
    }
    Err(format!("unknown data type '{name}' for 'store'"))
}

pub(super) fn parse_stick(cx: &mut Ctx<'_>, line: &Line<'_>) -> Result<(), Diagnostic> {
    let kind = match line.word(1) {
        "on" => StickRuleKind::On,
        "match" => StickRuleKind::Match,
        "store-request" => StickRuleKind::StoreRequest,
        "store-response" => StickRuleKind::StoreResponse,
        o => {
            return Err(line.err(
                1,
                format!(
                "'stick' expects 'on', 'match', 'store-request' or 'store-response' (got '{o}')"
            ),
            ))
        }
    };
    let kwname = format!("stick {}", line.word(1));
    if !allowed_kw(cx, line, &kwname)? {
        return Ok(());
    }
    let text = line
        .arg(2)
        .ok_or_else(|| line.err(2, format!("'{kwname}' expects a pattern")))?;
    let expr = parse_sample(text).map_err(|e| line.err(2, format!("'{kwname}': {}", e.message)))?;
    let mut i = 3;
    let mut table = None;
    if line.arg(i) == Some("table") {
        table = Some(
            line.arg(i + 1)
                .ok_or_else(|| line.err(i + 1, "'table' expects a table name"))?
                .to_string(),
        );
        i += 2;
    }
    let cond = cond_at(line, i)?;
    cx.px.stick_rules.push(StickRule {
        kind,
        expr,
        table,
        cond,
        loc: line.loc.clone(),
    });
    Ok(())
}
