//! Consistent hashing (HAProxy's lb_chash.c), used by `hash-type consistent`
//! and by `balance random`.
//!
//! Each usable server owns `weight * 16` points on a 32-bit ring, point `n` of
//! the server with id `puid` sitting at `full_hash(puid * 4096 + n)` (the
//! default `hash-key id`), so a server keeps its points when others come and
//! go, and several load balancers with the same server ids agree. Active and
//! backup servers have separate rings.

use std::collections::BTreeSet;
use std::ops::Bound::{Excluded, Unbounded};

use super::hash::full_hash;

/// HAProxy's BE_WEIGHT_SCALE: points (and effective weight units) per unit of
/// configured weight.
pub(super) const WEIGHT_SCALE: u32 = 16;
/// HAProxy's SRV_EWGHT_RANGE: room for the points of one server id.
const EWGHT_RANGE: u32 = 256 * WEIGHT_SCALE;

/// A point: its position on the ring, then the server index (which orders
/// the rare points sharing a position).
type Point = (u32, u32);

#[derive(Debug)]
pub(super) struct Ring {
    /// [active ring, backup ring].
    rings: [BTreeSet<Point>; 2],
    /// Points each server has on its ring now.
    points: Vec<u32>,
    /// Where the round-robin walk (hash key missing) stopped.
    last: Option<Point>,
}

fn point_key(id: u32, n: u32) -> u32 {
    full_hash(id.wrapping_mul(EWGHT_RANGE).wrapping_add(n))
}

fn server_of(p: Point) -> usize {
    usize::try_from(p.1).unwrap_or(usize::MAX)
}

impl Ring {
    pub(super) fn new(servers: usize) -> Ring {
        Ring {
            rings: [BTreeSet::new(), BTreeSet::new()],
            points: vec![0; servers],
            last: None,
        }
    }

    /// Room for `servers` servers (with no point yet).
    pub(super) fn grow(&mut self, servers: usize) {
        if self.points.len() < servers {
            self.points.resize(servers, 0);
        }
    }

    /// Gives server `srv` (id `id`) exactly `count` points on its ring,
    /// adding or removing its last points as chash_queue_dequeue_srv() does.
    pub(super) fn set_points(&mut self, srv: usize, id: u32, backup: bool, count: u32) {
        let (Ok(tag), Some(now)) = (u32::try_from(srv), self.points.get_mut(srv)) else {
            return;
        };
        let Some(ring) = self.rings.get_mut(usize::from(backup)) else {
            return;
        };
        while *now > count {
            *now -= 1;
            ring.remove(&(point_key(id, *now), tag));
        }
        while *now < count {
            ring.insert((point_key(id, *now), tag));
            *now += 1;
        }
    }

    fn ring(&self, backup: bool) -> Option<&BTreeSet<Point>> {
        self.rings.get(usize::from(backup))
    }

    /// chash_get_server_hash(): the server owning the point closest to
    /// `hash` (the one before it on a tie), then walking forward while
    /// `accept` refuses the server (the avoided server, or one over its
    /// bounded load). After a full turn the last server seen is returned
    /// anyway.
    pub(super) fn lookup(
        &self,
        backup: bool,
        hash: u32,
        mut accept: impl FnMut(usize) -> bool,
    ) -> Option<usize> {
        let ring = self.ring(backup)?;
        let first = *ring.first()?;
        let next = ring.range((hash, 0)..).next().copied().unwrap_or(first);
        let prev = ring
            .range(..next)
            .next_back()
            .or_else(|| ring.last())
            .copied()
            .unwrap_or(next);
        let dp = hash.wrapping_sub(prev.0);
        let dn = next.0.wrapping_sub(hash);
        let mut cur = if dp <= dn { prev } else { next };
        let mut wraps = 0;
        while !accept(server_of(cur)) {
            match ring.range((Excluded(cur), Unbounded)).next() {
                Some(&p) => cur = p,
                None => {
                    wraps += 1;
                    if wraps > 1 {
                        break;
                    }
                    cur = first;
                }
            }
        }
        Some(server_of(cur))
    }

