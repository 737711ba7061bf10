//! Stream buffers and the per-core pool they come from.
//!
//! A [`Buffer`] is HAProxy's `struct buffer`: one fixed allocation of
//! `tune.bufsize` bytes with a read cursor (`head`, where output starts)
//! and a write cursor (`tail`, where input is appended). Input never fills
//! the last `tune.maxrewrite` bytes ([`Buffer::room`]), the reserve HTTP
//! rewriting needs: a request head larger than bufsize − maxrewrite is
//! "oversize". The bytes themselves are a `Vec<u8>` whose length is the
//! tail, so the transport can hand the spare part to the kernel without
//! any `unsafe` here (see `session::transport`).
//!
//! The [`BufferPool`] bounds the memory a core's buffers take, as HAProxy's
//! buffer pool does with `tune.buffers.limit`: a budget counted in
//! `tune.bufsize` units (a bulk buffer takes several), by default two per
//! stream of the core's share of `maxconn` (one per channel, HAProxy's
//! request and response buffers) plus `tune.buffers.reserve`. When the
//! budget is spent, [`BufferPool::get`] waits in a FIFO list, woken when a
//! buffer is released (HAProxy's `buffer_wait`), while the stream's
//! timeouts keep running; [`BufferPool::try_get`] gives up at once, for
//! callers with another way to go (bulk buffers: the provided-buffer path).
//! Released buffers are kept for reuse, most recently used first.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// HAProxy's `MAXREWRITE`: the default `tune.maxrewrite`.
pub const DEFAULT_MAXREWRITE: usize = 1024;
/// HAProxy's `RESERVED_BUFS`: the default `tune.buffers.reserve`, per thread.
pub const RESERVED_BUFS: usize = 4;

/// HAProxy's effective `tune.maxrewrite`: the configured value (else
/// [`DEFAULT_MAXREWRITE`]), readjusted to half of bufsize when larger
/// (manual, `tune.maxrewrite`).
pub fn maxrewrite(bufsize: usize, configured: Option<usize>) -> usize {
    configured.unwrap_or(DEFAULT_MAXREWRITE).min(bufsize / 2)
}

/// One channel's bytes: `data[head..]` waits to be sent; input is appended
/// at `data.len()` (the tail), up to `size - reserve`.
#[derive(Debug)]
pub struct Buffer {
    data: Vec<u8>,
    head: usize,
    size: usize,
    reserve: usize,
}

impl Buffer {
    /// An empty buffer of `size` bytes keeping `reserve` free of input.
    pub fn new(size: usize, reserve: usize) -> Self {
        debug_assert!(reserve < size);
        Buffer {
            data: Vec::with_capacity(size),
            head: 0,
            size,
            reserve,
        }
    }

    /// The allocation (`tune.bufsize`).
    pub fn size(&self) -> usize {
        self.size
    }

    /// The reserve input never fills (`tune.maxrewrite`).
    pub fn reserve(&self) -> usize {
        self.reserve
    }

    /// The most input a buffer may hold: bufsize − maxrewrite.
    pub fn max_input(&self) -> usize {
        self.size - self.reserve
    }

