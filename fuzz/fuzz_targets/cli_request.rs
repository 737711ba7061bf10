//! Arbitrary bytes as what a runtime API client sent: requests come out
//! one by one, each shorter than what was left, the input only shrinks, and
//! the word splitter never panics on a request.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringlb_proto::cli::{next_request, split_args};

fuzz_target!(|data: &[u8]| {
    let mut input = data.to_vec();
    while let Some((line, payload)) = {
        let before = input.len();
        let r = next_request(&mut input);
        assert!(input.len() <= before);
        if r.is_some() {
            assert!(input.len() < before, "a request always consumes input");
        }
        r
    } {
        assert!(line.len() <= data.len());
        if let Some(p) = &payload {
            assert!(p.len() <= data.len());
        }
        for w in split_args(&String::from_utf8_lossy(&line)) {
            assert!(w.len() <= line.len() * 3);
        }
    }
});
