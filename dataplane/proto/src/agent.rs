//! HAProxy's agent-check reply (`tcpcheck_agent_expect_reply` in
//! src/tcpcheck.c) and the weight and maxconn words it shares with the
//! runtime API (`server_parse_weight_change_request`,
//! `server_parse_maxconn_change_request` in src/server.c), sans-IO: the
//! engine's agent task hands in the bytes it read. Fuzzed by
//! `fuzz/fuzz_targets/agent_reply.rs`.

/// An admin word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdminWord {
    Ready,
    Drain,
    Maint,
}

/// One agent line, parsed (the words borrow from it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reply<'a> {
    /// The health word as written, and whether it says up.
    pub health: Option<(&'a str, bool)>,
    pub admin: Option<AdminWord>,
    /// The last `N%...` word.
    pub weight: Option<&'a str>,
    /// What follows `maxconn:` in the last such word.
    pub maxconn: Option<&'a str>,
    /// The first word not understood.
    pub error: Option<&'a str>,
    /// The text after `#`.
    pub desc: &'a str,
}

/// The agent's line: up to the first CR or LF, or None while there is
/// none.
pub fn line(data: &[u8]) -> Option<&[u8]> {
    let end = data.iter().position(|&c| c == b'\n' || c == b'\r')?;
    data.get(..end)
}

/// The words of a line (tcpcheck_agent_expect_reply). A NUL ends the line
/// as it ends HAProxy's string.
pub fn parse(line: &str) -> Reply<'_> {
    let line = line.split('\0').next().unwrap_or("");
    let mut r = Reply::default();
    let mut rest = line;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if let Some(d) = rest.strip_prefix('#') {
            r.desc = d.trim_start_matches([' ', '\t']);
            break;
        }
        if rest.is_empty() {
            break;
        }
        let end = rest.find([' ', '\t', ',', '\n']).unwrap_or(rest.len());
        let (word, after) = rest.split_at(end);
        rest = after;
        let is = |w: &str| word.eq_ignore_ascii_case(w);
        if is("up") {
            r.health = Some((word, true));
        } else if is("down") || is("stopped") || is("fail") {
            r.health = Some((word, false));
        } else if is("ready") {
            r.admin = Some(AdminWord::Ready);
        } else if is("drain") {
            r.admin = Some(AdminWord::Drain);
        } else if is("maint") {
            r.admin = Some(AdminWord::Maint);
        } else if word.starts_with(|c: char| c.is_ascii_digit()) && word.contains('%') {
            r.weight = Some(word);
        } else if word.len() >= 8
            && word
                .get(..8)
                .is_some_and(|p| p.eq_ignore_ascii_case("maxconn:"))
        {
            r.maxconn = word.get(8..);
        } else if r.error.is_none() {
            r.error = Some(word);
        }
    }
    r
}

/// strtol's view of `s`: the number its leading digits (after blanks and a
/// sign) make, and what follows; None when no digit.
fn strtol(s: &str) -> Option<(i64, &str)> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, t.get(1..).unwrap_or("")),
        Some(b'+') => (false, t.get(1..).unwrap_or("")),
        _ => (false, t),
    };
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let (num, after) = t.split_at(digits);
    let v = num.bytes().fold(0i64, |v, d| {
        v.saturating_mul(10).saturating_add(i64::from(d - b'0'))
    });
    Some((if neg { -v } else { v }, after))
}

/// server_parse_weight_change_request: the user weight a weight word
/// asks for, from the configured one, or HAProxy's message.
pub fn weight_change(word: &str, iweight: u32, dynamic: bool) -> Result<u32, &'static str> {
    if word.is_empty() {
        return Err("Require <weight> or <weight%>.\n");
    }
    let Some((mut w, end)) = strtol(word) else {
        return Err("Empty weight string empty or preceded by garbage");
    };
    if end == "%" {
        if w < 0 {
            return Err("Relative weight must be positive.\n");
        }
        w = w.min(25600);
        w = (i64::from(iweight) * w / 100).min(256);
    } else if !(0..=256).contains(&w) {
        return Err("Absolute weight can only be between 0 and 256 inclusive.\n");
    } else if !end.is_empty() {
        return Err("Trailing garbage in weight string");
    }
    let w = u32::try_from(w).unwrap_or(0);
    if w != 0 && w != iweight && !dynamic {
        return Err(
            "Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.\n",
        );
    }
    Ok(w)
}

/// server_parse_maxconn_change_request: the limit a `maxconn:` word asks
/// for, or HAProxy's message.
pub fn maxconn_change(v: &str) -> Result<u32, &'static str> {
    if v.is_empty() {
        return Err("Require <maxconn>.\n");
    }
    match strtol(v) {
        None => Err("maxconn string empty or preceded by garbage"),
        Some((_, end)) if !end.is_empty() => Err("Trailing garbage in maxconn string"),
        // A negative limit is no limit here (HAProxy would store it as a
        // huge unsigned one).
        Some((n, _)) => Ok(u32::try_from(n).unwrap_or(if n < 0 { 0 } else { u32::MAX })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_as_haproxy_reads_them() {
        let r = parse("up 75%,maxconn:30\tdrain # all good  ");
        assert_eq!(r.health, Some(("up", true)));
        assert_eq!(r.weight, Some("75%"));
        assert_eq!(r.maxconn, Some("30"));
        assert_eq!(r.admin, Some(AdminWord::Drain));
        assert_eq!(r.desc, "all good  ");
        let r = parse("DOWN bogus other fail");
        assert_eq!(r.health, Some(("fail", false)), "the last one wins");
        assert_eq!(r.error, Some("bogus"), "the first error is kept");
        assert_eq!(parse("").health, None);
        assert_eq!(parse("x%").error, Some("x%"));
        assert_eq!(parse("#up").health, None, "a comment only");
        assert_eq!(parse("ready\0up").health, None, "a NUL ends the line");
        assert_eq!(line(b"up\r\nx"), Some(&b"up"[..]));
        assert_eq!(line(b"up"), None);
    }

    #[test]
    fn weights_and_limits_as_haproxy_parses_them() {
        assert_eq!(weight_change("50%", 10, true), Ok(5));
        assert_eq!(weight_change("300%", 100, true), Ok(256), "capped");
        assert_eq!(weight_change("100%", 10, false), Ok(10));
        assert_eq!(weight_change("0%", 10, false), Ok(0));
        assert!(weight_change("50%", 10, false)
            .unwrap_err()
            .starts_with("Backend is using a static LB algorithm"));
        assert_eq!(
            weight_change("5%x", 10, true),
            Err("Trailing garbage in weight string")
        );
        assert_eq!(maxconn_change("30"), Ok(30));
        assert_eq!(maxconn_change(""), Err("Require <maxconn>.\n"));
        assert_eq!(
            maxconn_change("x"),
            Err("maxconn string empty or preceded by garbage")
        );
        assert_eq!(
            maxconn_change("3x"),
            Err("Trailing garbage in maxconn string")
        );
    }
}
