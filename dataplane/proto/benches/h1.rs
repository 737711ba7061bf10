//! Micro-benchmarks of the HTTP/1 codecs: `h1_parse_head` (a browser-like
//! request head of 14 fields, parsed into a reused Head) and
//! `chunked_decode` (a 64 KiB body in 1 KiB chunks, stepped through).
//! Run: `cargo bench -p ringlb-proto`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ringlb_proto::h1::chunked::{write_size, Decoder, Step, LAST_CHUNK};
use ringlb_proto::h1::head::{HeadParser, Kind, Options, Progress};
use ringlb_proto::msg::Head;

const REQUEST: &[u8] = b"GET /static/js/app.4f2a9c.js?v=3 HTTP/1.1\r\n\
Host: www.example.com\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\r\n\
Accept: */*\r\n\
Accept-Language: en-US,en;q=0.9\r\n\
Accept-Encoding: gzip, deflate, br\r\n\
Referer: https://www.example.com/\r\n\
Connection: keep-alive\r\n\
Cookie: session=3f9a1c0e7b2d4e6f8a0b1c2d3e4f5a6b; theme=dark; lang=en\r\n\
Sec-Fetch-Dest: script\r\n\
Sec-Fetch-Mode: no-cors\r\n\
Sec-Fetch-Site: same-origin\r\n\
Cache-Control: no-cache\r\n\
Pragma: no-cache\r\n\
X-Forwarded-For: 192.0.2.10\r\n\r\n";

fn h1_parse_head(c: &mut Criterion) {
    let mut g = c.benchmark_group("h1");
    g.throughput(Throughput::Bytes(REQUEST.len() as u64));
    let mut head = Head::new();
    let mut buf = REQUEST.to_vec();
    g.bench_function("h1_parse_head", |b| {
        b.iter(|| {
            let mut p = HeadParser::new(Kind::Request, Options::default());
            let r = p.parse(black_box(&mut buf), &mut head).unwrap();
            assert!(matches!(r, Progress::Done(_)));
            black_box(head.field_count())
        });
    });
    g.finish();
}

fn chunked_decode(c: &mut Criterion) {
    let mut body = Vec::new();
    for _ in 0..64 {
        write_size(1024, &mut body);
        body.extend(std::iter::repeat_n(b'x', 1024));
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(LAST_CHUNK);
    let mut g = c.benchmark_group("chunked");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("chunked_decode", |b| {
        b.iter(|| {
            let mut d = Decoder::new(1024);
            let mut at = 0;
            let mut data = 0;
            loop {
                match d.step(black_box(&body[at..])).unwrap() {
                    Step::NeedMore => break,
                    Step::Framing(n) | Step::End(n) => at += n,
                    Step::Data(n) => {
                        at += n;
                        data += n;
                    }
                }
            }
            black_box(data)
        });
    });
    g.finish();
}

criterion_group!(benches, h1_parse_head, chunked_decode);
criterion_main!(benches);