    /// Bytes waiting to be sent.
    pub fn len(&self) -> usize {
        self.data.len() - self.head
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes waiting to be sent.
    pub fn data(&self) -> &[u8] {
        self.data.get(self.head..).unwrap_or_default()
    }

    /// The pending bytes, writable in place (a parser normalising what
    /// it read, such as an unfolded header line).
    pub fn data_mut(&mut self) -> &mut [u8] {
        let head = self.head;
        self.data.get_mut(head..).unwrap_or_default()
    }

    /// How many more input bytes fit, the reserve kept free.
    pub fn room(&self) -> usize {
        self.max_input().saturating_sub(self.data.len())
    }

    /// Append `bytes` (at most [`room`](Self::room)); returns how many.
    pub fn put(&mut self, bytes: &[u8]) -> usize {
        let n = bytes.len().min(self.room());
        self.data
            .extend_from_slice(bytes.get(..n).unwrap_or_default());
        n
    }

    /// `n` bytes were sent: the read cursor moves on. An emptied buffer
    /// starts again at its beginning.
    pub fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.len());
        self.head = (self.head + n).min(self.data.len());
        if self.head == self.data.len() {
            self.clear();
        }
    }

    /// Move the pending bytes to the beginning (HAProxy's b_slow_realign),
    /// so the whole room is contiguous at the tail.
    pub fn realign(&mut self) {
        if self.head > 0 {
            self.data.drain(..self.head);
            self.head = 0;
        }
    }

    /// Change the reserve: none while a channel forwards without looking
    /// at the bytes (HAProxy's infinite forwarding, the TCP tunnel, lifts
    /// the reserve too: channel_recv_limit). The pool restores it.
    pub fn set_reserve(&mut self, reserve: usize) {
        self.reserve = reserve.min(self.size);
    }

    pub fn clear(&mut self) {
        self.data.clear();
        self.head = 0;
    }

    /// The allocation, for the transport's read (input goes at its
    /// length, up to `input_end`) and write (from `head`). Realigned first
    /// so the input window is as large as [`room`](Self::room).
    pub fn take_vec(&mut self) -> (Vec<u8>, usize) {
        self.realign();
        (std::mem::take(&mut self.data), self.max_input())
    }

    /// The allocation back, its length the new tail.
    pub fn restore_vec(&mut self, data: Vec<u8>) {
        debug_assert!(data.len() <= self.size);
        self.data = data;
        self.head = self.head.min(self.data.len());
    }

    /// Still the allocation it was made with (a cancelled I/O keeps it).
    fn is_whole(&self) -> bool {
        self.data.capacity() >= self.size
    }
}

/// The two sizes of buffer a stream uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// `tune.bufsize`.
    Std,
    /// The large buffers of flows that proved bulk.
    Bulk,
}

/// The most budget units a core keeps for reuse (64 MiB of default
/// buffers); beyond, released buffers are freed.
const KEEP_MAX: usize = 4096;

/// A core's bounded pool of [`Buffer`]s. See the module docs.
#[derive(Debug)]
pub struct BufferPool {
    size: usize,
    bulk_size: usize,
    reserve: usize,
    /// The budget, in `size` units, and what is taken of it.
    limit: usize,
    used: Cell<usize>,
    /// Units of the buffers kept for reuse (freed when a new buffer
    /// needs their room).
    kept: Cell<usize>,
    free_std: RefCell<Vec<Buffer>>,
    free_bulk: RefCell<Vec<Buffer>>,
    waiters: RefCell<WaitList>,
}

#[derive(Debug, Default)]
struct WaitList {
    next_id: u64,
    queue: VecDeque<(u64, Waker)>,
}

impl BufferPool {
    /// `limit`: the budget in `size` units (see [`BufferPool::limit_for`]).
    pub fn new(size: usize, bulk_size: usize, reserve: usize, limit: usize) -> Self {
        let size = size.max(1024);
        BufferPool {
            size,
            bulk_size: bulk_size.max(size),
            reserve: reserve.min(size / 2),
            limit,
            used: Cell::new(0),
            kept: Cell::new(0),
            free_std: RefCell::new(Vec::new()),
            free_bulk: RefCell::new(Vec::new()),
            waiters: RefCell::new(WaitList::default()),
        }
    }

    /// A core's budget in buffers, as HAProxy bounds them: two per stream
    /// of `maxconn_share` (0: no maxconn, no bound) plus the reserve, or
    /// this core's share of `tune.buffers.limit` (raised above the reserve,
    /// as HAProxy readjusts it).
    pub fn limit_for(maxconn_share: u32, buffers_limit_share: Option<u32>) -> usize {
        let as_usize = |n: u32| usize::try_from(n).unwrap_or(usize::MAX);
        match buffers_limit_share {
            Some(n) => as_usize(n).max(RESERVED_BUFS + 1),
            None if maxconn_share == 0 => usize::MAX,
            None => as_usize(maxconn_share)
                .saturating_mul(2)
                .saturating_add(RESERVED_BUFS),
        }
    }

