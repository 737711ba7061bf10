//! The cross-core mesh: one inbox per executor, with a bounded lane for
//! coalesced wake-ups and an unbounded one for commands that carry data
//! (see [`Inbox`]), and [`Mesh::ask_all`] to ask every core and await the
//! answers with a deadline. A message wakes the
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
    /// A server's state changed (see `backend::server`): bring the
    /// balancers up to date with the backends' generations and offer the
    /// queued streams what became usable.
    Servers,
    /// Kill this core's streams on `server` of `backend`, their log saying
    /// `why` (see `Process::shutdown_streams`).
    ShutdownStreams {
        backend: usize,
        server: usize,
        why: crate::log::termination::Cause,
    },
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
    /// A frontend's state or a limit changed (the runtime API): the
    /// listeners look again.
    Frontends,
    /// A question of the runtime API to this core (see `engine::cli`).
    Cli(crate::engine::cli::Ask),
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

/// One core's inbox: two lanes. Wake-ups (`Released`, `Grant`, `Room`,
/// `Stop`) ride a bounded lane, where they are coalesced so it never
/// fills; commands that carry data (snapshots, pauses, the runtime API's
/// requests) ride an unbounded lane of their own, so a command is never
/// dropped because wake-ups filled the inbox. Commands are rare (an
/// operator's, one per core each), so that lane stays short.
#[derive(Debug)]
pub struct Inbox {
    wakeups: flume::Receiver<Msg>,
    commands: flume::Receiver<Msg>,
}

impl Inbox {
    /// The next message of either lane; Err once every sender is gone.
    pub async fn recv(&self) -> Result<Msg, flume::RecvError> {
        if let Ok(m) = self.commands.try_recv() {
            return Ok(m);
        }
        let w = std::pin::pin!(self.wakeups.recv_async());
        let c = std::pin::pin!(self.commands.recv_async());
        match futures_util::future::select(w, c).await {
            futures_util::future::Either::Left((m, _))
            | futures_util::future::Either::Right((m, _)) => m,
        }
    }

    /// A message already waiting, if any (commands first).
    pub fn try_recv(&self) -> Option<Msg> {
        self.commands
            .try_recv()
            .ok()
            .or_else(|| self.wakeups.try_recv().ok())
    }

