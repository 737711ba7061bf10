//! Arbitrary bytes through the chunked decoder, fed in pieces the input
//! chooses: nothing panics, every step consumes what it names within the
//! input, and the data re-encoded decodes to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringlb_proto::h1::chunked::{write_size, Decoder, Step, LAST_CHUNK};

/// The data of `input` fed `piece` bytes at a time, and whether it ended.
fn decode(input: &[u8], piece: usize) -> Option<(Vec<u8>, bool)> {
    let mut d = Decoder::new(4096);
    let (mut buf, mut data, mut fed) = (Vec::new(), Vec::new(), 0);
    loop {
        match d.step(&buf).ok()? {
            Step::NeedMore => {
                if d.is_done() || fed >= input.len() {
                    return Some((data, d.is_done()));
                }
                let to = (fed + piece).min(input.len());
                buf.extend_from_slice(&input[fed..to]);
                fed = to;
            }
            Step::Framing(n) | Step::End(n) => {
                assert!(n > 0 && n <= buf.len());
                buf.drain(..n);
            }
            Step::Data(n) => {
                assert!(n > 0 && n <= buf.len());
                data.extend(buf.drain(..n));
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, input)) = data.split_first() else {
        return;
    };
    let piece = usize::from(sel).max(1);
    let Some((body, ended)) = decode(input, piece) else {
        return;
    };
    if ended {
        let mut enc = Vec::new();
        if !body.is_empty() {
            write_size(body.len() as u64, &mut enc);
            enc.extend_from_slice(&body);
            enc.extend_from_slice(b"\r\n");
        }
        enc.extend_from_slice(LAST_CHUNK);
        assert_eq!(decode(&enc, 7), Some((body, true)));
    }
});
