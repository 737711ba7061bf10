//! The replies of the protocol health checks that read binary packets:
//! `mysql-check` (a MySQL packet, HAProxy's tcpcheck_mysql_expect_packet)
//! and `ldap-check` (an LDAPv3 bindResponse, tcpcheck_ldap_expect_bindrsp).
//! Each takes what the server sent so far and whether more can come
//! (`last`: the connection is closed or the buffer full), and says Ok,
//! the failure, or None: more is needed.

/// Whose words a failure carries: the protocol was not the one expected
/// (HAProxy's L7RSP), or the server answered with an error (L7STS).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    Protocol,
    Status,
}

/// A failed reply: its fault, code and the info HAProxy prints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failed {
    pub fault: Fault,
    pub code: u16,
    pub info: String,
}

fn failed(fault: Fault, code: u16, info: impl Into<String>) -> Failed {
    Failed {
        fault,
        code,
        info: info.into(),
    }
}

/// A short reply: more may come, or (`last`) it is a protocol failure
/// with no words.
fn short<T>(last: bool) -> Option<Result<T, Failed>> {
    last.then(|| Err(failed(Fault::Protocol, 0, "")))
}

/// A whole MySQL packet that is not an error: the first one (the server's
/// handshake) or, `after_handshake`, the one after it.
pub fn mysql_packet(data: &[u8], after_handshake: bool, last: bool) -> Option<Result<(), Failed>> {
    let len3 = |at: usize| match data.get(at..at.checked_add(3)?)? {
        &[a, b, c] => Some(usize::from(a) | usize::from(b) << 8 | usize::from(c) << 16),
        _ => None,
    };
    let offset = if after_handshake {
        match len3(0) {
            Some(n) => 4 + n,
            None => return short(last),
        }
    } else {
        0
    };
    let Some(plen) = len3(offset).filter(|_| data.len() >= offset + 4) else {
        return short(last);
    };
    if data.len() < offset + plen + 4 {
        return short(last);
    }
    if data.get(offset + 4) == Some(&0xff) {
        // An error packet: its code, then its message (a C string).
        let code = u16::from(data.get(offset + 5).copied().unwrap_or(0))
            | u16::from(data.get(offset + 6).copied().unwrap_or(0)) << 8;
        let msg = data.get(offset + 7..).unwrap_or_default();
        let end = msg.iter().position(|&c| c == 0).unwrap_or(msg.len());
        let info = String::from_utf8_lossy(msg.get(..end).unwrap_or_default()).into_owned();
        return Some(Err(failed(Fault::Status, code, info)));
    }
    Some(Ok(()))
}

