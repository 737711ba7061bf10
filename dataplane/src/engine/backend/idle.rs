//! Idle server connections of one core, per server: what `http-reuse`
//! hands to a later request instead of a new connection (HAProxy's
//! per-thread idle and safe lists, merged: every connection here has
//! completed at least one request, so it is "safe").
//!
//! A connection the server closed while idle is never handed out: it is
//! looked at (a non-blocking peek) when taken, and dropped when it shows
//! a FIN, an error or unexpected bytes.
//!
//! How many are kept follows HAProxy's srv_add_to_idle_list and
//! srv_cleanup_idle_conns, per core: each server's connections in use are
//! counted ([`InUse`]), their peak since the last purge, and an estimate
//! of the need (the peaks, decaying by half each purge). A connection
//! whose request is done is kept when the server has none idle yet, or
//! when in use plus idle stay within the need plus `pool-low-conn`; never
//! above `pool-max-conn`, never with `pool-purge-delay 0`. Every
//! `pool-purge-delay`, half the idle connections above the need are
//! closed (the least recently used first), so idle connections left by a
//! load that went away are closed after a few delays.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::engine::session::Conn;

/// An idle connection, the address it went to, and the requests it
/// served (`max-reuse`).
pub type Idle = (Conn, Option<SocketAddr>, u32);

/// What a server's idle connections may be (its `pool-*` settings).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// `pool-max-conn`, per core here (None: no limit).
    pub max: Option<usize>,
    /// `pool-low-conn`: idle connections kept above the estimated need.
    pub low: usize,
    /// `pool-purge-delay` (zero: no idle connection at all).
    pub purge_delay: Duration,
}

/// A server's connections in use, their peak since the last purge, and
/// the estimated need (HAProxy's curr_used_conns, max_used_conns,
/// est_need_conns).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Need {
    pub used: usize,
    pub max_used: usize,
    pub est: usize,
}

impl Need {
    /// A connection goes into use (srv_use_conn).
    pub fn take(&mut self) {
        self.used += 1;
        self.max_used = self.max_used.max(self.used);
        self.est = self.est.max(self.used);
    }

    pub fn release(&mut self) {
        self.used = self.used.saturating_sub(1);
    }

    /// Whether a connection whose request is done joins the `idle` ones
    /// (srv_add_to_idle_list; `used` still counts it).
    pub fn keeps(&self, idle: usize, low: usize) -> bool {
        idle == 0 || self.used + idle <= self.used.max(self.est) + low
    }

    /// A purge (srv_cleanup_idle_conns): how many of the `idle`
    /// connections to close; the estimate moves halfway to the last
    /// period's peak (never below it), the peak starts again from what is
    /// in use.
    pub fn purge(&mut self, idle: usize) -> usize {
        if idle == 0 {
            return 0;
        }
        let exceed = (self.used + idle).saturating_sub(self.max_used.max(self.est));
        self.est = ((self.est + self.max_used) / 2).max(self.max_used);
        self.max_used = self.used;
        if exceed == 0 {
            return 0;
        }
        // Half the excess, rounded up, and HAProxy's one more (its
        // per-thread share rounds up by one).
        let kill = exceed / 2 + (exceed & 1);
        (kill + 1).min(idle)
    }
}

#[derive(Debug, Default)]
struct Pool {
    /// A stack: the most recently used last, the one most likely still
    /// open.
    conns: Vec<Idle>,
    need: Need,
    /// The next purge, while connections are idle.
    purge_at: Option<Instant>,
}

#[derive(Debug, Default)]
pub struct IdleConns {
    /// By backend, then server.
    by_server: RefCell<Vec<Vec<Pool>>>,
}

impl IdleConns {
    /// Empty lists for `servers[b]` servers in each backend `b`.
    pub fn new(servers: impl Iterator<Item = usize>) -> IdleConns {
        IdleConns {
            by_server: RefCell::new(
                servers
                    .map(|n| (0..n).map(|_| Pool::default()).collect())
                    .collect(),
            ),
        }
    }

    /// Room for server slot `srv` of backend `be` on this core (`add
    /// server`).
    pub fn grow(&self, be: usize, srv: usize) {
        if let Some(v) = self.by_server.borrow_mut().get_mut(be) {
            if v.len() <= srv {
                v.resize_with(srv + 1, Pool::default);
            }
        }
    }

