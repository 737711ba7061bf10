//! The cross-core mesh: one bounded inbox per executor. A message wakes the
//! receiving executor (compio notifies its ring when a task is woken from
//! another thread), so no core polls for work another core or the main
//! thread has for it.
//!
//! What travels here today: "a server slot you may be waiting for was
//! released" and slot grants (the queues, see `queue`), stop requests, and
//! snapshots of a core's state (SIGQUIT). Server state changes (health
//! checks, `set server`) and the runtime API will ride the same inboxes. Counters the
//! log line prints stay relaxed atomics (see `engine`).
//!
//! Inboxes never fill up with wake-ups: a `Released` message is sent only
//! when none is already on its way for the same core, backend and server
//! (one flag each), and stop requests are coalesced the same way, so an
//! inbox holds at most one message per server plus one, and grants (a slot
//! handed to a waiter of that core); when an inbox is full a grant is
//! turned back into a freed slot and a coalesced wake-up.

use std::sync::atomic::{AtomicBool, Ordering};
// The receivers are taken once per executor at start-up, never on the
// data path.
#[allow(clippy::disallowed_types)]
use std::sync::Mutex;

/// A message to one core.
#[derive(Debug, Clone)]
pub enum Msg {
    /// A slot of `server` in `backend` was released (or the queue's oldest
    /// waiter changed): the oldest waiter of this core that may use it
    /// should try again.
    Released { backend: usize, server: usize },
    /// A slot of `server` in `backend`, taken for this core's oldest waiter
    /// that may use it (see `queue::offer`).
    Grant { backend: usize, server: usize },
    /// A global or frontend connection slot was freed while this core's
    /// listeners waited for one (see `accept::Room`).
    Room,
    /// The stop flags changed (soft or hard stop): look at them.
    Stop,
    /// SIGTTOU (true): pause the listeners, releasing their addresses for a
    /// new process that could not bind; SIGTTIN (false): listen again.
    Pause(bool),
    /// Report this core's state (its live streams, its pools) on the
    /// channel; with `flush`, free the pooled buffers and pipes first
    /// (SIGQUIT).
    Snapshot {
        reply: flume::Sender<CoreSnapshot>,
        flush: bool,
    },
}

/// One core's state, as a `Snapshot` message reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CoreSnapshot {
    pub core: usize,
    pub cpu: usize,
    /// Live streams, from the core's registry.
    pub streams: usize,
    /// Age of the oldest live stream.
    pub oldest: Option<std::time::Duration>,
    /// Pooled buffers (`tune.bufsize`), bulk buffers and pipes, after the
    /// flush if one was asked.
    pub bufs: usize,
    pub bulk_bufs: usize,
    pub pipes: usize,
    /// What the flush freed: buffers (both kinds) and pipes.
    pub flushed_bufs: usize,
    pub flushed_pipes: usize,
    /// Registered timers: one per waiting stream, 0 on an idle core.
    pub timers: usize,
}

/// Why a message could not be delivered.
#[derive(Debug, PartialEq, Eq)]
pub enum SendError {
    /// That core's inbox is full: the caller decides (retry later, drop).
    Full,
    /// That core has stopped.
    Gone,
}

/// The senders to every core's inbox, and the coalescing flags.
#[derive(Debug)]
pub struct Mesh {
    inboxes: Vec<flume::Sender<Msg>>,
    /// Taken once by each executor at start.
    #[allow(clippy::disallowed_types)]
    receivers: Mutex<Vec<Option<flume::Receiver<Msg>>>>,
    /// `[(server_slot) * cores + core]`: a `Released` is on its way.
    released: Box<[AtomicBool]>,
    /// Per backend, the index of its first server in `released`.
    first_server: Vec<usize>,
    /// Per core: a `Stop` is on its way.
    stop: Box<[AtomicBool]>,
    /// Per core: its listeners wait for a connection slot, and no `Room`
    /// is on its way yet.
    room: Box<[AtomicBool]>,
}

impl Mesh {
    /// A mesh of `cores` inboxes; `servers[b]` is backend b's server count.
    // Start-up: the receivers' lock (see `receivers`).
    #[allow(clippy::disallowed_types)]
    pub fn new(cores: usize, servers: &[usize]) -> Mesh {
        let total: usize = servers.iter().sum();
        let mut first_server = Vec::with_capacity(servers.len());
        let mut acc = 0;
        for n in servers {
            first_server.push(acc);
            acc += n;
        }
        // One coalesced wake-up per server and a stop, plus grants: one per
        // slot handed over, which a full inbox turns into a wake-up.
        let capacity = total + 1024;
        let (inboxes, receivers) = (0..cores)
            .map(|_| {
                let (tx, rx) = flume::bounded(capacity);
                (tx, Some(rx))
            })
            .unzip();
        Mesh {
            inboxes,
            receivers: Mutex::new(receivers),
            released: (0..total * cores).map(|_| AtomicBool::new(false)).collect(),
            first_server,
            stop: (0..cores).map(|_| AtomicBool::new(false)).collect(),
            room: (0..cores).map(|_| AtomicBool::new(false)).collect(),
        }
    }

    pub fn cores(&self) -> usize {
        self.inboxes.len()
    }

