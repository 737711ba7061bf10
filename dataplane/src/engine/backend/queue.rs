//! Backend and server queues (HAProxy's pendconns), across cores.
//!
//! As in HAProxy, a stream whose server is designated (hashing: its key
//! names a full server) waits in that server's queue; a stream that found
//! every server full waits in the backend's queue. Both are ordered by
//! arrival: tickets come from one counter per backend, shared by the cores.
//!
//! Each core keeps its own waiters, in ticket order, per queue, and
//! publishes the ticket of each queue's oldest waiter in a [`QueueHeads`] (one
//! atomic per queue per core, written only by that core, read by all).
//!
//! A released slot is handed over, as HAProxy's process_srv_queue does:
//! the stream that releases a slot of server `s` gives it to the oldest
//! waiter, on any core, that may use `s` (in `s`'s queue or the backend's),
//! as long as `s` stays within its limit counting the releaser (the
//! dynamic `minconn`/`fullconn` limit still counts the leaving stream in
//! the backend's load, as in HAProxy). The waiter is dequeued there and
//! then (a "grant"), directly on this core or by a message through the mesh
//! to its core. Room that appears otherwise (a waiter that left, a limit
//! that grew) is offered the same way. A stream that arrives while others
//! wait joins the queue behind them; a waiter woken without a grant may take
//! a free slot only if no older waiter may use it. So queued clients are
//! served in arrival order across cores and no core's queue starves.
//!
//! Lost wake-ups are excluded the Dekker way: a releaser updates the
//! server's count and then reads the queue heads; a waiter publishes its ticket
//! and then reads the count (both fenced). One of the two sees the other.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::atomic::{fence, AtomicU64, Ordering};
use std::task::{Poll, Waker};

use crate::engine::plan::{BackendPlan, ServerPlan};
use crate::engine::runtime::counters::{Obj, Peak};
use crate::engine::runtime::Core;
use crate::engine::Counter;

/// No waiter.
const NONE: u64 = u64::MAX;

/// The backend queue's index; server `s`'s queue is `1 + s`.
pub const BACKEND_QUEUE: usize = 0;

/// One backend's queue heads as every core sees them.
#[derive(Debug)]
pub struct QueueHeads {
    next_ticket: AtomicU64,
    cores: usize,
    /// `[queue * cores + core]`: the ticket of that core's oldest waiter in
    /// that queue, or NONE.
    heads: Box<[AtomicU64]>,
    /// The heads (one per core) of the queues of the server slots `add
    /// server` grew past the configured ones.
    added: crate::engine::runtime::grow::Grow<Box<[AtomicU64]>>,
}

impl QueueHeads {
    pub fn new(servers: usize, cores: usize) -> QueueHeads {
        QueueHeads {
            next_ticket: AtomicU64::new(0),
            cores,
            heads: (0..(servers + 1) * cores)
                .map(|_| AtomicU64::new(NONE))
                .collect(),
            added: Default::default(),
        }
    }

    /// The queues laid out at start-up (the backend's, then one per
    /// configured server).
    fn fixed(&self) -> usize {
        self.heads.len() / self.cores.max(1)
    }

    fn word(&self, queue: usize, core: usize) -> Option<&AtomicU64> {
        match queue.checked_sub(self.fixed()) {
            None => self.heads.get(queue * self.cores + core),
            Some(a) => self.added.get(a)?.get(core),
        }
    }

    /// Make room for server slot `s`'s queue (`add server`, before the
    /// slot is filled); false past the most a backend can grow to.
    pub fn grow(&self, s: usize) -> bool {
        let Some(a) = (s + 1).checked_sub(self.fixed()) else {
            return true;
        };
        let cores = self.cores;
        self.added
            .grow_to(a, || (0..cores).map(|_| AtomicU64::new(NONE)).collect())
            .is_some()
    }

    fn head(&self, queue: usize, core: usize) -> u64 {
        self.word(queue, core)
            .map_or(NONE, |h| h.load(Ordering::SeqCst))
    }

    fn publish(&self, queue: usize, core: usize, ticket: u64) {
        if let Some(h) = self.word(queue, core) {
            h.store(ticket, Ordering::SeqCst);
        }
    }

