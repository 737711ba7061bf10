//! Map-based selection (HAProxy's lb_map.c): `static-rr` and the map-based
//! `hash-type`. The map is a table of sum(weights) slots; a server appears
//! as many times as its weight, spread in declaration order. Round robin
//! walks the table, hashing takes slot `hash % size`.
//!
//! Weights are static: they are divided once by the GCD of the configured
//! weights, and a later weight change only matters when it makes a server
//! usable or not (HAProxy only accepts 0% and 100% for static algorithms).

#[derive(Debug)]
pub(super) struct MapTable {
    /// Each server's weight in map slots (configured weight / GCD).
    eweight: Vec<u32>,
    table: Vec<usize>,
    rr_idx: usize,
}

impl MapTable {
    /// `weights` are the configured weights of all servers, in order.
    pub(super) fn new(weights: &[u32]) -> MapTable {
        // HAProxy's init_server_map(): the GCD of all weights, skipping the
        // leading zero ones (a zero later leaves it unchanged).
        let gcd = weights
            .iter()
            .copied()
            .filter(|&w| w > 0)
            .reduce(gcd)
            .unwrap_or(1);
        MapTable {
            eweight: weights.iter().map(|&w| w.div_ceil(gcd)).collect(),
            table: Vec::new(),
            rr_idx: 0,
        }
    }

    pub(super) fn eweight(&self, srv: usize) -> u32 {
        self.eweight.get(srv).copied().unwrap_or(0)
    }

    /// Recomputes the table for `members` (the usable servers of the group in
    /// use, in declaration order), as recalc_server_map() does: slot after
    /// slot, each member gains its weight and the one with the highest
    /// score/size quotient (first declared on ties) takes the slot and
    /// loses the table size.
    pub(super) fn rebuild(&mut self, members: &[usize]) {
        let tot: i64 = members.iter().map(|&i| i64::from(self.eweight(i))).sum();
        let mut score: Vec<(usize, i64, i64)> = members
            .iter()
            .map(|&i| (i, i64::from(self.eweight(i)), 0))
            .filter(|&(_, w, _)| w > 0)
            .collect();
        self.table.clear();
        for _ in 0..tot {
            let mut best: Option<(usize, i64)> = None;
            for (pos, (_, w, s)) in score.iter_mut().enumerate() {
                *s += *w;
                // Truncating division, as in C.
                let v = (*s + tot) / tot;
                if best.is_none_or(|(_, max)| v > max) {
                    best = Some((pos, v));
                }
            }
            let Some((pos, _)) = best else { break };
            if let Some((srv, _, s)) = score.get_mut(pos) {
                *s -= tot;
                self.table.push(*srv);
            }
        }
    }

    /// Starts round robin at slot `phase` (modulo the table size).
    pub(super) fn set_phase(&mut self, phase: usize) {
        self.rr_idx = phase.checked_rem(self.table.len()).unwrap_or(0);
    }

    /// map_get_server_hash(): the slot the hash designates, saturated or not
    /// (the stream then waits in that server's queue).
    pub(super) fn pick_hash(&self, hash: u32) -> Option<usize> {
        let size = u64::try_from(self.table.len()).ok().filter(|&n| n > 0)?;
        let slot = usize::try_from(u64::from(hash) % size).ok()?;
        self.table.get(slot).copied()
    }

    /// map_get_server_rr(): the next slot whose server is not `full`,
    /// avoiding `avoid` unless it is the only one left.
    pub(super) fn pick_rr(
        &mut self,
        avoid: Option<usize>,
        full: impl Fn(usize) -> bool,
    ) -> Option<usize> {
        let size = self.table.len();
        if size == 0 {
            return None;
        }
        if self.rr_idx >= size {
            self.rr_idx = 0;
        }
        let mut idx = self.rr_idx;
        let mut avoided = None;
        loop {
            let srv = self.table.get(idx).copied();
            idx += 1;
            if let Some(srv) = srv.filter(|&s| !full(s)) {
                if Some(srv) != avoid {
                    self.rr_idx = idx;
                    return Some(srv);
                }
                avoided = Some((srv, idx));
            }
            if idx == size {
                idx = 0;
            }
            if idx == self.rr_idx {
                break;
            }
        }
        let (srv, idx) = avoided?;
        self.rr_idx = idx;
        Some(srv)
    }
}

fn gcd(a: u32, b: u32) -> u32 {
    let (mut a, mut b) = (a, b);
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_order() {
        // Weights 2:4:6 reduce to 1:2:3 (GCD 2).
        let mut m = MapTable::new(&[2, 4, 6]);
        m.rebuild(&[0, 1, 2]);
        assert_eq!(m.table, vec![0, 2, 1, 2, 1, 2]);
        let mut m = MapTable::new(&[1, 1, 1]);
        m.rebuild(&[0, 1, 2]);
        assert_eq!(m.table, vec![0, 1, 2]);
        m.rebuild(&[2]);
        assert_eq!(m.table, vec![2]);
        m.rebuild(&[]);
        assert_eq!(m.pick_hash(7), None);
        assert_eq!(m.pick_rr(None, |_| false), None);
    }

    #[test]
    fn zero_weights_in_gcd() {
        let m = MapTable::new(&[0, 4, 0, 6]);
        assert_eq!(m.eweight, vec![0, 2, 0, 3]);
        let m = MapTable::new(&[0, 0]);
        assert_eq!(m.eweight, vec![0, 0]);
    }

    #[test]
    fn rr_skips_full_and_avoid() {
        let mut m = MapTable::new(&[1, 1, 1]);
        m.rebuild(&[0, 1, 2]);
        let seq: Vec<_> = (0..4)
            .map(|_| m.pick_rr(Some(1), |i| i == 2).unwrap())
            .collect();
        assert_eq!(seq, vec![0, 0, 0, 0]);
        assert_eq!(m.pick_rr(Some(1), |i| i != 1), Some(1));
        assert_eq!(m.pick_rr(None, |_| true), None);
    }
}
