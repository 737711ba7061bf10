//! Lanes: how log lines reach the logger thread without a lock on the data
//! path. Each executor core has a lane of its own (a bounded lock-free
//! queue it alone writes to), and one more lane is shared by every other
//! thread (start-up and stop reports, signals, tests). The logger thread
//! takes from the lanes in turn and sleeps when all of them are empty.
//!
//! Order: the items of one lane come out in the order they went in (one
//! core's lines stay in order); across lanes no order is promised.
//!
//! Waking the logger takes no lock either: before it sleeps, the logger
//! sets `sleeping`, then looks at every lane once more; a producer pushes,
//! then reads `sleeping`, and unparks the logger if it is set. A SeqCst
//! fence on each side, between its write and its read, means at least one
//! of the two sees the other's write: either the logger finds the item in
//! its last look, or the producer finds `sleeping` set and unparks it (an
//! unpark before the park makes the park return at once). No wake-up is
//! lost; `tests::no_lost_wake_up` hammers it.

use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::Thread;

use crossbeam_queue::{ArrayQueue, SegQueue};

/// Items taken from one lane before the logger moves on to the next, so a
/// busy core does not starve the others.
const BATCH: usize = 64;

/// The lane of every thread that is not an executor core.
pub const SHARED: usize = usize::MAX;

/// Tests: see `Lanes::before_sleep`.
#[cfg(test)]
type BeforeSleep<T> = Box<dyn Fn() -> Option<(usize, T)> + Send + Sync>;

struct Lanes<T> {
    /// One per executor core, then the shared one (always present).
    queues: Box<[ArrayQueue<T>]>,
    /// Rare items that must never be refused (a flush marker): unbounded,
    /// lock-free, taken before the lanes.
    control: SegQueue<T>,
    /// The consumer sleeps or is about to (see the module doc).
    sleeping: AtomicBool,
    /// Every [`Producer`] is gone: the consumer ends once the lanes are
    /// empty.
    closed: AtomicBool,
    /// The [`Consumer`] is gone: pushing is pointless.
    gone: AtomicBool,
    /// Tests: called by the consumer between finding the lanes empty and
    /// setting `sleeping`, the window where a push would be missed without
    /// the last look; what it returns is pushed right there.
    #[cfg(test)]
    before_sleep: std::sync::OnceLock<BeforeSleep<T>>,
}

impl<T> std::fmt::Debug for Lanes<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lanes")
            .field("lanes", &self.queues.len())
            .field("sleeping", &self.sleeping)
            .finish_non_exhaustive()
    }
}

impl<T> Lanes<T> {
    /// Tell the consumer something was queued, unless it is awake (see
    /// the module doc): called after the item is in place.
    fn wake(&self, consumer: &Thread) {
        // Orders the push before the read of `sleeping` (module doc).
        fence(Ordering::SeqCst);
        // Only the producer that clears the flag pays the unpark.
        if self.sleeping.load(Ordering::Relaxed) && self.sleeping.swap(false, Ordering::Relaxed) {
            consumer.unpark();
        }
    }

    /// The lane of `lane`: a core's own, or the shared one for
    /// [`SHARED`] (and for any index past the cores).
    fn lane(&self, lane: usize) -> Option<&ArrayQueue<T>> {
        self.queues.get(lane).or_else(|| self.queues.last())
    }
}

/// The sending side, shared by every sender (behind an `Arc`): dropping it
/// tells the consumer to end.
#[derive(Debug)]
pub struct Producer<T> {
    lanes: Arc<Lanes<T>>,
    consumer: Thread,
}

impl<T> Producer<T> {
    /// Queues `item` on `lane` (a core index, or [`SHARED`]) without
    /// blocking and without a lock; gives it back when the lane is full or
    /// the consumer is gone.
    ///
    /// A core's lane expects that core alone to push (it stays correct with
    /// more, the queue being MPMC, only slower).
    pub fn push(&self, lane: usize, item: T) -> Result<(), T> {
        let lanes = &*self.lanes;
        if lanes.gone.load(Ordering::Relaxed) {
            return Err(item);
        }
        let Some(queue) = lanes.lane(lane) else {
            return Err(item);
        };
        queue.push(item)?;
        lanes.wake(&self.consumer);
        Ok(())
    }

