//! Arbitrary bytes as a stats page admin POST's body: the form reader
//! never panics, its parameters put back together are the body, and a
//! decoded key or value is never longer than its text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringlb_proto::form::{decode, param, params, Bad, LINESIZE};

fuzz_target!(|data: &[u8]| {
    let ps = params(data);
    assert_eq!(ps.join(&b'&'), data);
    for p in ps {
        match param(p) {
            Ok((k, v)) => {
                assert!(p.len() < LINESIZE);
                // Replacement characters may grow a byte to three.
                assert!(k.len() + v.len() <= 3 * p.len());
            }
            Err(Bad::TooLong) => assert!(p.len() >= LINESIZE),
            Err(Bad::Escape) => assert!(p.contains(&b'%')),
        }
        let _ = decode(p);
    }
});
