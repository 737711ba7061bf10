//! The `timeout` keywords of proxies.

use super::{allowed_kw, Ctx};
use crate::diag::Diagnostic;
use crate::parse::common::Line;
use crate::units::TimeUnit;

pub(super) fn parse_timeout(cx: &mut Ctx<'_>, line: &Line<'_>) -> Result<(), Diagnostic> {
    let name = line.word(1);
    let kwname = format!("timeout {name}");
    let known = [
        "client",
        "server",
        "connect",
        "check",
        "queue",
        "http-keep-alive",
        "http-request",
        "tunnel",
        "tarpit",
        "client-fin",
        "server-fin",
        "client-hs",
    ];
    if !known.contains(&name) {
        // Removed aliases HAProxy refuses with a message.
        if matches!(
            name,
            "clitimeout" | "srvtimeout" | "contimeout" | "appsession"
        ) {
            return Err(line.err(1, format!("'timeout {name}' is not supported anymore")));
        }
        return Err(line.err(1, format!("'timeout' supports 'client', 'server', 'connect', 'check', 'queue', 'http-keep-alive', 'http-request', 'tunnel', 'tarpit', 'client-fin', 'server-fin' and 'client-hs' (got '{name}')")));
    }
    if !allowed_kw(cx, line, &kwname)? {
        return Ok(());
    }
    if line.arg(2).is_none() {
        return Err(line.err(
            2,
            format!("'timeout {name}' expects an integer value (in milliseconds)"),
        ));
    }
    let d = line.duration(2, &kwname, TimeUnit::Millis).map_err(|_| {
        line.err(
            2,
            format!(
                "unexpected character '{}' in 'timeout {name}'",
                first_bad_char(line.word(2))
            ),
        )
    })?;
    line.no_more_than(2, 1, &kwname)?;
    let t = &mut cx.px.timeouts;
    let slot = match name {
        "client" => &mut t.client,
        "server" => &mut t.server,
        "connect" => &mut t.connect,
        "check" => &mut t.check,
        "queue" => &mut t.queue,
        "http-keep-alive" => &mut t.http_keep_alive,
        "http-request" => &mut t.http_request,
        "tunnel" => &mut t.tunnel,
        "tarpit" => &mut t.tarpit,
        "client-fin" => &mut t.client_fin,
        "server-fin" => &mut t.server_fin,
        _ => &mut t.client_hs,
    };
    *slot = Some(d);
    Ok(())
}

fn first_bad_char(s: &str) -> char {
    let digits = s.trim_start_matches(|c: char| c.is_ascii_digit());
    let unit_ok = ["us", "ms", "s", "m", "h", "d"];
    if unit_ok.contains(&digits) {
        return ' ';
    }
    digits.chars().next().unwrap_or(' ')
}
