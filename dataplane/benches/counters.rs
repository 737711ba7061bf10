//! Micro-benchmark of the statistics' per-stream cost:
//! `counters_observe_stream` records one stream's four timers (queue,
//! connect, response, total) in the latency histograms of its frontend,
//! backend and server, as every stream's end does (see
//! `runtime::counters`). Run: `cargo bench -p ringlb --bench counters`.
#![allow(clippy::unwrap_used, missing_docs)]

use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use ringlb::engine::runtime::counters::{Obj, Stats, StreamTimers};

fn counters_observe_stream(c: &mut Criterion) {
    let stats = Stats::new(2, 4, &[8, 8, 8, 8]);
    let objs = [Obj::Fe(2), Obj::Be(3), Obj::Srv(3, 5)];
    let mut n = 0u64;
    c.bench_function("counters_observe_stream", |b| {
        b.iter(|| {
            // Vary the samples so the buckets move as a real load's do.
            n = n.wrapping_add(7919);
            let t = StreamTimers {
                queue: Some(Duration::from_nanos(n % 1_000)),
                connect: Some(Duration::from_nanos(20_000 + n % 100_000)),
                response: Some(Duration::from_nanos(300_000 + n % 5_000_000)),
                total: Some(Duration::from_nanos(400_000 + n % 9_000_000)),
            };
            stats.observe(0, black_box(&objs), black_box(&t));
        });
    });
}

criterion_group!(benches, counters_observe_stream);
criterion_main!(benches);