    /// The oldest waiter, on any core, that may use server `s` (in its
    /// queue, and in the backend's when `with_backend`): its ticket and its
    /// core.
    pub fn oldest_for(&self, s: usize, with_backend: bool) -> Option<(u64, usize)> {
        (0..self.cores)
            .filter_map(|c| {
                let b = if with_backend {
                    self.head(BACKEND_QUEUE, c)
                } else {
                    NONE
                };
                let t = b.min(self.head(1 + s, c));
                (t != NONE).then_some((t, c))
            })
            .min()
    }
}

#[derive(Debug)]
struct Waiter {
    ticket: u64,
    /// The queue's `queue_served` when this stream joined it.
    served_at_join: u32,
    /// Woken since it last looked (a wake-up is never lost while it runs).
    woken: bool,
    waker: Option<Waker>,
    /// Dequeued with a slot of this server (the count is already taken),
    /// and its queue position for the log.
    granted: Option<(usize, QueuePos)>,
    /// Its server went down: it chooses again, without the persistence
    /// that put it in that server's queue (pendconn_redistribute).
    redistributed: bool,
}

/// One core's waiters of one backend, per queue, oldest first.
#[derive(Debug)]
pub struct LocalQueues {
    queues: Vec<VecDeque<Waiter>>,
}

impl LocalQueues {
    pub fn new(servers: usize) -> LocalQueues {
        LocalQueues {
            queues: (0..=servers).map(|_| VecDeque::new()).collect(),
        }
    }

    /// Room for server slot `s`'s queue on this core (`add server`).
    pub fn grow(&mut self, s: usize) {
        if self.queues.len() < s + 2 {
            self.queues.resize_with(s + 2, VecDeque::new);
        }
    }

    fn position(&self, queue: usize, ticket: u64) -> Option<usize> {
        self.queues
            .get(queue)?
            .binary_search_by_key(&ticket, |w| w.ticket)
            .ok()
    }

    /// The oldest waiter still waiting (granted ones are leaving).
    fn front(&self, queue: usize) -> u64 {
        self.queues
            .get(queue)
            .and_then(|q| q.iter().find(|w| w.granted.is_none()))
            .map_or(NONE, |w| w.ticket)
    }

    fn get_mut(&mut self, queue: usize, ticket: u64) -> Option<&mut Waiter> {
        let at = self.position(queue, ticket)?;
        self.queues.get_mut(queue)?.get_mut(at)
    }

    /// Insert in ticket order (a stream moving between queues keeps its
    /// ticket); whether it became the front.
    fn insert(&mut self, queue: usize, ticket: u64, served_at_join: u32) -> bool {
        let Some(q) = self.queues.get_mut(queue) else {
            return false;
        };
        let at = q.partition_point(|w| w.ticket < ticket);
        q.insert(
            at,
            Waiter {
                ticket,
                served_at_join,
                woken: false,
                waker: None,
                granted: None,
                redistributed: false,
            },
        );
        self.front(queue) == ticket
    }

    /// Put a removed waiter back in its place.
    fn put_back(&mut self, queue: usize, w: Waiter) {
        if let Some(q) = self.queues.get_mut(queue) {
            let at = q.partition_point(|x| x.ticket < w.ticket);
            q.insert(at, w);
        }
    }

    /// Remove; the waiter, and whether it was the front.
    fn remove(&mut self, queue: usize, ticket: u64) -> Option<(Waiter, bool)> {
        let was_front = self.front(queue) == ticket;
        let at = self.position(queue, ticket)?;
        let w = self.queues.get_mut(queue)?.remove(at)?;
        Some((w, was_front))
    }

    fn wake(&mut self, queue: usize, ticket: u64) {
        if let Some(w) = self.get_mut(queue, ticket) {
            w.woken = true;
            if let Some(waker) = w.waker.take() {
                waker.wake();
            }
        }
    }

    /// The oldest local waiter that may use server `s` (see
    /// [`QueueHeads::oldest_for`]).
    fn oldest_for(&self, s: usize, with_backend: bool) -> Option<(usize, u64)> {
        let b = if with_backend {
            self.front(BACKEND_QUEUE)
        } else {
            NONE
        };
        let q = self.front(1 + s);
        match (b, q) {
            (NONE, NONE) => None,
            (b, q) if b <= q => Some((BACKEND_QUEUE, b)),
            (_, q) => Some((1 + s, q)),
        }
    }
}