    fn with<T>(&self, be: usize, srv: usize, f: impl FnOnce(&mut Pool) -> T) -> Option<T> {
        let mut all = self.by_server.borrow_mut();
        all.get_mut(be)?.get_mut(srv).map(f)
    }

    /// An idle connection to server `srv` of backend `be`, and the
    /// address it went to. With `check`, it is looked at first (one
    /// recv(2) with MSG_PEEK) and skipped when the server closed it; a
    /// request that can be sent again on a new connection needs no check.
    pub fn take(&self, be: usize, srv: usize, check: bool) -> Option<Idle> {
        self.with(be, srv, |p| {
            while let Some(idle) = p.conns.pop() {
                // EAGAIN: open and quiet. Anything else (FIN, reset, bytes
                // nobody asked for): unusable.
                if !check || matches!(idle.0.peek(), Err(nix::errno::Errno::EAGAIN)) {
                    return Some(idle);
                }
            }
            None
        })
        .flatten()
    }

    /// A connection to `srv` goes into use until the guard drops.
    pub fn in_use(&self, be: usize, srv: usize) -> InUse<'_> {
        self.with(be, srv, |p| p.need.take());
        InUse {
            conns: self,
            be: u32::try_from(be).unwrap_or(u32::MAX),
            srv: u32::try_from(srv).unwrap_or(u32::MAX),
        }
    }

    /// Keep `idle` (its request done, its [`InUse`] still held) for a
    /// later request, when the server's need and `limits` allow; `cap`:
    /// the most this core keeps for the server whatever the need (its
    /// live sessions). Whether it was kept (else it is closed).
    pub fn put(&self, be: usize, srv: usize, idle: Idle, limits: Limits, cap: usize) -> bool {
        self.with(be, srv, |p| {
            let n = p.conns.len();
            let keep = !limits.purge_delay.is_zero()
                && limits.max.is_none_or(|m| n < m)
                && n < cap
                && p.need.keeps(n, limits.low);
            if keep {
                p.conns.push(idle);
                if p.purge_at.is_none() {
                    p.purge_at = Some(Instant::now() + limits.purge_delay);
                }
            } else {
                discard(&idle.0);
            }
            keep
        })
        .unwrap_or(false)
    }

    /// Purge the servers whose delay came (`delay(be, srv)`: their
    /// `pool-purge-delay`); when the next purge is due (None: nothing
    /// idle).
    pub fn purge(&self, now: Instant, delay: impl Fn(usize, usize) -> Duration) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        let mut all = self.by_server.borrow_mut();
        for (b, servers) in all.iter_mut().enumerate() {
            for (s, p) in servers.iter_mut().enumerate() {
                let Some(at) = p.purge_at else { continue };
                if at <= now {
                    let kill = p.need.purge(p.conns.len());
                    // The least recently used first (the stack's bottom).
                    for idle in p.conns.drain(..kill.min(p.conns.len())) {
                        discard(&idle.0);
                    }
                    p.purge_at = (!p.conns.is_empty()).then(|| now + delay(b, s));
                }
                if let Some(at) = p.purge_at {
                    next = Some(next.map_or(at, |n| n.min(at)));
                }
            }
        }
        next
    }

    /// Server (be, srv)'s idle connections on this core.
    pub fn count(&self, be: usize, srv: usize) -> usize {
        self.with(be, srv, |p| p.conns.len()).unwrap_or(0)
    }

    /// Close server (be, srv)'s idle connections (`set server addr`: they
    /// go to the old address, as HAProxy's srv_cleanup_connections; a
    /// slot `add server` fills anew).
    pub fn drop_server(&self, be: usize, srv: usize) {
        self.with(be, srv, |p| {
            for idle in p.conns.drain(..) {
                discard(&idle.0);
            }
            p.purge_at = None;
        });
    }

    /// Close every idle connection (a stopping core).
    pub fn clear(&self) {
        for b in self.by_server.borrow_mut().iter_mut() {
            for p in b.iter_mut() {
                p.conns.clear();
                p.purge_at = None;
            }
        }
    }

    /// Idle connections kept now.
    pub fn len(&self) -> usize {
        self.by_server
            .borrow()
            .iter()
            .flatten()
            .map(|p| p.conns.len())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Make a connection that goes unused close with a reset, as HAProxy
/// closes the idle server connections it does not keep (its
/// H1C_F_ST_SILENT_SHUT): no FIN exchange, no TIME_WAIT left on the
/// proxy's side.
fn discard(conn: &Conn) {
    let _ = socket2::SockRef::from(conn).set_linger(Some(Duration::ZERO));
}

/// Purge `core`'s idle connections as their servers' `pool-purge-delay`
/// says (HAProxy's idle_conn_task), until the core is killed (a soft
/// stop closes them all at its end: `IdleConns::clear`).
pub async fn purge_loop(core: std::rc::Rc<crate::engine::runtime::Core>) {
    use futures_util::future::{select, Either};
    let plan = &core.shared.plan;
    let delay = |b: usize, s: usize| {
        plan.backends
            .get(b)
            .and_then(|be| be.servers.get(s))
            .map_or(Duration::from_secs(5), |s| s.pool.purge_delay())
    };
    // While nothing is idle, a look every quarter of the shortest delay:
    // a connection put idle meanwhile is purged at most that late.
    let shortest = plan
        .backends
        .iter()
        .flat_map(|b| b.servers.iter())
        .map(|s| s.pool.purge_delay())
        .filter(|d| !d.is_zero())
        .min();
    let Some(shortest) = shortest else { return };
    let tick = (shortest / 4).max(Duration::from_millis(1));
    loop {
        let now = Instant::now();
        let wait = core
            .idle
            .purge(now, delay)
            .map_or(tick, |at| at.saturating_duration_since(now).min(tick))
            .max(Duration::from_millis(1));
        let sleep = std::pin::pin!(crate::engine::runtime::timer::sleep(&core.timers, wait));
        let kill = std::pin::pin!(core.kill.wait());
        if let Either::Right(_) = select(sleep, kill).await {
            return;
        }
    }
}

/// A server connection in use (see [`IdleConns::in_use`]).
#[derive(Debug)]
pub struct InUse<'a> {
    conns: &'a IdleConns,
    be: u32,
    srv: u32,
}

