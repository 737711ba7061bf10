//! `bind <addr>[,<addr>...] [options]` (manual 4.2 "bind", 5.1).

use super::{Ctx, Line};
use crate::addr::{parse_address, AddrRules, Address};
use crate::diag::{did_you_mean, Diagnostic};
use crate::keywords;
use crate::model::{Bind, BindOptions, Directive, Verify};
use crate::units::{parse_int, parse_uint};

const BIND_RULES: AddrRules = AddrRules {
    port_required: true,
    port_range: true,
    port_offset: false,
    names: true,
};

pub(crate) fn parse_bind(cx: &mut Ctx<'_>, line: &Line<'_>) -> Result<Bind, Diagnostic> {
    let Some(list) = line.arg(1) else {
        // (the address list is expanded for ${VAR} below)
        return Err(line.err(
            1,
            "'bind' expects {<path>|[addr1]:port1[-end1]}{,[addr]:port[-end]}... as arguments.",
        ));
    };
    let expanded = crate::parse::expand_address(list, cx.getenv)
        .map_err(|e| line.err(1, format!("'bind' : {e}")))?;
    let list = expanded.as_str();
    let mut addrs = Vec::new();
    for part in list.split(',') {
        let a = parse_address(part, BIND_RULES)
            .map_err(|e| line.err(1, format!("'bind {list}' : {e}")))?;
        if let Address::Rhttp(target) = &a {
            if !cx.experimental {
                return Err(line.err(1, format!("'bind {list}' : address 'rhttp@' is experimental, must be allowed via a global 'expose-experimental-directives'")));
            }
            if target
                .split_once('/')
                .is_none_or(|(b, s)| b.is_empty() || s.is_empty())
            {
                return Err(line.err(
                    1,
                    format!("'bind {list}' : a reverse HTTP listener names its server as 'rhttp@<backend>/<server>'"),
                ));
            }
        }
        addrs.push(a);
    }
    let opts = parse_bind_options(cx, line, 2, false)?;
    if opts.ssl && opts.crt.is_empty() && opts.crt_list.is_empty() {
        return Err(line.err(
            1,
            format!("no SSL certificate specified for bind '{list}' (use 'crt')"),
        ));
    }
    if opts.v4v6 && opts.v6only {
        return Err(line.err(1, "'v4v6' and 'v6only' are mutually exclusive"));
    }
    if addrs
        .iter()
        .any(|a| matches!(a, Address::Unix { .. } | Address::Abstract { .. }))
        && (opts.v4v6 || opts.v6only || opts.transparent || opts.tfo || opts.defer_accept)
    {
        let w = line.warn(1, "IP socket options ignored on a UNIX socket bind");
        cx.diags.push(w);
    }
    Ok(Bind {
        addrs,
        opts,
        loc: line.loc.clone(),
    })
}