    /// The size of a standard buffer (`tune.bufsize`).
    pub fn size(&self) -> usize {
        self.size
    }

    /// The budget, in standard buffers.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Budget units taken now.
    pub fn used(&self) -> usize {
        self.used.get()
    }

    /// Budget units of the buffers kept for reuse.
    pub fn kept(&self) -> usize {
        self.kept.get()
    }

    fn units(&self, class: Class) -> usize {
        match class {
            Class::Std => 1,
            Class::Bulk => self.bulk_size.div_ceil(self.size),
        }
    }

    fn free_list(&self, class: Class) -> &RefCell<Vec<Buffer>> {
        match class {
            Class::Std => &self.free_std,
            Class::Bulk => &self.free_bulk,
        }
    }

    /// Take `class`'s units of the budget and a buffer: a kept one, else a
    /// new one, for which kept buffers of the other class are freed if
    /// the budget needs their room (what is in use and what is kept
    /// together never exceed it).
    fn take(&self, class: Class) -> Option<Pooled<'_>> {
        let units = self.units(class);
        let used = self.used.get();
        if used.saturating_add(units) > self.limit {
            return None;
        }
        self.used.set(used + units);
        let kept = self.free_list(class).borrow_mut().pop();
        let buf = match kept {
            Some(b) => {
                self.kept.set(self.kept.get().saturating_sub(units));
                b
            }
            None => {
                let other = match class {
                    Class::Std => Class::Bulk,
                    Class::Bulk => Class::Std,
                };
                while self.used.get().saturating_add(self.kept.get()) > self.limit {
                    if self.free_list(other).borrow_mut().pop().is_none() {
                        break;
                    }
                    self.kept
                        .set(self.kept.get().saturating_sub(self.units(other)));
                }
                let size = match class {
                    Class::Std => self.size,
                    Class::Bulk => self.bulk_size,
                };
                Buffer::new(size, self.reserve.min(size / 2))
            }
        };
        debug_assert!(self.used.get() + self.kept.get() <= self.limit);
        Some(Pooled {
            buf,
            pool: self,
            class,
        })
    }

    /// A buffer now, or none when the budget is spent or streams already
    /// wait for one (they come first). A bulk buffer also leaves one
    /// standard buffer's room: the streams that wait for one (with data
    /// ready, see forward::pump) always progress, even while bulk buffers
    /// sit in reads that wait for their peer.
    pub fn try_get(&self, class: Class) -> Option<Pooled<'_>> {
        if !self.waiters.borrow().queue.is_empty() {
            return None;
        }
        let spare = match class {
            Class::Std => 0,
            Class::Bulk => self.units(Class::Std),
        };
        if self.used.get().saturating_add(self.units(class) + spare) > self.limit {
            return None;
        }
        self.take(class)
    }

    /// A buffer, waiting for one to be released when the budget is spent.
    pub fn get(&self, class: Class) -> Acquire<'_> {
        Acquire {
            pool: self,
            class,
            id: None,
        }
    }

    /// Streams waiting for a buffer.
    pub fn waiting(&self) -> usize {
        self.waiters.borrow().queue.len()
    }

    /// Buffers kept for reuse now (both classes).
    pub fn pooled(&self, class: Class) -> usize {
        match class {
            Class::Std => self.free_std.borrow().len(),
            Class::Bulk => self.free_bulk.borrow().len(),
        }
    }

    /// Free every pooled buffer (SIGQUIT, as HAProxy flushes its pools).
    pub fn flush(&self) -> usize {
        let n = self.pooled(Class::Std) + self.pooled(Class::Bulk);
        *self.free_std.borrow_mut() = Vec::new();
        *self.free_bulk.borrow_mut() = Vec::new();
        self.kept.set(0);
        n
    }

    fn release(&self, mut buf: Buffer, class: Class) {
        self.used
            .set(self.used.get().saturating_sub(self.units(class)));
        // Kept for reuse up to KEEP_MAX units: a burst that took many
        // buffers gives most of them back to the allocator (the budget
        // alone would keep two per connection of maxconn forever).
        if buf.is_whole() && self.kept.get() + self.units(class) <= KEEP_MAX {
            buf.clear();
            buf.reserve = self.reserve.min(buf.size / 2);
            // Kept within the budget: its units move from used to kept.
            self.kept.set(self.kept.get() + self.units(class));
            self.free_list(class).borrow_mut().push(buf);
        }
        self.wake_one();
    }

    fn wake_one(&self) {
        let w = self.waiters.borrow_mut().queue.pop_front();
        if let Some((_, w)) = w {
            w.wake();
        }
    }
}

