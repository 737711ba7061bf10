//! Arbitrary bytes through the HTTP/1 head parser, as a request and as a
//! response, whole and split at a point the input chooses: nothing
//! panics, a split never changes the verdict or the head, and an accepted
//! head emits bytes the parser accepts again with the same fields (Host
//! values aside: see below).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringlb_proto::h1::emit;
use ringlb_proto::h1::head::{HeadParser, Kind, Options, Progress};
use ringlb_proto::msg::{Head, Method};

fn parse(kind: Kind, opts: Options, input: &[u8], cut: usize) -> Option<(Head, usize)> {
    let mut buf = input.get(..cut).unwrap_or(input).to_vec();
    let mut head = Head::new();
    let mut p = HeadParser::new(kind, opts);
    let first = p.parse(&mut buf, &mut head).ok()?;
    let done = match first {
        Progress::Done(n) => n,
        Progress::Partial => {
            buf.extend_from_slice(input.get(cut..).unwrap_or_default());
            match p.parse(&mut buf, &mut head).ok()? {
                Progress::Done(n) => n,
                Progress::Partial => return None,
            }
        }
    };
    Some((head, done))
}

/// DEL passes inside a URI and is refused as its last byte (haproxy
/// 2.6); the scheme-based normalisation can drop what followed it (an
/// empty port), so the emitted URI may end with it: HAProxy's output would
/// not parse again either.
fn del_made_last(h: &Head) -> bool {
    h.line_parts()[1].last() == Some(&0x7f)
}

fn fields(h: &Head) -> Vec<(Vec<u8>, Vec<u8>)> {
    h.fields().map(|(n, v)| (n.to_vec(), v.to_vec())).collect()
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, input)) = data.split_first() else {
        return;
    };
    let kind = if sel & 1 == 0 {
        Kind::Request
    } else {
        Kind::Response(if sel & 2 == 0 { Method::Get } else { Method::Head })
    };
    let opts = Options {
        accept_invalid: sel & 4 != 0,
        ..Options::default()
    };
    let cut = usize::from(sel >> 3) * input.len() / 32;
    let whole = parse(kind, opts, input, input.len());
    let split = parse(kind, opts, input, cut);
    match (&whole, &split) {
        (Some((a, n)), Some((b, m))) => {
            assert_eq!(n, m);
            assert_eq!(fields(a), fields(b));
            assert_eq!(a.line_parts(), b.line_parts());
        }
        (None, None) => {}
        _ => panic!("a split changed the verdict"),
    }
    if let Some((h, _)) = whole {
        let mut out = Vec::new();
        emit::head(&h, &mut out);
        if let Some((again, _)) = parse(kind, opts, &out, out.len()) {
            // Same fields; Host values may differ: the scheme-based
            // normalisation drops a default (or empty) port each time, and
            // an authority like `a::` has one to drop twice (HAProxy too).
            let names = |h: &Head| -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
                fields(h)
                    .into_iter()
                    .map(|(n, v)| {
                        let host = n.eq_ignore_ascii_case(b"host");
                        (n, (!host).then_some(v))
                    })
                    .collect()
            };
            assert_eq!(names(&again), names(&h));
        } else if !h.has(ringlb_proto::msg::flags::HTTP09) && !del_made_last(&h) {
            panic!("an emitted head was refused");
        }
    }
});
