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

use std::sync::atomic::{AtomicU64, Ordering};

use crate::engine::plan::Plan;

/// The server an added server tracks, and when the link was made: HAProxy
/// puts a new tracker at the head of the tracked server's list
/// (srv_apply_track), so the last one added follows it first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddedTrack {
    pub backend: usize,
    pub server: usize,
    seq: u64,
}

impl AddedTrack {
    pub fn new((backend, server): (usize, usize)) -> AddedTrack {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        AddedTrack {
            backend,
            server,
            seq: NEXT.fetch_add(1, Ordering::Relaxed),
        }
    }
}

/// The servers added at run time that track (b, s) directly, the last
/// added first.
pub fn added_trackers(plan: &Plan, b: usize, s: usize) -> Vec<(usize, usize)> {
    if plan.checks.added_tracks.load(Ordering::Acquire) == 0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (tb, be) in plan.backends.iter().enumerate() {
        if !be.dynamic {
            continue;
        }
        for (ts, sv) in be.live_servers().enumerate() {
            match sv.conf().track {
                Some(t) if (t.backend, t.server) == (b, s) && !sv.is_vacant() => {
                    out.push((t.seq, (tb, ts)));
                }
                _ => {}
            }
        }
    }
    out.sort_unstable_by_key(|x| std::cmp::Reverse(x.0));
    out.into_iter().map(|(_, at)| at).collect()
}

/// The server an added server (b, s) tracks.
pub fn added_tracked(plan: &Plan, b: usize, s: usize) -> Option<(usize, usize)> {
    let sv = plan.backends.get(b)?.servers.get(s)?;
    sv.conf()
        .track
        .filter(|_| !sv.is_vacant())
        .map(|t| (t.backend, t.server))
}

/// Slot (b, s) still holds its configured server: the `trackers` trees
/// speak of it. A configured tracker deleted at run time (`del server`)
/// drops out of them so, and its slot's next server with it.
pub fn configured_here(plan: &Plan, b: usize, s: usize) -> bool {
    plan.backends
        .get(b)
        .and_then(|be| be.servers.get(s))
        .is_some_and(|sv| !sv.is_vacant() && sv.conf().loc != crate::engine::cli::checks::ADDED_LOC)
}

/// A configured server tracks another (it is in a `trackers` tree).
pub fn tracks_statically(plan: &Plan, b: usize, s: usize) -> bool {
    if !configured_here(plan, b, s) {
        return false;
    }
    fn within(ts: &[super::Tracker], want: (usize, usize)) -> bool {
        ts.iter()
            .any(|t| (t.backend, t.server) == want || within(&t.trackers, want))
    }
    let checks = &plan.checks;
    checks.list.iter().any(|c| within(&c.trackers, (b, s)))
        || checks.agents.iter().any(|a| within(&a.trackers, (b, s)))
}
