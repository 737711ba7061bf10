//! A small seedable PRNG for `balance random`: xorshift32, the generator
//! HAProxy's statistical_prng() uses per thread.

#[derive(Debug)]
pub(super) struct Rng(u32);

impl Rng {
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
}
