//! What a TLS (or SSL) client's first bytes say, read without terminating
//! TLS: the handshake type, the client version and the server name
//! (SNI) of a ClientHello, as HAProxy's `req.ssl_hello_type`,
//! `req.ssl_ver` and `req.ssl_sni` fetches read them (`payload.c`), so a
//! TCP frontend can route on them. Sans-IO: each function looks at the
//! bytes received so far and says what they hold, or that more are
//! needed, or that they never will.
//!
//! HAProxy's checks are kept as it makes them, including where they are
//! loose (the ClientHello length is compared with the bytes after the
//! record header, not after the handshake header); where it would read
//! past what was received, these functions ask for more instead.

/// What the bytes received so far say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sniff<T> {
    Found(T),
    /// Not enough bytes yet: more may change the answer (HAProxy's
    /// SMP_F_MAY_CHANGE).
    NeedMore,
    /// Not what was looked for, whatever follows.
    No,
}

impl<T> Sniff<T> {
    pub fn found(self) -> Option<T> {
        match self {
            Sniff::Found(t) => Some(t),
            _ => None,
        }
    }
}

fn byte(d: &[u8], i: usize) -> Option<usize> {
    d.get(i).map(|b| usize::from(*b))
}

fn be16(d: &[u8], i: usize) -> Option<usize> {
    Some((byte(d, i)? << 8) | byte(d, i + 1)?)
}

fn be24(d: &[u8], i: usize) -> Option<usize> {
    Some((byte(d, i)? << 16) | (byte(d, i + 1)? << 8) | byte(d, i + 2)?)
}

/// `req.ssl_hello_type`: the handshake type of an SSLv3/TLS record whose
/// whole handshake message is there (1: ClientHello, 2: ServerHello).
pub fn hello_type(d: &[u8]) -> Sniff<u8> {
    let Some(&first) = d.first() else {
        return Sniff::NeedMore;
    };
    if !((0x14..=0x17).contains(&first) || first == 0xff) {
        return Sniff::No;
    }
    let (Some(ver), Some(rec_len), Some(hs_type), Some(hs_len)) =
        (be16(d, 1), be16(d, 3), byte(d, 5), be24(d, 6))
    else {
        return Sniff::NeedMore;
    };
    // At least SSL 3.0, and room for a handshake type and length.
    if ver < 0x0300 || rec_len < 4 {
        return Sniff::No;
    }
    if d.len() < 9 + hs_len {
        return Sniff::NeedMore;
    }
    Sniff::Found(hs_type as u8)
}

/// `req.ssl_ver`: the client version of a ClientHello (`0x0303` for TLS
/// 1.2 and 1.3's legacy field), SSLv3/TLS or SSLv2 record format, once
/// its whole message is there or `limit` bytes are (a message larger than
/// the buffer is judged on what fits).
pub fn client_version(d: &[u8], limit: usize) -> Sniff<u32> {
    let Some(&first) = d.first() else {
        return Sniff::NeedMore;
    };
    let (version, msg_len, consumed) = if (0x14..=0x17).contains(&first) || first == 0xff {
        if d.len() < 11 {
            return Sniff::NeedMore;
        }
        let (Some(rec_ver), Some(msg_len), Some(ver)) = (be16(d, 1), be16(d, 3), be16(d, 9)) else {
            return Sniff::NeedMore;
        };
        if rec_ver < 0x0300 || !(6..=(1 << 14) + 2048).contains(&msg_len) {
            return Sniff::No;
        }
        (ver, msg_len, 5)
    } else {
        // SSLv2: a ClientHello (type 1) only.
        let (rlen, plen, at) = if first & 0x80 != 0 {
            if d.len() < 3 {
                return Sniff::NeedMore;
            }
            let Some(l) = be16(d, 0) else {
                return Sniff::NeedMore;
            };
            (l & 0x7fff, 0, 2)
        } else {
            if d.len() < 4 {
                return Sniff::NeedMore;
            }
            let (Some(l), Some(p)) = (be16(d, 0), byte(d, 2)) else {
                return Sniff::NeedMore;
            };
            (l & 0x3fff, p, 3)
        };
        if byte(d, at) != Some(1) {
            return Sniff::No;
        }
        let at = at + 1;
        if d.len() < at + 8 {
            return Sniff::NeedMore;
        }
        let (Some(ver), Some(cilen), Some(silen), Some(chlen)) = (
            be16(d, at),
            be16(d, at + 2),
            be16(d, at + 4),
            be16(d, at + 6),
        ) else {
            return Sniff::NeedMore;
        };
        if cilen % 3 != 0
            || (silen != 0 && silen != 16)
            || !(16..=32).contains(&chlen)
            || rlen != 9 + cilen + silen + chlen
        {
            return Sniff::No;
        }
        (ver, cilen + silen + chlen + plen, at + 8)
    };
    // What fits in the buffer is enough (HAProxy caps the message at the
    // buffer's room from the record's start, and compares it with the
    // bytes after the header).
    let msg_len = msg_len.min(limit);
    if d.len() - consumed < msg_len {
        return Sniff::NeedMore;
    }
    Sniff::Found(version as u32)
}