fn local(core: &Core, be_idx: usize) -> Option<&RefCell<LocalQueues>> {
    core.queues.get(be_idx)
}

/// Offer a slot of server `s` to the oldest waiter that may use it, on
/// any core. `held`: the caller gives up a slot it holds (a stream that
/// ended, or a connect that failed); otherwise a slot is taken if the
/// server has room. A slot nobody takes is released.
pub fn offer(core: &Core, be_idx: usize, s: usize, mut held: bool) {
    let shared = &core.shared;
    let (Some(heads), Some(be)) = (
        shared.queue_heads.get(be_idx),
        shared.plan.backends.get(be_idx),
    ) else {
        return;
    };
    let Some(srv) = be.servers.get(s) else { return };
    loop {
        // Pairs with the fence in `Ticket::enter`.
        fence(Ordering::SeqCst);
        let Some((_, c)) = heads.oldest_for(s, backend_queue_may_use(be, s)) else {
            break;
        };
        let max = srv.max_now(be);
        if held {
            // HAProxy dequeues while served < limit, the releaser no longer
            // served but still counted in the backend's load.
            if max != 0 && srv.conns.get() > max {
                break;
            }
        } else if !srv.conns.try_take(max) {
            return;
        }
        held = true;
        if c == core.id {
            if !grant_local(core, be_idx, s) {
                break;
            }
            held = false;
            continue;
        }
        match shared.mesh.send(
            c,
            crate::engine::runtime::mesh::Msg::Grant {
                backend: be_idx,
                server: s,
            },
        ) {
            Ok(()) => return,
            Err(_) => {
                // That core's inbox is full: free the slot and wake it.
                srv.conns.dec();
                shared.mesh.released(c, be_idx, s);
                return;
            }
        }
    }
    if held {
        srv.conns.dec();
    }
}

/// A `Grant` message: a slot of `s` taken for this core's oldest waiter
/// that may use it. Given to it, or passed on when nobody here waits any
/// more; then more room, if any, is offered.
pub fn granted_here(core: &Core, be_idx: usize, s: usize) {
    if grant_local(core, be_idx, s) {
        offer(core, be_idx, s, false);
    } else {
        offer(core, be_idx, s, true);
    }
}

/// Dequeue this core's oldest waiter that may use `s`, giving it a slot of
/// `s` the caller holds; false when no waiter here may use it.
fn grant_local(core: &Core, be_idx: usize, s: usize) -> bool {
    let shared = &core.shared;
    let (Some(heads), Some(be), Some(l)) = (
        shared.queue_heads.get(be_idx),
        shared.plan.backends.get(be_idx),
        local(core, be_idx),
    ) else {
        return false;
    };
    let mut l = l.borrow_mut();
    let Some((q, t)) = l.oldest_for(s, backend_queue_may_use(be, s)) else {
        return false;
    };
    let Some(w) = l.get_mut(q, t) else {
        return false;
    };
    // Dequeued now: HAProxy's queue.idx moves at dequeue time.
    let mut pos = QueuePos::default();
    if let Some(counter) = served_counter(be, q) {
        let p = counter.get().wrapping_sub(w.served_at_join).wrapping_add(1);
        counter.inc();
        if q == BACKEND_QUEUE {
            pos.backend = p;
        } else {
            pos.server = p;
        }
    }
    w.granted = Some((s, pos));
    w.woken = true;
    if let Some(waker) = w.waker.take() {
        waker.wake();
    }
    be.queued.dec();
    server_queued(be, q, false);
    heads.publish(q, core.id, l.front(q));
    true
}

/// Whether a stream of the backend queue may be given a slot of `s`. As
/// process_srv_queue, only a usable server takes from the backend queue,
/// and a backup one only when no active server is usable (the first
/// usable backup, or any with `option allbackups`). A server's own queue
/// is only ever filled by picks that chose it.
fn backend_queue_may_use(be: &BackendPlan, s: usize) -> bool {
    let usable = |x: &ServerPlan| x.state.get().usable();
    let Some(srv) = be.servers.get(s) else {
        return false;
    };
    if !usable(srv) {
        return false;
    }
    if !srv.is_backup() {
        return true;
    }
    if be.live_servers().any(|x| !x.is_backup() && usable(x)) {
        return false;
    }
    be.allbackups || be.live_servers().position(|x| x.is_backup() && usable(x)) == Some(s)
}