/// A buffer taken from a [`BufferPool`]; dropping it gives it back and
/// wakes the oldest stream waiting for one.
#[derive(Debug)]
pub struct Pooled<'p> {
    buf: Buffer,
    pool: &'p BufferPool,
    class: Class,
}

impl std::ops::Deref for Pooled<'_> {
    type Target = Buffer;
    fn deref(&self) -> &Buffer {
        &self.buf
    }
}

impl std::ops::DerefMut for Pooled<'_> {
    fn deref_mut(&mut self) -> &mut Buffer {
        &mut self.buf
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        let buf = std::mem::replace(&mut self.buf, Buffer::empty());
        self.pool.release(buf, self.class);
    }
}

impl Buffer {
    /// No allocation: what a released guard leaves behind.
    fn empty() -> Self {
        Buffer {
            data: Vec::new(),
            head: 0,
            size: 0,
            reserve: 0,
        }
    }
}

/// Waiting for a buffer ([`BufferPool::get`]). Its place in the wait list
/// is removed when it is dropped; a wake-up it received but did not use is
/// passed on to the next waiter.
#[derive(Debug)]
pub struct Acquire<'p> {
    pool: &'p BufferPool,
    class: Class,
    /// Its place in the wait list, once it waits.
    id: Option<u64>,
}