impl Drop for InUse<'_> {
    fn drop(&mut self) {
        let (Ok(be), Ok(srv)) = (usize::try_from(self.be), usize::try_from(self.srv)) else {
            return;
        };
        self.conns.with(be, srv, |p| p.need.release());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One connection used once, then idle: kept, and closed by the third
    /// purge (the estimate decays from 1 to 0 first), as haproxy 2.6 does
    /// (`pool-purge-delay 200ms`: reset ~600 ms after the request).
    #[test]
    fn a_lone_idle_connection_goes_at_the_third_purge() {
        let mut n = Need::default();
        n.take();
        assert!(n.keeps(0, 0));
        n.release();
        assert_eq!(n.purge(1), 0);
        assert_eq!(n.purge(1), 0);
        assert_eq!(n.purge(1), 1);
    }

    /// Four used at once, then all idle: none go while the estimate
    /// holds, then the excess by halves, and one more (HAProxy rounds
    /// each thread's share up by one).
    #[test]
    fn a_burst_s_connections_go_by_halves() {
        let mut n = Need::default();
        for _ in 0..4 {
            n.take();
        }
        for _ in 0..4 {
            n.release();
        }
        let mut idle = 4;
        let mut closed = Vec::new();
        for _ in 0..6 {
            let k = n.purge(idle);
            idle -= k;
            closed.push(k);
        }
        assert_eq!(closed, [0, 0, 2, 2, 0, 0]);
    }

    /// Beyond the first, a connection is kept while in use plus idle stay
    /// within the need, plus `pool-low-conn`.
    #[test]
    fn low_conn_keeps_more_above_the_need() {
        let mut n = Need::default();
        n.take();
        // One in use (this one), one idle: 2 > max(1, 1).
        assert!(!n.keeps(1, 0));
        assert!(n.keeps(1, 1));
        assert!(n.keeps(2, 2) && !n.keeps(3, 2));
    }
}
