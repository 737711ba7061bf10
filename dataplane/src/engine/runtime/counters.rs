//! Statistics counters, per core with one writer each, summed when read
//! (HAProxy keeps one block of counters per thread group for the same
//! reason: a counter every core increments would bounce its cache line
//! between the cores on every connection).
//!
//! Each executor owns one [`Block`] and is its only writer: an increment is
//! a relaxed load and store, no locked instruction. Any thread reads a
//! total with [`Stats::sum`] (the sum of every block; a reader may see one
//! core's increment before another's, never a torn value).
//!
//! The limits the cores must agree on (actconn, feconn, beconn, a server's
//! connections and queue) are not here: they are shared
//! [`Counter`](crate::engine::Counter)s, each on its own cache line.

use std::sync::atomic::{AtomicU64, Ordering};

/// What is counted, per frontend, backend or server. The runtime API's
/// `show stat` reads these (HAProxy's `stot`, `bin`, `bout`, `econ`,
/// `wretr`, `wredis`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stat {
    /// Frontend: connections accepted (`conn_tot`; the "cumulated conns"
    /// of the stop report).
    FeConnTot(usize),
    /// Frontend: bytes from the clients / to the clients.
    FeBytesIn(usize),
    FeBytesOut(usize),
    /// Backend: streams sent to it (`stot`).
    BeSessTot(usize),
    BeBytesIn(usize),
    BeBytesOut(usize),
    /// Backend: connection attempts that failed (`econ`), retries
    /// (`wretr`), redispatches (`wredis`).
    BeConnErr(usize),
    BeRetries(usize),
    BeRedispatches(usize),
    /// Server `(backend, server)`: streams it served (`stot`), bytes, and
    /// the same failure counts.
    SrvSessTot(usize, usize),
    SrvBytesIn(usize, usize),
    SrvBytesOut(usize, usize),
    SrvConnErr(usize, usize),
    SrvRetries(usize, usize),
    SrvRedispatches(usize, usize),
}

const FE_STATS: usize = 3;
const BE_STATS: usize = 6;
const SRV_STATS: usize = 6;

/// Where each proxy's counters start in a block.
#[derive(Debug)]
struct Layout {
    frontends: usize,
    backends: usize,
    /// Per backend, the index of its first server (in servers).
    first_server: Vec<usize>,
    servers: usize,
}

impl Layout {
    fn len(&self) -> usize {
        self.frontends * FE_STATS + self.backends * BE_STATS + self.servers * SRV_STATS
    }

    fn index(&self, stat: Stat) -> Option<usize> {
        let fe = |i: usize, k: usize| (i < self.frontends).then_some(i * FE_STATS + k);
        let base_be = self.frontends * FE_STATS;
        let be = |i: usize, k: usize| (i < self.backends).then_some(base_be + i * BE_STATS + k);
        let base_srv = base_be + self.backends * BE_STATS;
        let srv = |b: usize, s: usize, k: usize| {
            let first = *self.first_server.get(b)?;
            let next = self
                .first_server
                .get(b + 1)
                .copied()
                .unwrap_or(self.servers);
            (first + s < next).then_some(base_srv + (first + s) * SRV_STATS + k)
        };
        match stat {
            Stat::FeConnTot(i) => fe(i, 0),
            Stat::FeBytesIn(i) => fe(i, 1),
            Stat::FeBytesOut(i) => fe(i, 2),
            Stat::BeSessTot(i) => be(i, 0),
            Stat::BeBytesIn(i) => be(i, 1),
            Stat::BeBytesOut(i) => be(i, 2),
            Stat::BeConnErr(i) => be(i, 3),
            Stat::BeRetries(i) => be(i, 4),
            Stat::BeRedispatches(i) => be(i, 5),
            Stat::SrvSessTot(b, s) => srv(b, s, 0),
            Stat::SrvBytesIn(b, s) => srv(b, s, 1),
            Stat::SrvBytesOut(b, s) => srv(b, s, 2),
            Stat::SrvConnErr(b, s) => srv(b, s, 3),
            Stat::SrvRetries(b, s) => srv(b, s, 4),
            Stat::SrvRedispatches(b, s) => srv(b, s, 5),
        }
    }
}

/// Eight counters: one cache line.
#[derive(Debug, Default)]
#[repr(align(64))]
struct Line([AtomicU64; 8]);

