//! Backend and server queues (HAProxy's pendconns), across cores.
//!
//! As in HAProxy, a stream whose server is designated (hashing: its key
//! names a full server) waits in that server's queue; a stream that found
//! every server full waits in the backend's queue. Both are ordered by
//! arrival: tickets come from one counter per backend, shared by the cores.
//!
//! Each core keeps its own waiters, in ticket order, per queue, and
//! publishes the ticket of each queue's oldest waiter in a [`Board`] (one
//! atomic per queue per core, written only by that core, read by all). A
//! waiter takes a free slot of server `s` only when no older waiter that may
//! use `s` (in `s`'s queue or the backend's) exists on any core; and when a
//! slot of `s` is released, the oldest such waiter is woken, directly on
//! this core or by a message through the mesh. So queued clients are served
//! in arrival order across cores and no core's queue starves; a stream that
//! arrives while others wait joins the queue behind them.
//!
//! Lost wake-ups are excluded the Dekker way: a releaser decrements the
//! server's count and then reads the board; a waiter publishes its ticket
//! and then reads the count (both fenced). One of the two sees the other.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::atomic::{fence, AtomicU64, Ordering};
use std::task::{Poll, Waker};

use super::plan::BackendPlan;
use super::runtime::Core;
use super::Counter;

/// No waiter.
const NONE: u64 = u64::MAX;

/// The backend queue's index; server `s`'s queue is `1 + s`.
pub const BACKEND_QUEUE: usize = 0;

/// One backend's queue heads as every core sees them.
#[derive(Debug)]
pub struct Board {
    next_ticket: AtomicU64,
    cores: usize,
    /// `[queue * cores + core]`: the ticket of that core's oldest waiter in
    /// that queue, or NONE.
    heads: Box<[AtomicU64]>,
}

impl Board {
    pub fn new(servers: usize, cores: usize) -> Board {
        Board {
            next_ticket: AtomicU64::new(0),
            cores,
            heads: (0..(servers + 1) * cores)
                .map(|_| AtomicU64::new(NONE))
                .collect(),
        }
    }

    fn head(&self, queue: usize, core: usize) -> u64 {
        self.heads
            .get(queue * self.cores + core)
            .map_or(NONE, |h| h.load(Ordering::SeqCst))
    }

    fn publish(&self, queue: usize, core: usize, ticket: u64) {
        if let Some(h) = self.heads.get(queue * self.cores + core) {
            h.store(ticket, Ordering::SeqCst);
        }
    }

    /// The oldest waiter, on any core, that may use server `s`: its ticket
    /// and its core.
    pub fn oldest_for(&self, s: usize) -> Option<(u64, usize)> {
        (0..self.cores)
            .filter_map(|c| {
                let t = self.head(BACKEND_QUEUE, c).min(self.head(1 + s, c));
                (t != NONE).then_some((t, c))
            })
            .min()
    }
}

#[derive(Debug)]
struct Waiter {
    ticket: u64,
    /// Woken since it last looked (a wake-up is never lost while it runs).
    woken: bool,
    waker: Option<Waker>,
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

    fn position(&self, queue: usize, ticket: u64) -> Option<usize> {
        self.queues
            .get(queue)?
            .binary_search_by_key(&ticket, |w| w.ticket)
            .ok()
    }

    fn front(&self, queue: usize) -> u64 {
        self.queues
            .get(queue)
            .and_then(VecDeque::front)
            .map_or(NONE, |w| w.ticket)
    }

    /// Insert in ticket order (a stream moving between queues keeps its
    /// ticket); whether it became the front.
    fn insert(&mut self, queue: usize, ticket: u64) -> bool {
        let Some(q) = self.queues.get_mut(queue) else {
            return false;
        };
        let at = q.partition_point(|w| w.ticket < ticket);
        q.insert(
            at,
            Waiter {
                ticket,
                woken: false,
                waker: None,
            },
        );
        at == 0
    }

    /// Remove; whether it was the front.
    fn remove(&mut self, queue: usize, ticket: u64) -> bool {
        match (self.position(queue, ticket), self.queues.get_mut(queue)) {
            (Some(at), Some(q)) => {
                q.remove(at);
                at == 0
            }
            _ => false,
        }
    }

