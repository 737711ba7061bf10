//! `balance leastconn` (HAProxy's lb_fwlc.c): the server with the lowest
//! load relative to its weight, round robin among equally loaded servers.
//! The load is HAProxy's `inflight`: streams served plus streams waiting in
//! the server's own queue (the caller adds them up).

use super::chash::WEIGHT_SCALE;

/// HAProxy's SRV_EWGHT_MAX.
const EWGHT_MAX: u64 = 256 * WEIGHT_SCALE as u64;

/// fwlc's sort key (fwlc_queue_srv()): 0 for a server with nothing in
/// flight whatever its weight, else the load it would have with one more
/// stream, per unit of weight: `(inflight + 1) * SRV_EWGHT_MAX / eweight`,
/// where `inflight` is served plus queued streams and `eweight` the
/// effective weight in eweight units (16 per unit of weight).
pub(super) fn key(inflight: u32, eweight: u32) -> u64 {
    if inflight == 0 {
        return 0;
    }
    (u64::from(inflight) + 1) * EWGHT_MAX / u64::from(eweight.max(1))
}

#[derive(Debug)]
pub(super) struct LeastConn {
    /// When each server was last picked: among equal keys the least recently
    /// picked wins. HAProxy gets the same rotation from requeueing a server
    /// behind its peers of the same key whenever its load changes.
    picked: Vec<u64>,
    clock: u64,
}

impl LeastConn {
    pub(super) fn new(servers: usize) -> LeastConn {
        LeastConn {
            picked: vec![0; servers],
            clock: 0,
        }
    }

    /// Room for `servers` servers (never picked yet).
    pub(super) fn grow(&mut self, servers: usize) {
        if self.picked.len() < servers {
            self.picked.resize(servers, 0);
        }
    }

    pub(super) fn pick(
        &mut self,
        members: &[usize],
        load: impl Fn(usize) -> (u32, u32),
        avoid: Option<usize>,
        full: impl Fn(usize) -> bool,
    ) -> Option<usize> {
        let mut best: Option<(usize, (u64, u64))> = None;
        let mut avoided = None;
        for &i in members {
            if full(i) {
                continue;
            }
            if Some(i) == avoid {
                avoided = Some(i);
                continue;
            }
            let (conns, weight) = load(i);
            let rank = (key(conns, weight), self.picked.get(i).copied().unwrap_or(0));
            if best.is_none_or(|(_, b)| rank < b) {
                best = Some((i, rank));
            }
        }
        let chosen = best.map(|(i, _)| i).or(avoided)?;
        self.clock += 1;
        if let Some(p) = self.picked.get_mut(chosen) {
            *p = self.clock;
        }
        Some(chosen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert_eq!(key(0, 16), 0);
        assert_eq!(key(0, 100), 0);
        // (1 + 1) * 4096 / 16
        assert_eq!(key(1, 16), 512);
        assert_eq!(key(1, 32), 256);
        assert_eq!(key(3, 32), 512);
        assert_eq!(key(1, 0), 8192);
    }

    #[test]
    fn least_loaded_then_rotation() {
        let mut lc = LeastConn::new(3);
        let m = [0, 1, 2];
        let conns = [3u32, 1, 1];
        let seq: Vec<_> = (0..4)
            .map(|_| lc.pick(&m, |i| (conns[i], 1), None, |_| false).unwrap())
            .collect();
        assert_eq!(seq, vec![1, 2, 1, 2]);
        // The avoided server only when nothing else is left.
        assert_eq!(lc.pick(&m, |i| (conns[i], 1), Some(1), |i| i != 1), Some(1));
        assert_eq!(lc.pick(&m, |i| (conns[i], 1), None, |_| true), None);
    }
}