/// Parse bind options from word `i` on. `stats_socket` relaxes nothing but
/// is kept for callers (the global `stats socket` line shares these).
pub(crate) fn parse_bind_options(
    cx: &mut Ctx<'_>,
    line: &Line<'_>,
    mut i: usize,
    _stats_socket: bool,
) -> Result<BindOptions, Diagnostic> {
    let mut o = BindOptions::default();
    while let Some(name) = line.arg(i) {
        // `process` was removed with nbproc (3.x); ringlb accepts it like
        // `thread`, with a warning, since ignoring it cannot change traffic.
        let def = if name == "process" {
            keywords::bind_option("thread")
        } else {
            keywords::bind_option(name)
        };
        let Some(def) = def else {
            let mut d = line.err(i, format!("'bind' : unknown keyword '{name}'."));
            if let Some(h) = did_you_mean(name, keywords::BIND_OPTIONS.iter().map(|k| k.name)) {
                d = d.with_hint(format!("did you mean '{h}'?"));
            }
            return Err(d);
        };
        let nvals = usize::from(def.values);
        if line.len() < i + 1 + nvals {
            return Err(line.err(i + 1, format!("'{name}' : missing value")));
        }
        let v = line.word(i + 1);
        let str_opt = || Some(v.to_string());
        match name {
            "ssl" => o.ssl = true,
            "crt" => {
                read_check_base(cx, line, i + 1, Base::Crt)?;
                o.crt.push(v.to_string());
            }
            "crt-list" => {
                read_check_base(cx, line, i + 1, Base::Crt)?;
                o.crt_list.push(v.to_string());
            }
            "ca-file" => {
                read_check_base(cx, line, i + 1, Base::Ca)?;
                o.ca_file = str_opt();
            }
            "crl-file" => {
                read_check_base(cx, line, i + 1, Base::Ca)?;
                o.crl_file = str_opt();
            }
            "verify" => o.verify = Some(parse_verify(line, i + 1)?),
            "alpn" => o.alpn = Some(v.split(',').map(str::to_string).collect()),
            "ciphers" => o.ciphers = str_opt(),
            "ciphersuites" => o.ciphersuites = str_opt(),
            "curves" => o.curves = str_opt(),
            "ssl-min-ver" | "ssl-max-ver" => {
                if !matches!(v, "SSLv3" | "TLSv1.0" | "TLSv1.1" | "TLSv1.2" | "TLSv1.3") {
                    return Err(line.err(i + 1, format!("'{name}' : unknown version '{v}' (expects SSLv3, TLSv1.0, TLSv1.1, TLSv1.2 or TLSv1.3)")));
                }
                if name == "ssl-min-ver" {
                    o.ssl_min_ver = str_opt();
                } else {
                    o.ssl_max_ver = str_opt();
                }
            }
            "strict-sni" => o.strict_sni = true,
            "accept-proxy" => o.accept_proxy = true,
            "accept-netscaler-cip" => o.accept_netscaler_cip = Some(line.uint(i + 1, name)?),
            "v4v6" => o.v4v6 = true,
            "v6only" => o.v6only = true,
            "transparent" => o.transparent = true,
            "defer-accept" => o.defer_accept = true,
            "tfo" => o.tfo = true,
            "interface" => o.interface = str_opt(),
            "namespace" => o.namespace = str_opt(),
            "name" => o.name = str_opt(),
            "id" => {
                let id: u32 = line.uint(i + 1, name)?;
                if id == 0 {
                    return Err(line.err(i + 1, "'id' : custom id 0 is reserved for internal use"));
                }
                o.id = Some(id);
            }
            "maxconn" => o.maxconn = Some(line.uint(i + 1, name)?),
            "backlog" => o.backlog = Some(line.uint(i + 1, name)?),
            "mss" => {
                let n = parse_int(v)
                    .ok()
                    .and_then(|n| i32::try_from(n).ok())
                    .ok_or_else(|| {
                        line.err(i + 1, format!("'mss' : expects an MSS value (got '{v}')"))
                    })?;
                o.mss = Some(n);
            }
            "nice" => {
                let n = parse_int(v)
                    .ok()
                    .and_then(|n| i32::try_from(n).ok())
                    .filter(|n| (-1024..=1024).contains(n))
                    .ok_or_else(|| {
                        line.err(
                            i + 1,
                            format!("'nice' : expects a value between -1024 and 1024 (got '{v}')"),
                        )
                    })?;
                o.nice = Some(n);
            }
            "tcp-ut" => o.tcp_ut = Some(super::ms(line, i + 1, "tcp-ut")?),
            "mode" => {
                let m = u32::from_str_radix(v, 8).map_err(|_| {
                    line.err(i + 1, format!("'mode' : expects an octal mode (got '{v}')"))
                })?;
                o.unix_mode = Some(m);
            }
            "user" | "uid" => o.unix_user = str_opt(),
            "group" | "gid" => o.unix_group = str_opt(),
            "level" => {
                if !matches!(v, "user" | "operator" | "admin") {
                    return Err(line.err(
                        i + 1,
                        format!(
                            "'level' only supports 'user', 'operator', and 'admin' (got '{v}')"
                        ),
                    ));
                }
                o.level = str_opt();
            }
            "expose-fd" => {
                if v != "listeners" {
                    return Err(line.err(
                        i + 1,
                        format!("'expose-fd' only supports 'listeners' (got '{v}')"),
                    ));
                }
                o.expose_fd_listeners = true;
            }
            "proto" => {
                check_mux_protocol(line, i + 1)?;
                o.proto = str_opt();
            }
            "thread" | "process" => {
                // Accepted and ignored: ringlb runs one listener per executor.
                let w = line.warn(
                    i,
                    format!("'{name}' is ignored: ringlb places every listener on every executor"),
                );
                cx.diags.push(w);
                o.thread = str_opt();
            }
            _ => {
                if def.values == 1 && name.ends_with("-file") {
                    read_check(cx, line, i + 1)?;
                }
                o.other.push(Directive {
                    keyword: name.to_string(),
                    args: (i + 1..i + 1 + nvals)
                        .map(|j| line.word(j).to_string())
                        .collect(),
                    loc: line.loc_at(i),
                });
            }
        }
        i += 1 + nvals;
    }
    debug_assert!(i >= line.len());
    let _ = parse_uint::<u32>;
    Ok(o)
}

