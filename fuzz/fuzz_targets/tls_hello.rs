//! Arbitrary bytes as a client's first flight: the ClientHello readers
//! never panic, an SNI they find lies within the bytes, and an answer
//! found on a prefix stays the same once more bytes come (what
//! `tcp-request inspect-delay` relies on: NeedMore is the only answer
//! that may change).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringlb_proto::tls::{client_version, hello_type, sni, Sniff};

fuzz_target!(|data: &[u8]| {
    let Some((&cut, d)) = data.split_first() else {
        return;
    };
    let whole = (hello_type(d), client_version(d, 16384), sni(d));
    if let Sniff::Found(r) = &whole.2 {
        assert!(r.start <= r.end && r.end <= d.len());
    }
    // A prefix answers the same or asks for more.
    let n = d.len() * usize::from(cut) / 255;
    let p = d.get(..n).unwrap_or_default();
    let part = (hello_type(p), client_version(p, 16384), sni(p));
    assert!(part.0 == Sniff::NeedMore || part.0 == whole.0);
    assert!(part.1 == Sniff::NeedMore || part.1 == whole.1);
    assert!(part.2 == Sniff::NeedMore || part.2 == whole.2);
});
