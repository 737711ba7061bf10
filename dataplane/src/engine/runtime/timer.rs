//! The per-core timer: one timerfd per executor, armed to the earliest
//! deadline of a min-heap, with lazily re-armed entries (HAProxy's way:
//! activity never touches the heap; an entry that fires early is pushed
//! again for the remaining time by its owner).
//!
//! Why not compio's timers: its timer wheel is a BTreeMap that is split at
//! every event-loop turn while any timer is pending, which costs an
//! allocation per turn (measured by tests/alloc.rs: 8 allocations per
//! round trip with one pending compio timer, 4 without). A timerfd read
//! through the ring keeps compio's wheel empty: I/O pays nothing for
//! timeouts, and a stream pays one heap push per timeout period.

use std::cell::{Cell, RefCell};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use compio::runtime::fd::PollFd;
use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};

#[derive(Debug, Default)]
struct Slot {
    deadline: Option<Instant>,
    /// Changes at every `set`, so heap entries of an earlier deadline (or
    /// of a removed timer whose slot was reused) are recognised as stale.
    generation: u64,
    fired: bool,
    waker: Option<Waker>,
}

/// A registered timer of one task (a stream's watchdog, a queue wait ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerKey(usize);

#[derive(Debug)]
pub struct Timers {
    fd: PollFd<TimerFd>,
    heap: RefCell<BinaryHeap<Reverse<(Instant, usize, u64)>>>,
    slots: RefCell<slab::Slab<Slot>>,
    generation: Cell<u64>,
    /// The deadline the timerfd is armed for.
    armed: Cell<Option<Instant>>,
}

impl Timers {
    /// Create the core's timer; must run inside the core's runtime.
    pub fn new() -> io::Result<Timers> {
        let tfd = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )
        .map_err(io::Error::from)?;
        Ok(Timers {
            fd: PollFd::new(tfd)?,
            heap: RefCell::new(BinaryHeap::new()),
            slots: RefCell::new(slab::Slab::new()),
            generation: Cell::new(0),
            armed: Cell::new(None),
        })
    }

    /// A timer of its own for the caller, unset; its slot (and the waker
    /// it holds) is freed when the guard drops, however the owner ends (a
    /// future dropped by `select` included).
    pub fn register(&self) -> TimerEntry<'_> {
        let key = TimerKey(self.slots.borrow_mut().insert(Slot::default()));
        TimerEntry { timers: self, key }
    }

    fn remove(&self, key: TimerKey) {
        // The slots are never borrowed across a wake or a waker's drop
        // (see fire_due), but a drop must not panic: a leaked slot beats an
        // abort.
        if let Ok(mut slots) = self.slots.try_borrow_mut() {
            slots.try_remove(key.0);
        }
    }

    /// Registered timers (live slots): back to 0 when the core is idle
    /// (the SIGQUIT snapshot reports it).
    pub fn live(&self) -> usize {
        self.slots.borrow().len()
    }

    /// Set (or clear, with None) the deadline of `key`.
    pub fn set(&self, key: TimerKey, deadline: Option<Instant>) {
        let generation = self.generation.get().wrapping_add(1);
        self.generation.set(generation);
        {
            let mut slots = self.slots.borrow_mut();
            let Some(slot) = slots.get_mut(key.0) else {
                return;
            };
            slot.deadline = deadline;
            slot.generation = generation;
            slot.fired = false;
        }
        if let Some(d) = deadline {
            self.compact();
            self.heap.borrow_mut().push(Reverse((d, key.0, generation)));
            if self.armed.get().is_none_or(|a| d < a) {
                self.arm(d);
            }
        }
    }

    /// Drop stale heap entries (removed timers, moved deadlines) once they
    /// outnumber the live ones: short-lived streams would otherwise leave
    /// one entry each until its far deadline (close mode: ~10k/s x 30 s).
    fn compact(&self) {
        let live = self.slots.borrow().len();
        let mut heap = self.heap.borrow_mut();
        if heap.len() <= 4 * live + 1024 {
            return;
        }
        let slots = self.slots.borrow();
        heap.retain(|Reverse((_, k, g))| slots.get(*k).is_some_and(|s| s.generation == *g));
    }

    #[cfg(test)]
    fn heap_len(&self) -> usize {
        self.heap.borrow().len()
    }

    fn arm(&self, at: Instant) {
        let delay = at
            .saturating_duration_since(Instant::now())
            .max(Duration::from_micros(1));
        let spec = Expiration::OneShot(TimeSpec::from_duration(delay));
        if self.fd.set(spec, TimerSetTimeFlags::empty()).is_ok() {
            self.armed.set(Some(at));
        }
    }

    /// Wake the owners of every due deadline; stale heap entries (a
    /// deadline moved later, or removed) are dropped.
    fn fire_due(&self, now: Instant) {
        loop {
            let due = {
                let mut heap = self.heap.borrow_mut();
                match heap.peek() {
                    Some(Reverse((d, _, _))) if *d <= now => heap.pop().map(|Reverse(e)| e),
                    _ => None,
                }
            };
            let Some((_, k, g)) = due else { break };
            let waker = {
                let mut slots = self.slots.borrow_mut();
                match slots.get_mut(k) {
                    Some(s)
                        if s.generation == g
                            && s.deadline.is_some_and(|sd| sd <= now)
                            && !s.fired =>
                    {
                        s.fired = true;
                        s.waker.take()
                    }
                    _ => None,
                }
            };
            if let Some(w) = waker {
                w.wake();
            }
        }
        self.armed.set(None);
        let next = self.heap.borrow().peek().map(|Reverse((d, _, _))| *d);
        if let Some(d) = next {
            self.arm(d);
        }
    }

    /// The core's timer task: runs for the life of the executor.
    pub async fn run(&self) {
        let mut expirations = [0u8; 8];
        loop {
            if self.fd.read_ready().await.is_err() {
                return;
            }
            // Clear the expiration count (EAGAIN when it raced: harmless).
            let _ = nix::unistd::read(&self.fd, &mut expirations);
            self.fire_due(Instant::now());
        }
    }
}