    /// The inbox of `core`, once (executor start-up; not the data path).
    pub fn take_inbox(&self, core: usize) -> Option<flume::Receiver<Msg>> {
        self.receivers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get_mut(core)
            .and_then(Option::take)
    }

    fn released_flag(&self, core: usize, backend: usize, server: usize) -> Option<&AtomicBool> {
        let slot = self.first_server.get(backend)? + server;
        self.released.get(slot * self.cores() + core)
    }

    /// Tell `core` a slot of `server` was released, unless a message saying
    /// so is already on its way.
    pub fn released(&self, core: usize, backend: usize, server: usize) {
        let Some(flag) = self.released_flag(core, backend, server) else {
            return;
        };
        if flag.swap(true, Ordering::AcqRel) {
            return;
        }
        if self.send(core, Msg::Released { backend, server }).is_err() {
            flag.store(false, Ordering::Release);
        }
    }

    /// The receiving core took a `Released` message: the next one may go.
    pub fn released_seen(&self, core: usize, backend: usize, server: usize) {
        if let Some(flag) = self.released_flag(core, backend, server) {
            flag.store(false, Ordering::Release);
        }
    }

    /// `core`'s listeners wait for a connection slot: the next core that
    /// frees one tells it (the caller looks at the counters once more
    /// after this, behind a SeqCst fence).
    pub fn want_room(&self, core: usize) {
        if let Some(flag) = self.room.get(core) {
            flag.store(true, Ordering::SeqCst);
        }
    }

    /// `from` freed a connection slot (behind a SeqCst fence): every other
    /// core whose listeners wait for one gets one `Room`. `from` wakes its
    /// own listeners itself. A message that cannot be delivered leaves the
    /// flag raised for the next release.
    pub fn room_freed(&self, from: usize) {
        for (core, flag) in self.room.iter().enumerate() {
            if !flag.load(Ordering::SeqCst) || !flag.swap(false, Ordering::SeqCst) {
                continue;
            }
            if core != from && self.send(core, Msg::Room) == Err(SendError::Full) {
                flag.store(true, Ordering::SeqCst);
            }
        }
    }

    /// Wake every core to look at the stop flags.
    pub fn stop_all(&self) {
        for (core, flag) in self.stop.iter().enumerate() {
            if !flag.swap(true, Ordering::AcqRel) && self.send(core, Msg::Stop).is_err() {
                flag.store(false, Ordering::Release);
            }
        }
    }

    /// The receiving core took a `Stop` message.
    pub fn stop_seen(&self, core: usize) {
        if let Some(flag) = self.stop.get(core) {
            flag.store(false, Ordering::Release);
        }
    }

    /// Send to every core; the cores that could not take it.
    pub fn broadcast(&self, msg: &Msg) -> Vec<(usize, SendError)> {
        (0..self.cores())
            .filter_map(|c| self.send(c, msg.clone()).err().map(|e| (c, e)))
            .collect()
    }

    /// Send to one core without blocking.
    pub fn send(&self, core: usize, msg: Msg) -> Result<(), SendError> {
        let tx = self.inboxes.get(core).ok_or(SendError::Gone)?;
        tx.try_send(msg).map_err(|e| match e {
            flume::TrySendError::Full(_) => SendError::Full,
            flume::TrySendError::Disconnected(_) => SendError::Gone,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn released_messages_are_coalesced_until_seen() {
        let mesh = Mesh::new(2, &[2, 1]);
        let rx = mesh.take_inbox(1).unwrap();
        assert!(mesh.take_inbox(1).is_none(), "an inbox is taken once");
        for _ in 0..5 {
            mesh.released(1, 0, 1);
        }
        mesh.released(1, 1, 0);
        let got: Vec<_> = rx.drain().collect();
        assert!(
            matches!(
                got.as_slice(),
                [
                    Msg::Released {
                        backend: 0,
                        server: 1
                    },
                    Msg::Released {
                        backend: 1,
                        server: 0
                    }
                ]
            ),
            "{got:?}"
        );
        // Not seen yet: still coalesced.
        mesh.released(1, 0, 1);
        assert!(rx.is_empty());
        mesh.released_seen(1, 0, 1);
        mesh.released(1, 0, 1);
        assert_eq!(rx.len(), 1);
        // Out-of-range indexes are ignored, never a panic.
        mesh.released(7, 0, 0);
        mesh.released(0, 9, 0);
        mesh.released(0, 0, 9);
    }

    #[test]
    fn wakes_a_core_from_another_thread() {
        let mesh = std::sync::Arc::new(Mesh::new(1, &[1]));
        let rx = mesh.take_inbox(0).unwrap();
        let rt = compio::runtime::Runtime::new().unwrap();
        let m = std::sync::Arc::clone(&mesh);
        let sender = std::thread::spawn(move || {
            m.stop_all();
            m.stop_all();
        });
        let got = rt.block_on(async move { rx.recv_async().await });
        sender.join().unwrap();
        assert!(matches!(got, Ok(Msg::Stop)), "{got:?}");
        // The second stop_all was coalesced with the first.
        mesh.stop_seen(0);
        mesh.stop_all();
    }
}