/// The counter of streams served from `queue`.
fn served_counter(be: &BackendPlan, queue: usize) -> Option<&Counter> {
    match queue.checked_sub(1) {
        None => Some(&be.queue_served),
        Some(s) => be.servers.get(s).map(|s| &s.queue_served),
    }
}

/// The streams waiting in the backend's own queue (HAProxy's
/// `px->queue.length`, its `qcur`), not in its servers' (all of them are
/// `be.queued`, HAProxy's totpend). Read from counters other cores move:
/// a gauge, not an invariant.
pub fn backend_queue_len(be: &BackendPlan) -> u32 {
    let in_servers: u32 = be.servers.iter().map(|s| s.queued.get()).sum();
    be.queued.get().saturating_sub(in_servers)
}

/// A stream joined (or left) server queue `queue`: its count, and the
/// count it reached on a join (for `qmax`).
fn server_queued(be: &BackendPlan, queue: usize, joined: bool) -> Option<u32> {
    let s = queue.checked_sub(1).and_then(|s| be.servers.get(s))?;
    if joined {
        Some(s.queued.inc())
    } else {
        s.queued.dec();
        None
    }
}

/// Whether the streams queued on a server that goes down choose again
/// (pendconn_redistribute): `option redispatch` without `option persist`.
pub fn redistributes(be: &BackendPlan) -> bool {
    let persist = be
        .http
        .as_ref()
        .and_then(|h| h.cookie.as_ref())
        .is_some_and(|c| c.persist);
    be.redispatch.is_some() && !persist
}

/// pendconn_redistribute on this core: server `s` is no longer usable, so
/// the streams waiting in its own queue are woken to choose again, their
/// persistence dropped (they move to another server or to the backend
/// queue, keeping their arrival ticket). How many.
pub fn redistribute_local(core: &Core, be_idx: usize, s: usize) -> usize {
    let Some(l) = local(core, be_idx) else {
        return 0;
    };
    let mut l = l.borrow_mut();
    let Some(q) = l.queues.get_mut(1 + s) else {
        return 0;
    };
    let mut n = 0;
    for w in q
        .iter_mut()
        .filter(|w| w.granted.is_none() && !w.redistributed)
    {
        w.redistributed = true;
        w.woken = true;
        if let Some(waker) = w.waker.take() {
            waker.wake();
        }
        n += 1;
    }
    n
}

/// Wake this core's oldest waiter that may use server `s` (a `Released`
/// message arrived): it looks at the servers again.
pub fn wake_oldest_local(core: &Core, be_idx: usize, s: usize) {
    let Some(be) = core.shared.plan.backends.get(be_idx) else {
        return;
    };
    if let Some(l) = local(core, be_idx) {
        let mut l = l.borrow_mut();
        if let Some((q, t)) = l.oldest_for(s, backend_queue_may_use(be, s)) {
            l.wake(q, t);
        }
    }
}

/// A stream's place in its backend's queues. Its queue position in the
/// log (`%bq` for the backend queue, `%sq` for a server's) is the number of
/// streams that left that queue for a server while it waited there, plus
/// one, as HAProxy's `queue.idx` arithmetic gives; `queue_served` counters
/// count them for all cores.
#[derive(Debug)]
pub struct Ticket<'a> {
    core: &'a Core,
    be_idx: usize,
    be: &'a BackendPlan,
    held: Option<Held>,
}

/// Where a stream was in the queues, for the log (`%sq`, `%bq`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueuePos {
    pub server: u32,
    pub backend: u32,
}

#[derive(Clone, Copy, Debug)]
struct Held {
    ticket: u64,
    queue: usize,
}

impl<'a> Ticket<'a> {
    pub fn new(core: &'a Core, be_idx: usize, be: &'a BackendPlan) -> Self {
        Ticket {
            core,
            be_idx,
            be,
            held: None,
        }
    }