    /// chash_get_next_server(): round robin along the ring from where the
    /// previous walk stopped, skipping `full` servers and `avoid` (returned
    /// when it is the only one left).
    pub(super) fn next_rr(
        &mut self,
        backup: bool,
        avoid: Option<usize>,
        full: impl Fn(usize) -> bool,
    ) -> Option<usize> {
        let ring = self.rings.get(usize::from(backup))?;
        let first = *ring.first()?;
        let mut node = self.last;
        let mut avoided = None;
        // One full turn at most. HAProxy stops after a single point when the
        // walk starts from nowhere (right after start-up); we always look at
        // the whole ring so a saturated first server cannot queue the stream
        // while others have free slots.
        for _ in 0..ring.len() {
            let p = match node {
                Some(k) => ring
                    .range((Excluded(k), Unbounded))
                    .next()
                    .copied()
                    .unwrap_or(first),
                None => first,
            };
            node = Some(p);
            let s = server_of(p);
            if full(s) {
                continue;
            }
            if Some(s) != avoid {
                self.last = Some(p);
                return Some(s);
            }
            avoided = Some(p);
        }
        self.last = avoided.or(node);
        avoided.map(server_of)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_follow_weight() {
        let mut r = Ring::new(3);
        r.set_points(0, 1, false, 16);
        r.set_points(1, 2, false, 32);
        r.set_points(2, 3, true, 16);
        assert_eq!(r.rings[0].len(), 48);
        assert_eq!(r.rings[1].len(), 16);
        r.set_points(1, 2, false, 8);
        assert_eq!(r.rings[0].len(), 24);
        r.set_points(1, 2, false, 0);
        assert_eq!(r.rings[0].len(), 16);
        assert!(r.rings[0].iter().all(|p| p.1 == 0));
        // Out of range: ignored.
        r.set_points(9, 9, false, 5);
        assert_eq!(r.rings[0].len(), 16);
    }

    #[test]
    fn first_point_is_haproxys() {
        // Server id 1, point 0 sits at full_hash(4096).
        let mut r = Ring::new(1);
        r.set_points(0, 1, false, 1);
        assert_eq!(r.rings[0].first(), Some(&(0x49c2_008b, 0)));
        assert_eq!(r.lookup(false, 0, |_| true), Some(0));
        assert_eq!(r.lookup(true, 0, |_| true), None);
    }

    #[test]
    fn closest_point_wins() {
        let mut r = Ring::new(2);
        r.rings[0].insert((1000, 0));
        r.rings[0].insert((2000, 1));
        assert_eq!(r.lookup(false, 1400, |_| true), Some(0));
        assert_eq!(r.lookup(false, 1500, |_| true), Some(0)); // tie: prev
        assert_eq!(r.lookup(false, 1600, |_| true), Some(1));
        assert_eq!(r.lookup(false, 10, |_| true), Some(0));
        // Past the last point: 2000 is 2000 behind, 1000 is almost 2^32 ahead.
        assert_eq!(r.lookup(false, 4000, |_| true), Some(1));
        // Walk forward past a refused server, and give up after a full turn.
        assert_eq!(r.lookup(false, 1400, |s| s != 0), Some(1));
        assert_eq!(r.lookup(false, 1600, |s| s != 1), Some(0));
        assert!(r.lookup(false, 1400, |_| false).is_some());
    }

    #[test]
    fn round_robin_walk() {
        let mut r = Ring::new(3);
        r.rings[0].insert((10, 0));
        r.rings[0].insert((20, 1));
        r.rings[0].insert((30, 2));
        let seq: Vec<_> = (0..6)
            .map(|_| r.next_rr(false, None, |_| false).unwrap())
            .collect();
        assert_eq!(seq, vec![0, 1, 2, 0, 1, 2]);
        assert_eq!(r.next_rr(false, Some(0), |s| s == 1), Some(2));
        assert_eq!(r.next_rr(false, Some(0), |s| s == 1), Some(2));
        assert_eq!(r.next_rr(false, Some(0), |s| s != 0), Some(0));
        assert_eq!(r.next_rr(false, None, |_| true), None);
        assert_eq!(r.next_rr(true, None, |_| false), None);
    }
}
