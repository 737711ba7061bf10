//! `clitcpka-idle/intvl/cnt` and `srvtcpka-idle/intvl/cnt`: TCP keep-alive
//! probes, typed here with HAProxy's verdicts and messages.

use super::{allowed_kw, Ctx};
use crate::diag::Diagnostic;
use crate::parse::common::Line;
use std::time::Duration;

/// parse_time_err's limit in the unit asked for: these are seconds.
const MAX_SECONDS: u128 = 2_147_483_647;

enum Bad {
    Char(char),
    Overflow,
}

/// A time in seconds as parse_time_err reads it with TIME_UNIT_S: digits,
/// then an optional unit (us, ms, s, m, h, d); a fraction of a second
/// rounds up.
fn seconds(arg: &str) -> Result<Duration, Bad> {
    let digits = arg.len() - arg.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let (num, unit) = arg.split_at(digits);
    if num.is_empty() {
        return Err(Bad::Char(arg.chars().next().unwrap_or(' ')));
    }
    let micros_per: u128 = match unit {
        "" | "s" => 1_000_000,
        "us" => 1,
        "ms" => 1_000,
        "m" => 60_000_000,
        "h" => 3_600_000_000,
        "d" => 86_400_000_000,
        _ => return Err(Bad::Char(first_bad(arg, false))),
    };
    let n: u128 = num.parse().map_err(|_| Bad::Overflow)?;
    let secs = (n * micros_per).div_ceil(1_000_000);
    if secs > MAX_SECONDS {
        return Err(Bad::Overflow);
    }
    u64::try_from(secs)
        .map(Duration::from_secs)
        .map_err(|_| Bad::Overflow)
}

pub(super) fn parse_tcpka(cx: &mut Ctx<'_>, line: &Line<'_>, kw: &str) -> Result<(), Diagnostic> {
    if !allowed_kw(cx, line, kw)? {
        return Ok(());
    }
    let Some(arg) = line.arg(1) else {
        return Err(line.err(1, format!("'{kw}' expects an integer value")));
    };
    line.no_more_than(1, 1, kw)?;
    let side = if kw.starts_with("cli") {
        &mut cx.px.clitcpka
    } else {
        &mut cx.px.srvtcpka
    };
    if kw.ends_with("-cnt") {
        // strtol-like, as HAProxy: a sign, then digits only; a value past
        // an int is clamped (HAProxy's atol would wrap it).
        let n: i64 = arg.parse().map_err(|_| {
            line.err(
                1,
                format!(
                    "'{kw}' : unexpected character '{}' in integer value '{arg}'",
                    first_bad(arg, true)
                ),
            )
        })?;
        side.cnt = Some(i32::try_from(n).unwrap_or(if n < 0 { i32::MIN } else { i32::MAX }));
        return Ok(());
    }
    // Seconds unless a unit says otherwise (parse_time_err, TIME_UNIT_S);
    // the limit is 2^31-1 seconds, not milliseconds (HAProxy's message says
    // ms whatever the unit).
    let d = seconds(arg).map_err(|bad| match bad {
        Bad::Char(c) => line.err(1, format!("unexpected character '{c}' in argument to <{kw}>.")),
        Bad::Overflow => line.err(
            1,
            format!("timer overflow in argument '{arg}' to '{kw}' (maximum value is 2147483647 ms or ~24.8 days)"),
        ),
    })?;
    if kw.ends_with("-idle") {
        side.idle = Some(d);
    } else {
        side.intvl = Some(d);
    }
    Ok(())
}

/// The first character HAProxy's parser stops at: after the digits (and a
/// sign for integers), past a known time unit.
fn first_bad(s: &str, signed: bool) -> char {
    let body = if signed {
        s.strip_prefix(['-', '+']).unwrap_or(s)
    } else {
        s
    };
    let rest = body.trim_start_matches(|c: char| c.is_ascii_digit());
    if !signed {
        for unit in ["us", "ms", "s", "m", "h", "d"] {
            if let Some(after) = rest.strip_prefix(unit) {
                return after.chars().next().unwrap_or(' ');
            }
        }
    }
    rest.chars().next().unwrap_or(' ')
}