/// `req.ssl_sni`: the host name of a ClientHello's server_name extension
/// (its first entry of type host_name), as a range of `d`.
pub fn sni(d: &[u8]) -> Sniff<std::ops::Range<usize>> {
    match sni_at(d) {
        Ok(r) => Sniff::Found(r),
        Err(s) => s,
    }
}

fn sni_at(d: &[u8]) -> Result<std::ops::Range<usize>, Sniff<std::ops::Range<usize>>> {
    use Sniff::{NeedMore, No};
    let more = || NeedMore;
    match d.first() {
        None => return Err(NeedMore),
        Some(0x16) => {}
        Some(_) => return Err(No),
    }
    if byte(d, 1).ok_or_else(more)? < 3 {
        return Err(No);
    }
    let rec_len = be16(d, 3).ok_or_else(more)?;
    // Too short to have an extension.
    if rec_len < 1 + 3 + 2 + 32 + 1 + 2 + 2 + 1 + 1 + 2 + 2 {
        return Err(No);
    }
    // The handshake.
    let h = 5;
    if byte(d, h).ok_or_else(more)? != 1 {
        return Err(No);
    }
    let mut hs_len = be24(d, h + 1).ok_or_else(more)?;
    if hs_len < 2 + 32 + 1 + 2 + 2 + 1 + 1 + 2 + 2 {
        return Err(No);
    }
    // HAProxy wants hs_len bytes from the handshake header on.
    if d.len() - h < hs_len {
        return Err(NeedMore);
    }
    // The ClientHello body; reads past the bytes received ask for more.
    let mut at = h + 4;
    let version_major = byte(d, at).ok_or_else(more)?;
    let version_minor = byte(d, at + 1).ok_or_else(more)?;
    if version_major < 3 || version_minor < 1 {
        return Err(No);
    }
    let sid_len = byte(d, at + 34).ok_or_else(more)?;
    if sid_len > 32 || sid_len > hs_len - 35 {
        return Err(No);
    }
    hs_len -= 35 + sid_len;
    at += 35 + sid_len;
    // Cipher suites.
    if hs_len < 4 {
        return Err(No);
    }
    let ciphers = be16(d, at).ok_or_else(more)?;
    if ciphers < 2 || ciphers > hs_len {
        return Err(No);
    }
    // HAProxy's int goes negative here and fails the next check.
    let Some(left_after) = hs_len.checked_sub(2 + ciphers) else {
        return Err(No);
    };
    hs_len = left_after;
    at += 2 + ciphers;
    // Compression methods.
    if hs_len < 2 {
        return Err(No);
    }
    let comp = byte(d, at).ok_or_else(more)?;
    if comp < 1 || comp > hs_len {
        return Err(No);
    }
    let Some(left_after) = hs_len.checked_sub(1 + comp) else {
        return Err(No);
    };
    hs_len = left_after;
    at += 1 + comp;
    // Extensions.
    if hs_len < 2 {
        return Err(No);
    }
    let ext_total = be16(d, at).ok_or_else(more)?;
    if ext_total > hs_len - 2 {
        return Err(No);
    }
    let mut left = ext_total;
    at += 2;
    while left >= 4 {
        let ext_type = be16(d, at).ok_or_else(more)?;
        let ext_len = be16(d, at + 2).ok_or_else(more)?;
        if ext_len > left - 4 {
            return Err(No);
        }
        if ext_type == 0 {
            if ext_len < 2 {
                return Err(No);
            }
            let list = be16(d, at + 4).ok_or_else(more)?;
            if list < 4 || list > left - 6 {
                return Err(No);
            }
            let name_type = byte(d, at + 6).ok_or_else(more)?;
            let name_len = be16(d, at + 7).ok_or_else(more)?;
            if name_type == 0 {
                let start = at + 9;
                // HAProxy trusts name_len; a name running past the list
                // is not taken.
                if name_len + 3 > list {
                    return Err(No);
                }
                if d.len() < start + name_len {
                    return Err(NeedMore);
                }
                return Ok(start..start + name_len);
            }
        }
        left -= 4 + ext_len;
        at += 4 + ext_len;
    }
    Err(No)
}