    /// Queues a control item (never refused: unbounded, for rare items
    /// such as a flush marker); the consumer takes it before the lanes.
    /// Gives it back when the consumer is gone.
    pub fn push_control(&self, item: T) -> Result<(), T> {
        let lanes = &*self.lanes;
        if lanes.gone.load(Ordering::Relaxed) {
            return Err(item);
        }
        lanes.control.push(item);
        lanes.wake(&self.consumer);
        Ok(())
    }

    /// Whether the consumer is gone (its thread ended).
    pub fn is_gone(&self) -> bool {
        self.lanes.gone.load(Ordering::Relaxed)
    }
}

impl<T> Drop for Producer<T> {
    fn drop(&mut self) {
        self.lanes.closed.store(true, Ordering::Release);
        self.consumer.unpark();
    }
}

/// The receiving side, owned by the consumer thread.
#[derive(Debug)]
pub struct Consumer<T> {
    lanes: Arc<Lanes<T>>,
    /// The lane taken from now, and how many items it gave in a row.
    at: usize,
    run: usize,
}

impl<T> Consumer<T> {
    /// The next item, sleeping while every lane is empty; `None` once every
    /// producer is gone and the lanes are empty.
    pub fn recv(&mut self) -> Option<T> {
        loop {
            if let Some(item) = self.try_recv() {
                return Some(item);
            }
            if self.lanes.closed.load(Ordering::Acquire) {
                // Whatever was pushed before the close is visible now.
                return self.try_recv();
            }
            #[cfg(test)]
            if let Some((lane, item)) = self.lanes.before_sleep.get().and_then(|h| h()) {
                if let Some(q) = self.lanes.lane(lane) {
                    let _ = q.push(item);
                }
            }
            self.lanes.sleeping.store(true, Ordering::Relaxed);
            // Orders the write of `sleeping` before the last look.
            fence(Ordering::SeqCst);
            if let Some(item) = self.try_recv() {
                self.lanes.sleeping.store(false, Ordering::Relaxed);
                return Some(item);
            }
            if !self.lanes.closed.load(Ordering::Acquire) {
                std::thread::park();
            }
            self.lanes.sleeping.store(false, Ordering::Relaxed);
        }
    }

    /// One item from the lanes in turn (at most [`BATCH`] from a lane in a
    /// row), or `None` when all are empty.
    pub fn try_recv(&mut self) -> Option<T> {
        if let Some(item) = self.lanes.control.pop() {
            return Some(item);
        }
        let n = self.lanes.queues.len();
        // One turn of every lane, and the first one again: it may have been
        // skipped for its run only.
        for _ in 0..=n {
            if self.run < BATCH {
                if let Some(item) = self.lanes.queues.get(self.at).and_then(ArrayQueue::pop) {
                    self.run += 1;
                    return Some(item);
                }
            }
            self.at = (self.at + 1) % n.max(1);
            self.run = 0;
        }
        None
    }

    /// Takes, in lane order, every item the lanes hold now (not those
    /// pushed meanwhile, so it ends even under load), for `f`. Whatever was
    /// pushed on a lane before the caller learnt of some event (a flush
    /// marker taken from the control queue) is taken.
    pub fn drain(&mut self, mut f: impl FnMut(T)) {
        for queue in self.lanes.queues.iter() {
            for _ in 0..queue.len() {
                match queue.pop() {
                    Some(item) => f(item),
                    None => break,
                }
            }
        }
    }
}

impl<T> Drop for Consumer<T> {
    fn drop(&mut self) {
        self.lanes.gone.store(true, Ordering::Relaxed);
    }
}

