//! Arbitrary bytes as a mysql-check or ldap-check server's reply: the
//! readers never panic, a reply judged whole keeps its verdict (pass, or
//! which fault) when more bytes follow it, and a cut reply asks for more
//! unless nothing more can come. (A MySQL error's code and words are read
//! from the buffer past a short packet, as HAProxy reads them: those may
//! change.)
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringlb_proto::check_reply::{ldap_bind, mysql_packet};

fuzz_target!(|data: &[u8]| {
    for last in [false, true] {
        let m0 = mysql_packet(data, false, last);
        let m1 = mysql_packet(data, true, last);
        let l = ldap_bind(data, last);
        if last {
            assert!(m0.is_some() && m1.is_some() && l.is_some());
        }
        let mut more = data.to_vec();
        more.extend_from_slice(b"\x00\xff");
        let kind = |r: Option<Result<(), ringlb_proto::check_reply::Failed>>| {
            r.map(|r| r.map_err(|f| f.fault))
        };
        if m0.is_some() && !last {
            assert_eq!(kind(mysql_packet(&more, false, false)), kind(m0));
        }
        if let Some(Ok(())) = l {
            assert_eq!(ldap_bind(&more, false), Some(Ok(())));
        }
    }
});
