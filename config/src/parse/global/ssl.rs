//! The global `ssl-default-*` settings.

use super::nonempty;
use crate::diag::Diagnostic;
use crate::model::global::{SslDefaults, SslOption, TlsVersion};
use crate::parse::{Line, Parser};

/// `ssl-default-{bind,server}-{ciphers,ciphersuites,curves,sigalgs,client-sigalgs}`.
pub(super) fn ssl_string(p: &mut Parser<'_>, line: &Line<'_>) -> Result<(), Diagnostic> {
    let kw = line.kw();
    line.no_more_than(1, 1, kw)?;
    let value = nonempty(
        line,
        1,
        &format!("global statement '{kw}' expects an argument"),
    )?;
    let (server, what) = match kw.strip_prefix("ssl-default-bind-") {
        Some(w) => (false, w),
        None => (true, kw.strip_prefix("ssl-default-server-").unwrap_or(kw)),
    };
    let g = &mut p.cfg.global;
    let d: &mut SslDefaults = if server {
        &mut g.ssl_default_server
    } else {
        &mut g.ssl_default_bind
    };
    let slot = match what {
        "ciphers" => &mut d.ciphers,
        "ciphersuites" => &mut d.ciphersuites,
        "curves" => &mut d.curves,
        "sigalgs" => &mut d.sigalgs,
        _ => &mut d.client_sigalgs,
    };
    *slot = Some(value);
    Ok(())
}

/// `ssl-default-bind-options` / `ssl-default-server-options`
/// (cfgparse-ssl.c).
pub(super) fn ssl_options(line: &Line<'_>, server: bool) -> Result<Vec<SslOption>, Diagnostic> {
    let kw = line.kw();
    if line.len() < 2 {
        return Err(line.err(
            1,
            format!("global statement '{kw}' expects an option as an argument"),
        ));
    }
    let mut out = Vec::new();
    let mut i = 1;
    while let Some(w) = line.arg(i) {
        let opt = match w {
            "no-tls-tickets" => SslOption::NoTlsTickets,
            "prefer-client-ciphers" if !server => SslOption::PreferClientCiphers,
            // 3.x (3.2 manual 5.1 "strict-sni"); unknown to 2.6.
            "strict-sni" if !server => SslOption::StrictSni,
            "ssl-min-ver" | "ssl-max-ver" => {
                let v = line.word(i + 1);
                let ver = TlsVersion::from_keyword(v).ok_or_else(|| {
                    line.err(
                        i + 1,
                        format!("'{w}' : expects one of SSLv3, TLSv1.0, TLSv1.1, TLSv1.2 or TLSv1.3 (got '{v}') on global statement '{kw}'"),
                    )
                })?;
                i += 1;
                if w == "ssl-min-ver" {
                    SslOption::MinVer(ver)
                } else {
                    SslOption::MaxVer(ver)
                }
            }
            _ => {
                let parsed = w
                    .strip_prefix("no-")
                    .and_then(TlsVersion::from_suffix)
                    .map(SslOption::Disable)
                    .or_else(|| {
                        w.strip_prefix("force-")
                            .and_then(TlsVersion::from_suffix)
                            .map(SslOption::Force)
                    });
                parsed.ok_or_else(|| {
                    line.err(
                        i,
                        format!("unknown option '{w}' on global statement '{kw}'"),
                    )
                })?
            }
        };
        out.push(opt);
        i += 1;
    }
    Ok(out)
}
