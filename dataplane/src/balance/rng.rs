//! A small seedable PRNG for `balance random`: xorshift32, the generator
//! HAProxy's statistical_prng() uses per thread.

use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;

#[derive(Debug)]
pub(super) struct Rng(u32);

/// Random bits drawn once per process (std's RandomState keys come from the
/// OS's random source), so that two processes (reloads, or ringlb beside
/// another ringlb) do not draw the same sequences either.
fn process_seed() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(|| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        h.finish()
    })
}

impl Rng {
    /// The generator of executor `core`: the process's random seed with the
    /// core number folded in, so that every core draws its own sequence (as
    /// HAProxy's init_tools_per_thread() moves each thread's state by a
    /// random amount). Distinct cores get distinct 64-bit seeds.
    pub(super) fn for_core(core: usize) -> Rng {
        let core = u64::try_from(core).unwrap_or(u64::MAX);
        Rng::new(process_seed() ^ core.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }

    pub(super) fn new(seed: u64) -> Rng {
        // Fold the seed through a splitmix64 round so that close seeds (core
        // numbers) give unrelated streams; xorshift must not start at 0.
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let s = (z ^ (z >> 32)) as u32;
        Rng(if s == 0 { 0x2545_f491 } else { s })
    }

    pub(super) fn next_u32(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_and_never_stuck() {
        let mut a = Rng::new(1);
        let mut b = Rng::new(1);
        let mut c = Rng::new(2);
        let va: Vec<u32> = (0..8).map(|_| a.next_u32()).collect();
        let vb: Vec<u32> = (0..8).map(|_| b.next_u32()).collect();
        let vc: Vec<u32> = (0..8).map(|_| c.next_u32()).collect();
        assert_eq!(va, vb);
        assert_ne!(va, vc);
        assert!(va.iter().all(|&x| x != 0));
    }

    #[test]
    fn each_core_draws_its_own_sequence() {
        let seqs: Vec<Vec<u32>> = (0..8)
            .map(|core| {
                let mut r = Rng::for_core(core);
                (0..4).map(|_| r.next_u32()).collect()
            })
            .collect();
        for (i, a) in seqs.iter().enumerate() {
            for b in seqs.iter().skip(i + 1) {
                assert_ne!(a, b);
            }
        }
    }
}