    fn wake(&mut self, queue: usize, ticket: u64) {
        let Some(at) = self.position(queue, ticket) else {
            return;
        };
        if let Some(w) = self.queues.get_mut(queue).and_then(|q| q.get_mut(at)) {
            w.woken = true;
            if let Some(waker) = w.waker.take() {
                waker.wake();
            }
        }
    }

    /// The oldest local waiter that may use server `s`.
    fn oldest_for(&self, s: usize) -> Option<(usize, u64)> {
        let b = self.front(BACKEND_QUEUE);
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

/// A slot of server `s` of backend `be_idx` was released on this core:
/// wake the oldest waiter that may use it, wherever it is.
pub fn slot_released(core: &Core, be_idx: usize, s: usize) {
    let Some(board) = core.shared.boards.get(be_idx) else {
        return;
    };
    // Pairs with the fence in `Ticket::enter`.
    fence(Ordering::SeqCst);
    let Some((_, c)) = board.oldest_for(s) else {
        return;
    };
    if c == core.id {
        wake_oldest_local(core, be_idx, s);
    } else {
        core.shared.mesh.released(c, be_idx, s);
    }
}

/// Wake this core's oldest waiter that may use server `s` (a `Released`
/// message arrived, or a slot was released here).
pub fn wake_oldest_local(core: &Core, be_idx: usize, s: usize) {
    if let Some(l) = local(core, be_idx) {
        let mut l = l.borrow_mut();
        if let Some((q, t)) = l.oldest_for(s) {
            l.wake(q, t);
        }
    }
}

/// A stream's place in its backend's queues. Its queue position in the
/// log (`%bq` for the backend queue, `%sq` for a server's) is the number of
/// streams that left that queue for a server while it waited there, plus
/// one, as HAProxy's `queue.idx` arithmetic gives; `queue_served` counters
/// count them for all cores.
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

#[derive(Clone, Copy)]
struct Held {
    ticket: u64,
    queue: usize,
    /// The queue's `queue_served` when this stream joined it.
    served_at_join: u32,
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

    fn board(&self) -> Option<&'a super::queue::Board> {
        self.core.shared.boards.get(self.be_idx)
    }

    /// The queue this stream waits in, if any.
    pub fn queue(&self) -> Option<usize> {
        self.held.map(|h| h.queue)
    }

    /// Whether this stream may take a free slot of server `s` now: no older
    /// waiter that may use it exists on any core.
    pub fn may_take(&self, s: usize) -> bool {
        let Some(board) = self.board() else {
            return true;
        };
        match (board.oldest_for(s), self.held) {
            (None, _) => true,
            (Some((t, _)), Some(h)) => h.ticket <= t,
            (Some(_), None) => false,
        }
    }

    /// Wait in `queue` (BACKEND_QUEUE, or 1 + server): join it, or move to
    /// it from the other queue, keeping the arrival ticket. Whether this
    /// stream joined or moved (it should look at the servers again).
    pub fn enter(&mut self, queue: usize) -> bool {
        let (Some(board), Some(l)) = (self.board(), local(self.core, self.be_idx)) else {
            return false;
        };
        let core = self.core.id;
        let mut l = l.borrow_mut();
        let mut left_front = false;
        let held = match self.held {
            Some(h) if h.queue == queue => return false,
            Some(h) => {
                if l.remove(h.queue, h.ticket) {
                    board.publish(h.queue, core, l.front(h.queue));
                    left_front = true;
                }
                self.server_queued(h.queue, false);
                Held {
                    queue,
                    served_at_join: self.served(queue).map_or(0, Counter::get),
                    ..h
                }
            }
            None => {
                self.be.queued.inc();
                Held {
                    ticket: board.next_ticket.fetch_add(1, Ordering::Relaxed),
                    queue,
                    served_at_join: self.served(queue).map_or(0, Counter::get),
                }
            }
        };
        if l.insert(queue, held.ticket) {
            board.publish(queue, core, held.ticket);
        }
        self.server_queued(queue, true);
        self.held = Some(held);
        drop(l);
        // Pairs with the fence in `slot_released`: the caller reads the
        // servers' counts next.
        fence(Ordering::SeqCst);
        if left_front {
            self.pass_baton();
        }
        true
    }

    /// This stream stopped being the oldest of a queue: servers with room
    /// go to the next oldest waiters.
    fn pass_baton(&self) {
        for (s, srv) in self.be.servers.iter().enumerate() {
            if srv.has_room(self.be) {
                slot_released(self.core, self.be_idx, s);
            }
        }
    }

    /// The counter of streams served from `queue`.
    fn served(&self, queue: usize) -> Option<&'a Counter> {
        match queue.checked_sub(1) {
            None => Some(&self.be.queue_served),
            Some(s) => self.be.servers.get(s).map(|s| &s.queue_served),
        }
    }

