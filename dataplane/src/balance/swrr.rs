//! `balance roundrobin`: smooth weighted round robin with dynamic weights.
//!
//! HAProxy's lb_fwrr.c places servers on a timeline in weight-sorted trees;
//! this is the equivalent "current weight" formulation: on each pick every
//! candidate gains its weight, the highest wins and loses the sum of the
//! candidates' weights. Over any window of sum(weights) picks each server is
//! picked exactly `weight` times, heavy servers are spread out (never a
//! server twice in a row while another has the same weight), and a weight
//! change applies from the next pick, which slow start needs. Saturated
//! servers are skipped without gaining credit, as fwrr requeues them.

#[derive(Debug)]
pub(super) struct Swrr {
    current: Vec<i64>,
}

impl Swrr {
    pub(super) fn new(servers: usize) -> Swrr {
        Swrr {
            current: vec![0; servers],
        }
    }

    /// Room for `servers` servers (the new ones with no credit).
    pub(super) fn grow(&mut self, servers: usize) {
        if self.current.len() < servers {
            self.current.resize(servers, 0);
        }
    }

    /// A server entering or leaving the farm starts again from zero credit.
    pub(super) fn reset(&mut self, srv: usize) {
        if let Some(c) = self.current.get_mut(srv) {
            *c = 0;
        }
    }

    /// Picks among `members` (declaration order) those not `full`, avoiding
    /// `avoid` unless it is the only one left (HAProxy's redispatch rule).
    pub(super) fn pick(
        &mut self,
        members: &[usize],
        weight: impl Fn(usize) -> u32,
        avoid: Option<usize>,
        full: impl Fn(usize) -> bool,
    ) -> Option<usize> {
        let mut total: i64 = 0;
        let mut best: Option<(usize, i64)> = None;
        let mut avoided = None;
        for &i in members {
            if full(i) {
                continue;
            }
            if Some(i) == avoid {
                avoided = Some(i);
                continue;
            }
            let w = i64::from(weight(i));
            let Some(c) = self.current.get_mut(i) else {
                continue;
            };
            *c += w;
            total += w;
            if best.is_none_or(|(_, b)| *c > b) {
                best = Some((i, *c));
            }
        }
        match best {
            Some((i, _)) => {
                if let Some(c) = self.current.get_mut(i) {
                    *c -= total;
                }
                Some(i)
            }
            None => avoided,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(weights: &[u32], n: usize) -> Vec<usize> {
        let members: Vec<usize> = (0..weights.len()).collect();
        let mut rr = Swrr::new(weights.len());
        (0..n)
            .map(|_| rr.pick(&members, |i| weights[i], None, |_| false).unwrap())
            .collect()
    }

    #[test]
    fn smooth_sequence() {
        assert_eq!(run(&[1, 2, 3], 6), vec![2, 1, 0, 2, 1, 2]);
        assert_eq!(run(&[5, 1, 1], 7), vec![0, 0, 1, 0, 2, 0, 0]);
    }

    #[test]
    fn full_and_avoided() {
        let mut rr = Swrr::new(3);
        let m = [0, 1, 2];
        for _ in 0..10 {
            let p = rr.pick(&m, |_| 1, Some(1), |i| i == 0).unwrap();
            assert_eq!(p, 2);
        }
        // Only the avoided server is left: it is returned.
        assert_eq!(rr.pick(&m, |_| 1, Some(1), |i| i != 1), Some(1));
        assert_eq!(rr.pick(&m, |_| 1, None, |_| true), None);
    }
}
