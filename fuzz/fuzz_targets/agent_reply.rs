//! Arbitrary bytes as an agent's answer: the line reader and the reply
//! parser never panic, the words they keep lie within the line, and the
//! weight and maxconn words parse (or are refused) without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringlb_proto::agent::{line, maxconn_change, parse, weight_change};

fuzz_target!(|data: &[u8]| {
    let Some(l) = line(data) else {
        assert!(!data.contains(&b'\n') && !data.contains(&b'\r'));
        return;
    };
    assert!(l.len() < data.len());
    let text = String::from_utf8_lossy(l);
    let r = parse(&text);
    for w in [r.weight, r.maxconn, r.error].into_iter().flatten() {
        assert!(text.contains(w));
    }
    if let Some(w) = r.weight {
        for (iw, dynamic) in [(0, true), (1, false), (256, true)] {
            if let Ok(v) = weight_change(w, iw, dynamic) {
                assert!(v <= 256);
            }
        }
    }
    if let Some(m) = r.maxconn {
        let _ = maxconn_change(m);
    }
});
