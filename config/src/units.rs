//! Numbers, durations and sizes as HAProxy writes them (manual 2.5, 2.6).

use std::time::Duration;

/// A duration as written in the configuration. Bare numbers take the
/// keyword's default unit (milliseconds for every timeout); units are `us`,
/// `ms`, `s`, `m`, `h`, `d`.
pub fn parse_duration(text: &str, default_unit: TimeUnit) -> Result<Duration, String> {
    if text.is_empty() {
        return Err("missing value".into());
    }
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(format!("expects a number, found '{text}'"));
    }
    let (num, unit) = text.split_at(digits);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("value '{num}' is too large"))?;
    let unit = match unit {
        "" => default_unit,
        "us" => TimeUnit::Micros,
        "ms" => TimeUnit::Millis,
        "s" => TimeUnit::Seconds,
        "m" => TimeUnit::Minutes,
        "h" => TimeUnit::Hours,
        "d" => TimeUnit::Days,
        other => {
            let c = other.chars().next().unwrap_or(' ');
            return Err(format!(
                "unexpected character '{c}' in '{text}' (units are us, ms, s, m, h, d)"
            ));
        }
    };
    let d = unit
        .to_duration(n)
        .ok_or_else(|| format!("'{text}' is too large"))?;
    // HAProxy keeps timeouts in milliseconds in a signed 32-bit int: about 24.8 days.
    if d > Duration::from_millis(i32::MAX as u64) {
        return Err(format!(
            "timer overflow in '{text}' (maximum is 2147483647ms, ~24.8 days)"
        ));
    }
    Ok(d)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeUnit {
    Micros,
    Millis,
    Seconds,
    Minutes,
    Hours,
    Days,
}

impl TimeUnit {
    fn to_duration(self, n: u64) -> Option<Duration> {
        Some(match self {
            TimeUnit::Micros => Duration::from_micros(n),
            TimeUnit::Millis => Duration::from_millis(n),
            TimeUnit::Seconds => Duration::from_secs(n),
            TimeUnit::Minutes => Duration::from_secs(n.checked_mul(60)?),
            TimeUnit::Hours => Duration::from_secs(n.checked_mul(3600)?),
            TimeUnit::Days => Duration::from_secs(n.checked_mul(86400)?),
        })
    }
}

/// A size: a number optionally followed by `k`, `m` or `g` (powers of 1024,
/// either case).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(format!("expects a size, found '{text}'"));
    }
    let (num, unit) = text.split_at(digits);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("value '{num}' is too large"))?;
    let mul: u64 = match unit {
        "" => 1,
        "k" | "K" => 1 << 10,
        "m" | "M" => 1 << 20,
        "g" | "G" => 1 << 30,
        other => {
            let c = other.chars().next().unwrap_or(' ');
            return Err(format!(
                "unexpected character '{c}' in '{text}' (units are k, m, g)"
            ));
        }
    };
    n.checked_mul(mul)
        .ok_or_else(|| format!("'{text}' is too large"))
}

/// A non-negative integer that must fit `T` (`maxconn`, `retries` ...).
pub fn parse_uint<T: TryFrom<u64>>(text: &str) -> Result<T, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("expects a non-negative integer, found '{text}'"));
    }
    let n: u64 = text.parse().map_err(|_| format!("'{text}' is too large"))?;
    T::try_from(n).map_err(|_| format!("'{text}' is out of range"))
}

/// A signed integer (`-12`, `+3`, `7`).
pub fn parse_int(text: &str) -> Result<i64, String> {
    let body = text
        .strip_prefix('-')
        .or_else(|| text.strip_prefix('+'))
        .unwrap_or(text);
    if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("expects an integer, found '{text}'"));
    }
    text.parse::<i64>()
        .map_err(|_| format!("'{text}' is out of range"))
}

/// On/off keywords HAProxy spells `on`/`off` (and sometimes `enabled`).
pub fn parse_on_off(text: &str) -> Result<bool, String> {
    match text {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(format!("expects 'on' or 'off', found '{text}'")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let ms = TimeUnit::Millis;
        assert_eq!(parse_duration("30s", ms), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5000", ms), Ok(Duration::from_millis(5000)));
        assert_eq!(parse_duration("2m", ms), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h", ms), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1d", ms), Ok(Duration::from_secs(86400)));
        assert_eq!(parse_duration("250us", ms), Ok(Duration::from_micros(250)));
        assert_eq!(
            parse_duration("10", TimeUnit::Seconds),
            Ok(Duration::from_secs(10))
        );
        assert!(parse_duration("10x", ms).is_err());
        assert!(parse_duration("s", ms).is_err());
        assert!(parse_duration("", ms).is_err());
        assert!(parse_duration("-1", ms).is_err());
        assert!(
            parse_duration("30d", ms).is_err(),
            "over 24.8 days overflows"
        );
        assert!(parse_duration("99999999999999999999999", ms).is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("16384"), Ok(16384));
        assert_eq!(parse_size("16k"), Ok(16384));
        assert_eq!(parse_size("1M"), Ok(1 << 20));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        assert!(parse_size("1t").is_err());
        assert!(parse_size("k").is_err());
    }

    #[test]
    fn integers() {
        assert_eq!(parse_uint::<u32>("2000"), Ok(2000));
        assert!(parse_uint::<u8>("300").is_err());
        assert!(parse_uint::<u32>("-1").is_err());
        assert!(parse_uint::<u32>("12a").is_err());
        assert_eq!(parse_int("-12"), Ok(-12));
        assert!(parse_int("-").is_err());
    }
}