    fn heads(&self) -> Option<&'a QueueHeads> {
        self.core.shared.queue_heads.get(self.be_idx)
    }

    /// The queue this stream waits in, if any.
    pub fn queue(&self) -> Option<usize> {
        self.held.map(|h| h.queue)
    }

    /// Whether this stream may take a free slot of server `s` now: no older
    /// waiter that may use it exists on any core.
    pub fn may_take(&self, s: usize) -> bool {
        let Some(heads) = self.heads() else {
            return true;
        };
        // `s` was just picked, so the backend queue may use it.
        match (heads.oldest_for(s, true), self.held) {
            (None, _) => true,
            (Some((t, _)), Some(h)) => h.ticket <= t,
            (Some(_), None) => false,
        }
    }

    /// Wait in `queue` (BACKEND_QUEUE, or 1 + server): join it, or move to
    /// it from the other queue, keeping the arrival ticket. Whether this
    /// stream joined or moved (it should look at the servers again).
    pub fn enter(&mut self, queue: usize) -> bool {
        let (Some(heads), Some(l)) = (self.heads(), local(self.core, self.be_idx)) else {
            return false;
        };
        let core = self.core.id;
        let mut l = l.borrow_mut();
        let mut left_front = false;
        let ticket = match self.held {
            Some(h) if h.queue == queue => return false,
            Some(h) => {
                match l.remove(h.queue, h.ticket) {
                    Some((w, was_front)) if w.granted.is_none() => {
                        if was_front {
                            heads.publish(h.queue, core, l.front(h.queue));
                            left_front = true;
                        }
                        server_queued(self.be, h.queue, false);
                    }
                    // Granted meanwhile: the caller claims the slot first.
                    Some((w, _)) => {
                        l.put_back(h.queue, w);
                        return false;
                    }
                    None => {}
                }
                h.ticket
            }
            None => {
                self.be.queued.inc();
                heads.next_ticket.fetch_add(1, Ordering::Relaxed)
            }
        };
        let at_join = served_counter(self.be, queue).map_or(0, Counter::get);
        if l.insert(queue, ticket, at_join) {
            heads.publish(queue, core, ticket);
        }
        // `qmax`, as HAProxy's pendconn_add: a server's peak counts its
        // queue, the backend's its own queue only (`qcur` all of them).
        let stats = &self.core.shared.stats;
        match server_queued(self.be, queue, true) {
            Some(n) => stats.peak(Peak::Queue(Obj::Srv(self.be_idx, queue - 1)), n),
            None => stats.peak(
                Peak::Queue(Obj::Be(self.be_idx)),
                backend_queue_len(self.be),
            ),
        }
        self.held = Some(Held { ticket, queue });
        drop(l);
        // Pairs with the fence in `offer`: the caller reads the servers'
        // counts next.
        fence(Ordering::SeqCst);
        if left_front {
            self.pass_baton();
        }
        true
    }

    /// This stream stopped being the oldest of a queue: servers with room
    /// go to the next oldest waiters.
    fn pass_baton(&self) {
        for (s, srv) in self.be.live_servers().enumerate() {
            if srv.has_room(self.be) {
                offer(self.core, self.be_idx, s, false);
            }
        }
    }

    /// Whether this stream's server went down while it waited in that
    /// server's queue (see [`redistribute_local`]): it then chooses again
    /// without its persistence. Once.
    pub fn take_redistributed(&mut self) -> bool {
        let Some(h) = self.held else { return false };
        let Some(l) = local(self.core, self.be_idx) else {
            return false;
        };
        let mut l = l.borrow_mut();
        l.get_mut(h.queue, h.ticket)
            .is_some_and(|w| std::mem::take(&mut w.redistributed))
    }

    /// The server whose slot was handed to this stream, if one was: it
    /// leaves the queue with it (the slot is counted already).
    pub fn claim_grant(&mut self, pos: &mut QueuePos) -> Option<usize> {
        let h = self.held?;
        let l = local(self.core, self.be_idx)?;
        let mut l = l.borrow_mut();
        let (s, p) = l.get_mut(h.queue, h.ticket)?.granted?;
        l.remove(h.queue, h.ticket);
        self.held = None;
        *pos = p;
        Some(s)
    }

    /// Resolves when this waiter is woken (granted a slot, a slot it may
    /// use was released, or the queue changed). Returns at once if it was
    /// woken meanwhile.
    pub async fn woken(&self) {
        let Some(h) = self.held else { return };
        std::future::poll_fn(|cx| {
            let Some(l) = local(self.core, self.be_idx) else {
                return Poll::Ready(());
            };
            let mut l = l.borrow_mut();
            let Some(w) = l.get_mut(h.queue, h.ticket) else {
                return Poll::Ready(());
            };
            if std::mem::take(&mut w.woken) || w.granted.is_some() {
                return Poll::Ready(());
            }
            match &mut w.waker {
                Some(old) if old.will_wake(cx.waker()) => {}
                slot => *slot = Some(cx.waker().clone()),
            }
            Poll::Pending
        })
        .await;
    }

    /// Leave the queues, served or not; the queue position goes to the log
    /// facts. Whoever is now oldest gets its chance at the servers that
    /// have room; a slot granted meanwhile is offered on.
    fn remove(&mut self, pos: &mut QueuePos, served: bool) {
        let Some(h) = self.held.take() else { return };
        let (Some(heads), Some(l)) = (self.heads(), local(self.core, self.be_idx)) else {
            return;
        };
        let Ok(mut l) = l.try_borrow_mut() else {
            return;
        };
        let Some((w, was_front)) = l.remove(h.queue, h.ticket) else {
            return;
        };
        if let Some((s, _)) = w.granted {
            // Dequeued with a slot it will not use: offer it on.
            drop(l);
            offer(self.core, self.be_idx, s, true);
            return;
        }
        if let Some(counter) = served_counter(self.be, h.queue) {
            let p = counter.get().wrapping_sub(w.served_at_join).wrapping_add(1);
            if h.queue == BACKEND_QUEUE {
                pos.backend = p;
            } else {
                pos.server = p;
            }
            if served {
                counter.inc();
            }
        }
        self.be.queued.dec();
        server_queued(self.be, h.queue, false);
        if was_front {
            heads.publish(h.queue, self.core.id, l.front(h.queue));
            drop(l);
            self.pass_baton();
        }
    }

    /// Leave for a server whose slot this stream took itself.
    pub fn take_slot(&mut self, pos: &mut QueuePos) {
        self.remove(pos, true);
    }

    /// Leave without a server (timeout, stop, no server).
    pub fn leave(&mut self, pos: &mut QueuePos) {
        self.remove(pos, false);
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        // A stream dropped while queued (its task ended) leaves the queue.
        let mut unused = QueuePos::default();
        self.leave(&mut unused);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_head_that_may_use_a_server_wins() {
        let b = QueueHeads::new(2, 3);
        assert_eq!(b.oldest_for(0, true), None);
        // Core 2 waits in server 1's queue with ticket 4, core 1 in the
        // backend queue with ticket 7, core 0 in server 0's with ticket 2.
        b.publish(2, 2, 4);
        b.publish(BACKEND_QUEUE, 1, 7);
        b.publish(1, 0, 2);
        assert_eq!(b.oldest_for(0, true), Some((2, 0)));
        assert_eq!(b.oldest_for(1, true), Some((4, 2)));
        b.publish(1, 0, NONE);
        assert_eq!(b.oldest_for(0, true), Some((7, 1)));
        // A server without a queue of its own: the backend queue's oldest.
        assert_eq!(b.oldest_for(5, true), Some((7, 1)));
        // A server the backend queue may not use (down, or a backup while
        // actives are up) serves its own queue only.
        assert_eq!(b.oldest_for(0, false), None);
        assert_eq!(b.oldest_for(1, false), Some((4, 2)));
    }

    #[test]
    fn local_queues_keep_ticket_order_when_streams_move() {
        let mut l = LocalQueues::new(1);
        assert!(l.insert(BACKEND_QUEUE, 3, 0));
        assert!(!l.insert(BACKEND_QUEUE, 8, 0));
        assert!(l.insert(1, 5, 0));
        // Ticket 3 moves to the server queue: it becomes its front.
        assert!(l.remove(BACKEND_QUEUE, 3).is_some_and(|(_, front)| front));
        assert!(l.insert(1, 3, 0));
        assert_eq!(l.front(BACKEND_QUEUE), 8);
        assert_eq!(l.front(1), 3);
        assert_eq!(l.oldest_for(0, true), Some((1, 3)));
        assert!(l.remove(1, 99).is_none(), "absent ticket");
        l.wake(1, 5);
        assert!(l.queues[1][1].woken);
        // A granted waiter is no longer the front.
        l.queues[1][0].granted = Some((0, QueuePos::default()));
        assert_eq!(l.front(1), 5);
    }
}