impl<'p> Future for Acquire<'p> {
    type Output = Pooled<'p>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Pooled<'p>> {
        let pool = self.pool;
        let mut list = pool.waiters.borrow_mut();
        let queued = self
            .id
            .and_then(|id| list.queue.iter().position(|(i, _)| *i == id));
        if let Some(at) = queued {
            // Not woken yet: keep the place, refresh the waker.
            if let Some((_, w)) = list.queue.get_mut(at) {
                if !w.will_wake(cx.waker()) {
                    w.clone_from(cx.waker());
                }
            }
            return Poll::Pending;
        }
        // First poll with nobody ahead, or woken (the head of the list).
        if self.id.is_some() || list.queue.is_empty() {
            drop(list);
            if let Some(b) = pool.take(self.class) {
                self.id = None;
                return Poll::Ready(b);
            }
            list = pool.waiters.borrow_mut();
        }
        let id = match self.id {
            Some(id) => {
                // Woken but still short (a larger buffer): first again.
                list.queue.push_front((id, cx.waker().clone()));
                id
            }
            None => {
                let id = list.next_id;
                list.next_id = id.wrapping_add(1);
                list.queue.push_back((id, cx.waker().clone()));
                id
            }
        };
        self.id = Some(id);
        Poll::Pending
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        let Some(id) = self.id else { return };
        let Ok(mut list) = self.pool.waiters.try_borrow_mut() else {
            return;
        };
        match list.queue.iter().position(|(i, _)| *i == id) {
            Some(at) => {
                list.queue.remove(at);
            }
            None => {
                // Woken, then dropped before taking the buffer.
                drop(list);
                self.pool.wake_one();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use std::sync::Arc;
    use std::task::Wake;

    #[test]
    fn maxrewrite_is_haproxys() {
        assert_eq!(maxrewrite(16384, None), 1024);
        assert_eq!(maxrewrite(16384, Some(8192)), 8192);
        assert_eq!(maxrewrite(16384, Some(10000)), 8192);
        assert_eq!(maxrewrite(1024, None), 512);
    }

    #[test]
    fn input_stops_short_of_the_reserve() {
        let mut b = Buffer::new(16384, 1024);
        assert_eq!(b.max_input(), 15360);
        assert_eq!(b.room(), 15360);
        let big = vec![7u8; 20000];
        assert_eq!(b.put(&big), 15360);
        assert_eq!(b.room(), 0);
        assert_eq!(b.len(), 15360);
    }

    #[test]
    fn cursors_move_and_realign() {
        let mut b = Buffer::new(1024, 512);
        assert_eq!(b.put(b"hello world"), 11);
        b.consume(6);
        assert_eq!(b.data(), b"world");
        // The consumed bytes still take room until realigned.
        assert_eq!(b.room(), 512 - 11);
        b.realign();
        assert_eq!(b.data(), b"world");
        assert_eq!(b.room(), 512 - 5);
        b.consume(5);
        assert!(b.is_empty());
        assert_eq!(b.room(), 512);
    }

    #[test]
    fn take_and_restore_keep_the_cursors() {
        let mut b = Buffer::new(1024, 512);
        b.put(b"abcdef");
        b.consume(2);
        let (mut v, end) = b.take_vec();
        assert_eq!(end, 512);
        assert_eq!(v, b"cdef");
        v.extend_from_slice(b"gh");
        b.restore_vec(v);
        assert_eq!(b.data(), b"cdefgh");
    }

    struct Flag(std::sync::atomic::AtomicUsize);
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
    fn waker() -> (Arc<Flag>, Waker) {
        let f = Arc::new(Flag(0.into()));
        (Arc::clone(&f), Waker::from(f))
    }
    fn poll<'p>(f: &mut Pin<Box<Acquire<'p>>>, w: &Waker) -> Poll<Pooled<'p>> {
        f.as_mut().poll(&mut Context::from_waker(w))
    }
    fn woken(f: &Flag) -> usize {
        f.0.load(std::sync::atomic::Ordering::Relaxed)
    }

    #[test]
    fn limit_is_two_buffers_per_stream_plus_the_reserve() {
        assert_eq!(BufferPool::limit_for(100, None), 204);
        assert_eq!(BufferPool::limit_for(0, None), usize::MAX);
        assert_eq!(BufferPool::limit_for(100, Some(50)), 50);
        assert_eq!(BufferPool::limit_for(100, Some(1)), RESERVED_BUFS + 1);
    }

    #[test]
    fn never_grows_past_the_bound() {
        let p = BufferPool::new(1024, 4096, 512, 6);
        let mut held = Vec::new();
        while let Some(b) = p.try_get(Class::Std) {
            held.push(b);
            assert!(held.len() <= 6);
        }
        assert_eq!(held.len(), 6);
        assert_eq!(p.used(), 6);
        assert!(p.try_get(Class::Bulk).is_none());
        drop(held);
        assert_eq!(p.used(), 0);
        assert_eq!(p.pooled(Class::Std), 6);
        // A bulk buffer takes four units: one fits beside two standard ones.
        let a = p.try_get(Class::Bulk).unwrap();
        assert_eq!(a.size(), 4096);
        let _b = p.try_get(Class::Std).unwrap();
        let _c = p.try_get(Class::Std).unwrap();
        assert!(p.try_get(Class::Std).is_none());
        assert_eq!(p.used(), 6);
        drop(a);
        // A bulk buffer leaves room for one standard buffer: 2 + 4 + 1 > 6.
        assert!(p.try_get(Class::Bulk).is_none());
        // New standard buffers free the kept bulk one: memory stays within
        // the budget, in use and kept together.
        assert_eq!((p.used(), p.kept()), (2, 4));
        let _d = p.try_get(Class::Std).unwrap();
        let _e = p.try_get(Class::Std).unwrap();
        assert_eq!((p.used(), p.kept()), (4, 0));
        assert_eq!(p.pooled(Class::Bulk), 0);
    }

    /// After a burst, a core keeps at most KEEP_MAX units for reuse: the
    /// rest goes back to the allocator.
    #[test]
    fn a_burst_leaves_at_most_keep_max_buffers_kept() {
        let p = BufferPool::new(1024, 4096, 512, 3 * KEEP_MAX);
        let held: Vec<_> = (0..2 * KEEP_MAX)
            .map_while(|_| p.try_get(Class::Std))
            .collect();
        assert_eq!(held.len(), 2 * KEEP_MAX);
        drop(held);
        assert_eq!(p.used(), 0);
        assert_eq!(p.kept(), KEEP_MAX);
        assert_eq!(p.pooled(Class::Std), KEEP_MAX);
    }

    #[test]
    fn reuses_the_last_released_buffer() {
        let p = BufferPool::new(16384, 65536, 1024, 10);
        let mut a = p.try_get(Class::Std).unwrap();
        let (v, _) = a.take_vec();
        let ptr = v.as_ptr();
        a.restore_vec(v);
        drop(a);
        let mut b = p.try_get(Class::Std).unwrap();
        let (v, _) = b.take_vec();
        assert_eq!(v.as_ptr(), ptr, "MRU reuse");
        assert_eq!(v.capacity(), 16384);
        b.restore_vec(v);
    }

    #[test]
    fn exhaustion_waits_and_a_release_wakes_the_oldest() {
        let p = BufferPool::new(1024, 4096, 512, 2);
        let a = p.try_get(Class::Std).unwrap();
        let b = p.try_get(Class::Std).unwrap();
        let (f1, w1) = waker();
        let (f2, w2) = waker();
        let mut first = Box::pin(p.get(Class::Std));
        let mut second = Box::pin(p.get(Class::Std));
        assert!(poll(&mut first, &w1).is_pending());
        assert!(poll(&mut second, &w2).is_pending());
        assert_eq!(p.waiting(), 2);
        // Nobody jumps the queue.
        assert!(p.try_get(Class::Std).is_none());
        drop(a);
        assert_eq!((woken(&f1), woken(&f2)), (1, 0));
        let Poll::Ready(got) = poll(&mut first, &w1) else {
            panic!("woken waiter gets the buffer");
        };
        assert!(poll(&mut second, &w2).is_pending());
        assert_eq!(p.used(), 2);
        drop(got);
        assert_eq!(woken(&f2), 1);
        assert!(poll(&mut second, &w2).is_ready());
        drop(b);
        assert_eq!(p.waiting(), 0);
    }

    #[test]
    fn a_dropped_waiter_passes_its_wake_up_on() {
        let p = BufferPool::new(1024, 4096, 512, 1);
        let a = p.try_get(Class::Std).unwrap();
        let (_f1, w1) = waker();
        let (f2, w2) = waker();
        let mut first = Box::pin(p.get(Class::Std));
        let mut second = Box::pin(p.get(Class::Std));
        assert!(poll(&mut first, &w1).is_pending());
        assert!(poll(&mut second, &w2).is_pending());
        drop(a);
        // Woken, but its stream ended (a timeout) before it took it.
        drop(first);
        assert_eq!(woken(&f2), 1);
        let Poll::Ready(got) = poll(&mut second, &w2) else {
            panic!("the wake-up was passed on");
        };
        assert!(
            p.try_get(Class::Std).is_none(),
            "the second waiter holds it"
        );
        drop(got);
        drop(second);
        // A waiter dropped while queued leaves nothing behind.
        let (_f3, w3) = waker();
        let held = p.try_get(Class::Std).unwrap();
        let mut third = Box::pin(p.get(Class::Std));
        assert!(poll(&mut third, &w3).is_pending());
        drop(third);
        assert_eq!(p.waiting(), 0);
        drop(held);
        assert_eq!(p.used(), 0);
    }
}
