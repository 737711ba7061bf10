//! Arbitrary bytes as an RDP client's first bytes: the cookie reader never
//! panics, a value it finds lies within the input and ends before a CRLF,
//! and a prefix answers the same as the whole or asks for more.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringlb_proto::rdp::cookie;
use ringlb_proto::tls::Sniff;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    // The first byte picks a name length taken from the input's end.
    let n = usize::from(sel % 12).min(rest.len());
    let (d, name) = rest.split_at(rest.len() - n);
    let whole = cookie(d, name);
    if let Sniff::Found(r) = &whole {
        assert!(r.start <= r.end && r.end + 2 <= d.len());
        assert_eq!(&d[r.end..r.end + 2], b"\r\n");
    }
    let cut = d.len() / 2;
    let part = cookie(&d[..cut], name);
    assert!(part == Sniff::NeedMore || part == whole, "{part:?} vs {whole:?}");
});