pub(crate) fn parse_verify(line: &Line<'_>, i: usize) -> Result<Verify, Diagnostic> {
    match line.word(i) {
        "none" => Ok(Verify::None),
        "optional" => Ok(Verify::Optional),
        "required" => Ok(Verify::Required),
        o => Err(line.err(i, format!("'verify' : unknown verify method '{o}', only 'none', 'optional', and 'required' are supported"))),
    }
}

/// Certificates, CA files and the like must be readable at start-up, as
/// HAProxy loads them while parsing.
pub(crate) fn read_check(cx: &mut Ctx<'_>, line: &Line<'_>, i: usize) -> Result<(), Diagnostic> {
    let path = line.word(i);
    match cx.host.read_file(path) {
        Ok(_) => Ok(()),
        Err(e) => Err(line.err(i, format!("unable to load '{path}': {e}"))),
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Base {
    Crt,
    Ca,
}

/// Like `read_check`, for paths relative to `crt-base` / `ca-base`.
pub(crate) fn read_check_base(
    cx: &mut Ctx<'_>,
    line: &Line<'_>,
    i: usize,
    base: Base,
) -> Result<(), Diagnostic> {
    let path = line.word(i);
    let dir = match base {
        Base::Crt => cx.crt_base.as_deref(),
        Base::Ca => cx.ca_base.as_deref(),
    };
    let full = match dir {
        Some(d) if !path.starts_with('/') && !path.starts_with('@') => {
            format!("{}/{path}", d.trim_end_matches('/'))
        }
        _ => path.to_string(),
    };
    match cx.host.read_file(&full) {
        Ok(_) => Ok(()),
        Err(e) => Err(line.err(i, format!("unable to load '{full}': {e}"))),
    }
}

/// `proto <name>` on a bind or server line must name a multiplexer HAProxy
/// knows; whether it suits the proxy's mode is checked once the mode is known
/// (check.rs).
pub(super) fn check_mux_protocol(line: &Line<'_>, i: usize) -> Result<(), Diagnostic> {
    let v = line.word(i);
    if crate::model::is_mux_protocol(v) {
        return Ok(());
    }
    let known: Vec<&str> = crate::model::MUX_PROTOCOLS
        .iter()
        .map(|(t, ..)| *t)
        .collect();
    Err(line
        .err(i, format!("'proto' : unknown MUX protocol '{v}'."))
        .with_hint(format!("known protocols: {}", known.join(", "))))
}