/// An LDAPv3 bindResponse whose resultCode is 0.
pub fn ldap_bind(data: &[u8], last: bool) -> Option<Result<(), Failed>> {
    let not_ldap = || Some(Err(failed(Fault::Protocol, 0, "Not LDAPv3 protocol")));
    let b = |i: usize| data.get(i).copied();
    let Some(first) = b(1) else {
        return short(last);
    };
    let (nbytes, msglen) = if first & 0x80 != 0 {
        let n = usize::from(first & 0x7f);
        if data.len() < 1 + n {
            return short(last);
        }
        let be = |len: usize| {
            data.get(2..2 + len)
                .map(|s| s.iter().fold(0usize, |a, &x| a << 8 | usize::from(x)))
        };
        match n {
            2 | 4 => (n, be(n).unwrap_or(0)),
            _ => return not_ldap(),
        }
    } else {
        (0, usize::from(first))
    };
    if data.len() < 2 + nbytes + msglen {
        return short(last);
    }
    let mut at = 2 + nbytes;
    if data.get(at..at + 4) != Some(b"\x02\x01\x01\x61") {
        return not_ldap();
    }
    at += 4;
    let skip = b(at).map_or(0, |c| {
        if c & 0x80 != 0 {
            usize::from(c & 0x7f)
        } else {
            0
        }
    });
    at += 1 + skip;
    if data.get(at..at + 2) != Some(b"\x0a\x01") {
        return not_ldap();
    }
    match b(at + 2) {
        Some(0) => Some(Ok(())),
        Some(code) => Some(Err(failed(
            Fault::Status,
            u16::from(code),
            "See RFC: http://tools.ietf.org/html/rfc4511#section-4.1.9",
        ))),
        None => short(last),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A MySQL packet: 3-byte length, sequence number, payload.
    fn packet(seq: u8, payload: &[u8]) -> Vec<u8> {
        let n = payload.len();
        let mut v = vec![
            (n & 0xff) as u8,
            (n >> 8 & 0xff) as u8,
            (n >> 16) as u8,
            seq,
        ];
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn mysql_handshake_then_ok_or_error() {
        let hs = packet(0, b"\x0a5.7.0\0rest");
        assert_eq!(mysql_packet(&hs, false, false), Some(Ok(())));
        // Cut short: more is needed, unless nothing more can come.
        let cut = hs.get(..hs.len() - 1).unwrap_or_default();
        assert_eq!(mysql_packet(cut, false, false), None);
        assert_eq!(
            mysql_packet(cut, false, true),
            Some(Err(failed(Fault::Protocol, 0, "")))
        );
        let mut both = hs.clone();
        both.extend(packet(2, b"\0\0\0\x02\0\0\0"));
        assert_eq!(mysql_packet(&both, true, false), Some(Ok(())));
        let mut denied = hs.clone();
        denied.extend(packet(2, b"\xff\x15\x04#28000Access denied\0junk"));
        assert_eq!(
            mysql_packet(&denied, true, false),
            Some(Err(failed(Fault::Status, 1045, "#28000Access denied")))
        );
        assert_eq!(
            mysql_packet(&hs, true, false),
            None,
            "the second packet is missing"
        );
    }

    #[test]
    fn ldap_bind_responses() {
        // LDAPMessage: messageID 1, bindResponse, resultCode 0.
        let ok = b"\x30\x0c\x02\x01\x01\x61\x07\x0a\x01\x00\x04\x00\x04\x00";
        assert_eq!(ldap_bind(ok, false), Some(Ok(())));
        let long_len = b"\x30\x84\x00\x00\x00\x0c\x02\x01\x01\x61\x07\x0a\x01\x00\x04\x00\x04\x00";
        assert_eq!(ldap_bind(long_len, false), Some(Ok(())));
        let refused = b"\x30\x0c\x02\x01\x01\x61\x07\x0a\x01\x31\x04\x00\x04\x00";
        assert!(matches!(
            ldap_bind(refused, false),
            Some(Err(Failed {
                fault: Fault::Status,
                code: 49,
                ..
            }))
        ));
        assert_eq!(
            ldap_bind(b"\x30\x03\x02\x01\x02", false),
            Some(Err(failed(Fault::Protocol, 0, "Not LDAPv3 protocol")))
        );
        assert_eq!(ldap_bind(b"\x30", false), None);
        assert_eq!(ldap_bind(&ok[..5], false), None);
        assert!(ldap_bind(&ok[..5], true).is_some());
        // A 3-byte length form is not LDAP as HAProxy reads it.
        assert_eq!(
            ldap_bind(b"\x30\x83\x00\x00\x0c", false),
            Some(Err(failed(Fault::Protocol, 0, "Not LDAPv3 protocol")))
        );
    }

    /// No input of any shape panics, whatever its length.
    #[test]
    fn any_prefix_of_any_reply_is_judged() {
        let inputs: [&[u8]; 3] = [
            b"\xff\xff\xff\x00\xff",
            b"\x30\x84\xff\xff\xff\xff\x02\x01\x01\x61",
            b"\x30\x82\xff\xff",
        ];
        for i in inputs {
            for n in 0..=i.len() {
                let d = i.get(..n).unwrap_or_default();
                for last in [false, true] {
                    let _ = mysql_packet(d, false, last);
                    let _ = mysql_packet(d, true, last);
                    let _ = ldap_bind(d, last);
                }
            }
        }
    }
}