    fn server_queued(&self, queue: usize, joined: bool) {
        if let Some(s) = queue.checked_sub(1).and_then(|s| self.be.servers.get(s)) {
            if joined {
                s.queued.inc();
            } else {
                s.queued.dec();
            }
        }
    }

    /// Resolves when this waiter is woken (a slot it may use was released,
    /// or the queue changed). Returns at once if it was woken meanwhile.
    pub async fn woken(&self) {
        let Some(h) = self.held else { return };
        std::future::poll_fn(|cx| {
            let Some(l) = local(self.core, self.be_idx) else {
                return Poll::Ready(());
            };
            let mut l = l.borrow_mut();
            let Some(w) = l
                .position(h.queue, h.ticket)
                .and_then(|at| l.queues.get_mut(h.queue)?.get_mut(at))
            else {
                return Poll::Ready(());
            };
            if std::mem::take(&mut w.woken) {
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
    /// have room.
    fn remove(&mut self, pos: &mut QueuePos, served: bool) {
        let Some(h) = self.held.take() else { return };
        if let Some(counter) = self.served(h.queue) {
            let p = counter.get().wrapping_sub(h.served_at_join).wrapping_add(1);
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
        self.server_queued(h.queue, false);
        let was_front = match (self.board(), local(self.core, self.be_idx)) {
            (Some(board), Some(l)) => match l.try_borrow_mut() {
                Ok(mut l) => {
                    let was_front = l.remove(h.queue, h.ticket);
                    if was_front {
                        board.publish(h.queue, self.core.id, l.front(h.queue));
                    }
                    was_front
                }
                Err(_) => false,
            },
            _ => false,
        };
        if was_front {
            self.pass_baton();
        }
    }

    /// Leave for a server.
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
        let b = Board::new(2, 3);
        assert_eq!(b.oldest_for(0), None);
        // Core 2 waits in server 1's queue with ticket 4, core 1 in the
        // backend queue with ticket 7, core 0 in server 0's with ticket 2.
        b.publish(2, 2, 4);
        b.publish(BACKEND_QUEUE, 1, 7);
        b.publish(1, 0, 2);
        assert_eq!(b.oldest_for(0), Some((2, 0)));
        assert_eq!(b.oldest_for(1), Some((4, 2)));
        b.publish(1, 0, NONE);
        assert_eq!(b.oldest_for(0), Some((7, 1)));
        // Out of range: nobody.
        assert_eq!(b.oldest_for(5), Some((7, 1)));
    }

    #[test]
    fn local_queues_keep_ticket_order_when_streams_move() {
        let mut l = LocalQueues::new(1);
        assert!(l.insert(BACKEND_QUEUE, 3));
        assert!(!l.insert(BACKEND_QUEUE, 8));
        assert!(l.insert(1, 5));
        // Ticket 3 moves to the server queue: it becomes its front.
        assert!(l.remove(BACKEND_QUEUE, 3));
        assert!(l.insert(1, 3));
        assert_eq!(l.front(BACKEND_QUEUE), 8);
        assert_eq!(l.front(1), 3);
        assert_eq!(l.oldest_for(0), Some((1, 3)));
        assert!(!l.remove(1, 99), "absent ticket");
        l.wake(1, 5);
        assert!(l.queues[1][1].woken);
    }
}