/// One core's counters, in whole cache lines of their own, so two cores
/// never write the same line.
#[derive(Debug)]
pub struct Block {
    lines: Box<[Line]>,
}

impl Block {
    fn new(len: usize) -> Block {
        Block {
            lines: (0..len.div_ceil(8)).map(|_| Line::default()).collect(),
        }
    }

    fn get(&self, i: usize) -> Option<&AtomicU64> {
        self.lines.get(i / 8)?.0.get(i % 8)
    }
}

/// Every core's counters.
#[derive(Debug)]
pub struct Stats {
    layout: Layout,
    blocks: Box<[Block]>,
}

impl Stats {
    /// Counters for `cores` executors; `servers[b]` is backend b's server
    /// count.
    pub fn new(cores: usize, frontends: usize, servers: &[usize]) -> Stats {
        let mut first_server = Vec::with_capacity(servers.len());
        let mut total = 0;
        for n in servers {
            first_server.push(total);
            total += n;
        }
        let layout = Layout {
            frontends,
            backends: servers.len(),
            first_server,
            servers: total,
        };
        let len = layout.len();
        Stats {
            blocks: (0..cores).map(|_| Block::new(len)).collect(),
            layout,
        }
    }

    /// Add `n` to `stat` in `core`'s block. Only the executor `core` may
    /// call this (one writer per block: a plain load and store).
    pub fn add(&self, core: usize, stat: Stat, n: u64) {
        let Some(v) = self
            .layout
            .index(stat)
            .and_then(|i| self.blocks.get(core)?.get(i))
        else {
            return;
        };
        v.store(v.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
    }

    /// The total over every core.
    pub fn sum(&self, stat: Stat) -> u64 {
        let Some(i) = self.layout.index(stat) else {
            return 0;
        };
        self.blocks
            .iter()
            .filter_map(|b| b.get(i))
            .map(|v| v.load(Ordering::Relaxed))
            .fold(0, u64::wrapping_add)
    }
}

#[cfg(test)]
mod tests {
    use super::{Stat, Stats};

    #[test]
    fn each_core_counts_apart_and_a_read_sums_them() {
        let s = Stats::new(3, 2, &[2, 1]);
        s.add(0, Stat::FeConnTot(1), 2);
        s.add(2, Stat::FeConnTot(1), 3);
        s.add(1, Stat::SrvSessTot(1, 0), 7);
        s.add(1, Stat::SrvSessTot(0, 1), 1);
        assert_eq!(s.sum(Stat::FeConnTot(1)), 5);
        assert_eq!(s.sum(Stat::FeConnTot(0)), 0);
        assert_eq!(s.sum(Stat::SrvSessTot(1, 0)), 7);
        assert_eq!(s.sum(Stat::SrvSessTot(0, 1)), 1);
        assert_eq!(s.sum(Stat::SrvSessTot(0, 0)), 0);
    }

    #[test]
    fn out_of_range_counters_are_ignored() {
        let s = Stats::new(1, 1, &[1]);
        s.add(0, Stat::SrvSessTot(0, 1), 1);
        s.add(0, Stat::BeSessTot(1), 1);
        s.add(5, Stat::FeConnTot(0), 1);
        assert_eq!(s.sum(Stat::SrvSessTot(0, 1)), 0);
        assert_eq!(s.sum(Stat::SrvSessTot(0, 0)), 0);
        assert_eq!(s.sum(Stat::FeConnTot(0)), 0);
    }

    #[test]
    fn blocks_do_not_share_a_cache_line() {
        let s = Stats::new(2, 1, &[]);
        for b in s.blocks.iter() {
            assert_eq!(b.lines.as_ptr() as usize % 64, 0, "starts a line");
        }
        assert_eq!(std::mem::size_of::<super::Line>(), 64);
    }

    #[test]
    fn one_writer_per_core_loses_nothing() {
        let s = std::sync::Arc::new(Stats::new(4, 1, &[]));
        let threads: Vec<_> = (0..4)
            .map(|c| {
                let s = std::sync::Arc::clone(&s);
                std::thread::spawn(move || {
                    for _ in 0..100_000 {
                        s.add(c, Stat::FeConnTot(0), 1);
                    }
                })
            })
            .collect();
        for t in threads {
            assert!(t.join().is_ok());
        }
        assert_eq!(s.sum(Stat::FeConnTot(0)), 400_000);
    }
}