    /// Messages waiting in both lanes.
    pub fn len(&self) -> usize {
        self.wakeups.len() + self.commands.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The questions of [`Mesh::ask_all`] on their way: the answers come back
/// on one channel, one per core that was asked.
#[derive(Debug)]
pub struct Asked<T> {
    answers: flume::Receiver<T>,
    asked: usize,
}

impl<T> Asked<T> {
    /// How many cores were asked (the others have stopped).
    pub fn asked(&self) -> usize {
        self.asked
    }

    /// Block (a control thread, never a core) until every core asked has
    /// answered or `within` has passed: the answers received.
    pub fn wait_blocking(self, within: std::time::Duration) -> Vec<T> {
        let deadline = std::time::Instant::now() + within;
        (0..self.asked)
            .map_while(|_| self.answers.recv_deadline(deadline).ok())
            .collect()
    }

    /// The same from a task on a core, on the core's timer: the other
    /// tasks of the core run meanwhile (a core asking itself is answered
    /// too).
    pub async fn wait(self, timers: &super::timer::Timers, within: std::time::Duration) -> Vec<T> {
        let deadline = std::time::Instant::now() + within;
        let mut got = Vec::with_capacity(self.asked);
        while got.len() < self.asked {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match super::timer::timeout(timers, left, self.answers.recv_async()).await {
                Ok(Ok(a)) => got.push(a),
                Ok(Err(_)) | Err(()) => break,
            }
        }
        got
    }
}

/// The senders to every core's inbox, and the coalescing flags.
#[derive(Debug)]
pub struct Mesh {
    inboxes: Vec<flume::Sender<Msg>>,
    /// The command lane of each core (see [`Inbox`]).
    commands: Vec<flume::Sender<Msg>>,
    /// Taken once by each executor at start.
    #[allow(clippy::disallowed_types)]
    receivers: Mutex<Vec<Option<Inbox>>>,
    /// `[(server_slot) * cores + core]`: a `Released` is on its way.
    released: Box<[AtomicBool]>,
    /// Per backend, the index of its first server in `released`.
    first_server: Vec<usize>,
    /// Per backend, the `released` flags (one per core) of the server
    /// slots `add server` grew past the configured ones.
    added: Box<[crate::engine::runtime::grow::Grow<Box<[AtomicBool]>>]>,
    /// Per core: a `Stop` is on its way.
    stop: Box<[AtomicBool]>,
    /// Per core: its listeners wait for a connection slot, and no `Room`
    /// is on its way yet.
    room: Box<[AtomicBool]>,
    /// Per core: a `Servers` is on its way.
    servers: Box<[AtomicBool]>,
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
        // slot handed over, which a full inbox turns into a wake-up. (The
        // servers added at run time have their wake-ups on the command
        // lane: see `Mesh::released`.)
        let capacity = total + 1024;
        let mut inboxes = Vec::with_capacity(cores);
        let mut commands = Vec::with_capacity(cores);
        let mut receivers = Vec::with_capacity(cores);
        for _ in 0..cores {
            let (tx, wakeups) = flume::bounded(capacity);
            let (ctx, crx) = flume::unbounded();
            inboxes.push(tx);
            commands.push(ctx);
            receivers.push(Some(Inbox {
                wakeups,
                commands: crx,
            }));
        }
        Mesh {
            inboxes,
            commands,
            receivers: Mutex::new(receivers),
            released: (0..total * cores).map(|_| AtomicBool::new(false)).collect(),
            added: servers.iter().map(|_| Default::default()).collect(),
            first_server,
            stop: (0..cores).map(|_| AtomicBool::new(false)).collect(),
            room: (0..cores).map(|_| AtomicBool::new(false)).collect(),
            servers: (0..cores).map(|_| AtomicBool::new(false)).collect(),
        }
    }

    pub fn cores(&self) -> usize {
        self.inboxes.len()
    }

    /// The inbox of `core`, once (executor start-up; not the data path).
    pub fn take_inbox(&self, core: usize) -> Option<Inbox> {
        self.receivers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get_mut(core)
            .and_then(Option::take)
    }

    /// The flag of (backend, server) for `core`, and whether the server
    /// is one added at run time.
    fn released_flag(
        &self,
        core: usize,
        backend: usize,
        server: usize,
    ) -> Option<(&AtomicBool, bool)> {
        let first = *self.first_server.get(backend)?;
        let next = match self.first_server.get(backend + 1) {
            Some(n) => *n,
            None => self.released.len() / self.cores().max(1),
        };
        match (first + server).checked_sub(next) {
            None => Some((
                self.released.get((first + server) * self.cores() + core)?,
                false,
            )),
            Some(_) => Some((
                self.added
                    .get(backend)?
                    .get(server - (next - first))?
                    .get(core)?,
                true,
            )),
        }
    }

    /// Make room for server slot (b, s) (`add server`, before the slot
    /// is filled); false past the most a backend can grow to.
    pub fn grow(&self, b: usize, s: usize) -> bool {
        let Some(first) = self.first_server.get(b).copied() else {
            return false;
        };
        let next = match self.first_server.get(b + 1) {
            Some(n) => *n,
            None => self.released.len() / self.cores().max(1),
        };
        let Some(a) = s.checked_sub(next - first) else {
            return true;
        };
        let cores = self.cores();
        self.added.get(b).is_some_and(|g| {
            g.grow_to(a, || (0..cores).map(|_| AtomicBool::new(false)).collect())
                .is_some()
        })
    }

    /// Tell `core` a slot of `server` was released, unless a message saying
    /// so is already on its way. A server added at run time has no room
    /// of its own in the bounded inbox (sized at start-up): its wake-up
    /// rides the command lane, which never refuses one (the flag still
    /// keeps it to one per server and core).
    pub fn released(&self, core: usize, backend: usize, server: usize) {
        let Some((flag, added)) = self.released_flag(core, backend, server) else {
            return;
        };
        if flag.swap(true, Ordering::AcqRel) {
            return;
        }
        let msg = Msg::Released { backend, server };
        let sent = if added {
            self.command(core, msg)
        } else {
            self.send(core, msg)
        };
        if sent.is_err() {
            flag.store(false, Ordering::Release);
        }
    }

    /// The receiving core took a `Released` message: the next one may go.
    pub fn released_seen(&self, core: usize, backend: usize, server: usize) {
        if let Some((flag, _)) = self.released_flag(core, backend, server) {
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

    /// A server's state changed (stored before this call): every core
    /// gets one `Servers`, unless one is already on its way to it. It
    /// rides the command lane, which never refuses a message, and the flag
    /// is cleared by the core before it reads the states
    /// ([`Mesh::servers_seen`]), so no change goes unseen: a change stored
    /// after the core cleared its flag sends another message.
    pub fn servers_changed(&self) {
        for (core, flag) in self.servers.iter().enumerate() {
            if !flag.swap(true, Ordering::AcqRel) && self.command(core, Msg::Servers).is_err() {
                // That core has stopped: nothing to tell.
                flag.store(false, Ordering::Release);
            }
        }
    }

    /// The receiving core took a `Servers` message; it reads the states
    /// after this.
    pub fn servers_seen(&self, core: usize) {
        if let Some(flag) = self.servers.get(core) {
            flag.swap(false, Ordering::AcqRel);
        }
    }

    /// A command to every core (never dropped for a full inbox); the cores
    /// that have stopped.
    pub fn broadcast(&self, msg: &Msg) -> Vec<(usize, SendError)> {
        (0..self.cores())
            .filter_map(|c| self.command(c, msg.clone()).err().map(|e| (c, e)))
            .collect()
    }

    /// A command to one core, on its command lane: it fails only when the
    /// core has stopped.
    pub fn command(&self, core: usize, msg: Msg) -> Result<(), SendError> {
        let tx = self.commands.get(core).ok_or(SendError::Gone)?;
        tx.send(msg).map_err(|_| SendError::Gone)
    }

    /// Ask every core a question (`ask` builds the command around the
    /// reply channel) and collect the answers with [`Asked::wait`] or
    /// [`Asked::wait_blocking`]: what `show stat`, `show sess` or
    /// `shutdown sessions` need, and SIGQUIT's snapshots.
    pub fn ask_all<T>(&self, ask: impl Fn(flume::Sender<T>) -> Msg) -> Asked<T> {
        let (tx, answers) = flume::bounded(self.cores());
        let asked = (0..self.cores())
            .filter(|&c| self.command(c, ask(tx.clone())).is_ok())
            .count();
        Asked { answers, asked }
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
    fn an_added_server_s_released_messages_are_coalesced_too() {
        let mesh = Mesh::new(2, &[1, 1]);
        let rx = mesh.take_inbox(1).unwrap();
        mesh.released(1, 0, 3);
        assert!(rx.try_recv().is_none(), "no flag before the slot grew");
        assert!(mesh.grow(0, 3) && mesh.grow(0, 0));
        assert!(!mesh.grow(0, 1 + crate::engine::runtime::grow::CAPACITY));
        for _ in 0..3 {
            mesh.released(1, 0, 3);
        }
        mesh.released(1, 1, 0);
        let got: Vec<_> = std::iter::from_fn(|| rx.try_recv()).collect();
        assert!(
            matches!(
                got.as_slice(),
                [
                    Msg::Released {
                        backend: 0,
                        server: 3
                    },
                    Msg::Released {
                        backend: 1,
                        server: 0
                    }
                ]
            ),
            "{got:?}"
        );
        mesh.released_seen(1, 0, 3);
        mesh.released(1, 0, 3);
        assert!(rx.try_recv().is_some());
    }

    #[test]
    fn released_messages_are_coalesced_until_seen() {
        let mesh = Mesh::new(2, &[2, 1]);
        let rx = mesh.take_inbox(1).unwrap();
        assert!(mesh.take_inbox(1).is_none(), "an inbox is taken once");
        for _ in 0..5 {
            mesh.released(1, 0, 1);
        }
        mesh.released(1, 1, 0);
        let got: Vec<_> = std::iter::from_fn(|| rx.try_recv()).collect();
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
        let got = rt.block_on(async move { rx.recv().await });
        sender.join().unwrap();
        assert!(matches!(got, Ok(Msg::Stop)), "{got:?}");
        // The second stop_all was coalesced with the first.
        mesh.stop_seen(0);
        mesh.stop_all();
    }

    /// A command goes through when wake-ups filled the bounded lane.
    #[test]
    fn a_command_is_never_dropped_for_a_full_inbox() {
        let mesh = Mesh::new(1, &[1]);
        let rx = mesh.take_inbox(0).unwrap();
        let mut sent = 0;
        while mesh
            .send(
                0,
                Msg::Grant {
                    backend: 0,
                    server: 0,
                },
            )
            .is_ok()
        {
            sent += 1;
        }
        assert_eq!(
            mesh.send(
                0,
                Msg::Grant {
                    backend: 0,
                    server: 0
                }
            ),
            Err(SendError::Full)
        );
        assert_eq!(mesh.command(0, Msg::Pause(true)), Ok(()));
        assert!(mesh.broadcast(&Msg::Pause(false)).is_empty());
        // Commands come first, then the wake-ups, none lost.
        assert!(matches!(rx.try_recv(), Some(Msg::Pause(true))));
        assert!(matches!(rx.try_recv(), Some(Msg::Pause(false))));
        assert_eq!(rx.len(), sent);
        drop(rx);
        assert_eq!(mesh.command(0, Msg::Pause(true)), Err(SendError::Gone));
    }

    fn answer_snapshots(rx: Inbox, core: usize) {
        // Commands ride the command lane: a blocking read of it.
        while let Ok(m) = rx.commands.recv() {
            if let Msg::Snapshot { reply, .. } = m {
                let _ = reply.send(CoreSnapshot {
                    core,
                    ..CoreSnapshot::default()
                });
            }
        }
    }

    /// Asking every core returns each answer, and by the deadline what
    /// came: a core that does not answer costs the wait, not the answers.
    #[test]
    fn ask_all_collects_the_answers_until_the_deadline() {
        let mesh = std::sync::Arc::new(Mesh::new(3, &[1]));
        // Cores 0 and 2 answer; core 1 is busy (never reads its inbox).
        let _busy = mesh.take_inbox(1).unwrap();
        for core in [0, 2] {
            let rx = mesh.take_inbox(core).unwrap();
            std::thread::spawn(move || answer_snapshots(rx, core));
        }
        let asked = mesh.ask_all(|reply| Msg::Snapshot {
            reply,
            flush: false,
        });
        assert_eq!(asked.asked(), 3);
        let t = std::time::Instant::now();
        let mut got: Vec<usize> = asked
            .wait_blocking(std::time::Duration::from_millis(300))
            .into_iter()
            .map(|s| s.core)
            .collect();
        got.sort_unstable();
        assert_eq!(got, [0, 2]);
        assert!(t.elapsed() >= std::time::Duration::from_millis(300));
        // The same from a task on a core, on the core's timer.
        let rt = compio::runtime::Runtime::new().unwrap();
        let mesh2 = std::sync::Arc::clone(&mesh);
        let got = rt.block_on(async move {
            let timers = std::rc::Rc::new(super::super::timer::Timers::new().unwrap());
            let t2 = std::rc::Rc::clone(&timers);
            compio::runtime::spawn(async move { t2.run().await }).detach();
            let asked = mesh2.ask_all(|reply| Msg::Snapshot {
                reply,
                flush: false,
            });
            asked
                .wait(&timers, std::time::Duration::from_millis(300))
                .await
                .len()
        });
        assert_eq!(got, 2);
    }

    #[test]
    fn server_changes_are_coalesced_and_never_refused() {
        let mesh = Mesh::new(2, &[1]);
        let rx0 = mesh.take_inbox(0).unwrap();
        // Fill core 0's wake-up lane: a server change still gets through.
        while mesh.send(0, Msg::Room).is_ok() {}
        for _ in 0..3 {
            mesh.servers_changed();
        }
        let servers = |rx: &Inbox| {
            std::iter::from_fn(|| rx.try_recv())
                .filter(|m| matches!(m, Msg::Servers))
                .count()
        };
        assert_eq!(servers(&rx0), 1, "coalesced, and past the full lane");
        // Until the core says it saw it, no second message.
        mesh.servers_changed();
        assert_eq!(servers(&rx0), 0);
        mesh.servers_seen(0);
        mesh.servers_changed();
        assert_eq!(servers(&rx0), 1);
        // Core 1 (its inbox never taken) got one message too.
        let rx1 = mesh.take_inbox(1).unwrap();
        assert_eq!(servers(&rx1), 1);
    }
}
