//! An `application/x-www-form-urlencoded` body as HAProxy's stats applet
//! reads an admin POST (stats_process_http_post): parameters split on
//! `&`, each `key=value` with HAProxy's url_decode (`+` a space, `%XX` a
//! byte, a bad escape fails), and HAProxy's LINESIZE limit on a parameter.
//! The order in which the parameters are acted on is the caller's (HAProxy
//! reads them from the last one back).

/// HAProxy's LINESIZE: a parameter (`key=value`) must fit in a buffer of
/// this size with its terminating NUL.
pub const LINESIZE: usize = 2048;

/// The body's parameters, in their order (none for an empty body).
pub fn params(body: &[u8]) -> Vec<&[u8]> {
    if body.is_empty() {
        Vec::new()
    } else {
        body.split(|&c| c == b'&').collect()
    }
}

/// Why a parameter cannot be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bad {
    /// Longer than [`LINESIZE`] allows (HAProxy answers ERRP).
    TooLong,
    /// A `%` not followed by two hex digits (HAProxy stops reading).
    Escape,
}

/// One parameter's key and value, decoded.
pub fn param(p: &[u8]) -> Result<(String, String), Bad> {
    if p.len() + 1 > LINESIZE {
        return Err(Bad::TooLong);
    }
    let mut kv = p.splitn(2, |&c| c == b'=');
    let (k, v) = (kv.next().unwrap_or_default(), kv.next().unwrap_or_default());
    match (decode(k), decode(v)) {
        (Some(k), Some(v)) => Ok((k, v)),
        _ => Err(Bad::Escape),
    }
}

/// HAProxy's url_decode in a form: `+` is a space, `%XX` a byte; a `%`
/// not followed by two hex digits fails (None). Bytes that are not UTF-8
/// are replaced (names in ringlb are UTF-8).
pub fn decode(s: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&c) = s.get(i) {
        match c {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = |j: usize| s.get(j).and_then(|c| (*c as char).to_digit(16));
                let v = hex(i + 1)? * 16 + hex(i + 2)?;
                out.push(u8::try_from(v).ok()?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::{decode, param, params, Bad, LINESIZE};

    #[test]
    fn escapes_decode_as_haproxy() {
        assert_eq!(decode(b"%232+a").as_deref(), Some("#2 a"));
        assert_eq!(decode(b"%41%6a").as_deref(), Some("Aj"));
        // HAProxy's url_decode fails on a bad escape.
        assert_eq!(decode(b"%2"), None);
        assert_eq!(decode(b"%zz"), None);
        assert_eq!(decode(b"%+1"), None);
        assert_eq!(decode(b"").as_deref(), Some(""));
    }

    #[test]
    fn parameters_split_and_decode() {
        assert!(params(b"").is_empty());
        assert_eq!(params(b"s=a&&b=be"), vec![&b"s=a"[..], b"", b"b=be"]);
        assert_eq!(param(b"s=a%20b"), Ok(("s".into(), "a b".into())));
        assert_eq!(param(b"action"), Ok(("action".into(), String::new())));
        assert_eq!(param(b"k=v=w"), Ok(("k".into(), "v=w".into())));
        assert_eq!(param(b"s=%g0"), Err(Bad::Escape));
        let long = vec![b'a'; LINESIZE - 1];
        assert!(param(&long).is_ok());
        let longer = vec![b'a'; LINESIZE];
        assert_eq!(param(&longer), Err(Bad::TooLong));
    }
}
