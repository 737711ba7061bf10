//! Micro-benchmark of the statistics' per-stream cost:
//! `counters_observe_stream` records one stream's four timers (queue,
//! connect, response, total) in the latency histograms of its frontend,
//! backend and server, as every stream's end does (see
//! `runtime::counters`). Run: `cargo bench -p ringlb --bench counters`.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, missing_docs)]

use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use ringlb::engine::runtime::counters::{Obj, Stats, StreamTimers};

fn counters_observe_stream(c: &mut Criterion) {
    let stats = Stats::new(2, 4, &[8, 8, 8, 8]);
    let objs = [Obj::Fe(2), Obj::Be(3), Obj::Srv(3, 5)];
    // Samples spread over the buckets as a real load's are, made before
    // the measure so only the recording is timed.
    let samples: Vec<StreamTimers> = (0..1024u64)
        .map(|i| {
            let n = i.wrapping_mul(7919);
            StreamTimers {
                queue: Some(Duration::from_nanos(n % 1_000)),
                connect: Some(Duration::from_nanos(20_000 + n % 100_000)),
                response: Some(Duration::from_nanos(300_000 + n % 5_000_000)),
                total: Some(Duration::from_nanos(400_000 + n % 9_000_000)),
            }
        })
        .collect();
    let mut i = 0usize;
    c.bench_function("counters_observe_stream", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            stats.observe(0, black_box(&objs), black_box(&samples[i]));
        });
    });
}

criterion_group!(benches, counters_observe_stream);
criterion_main!(benches);
