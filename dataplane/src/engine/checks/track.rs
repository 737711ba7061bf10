//! `track` links made at run time: `add server ... track [<b>/]<s>`.
//!
//! A configured server's trackers are the `trackers` trees of the checks,
//! fixed at start-up. A server added at run time keeps the server it
//! tracks in its `ServerConf` (`track`), which `add server` sets and `del
//! server` clears with the rest of the slot's configuration: readers load
//! it lock-free, and a reused slot cannot inherit it. HAProxy refuses to
//! track a dynamic server (srv_apply_track), so such a tracker is always a
//! leaf: nothing tracks it in turn, and no loop can form through it.
//!
//! Only state changes (checks, agents, the runtime API) and the statistics
//! read these links, never the data path.

use crate::engine::plan::Plan;

/// The servers added at run time that track (b, s) directly, in slot
/// order.
pub fn added_trackers(plan: &Plan, b: usize, s: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for (tb, be) in plan.backends.iter().enumerate() {
        if !be.dynamic {
            continue;
        }
        for (ts, sv) in be.live_servers().iter().enumerate() {
            if sv.conf().track == Some((b, s)) && !sv.is_vacant() {
                out.push((tb, ts));
            }
        }
    }
    out
}

/// The server an added server (b, s) tracks.
pub fn added_tracked(plan: &Plan, b: usize, s: usize) -> Option<(usize, usize)> {
    let sv = plan.backends.get(b)?.servers.get(s)?;
    sv.conf().track.filter(|_| !sv.is_vacant())
}

/// A configured server tracks another (it is in a `trackers` tree).
pub fn tracks_statically(plan: &Plan, b: usize, s: usize) -> bool {
    fn within(ts: &[super::Tracker], want: (usize, usize)) -> bool {
        ts.iter()
            .any(|t| (t.backend, t.server) == want || within(&t.trackers, want))
    }
    let checks = &plan.checks;
    checks.list.iter().any(|c| within(&c.trackers, (b, s)))
        || checks.agents.iter().any(|a| within(&a.trackers, (b, s)))
}