/// Makes `cores` core lanes and the shared one, each holding `capacity`
/// items (at least one), and starts the consumer thread `name` running
/// `run`.
pub fn spawn<T: Send + 'static>(
    cores: usize,
    capacity: usize,
    name: &str,
    run: impl FnOnce(Consumer<T>) + Send + 'static,
) -> std::io::Result<Producer<T>> {
    let lanes = Arc::new(Lanes {
        queues: (0..=cores)
            .map(|_| ArrayQueue::new(capacity.max(1)))
            .collect(),
        control: SegQueue::new(),
        sleeping: AtomicBool::new(false),
        closed: AtomicBool::new(false),
        gone: AtomicBool::new(false),
        #[cfg(test)]
        before_sleep: std::sync::OnceLock::new(),
    });
    let consumer = Consumer {
        lanes: lanes.clone(),
        at: 0,
        run: 0,
    };
    let handle = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || run(consumer))?;
    Ok(Producer {
        lanes,
        consumer: handle.thread().clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    const DEADLINE: Duration = Duration::from_secs(20);

    /// Starts a consumer that forwards every item to the returned receiver.
    fn forwarder<T: Send + 'static>(
        cores: usize,
        capacity: usize,
    ) -> (Producer<T>, mpsc::Receiver<T>) {
        let (tx, rx) = mpsc::channel();
        let producer = spawn(cores, capacity, "lanes-test", move |mut c: Consumer<T>| {
            while let Some(item) = c.recv() {
                if tx.send(item).is_err() {
                    return;
                }
            }
        })
        .unwrap();
        (producer, rx)
    }

    /// N producers, each on its own lane (the last on the shared one),
    /// push small bursts and wait until the consumer has taken them (the
    /// consumer hands each item back on the producer's own channel), so
    /// pushes keep landing as the consumer runs out of work and goes to
    /// sleep, where a wake-up would be lost. Every item arrives, in order
    /// within its lane; a lost wake-up stalls a producer past its
    /// deadline. (`a_push_in_the_window_before_sleep_is_taken` puts a push
    /// in that window on purpose.)
    #[test]
    fn no_lost_wake_up() {
        const PRODUCERS: usize = 3;
        const ROUNDS: u64 = 2_000;
        let (acks, backs): (Vec<_>, Vec<_>) = (0..=PRODUCERS).map(|_| mpsc::channel()).unzip();
        let producer = spawn(
            PRODUCERS,
            8,
            "lanes-hammer",
            move |mut c: Consumer<(usize, u64)>| {
                while let Some((p, i)) = c.recv() {
                    if acks[p].send(i).is_err() {
                        return;
                    }
                }
            },
        )
        .unwrap();
        let producer = Arc::new(producer);
        let threads: Vec<_> = backs
            .into_iter()
            .enumerate()
            .map(|(p, back)| {
                let producer = producer.clone();
                let lane = if p == PRODUCERS { SHARED } else { p };
                std::thread::spawn(move || {
                    let mut sent = 0u64;
                    for round in 0..ROUNDS {
                        let burst = 1 + round % 3;
                        for _ in 0..burst {
                            producer.push(lane, (p, sent)).unwrap();
                            sent += 1;
                        }
                        for i in sent - burst..sent {
                            let got = back.recv_timeout(DEADLINE);
                            assert_eq!(got, Ok(i), "lane {p}: lost wake-up or out of order");
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    }

    /// One item at a time, each waited for: the consumer is asleep (or
    /// about to be) at every push.
    #[test]
    fn wakes_for_each_lone_item() {
        let (producer, rx) = forwarder::<u32>(2, 4);
        for i in 0..5_000 {
            producer.push((i % 3) as usize, i).unwrap();
            assert_eq!(rx.recv_timeout(DEADLINE).unwrap(), i);
        }
    }

    /// The consumer's hook pushes an item exactly between its finding the
    /// lanes empty and its setting `sleeping`: no producer will wake it,
    /// so only the last look before parking can take the item. With that
    /// look removed, the first item never arrives.
    #[test]
    fn a_push_in_the_window_before_sleep_is_taken() {
        let (producer, rx) = forwarder::<u32>(1, 4);
        let n = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let hook_n = n.clone();
        let set = producer.lanes.before_sleep.set(Box::new(move || {
            let i = hook_n.fetch_add(1, Ordering::Relaxed);
            (i < 100).then_some((0, i))
        }));
        assert!(set.is_ok());
        // Wake the consumer once: from then on it feeds itself.
        producer.push(0, u32::MAX).unwrap();
        let mut got: Vec<u32> = (0..101)
            .map(|_| rx.recv_timeout(DEADLINE).unwrap())
            .collect();
        got.retain(|i| *i != u32::MAX);
        assert_eq!(got, (0..100).collect::<Vec<_>>());
    }

    /// A control item is taken first and never refused, even when every
    /// lane is full.
    #[test]
    fn control_items_are_never_refused_and_come_first() {
        let (producer, go_tx, rx) = gated(1, 1, |c: &mut Consumer<u32>| {
            std::iter::from_fn(|| c.try_recv()).collect::<Vec<_>>()
        });
        producer.push(0, 1).unwrap();
        producer.push(SHARED, 2).unwrap();
        assert_eq!(producer.push(0, 3), Err(3), "the lane is full");
        for i in 10..20 {
            producer.push_control(i).unwrap();
        }
        go_tx.send(()).unwrap();
        let got = rx.recv_timeout(DEADLINE).unwrap();
        assert_eq!(got, [10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 1, 2]);
    }

    #[test]
    fn full_lane_gives_the_item_back() {
        // A consumer that never takes anything, until told to end.
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let producer = spawn(2, 3, "lanes-full", move |_c: Consumer<u32>| {
            let _ = stop_rx.recv();
        })
        .unwrap();
        let mut refused = 0;
        for i in 0..10 {
            if producer.push(0, i).is_err() {
                refused += 1;
            }
        }
        assert_eq!(refused, 7);
        // Lanes are independent: the others still take items.
        assert!(producer.push(1, 0).is_ok());
        assert!(producer.push(SHARED, 0).is_ok());
        // Past the cores is the shared lane.
        assert!(producer.push(7, 0).is_ok());
        assert!(producer.push(SHARED, 0).is_ok());
        assert!(producer.push(SHARED, 0).is_err());
        stop_tx.send(()).unwrap();
    }

    #[test]
    fn ends_when_producers_are_gone_and_lanes_empty() {
        let (producer, rx) = forwarder::<u32>(1, 8);
        producer.push(0, 1).unwrap();
        producer.push(SHARED, 2).unwrap();
        drop(producer);
        let got: Vec<u32> = rx.iter().collect();
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn gone_consumer_refuses() {
        let producer = spawn(1, 8, "lanes-gone", |_c: Consumer<u32>| {}).unwrap();
        let deadline = Instant::now() + DEADLINE;
        while !producer.is_gone() {
            assert!(Instant::now() < deadline);
            std::thread::yield_now();
        }
        assert_eq!(producer.push(0, 5), Err(5));
    }

    /// A consumer that waits until told to go, then runs `take` once and
    /// hands back its result.
    type Gated<T, R> = (Producer<T>, mpsc::Sender<()>, mpsc::Receiver<R>);
    fn gated<T: Send + 'static, R: Send + 'static>(
        cores: usize,
        capacity: usize,
        take: impl FnOnce(&mut Consumer<T>) -> R + Send + 'static,
    ) -> Gated<T, R> {
        let (tx, rx) = mpsc::channel();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let producer = spawn(cores, capacity, "lanes-gated", move |mut c: Consumer<T>| {
            let _ = go_rx.recv();
            let _ = tx.send(take(&mut c));
        })
        .unwrap();
        (producer, go_tx, rx)
    }

    #[test]
    fn drain_takes_what_is_queued() {
        let (producer, go_tx, rx) = gated(2, 8, |c: &mut Consumer<u32>| {
            let mut got = Vec::new();
            c.drain(|i| got.push(i));
            got
        });
        for (lane, i) in [(1, 10), (0, 1), (SHARED, 99), (0, 2), (1, 11)] {
            producer.push(lane, i).unwrap();
        }
        go_tx.send(()).unwrap();
        // Lanes in order (the cores', then the shared one), each in push
        // order.
        assert_eq!(rx.recv_timeout(DEADLINE).unwrap(), vec![1, 2, 10, 11, 99]);
    }

    #[test]
    fn a_busy_lane_does_not_starve_the_others() {
        let (producer, go_tx, rx) = gated(2, 1000, |c: &mut Consumer<usize>| {
            let mut order = Vec::new();
            while let Some(lane) = c.try_recv() {
                order.push(lane);
            }
            order
        });
        for _ in 0..500 {
            producer.push(0, 0).unwrap();
        }
        producer.push(1, 1).unwrap();
        go_tx.send(()).unwrap();
        let order = rx.recv_timeout(DEADLINE).unwrap();
        assert_eq!(order.len(), 501);
        assert_eq!(order.iter().position(|&l| l == 1), Some(BATCH));
    }
}