/// A ClientHello record for tests: TLS 1.2 in a TLS 1.0 record, one
/// cipher, no compression, a server_name extension when `sni` is given,
/// `pad` bytes of a padding extension (type 21) after it.
pub fn client_hello(sni: Option<&[u8]>, pad: usize) -> Vec<u8> {
    let mut ext = Vec::new();
    if let Some(name) = sni {
        let n = name.len();
        ext.extend_from_slice(&[0, 0]);
        ext.extend_from_slice(&((n + 5) as u16).to_be_bytes());
        ext.extend_from_slice(&((n + 3) as u16).to_be_bytes());
        ext.push(0);
        ext.extend_from_slice(&(n as u16).to_be_bytes());
        ext.extend_from_slice(name);
    }
    if pad > 0 {
        ext.extend_from_slice(&[0, 21]);
        ext.extend_from_slice(&(pad as u16).to_be_bytes());
        ext.extend(std::iter::repeat_n(0u8, pad));
    }
    let mut body = vec![3, 3];
    body.extend_from_slice(&[0x11; 32]);
    body.push(0); // session id
    body.extend_from_slice(&[0, 2, 0x13, 0x01]); // one cipher
    body.extend_from_slice(&[1, 0]); // null compression
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    let mut hs = vec![1];
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&body);
    let mut rec = vec![0x16, 3, 1];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_hello_is_read_whole_and_in_parts() {
        let hello = client_hello(Some(b"a.example"), 0);
        assert_eq!(hello_type(&hello), Sniff::Found(1));
        assert_eq!(client_version(&hello, 16384), Sniff::Found(0x0303));
        let r = sni(&hello).found().unwrap();
        assert_eq!(&hello[r], b"a.example");
        // Every prefix asks for more (or, for the SNI, already has it).
        for n in 0..hello.len() {
            let p = &hello[..n];
            assert_eq!(hello_type(p), Sniff::NeedMore, "{n}");
            assert_eq!(client_version(p, 16384), Sniff::NeedMore, "{n}");
            assert!(matches!(sni(p), Sniff::NeedMore), "{n}: {:?}", sni(p));
        }
    }

    #[test]
    fn other_protocols_are_not_hellos() {
        let get = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        assert_eq!(hello_type(get), Sniff::No);
        assert_eq!(client_version(get, 16384), Sniff::No);
        assert_eq!(sni(get), Sniff::No);
        // A hello without server_name.
        let hello = client_hello(None, 10);
        assert_eq!(sni(&hello), Sniff::No);
        assert_eq!(hello_type(&hello), Sniff::Found(1));
        // SSL 2.0 record version.
        let mut old = client_hello(Some(b"x"), 0);
        old[1] = 2;
        assert_eq!(sni(&old), Sniff::No);
        assert_eq!(hello_type(&old), Sniff::No);
    }

    #[test]
    fn a_long_hello_is_judged_on_what_fits() {
        let hello = client_hello(Some(b"b.example"), 20000);
        // The record length is over 2^14 + 2048: not SSL for req.ssl_ver.
        assert_eq!(client_version(&hello, 16384), Sniff::No);
        let hello = client_hello(Some(b"b.example"), 10000);
        assert_eq!(client_version(&hello[..8000], 4096), Sniff::Found(0x0303));
        assert_eq!(client_version(&hello[..3000], 4096), Sniff::NeedMore);
        // The SNI comes before the padding.
        assert_eq!(
            sni(&hello[..200]),
            Sniff::NeedMore,
            "HAProxy wants the whole hello"
        );
        assert!(sni(&hello).found().is_some());
    }

    #[test]
    fn an_sslv2_hello_has_a_version() {
        // 2-byte header, type 1, version 3.0, 3 bytes of ciphers, no
        // session id, 16 bytes of challenge.
        let mut v2 = vec![0x80, 9 + 3 + 16, 1, 3, 0, 0, 3, 0, 0, 0, 16];
        v2.extend_from_slice(&[0; 3 + 16]);
        assert_eq!(client_version(&v2, 16384), Sniff::Found(0x0300));
        assert_eq!(client_version(&v2[..20], 16384), Sniff::NeedMore);
    }

    #[test]
    fn lengths_that_lie_are_refused() {
        // Found by the fuzz target: a compression list as long as what is
        // left (HAProxy's int goes negative; no underflow here).
        let crash = b"\xff\x163332\x01\x00\x007777777\xff\x169141\x01\x00777777'\x16\xe6\xff\x00\x00zzzzzz\x00\x00\x00\x00\x02\x00\x00\x10A\x00\x00\x00\x00\x00\x00@\x00\x00\x00\x00\x00\x002";
        let d = &crash[1..];
        for n in 0..=d.len() {
            let _ = (
                sni(&d[..n]),
                hello_type(&d[..n]),
                client_version(&d[..n], 16384),
            );
        }
        let mut h = client_hello(Some(b"a"), 0);
        // The compression list claims all that follows.
        let comp_at = 5 + 4 + 2 + 32 + 1 + 4;
        h[comp_at] = u8::try_from(h.len() - comp_at).unwrap_or(255);
        assert_eq!(sni(&h), Sniff::No);
        let mut hello = client_hello(Some(b"a.example"), 0);
        // The name claims more bytes than its list holds.
        let at = hello.len() - 9 - 2;
        hello[at] = 0;
        hello[at + 1] = 200;
        assert_eq!(sni(&hello), Sniff::No);
    }
}
