//! Arbitrary bytes through HAProxy's URI normalizers: nothing panics, only
//! `fragment_encode` grows its input (and `path_dotdot` by a slash), and
//! merging slashes and upper-casing percent sequences are idempotent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringlb_proto::uri_norm::*;

fuzz_target!(|data: &[u8]| {
    let mut a = Vec::new();
    let mut b = Vec::new();
    path_merge_slashes(data, &mut a);
    assert!(a.len() <= data.len());
    path_merge_slashes(&a, &mut b);
    assert_eq!(a, b);
    path_dot(data, &mut a);
    assert!(a.len() <= data.len());
    for full in [false, true] {
        path_dotdot(data, full, &mut a);
        // A trailing `/..` that climbs above the root gains a slash, as
        // HAProxy's (`/..` -> `/../`).
        assert!(a.len() <= data.len() + 1);
    }
    // Not idempotent: each pass drops one trailing empty parameter, as
    // HAProxy's scan does (`?a&&` -> `?a&` -> `?a`).
    query_sort(data, &mut a);
    assert!(a.len() <= data.len());
    for strict in [false, true] {
        if percent_upper(data, strict, &mut a).is_ok() {
            assert_eq!(a.len(), data.len());
            assert!(percent_upper(&a, strict, &mut b).is_ok());
            assert_eq!(a, b);
        }
        if percent_decode_unreserved(data, strict, &mut a).is_ok() {
            assert!(a.len() <= data.len());
        }
    }
    assert!(fragment_strip(data).len() <= data.len());
    fragment_encode(data, &mut a);
    assert!(a.len() >= data.len());
});
