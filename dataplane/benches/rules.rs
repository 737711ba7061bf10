//! Micro-benchmarks of the rule engine's lookups: `acl_match_path_beg`
//! (a path against 1,000 prefixes), `acl_match_ip` (an address against
//! 1,000 networks of mixed lengths), `acl_match_str_icase` (a header value
//! against 1,000 names, `-i`). Run: `cargo bench -p ringlb --bench rules`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::net::Ipv4Addr;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use ringlb::engine::rules::pattern::{Patterns, Value};
use ringlb_config::acl::{IpNet, MatchMethod, Pattern};

fn acl_match_path_beg(c: &mut Criterion) {
    let pats: Vec<Pattern> = (0..1000)
        .map(|i| Pattern::Str(format!("/app{i}/static")))
        .collect();
    let p = Patterns::compile(MatchMethod::Beg, false, &pats).unwrap();
    c.bench_function("acl_match_path_beg", |b| {
        b.iter(|| p.lookup(black_box(Value::Str(b"/app777/static/js/main.js"))));
    });
}

fn acl_match_ip(c: &mut Criterion) {
    let pats: Vec<Pattern> = (0..1000u32)
        .map(|i| {
            let len = 8 + (i % 17);
            let mask = u32::MAX << (32 - len);
            Pattern::Ip(IpNet::V4 {
                addr: Ipv4Addr::from((10 << 24 | i << 8) & mask),
                mask: Ipv4Addr::from(mask),
            })
        })
        .collect();
    let p = Patterns::compile(MatchMethod::Ip, false, &pats).unwrap();
    let ip = "10.3.7.9".parse().unwrap();
    c.bench_function("acl_match_ip", |b| {
        b.iter(|| p.lookup(black_box(Value::Ip(ip))));
    });
}

fn acl_match_str_icase(c: &mut Criterion) {
    let pats: Vec<Pattern> = (0..1000)
        .map(|i| Pattern::Str(format!("Host-{i}.Example.com")))
        .collect();
    let p = Patterns::compile(MatchMethod::Str, true, &pats).unwrap();
    c.bench_function("acl_match_str_icase", |b| {
        b.iter(|| p.lookup(black_box(Value::Str(b"HOST-512.example.COM"))));
    });
}

criterion_group!(
    benches,
    acl_match_path_beg,
    acl_match_ip,
    acl_match_str_icase
);
criterion_main!(benches);