/// A registered timer: the guard of its slot in [`Timers`].
#[derive(Debug)]
pub struct TimerEntry<'a> {
    timers: &'a Timers,
    key: TimerKey,
}

impl<'a> TimerEntry<'a> {
    /// Set (or clear, with None) the deadline.
    pub fn set(&self, deadline: Option<Instant>) {
        self.timers.set(self.key, deadline);
    }

    /// Resolves when the deadline has passed.
    pub fn wait(&self) -> TimerWait<'_, 'a> {
        TimerWait { entry: self }
    }
}

impl Drop for TimerEntry<'_> {
    fn drop(&mut self) {
        self.timers.remove(self.key);
    }
}

/// The future of [`TimerEntry::wait`].
#[derive(Debug)]
pub struct TimerWait<'e, 'a> {
    entry: &'e TimerEntry<'a>,
}

impl std::future::Future for TimerWait<'_, '_> {
    type Output = ();

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut slots = self.entry.timers.slots.borrow_mut();
        let Some(slot) = slots.get_mut(self.entry.key.0) else {
            return Poll::Ready(());
        };
        if slot.fired || slot.deadline.is_some_and(|d| d <= Instant::now()) {
            slot.fired = false;
            return Poll::Ready(());
        }
        match &mut slot.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            Some(w) => w.clone_from(cx.waker()),
            None => slot.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

/// Sleep for `d` on the core's timer.
pub async fn sleep(timers: &Timers, d: Duration) {
    let entry = timers.register();
    entry.set(Some(Instant::now() + d));
    entry.wait().await;
}

/// Run `fut` with a deadline on the core's timer; Err(()) when it passed.
///
/// A future struct rather than an `async fn`: an async fn would keep the
/// argument and its pinned copy side by side in its state, doubling the
/// size of whatever it wraps (a connect, in every stream's task).
pub fn timeout<F: std::future::Future>(timers: &Timers, d: Duration, fut: F) -> Timeout<'_, F> {
    let entry = timers.register();
    entry.set(Some(Instant::now() + d));
    Timeout { fut, entry }
}

pin_project_lite::pin_project! {
    /// The future of [`timeout`]; dropping it frees its timer (the guard).
    pub struct Timeout<'a, F> {
        #[pin]
        fut: F,
        entry: TimerEntry<'a>,
    }
}

impl<F: std::future::Future> std::future::Future for Timeout<'_, F> {
    type Output = Result<F::Output, ()>;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(v) = this.fut.poll(cx) {
            return Poll::Ready(Ok(v));
        }
        match std::pin::pin!(this.entry.wait()).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(())),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;

    #[test]
    fn stale_entries_are_compacted() {
        let rt = compio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let t = Timers::new().unwrap();
            let far = Instant::now() + Duration::from_secs(30);
            for _ in 0..10_000 {
                t.register().set(Some(far));
            }
            assert!(
                t.heap_len() <= 1024 + 1,
                "heap kept {} stale entries",
                t.heap_len()
            );
        });
    }

    /// A wait dropped before its deadline (a `select` won by the other
    /// side: the data phase of a stream ending before its timeout) frees
    /// its slot and the waker in it, for `timeout`, `sleep` and a plain
    /// registered entry alike.
    #[test]
    fn a_dropped_wait_frees_its_slot() {
        let rt = compio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let t = Timers::new().unwrap();
            let far = Duration::from_secs(100);
            let waker = std::task::Waker::noop();
            let mut cx = Context::from_waker(waker);
            for _ in 0..1000 {
                let mut f = std::pin::pin!(timeout(&t, far, std::future::pending::<()>()));
                assert!(f.as_mut().poll(&mut cx).is_pending());
            }
            assert_eq!(t.live(), 0, "timeout left slots behind");
            for _ in 0..1000 {
                let mut f = std::pin::pin!(sleep(&t, far));
                assert!(f.as_mut().poll(&mut cx).is_pending());
            }
            assert_eq!(t.live(), 0, "sleep left slots behind");
            for _ in 0..1000 {
                let e = t.register();
                e.set(Some(Instant::now() + far));
                let mut w = std::pin::pin!(e.wait());
                assert!(w.as_mut().poll(&mut cx).is_pending());
            }
            assert_eq!(t.live(), 0, "a registered entry left its slot behind");
        });
    }

    #[test]
    fn fires_in_deadline_order() {
        let rt = compio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let t = std::rc::Rc::new(Timers::new().unwrap());
            let runner = {
                let t = std::rc::Rc::clone(&t);
                compio::runtime::spawn(async move { t.run().await })
            };
            let start = Instant::now();
            sleep(&t, Duration::from_millis(30)).await;
            let slept = start.elapsed();
            assert!(
                slept >= Duration::from_millis(30) && slept < Duration::from_secs(2),
                "{slept:?}"
            );
            let r = timeout(&t, Duration::from_millis(20), std::future::pending::<()>()).await;
            assert!(r.is_err());
            let r = timeout(&t, Duration::from_secs(5), async { 7 }).await;
            assert_eq!(r, Ok(7));
            drop(runner);
        });
    }
}
