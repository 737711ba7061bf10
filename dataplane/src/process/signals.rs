//! Signals (management guide sections 4 and 9.4), delivered to the engine as
//! [`ProcessEvent`]s by one watcher thread.
//!
//! Design: the signals below are blocked in every thread (the mask is
//! per-thread and inherited by threads spawned afterwards, so
//! [`block_signals_for_workers`] runs in `main` before any other thread
//! exists) and one dedicated thread takes them with sigwait(2). Nothing
//! runs in signal-handler context, no `unsafe`, and the engine's runtimes
//! (one compio runtime per core) need no signal support: they receive
//! events on a flume channel (`recv_async` inside a runtime, `recv` in a
//! plain thread). Do not use `compio::signal` for these signals as well:
//! its handler never runs while they are blocked.
//!
//! Child processes (external checks, `program`s, the daemon copy) start with
//! an empty mask: std's `Command` resets it before exec.

use std::time::{Duration, Instant};

use nix::sys::signal::{SigSet, Signal};

use super::oldpids::StopKind;

/// What a signal asks of the process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcessEvent {
    /// Soft (SIGUSR1, `-sf`): unbind the listeners, let the streams finish,
    /// exit 0 when the last one is gone, or when `hard-stop-after` expires
    /// (see [`hard_stop_deadline`]). Hard (SIGTERM `-st`, SIGINT Ctrl-C):
    /// exit now, e.g. with [`die_of`]`(signal)`, which gives the exit status
    /// HAProxy has (killed by that signal: 143 for SIGTERM in a shell).
    /// May arrive more than once (HAProxy acts on the first SIGUSR1 only).
    Stop { kind: StopKind, signal: Signal },
    /// SIGTTOU: a new process cannot bind; stop accepting and release the
    /// ports (HAProxy's `pause_listener`) until [`ProcessEvent::Resume`] or
    /// a stop. Existing connections continue. Sent every 10 ms while the new
    /// process retries, so it repeats.
    Pause,
    /// SIGTTIN: the new process gave up; listen again.
    Resume,
    /// SIGHUP, standalone: log the state of every server
    /// (HAProxy's `sig_dump_state`), keep running.
    DumpState,
    /// SIGHUP or SIGUSR2 in the master of master-worker mode: reload.
    /// (A standalone process ignores SIGUSR2, as HAProxy does.)
    Reload,
    /// SIGQUIT: HAProxy dumps its memory pools to stderr, frees them and
    /// keeps running; ringlb asks every executor for its pools and live
    /// streams, frees the pools and prints the summary (serve.rs).
    DumpPools,
}

/// Which process the watcher serves: HAProxy maps SIGHUP and SIGUSR2
/// differently in the master of master-worker mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Standalone,
    Master,
}

/// The signals the watcher takes; all others keep their default action
/// (SIGPIPE is already ignored by Rust's runtime).
pub const WATCHED: [Signal; 8] = [
    Signal::SIGUSR1,
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGTTOU,
    Signal::SIGTTIN,
    Signal::SIGHUP,
    Signal::SIGUSR2,
    Signal::SIGQUIT,
];

fn watched_set() -> SigSet {
    let mut set = SigSet::empty();
    for s in WATCHED {
        set.add(s);
    }
    set
}

/// Block the watched signals in the calling thread and, through
/// inheritance, in every thread it spawns afterwards. Call first thing in
/// `main` (before compio runtimes, thread pools or the watcher start): a
/// thread spawned before keeps them unblocked and would take them with
/// their default action (SIGTERM/SIGUSR1 kill the process, SIGTTOU stops it).
pub fn block_signals_for_workers() -> Result<(), String> {
    watched_set()
        .thread_block()
        .map_err(|e| format!("cannot block signals: {}", e.desc()))
}

/// The event for `sig` in `role`; `None` for a signal that is taken and
/// ignored (SIGUSR2 outside a master).
pub fn event_for(sig: Signal, role: Role) -> Option<ProcessEvent> {
    Some(match sig {
        Signal::SIGUSR1 => ProcessEvent::Stop {
            kind: StopKind::Soft,
            signal: sig,
        },
        Signal::SIGTERM | Signal::SIGINT => ProcessEvent::Stop {
            kind: StopKind::Hard,
            signal: sig,
        },
        Signal::SIGTTOU => ProcessEvent::Pause,
        Signal::SIGTTIN => ProcessEvent::Resume,
        Signal::SIGHUP if role == Role::Master => ProcessEvent::Reload,
        Signal::SIGHUP => ProcessEvent::DumpState,
        Signal::SIGUSR2 if role == Role::Master => ProcessEvent::Reload,
        Signal::SIGQUIT => ProcessEvent::DumpPools,
        _ => return None,
    })
}

/// Start the watcher thread (named "signals") and return its events.
/// Call after [`block_signals_for_workers`]; the thread blocks the set
/// itself too. It runs until the process exits, or until the receiver is
/// dropped and a signal arrives.
///
/// Hard stops: if the receiver is gone, or a second hard-stop signal
/// arrives while the first is being handled (a wedged engine, Ctrl-C
/// twice), the watcher ends the process itself with [`die_of`].
pub fn spawn_signal_thread(role: Role) -> Result<flume::Receiver<ProcessEvent>, String> {
    let (tx, rx) = flume::unbounded();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if watched_set().thread_block().is_err() {
                return;
            }
            watch(role, &tx);
        })
        .map_err(|e| format!("cannot start the signal thread: {e}"))?;
    Ok(rx)
}

/// The watcher loop: returns when the receiver is gone (or sigwait fails,
/// which it cannot with a valid set).
fn watch(role: Role, tx: &flume::Sender<ProcessEvent>) {
    let set = watched_set();
    let mut hard_stop_sent = false;
    while let Ok(sig) = set.wait() {
        let Some(ev) = event_for(sig, role) else {
            continue;
        };
        let hard = matches!(
            ev,
            ProcessEvent::Stop {
                kind: StopKind::Hard,
                ..
            }
        );
        if hard && hard_stop_sent {
            die_of(sig);
        }
        if tx.send(ev).is_err() {
            if hard {
                die_of(sig);
            }
            return;
        }
        hard_stop_sent |= hard;
    }
}

/// End the process the way the default action of `sig` would (HAProxy
/// standalone leaves SIGTERM/SIGINT at their default action, so its exit
/// status says "killed by SIGTERM"; its daemon launcher maps 143 to 0).
/// Unblocks `sig` in this thread and raises it; if the signal is ignored
/// (SIG_IGN inherited, e.g. SIGINT of a background job), exits 128 + sig.
pub fn die_of(sig: Signal) -> ! {
    let mut one = SigSet::empty();
    one.add(sig);
    let _ = one.thread_unblock();
    let _ = nix::sys::signal::raise(sig);
    std::process::exit(128 + sig as i32)
}

/// When a soft stop that began at `soft_stop_at` turns into a hard one
/// (`hard-stop-after`): the engine arms one timer at this instant and
/// closes whatever remains when it fires. `None`: wait for the last stream.
pub fn hard_stop_deadline(
    soft_stop_at: Instant,
    hard_stop_after: Option<Duration>,
) -> Option<Instant> {
    hard_stop_after.and_then(|d| soft_stop_at.checked_add(d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt as _;

    #[test]
    fn haproxy_signal_map() {
        use ProcessEvent::*;
        let soft = Stop {
            kind: StopKind::Soft,
            signal: Signal::SIGUSR1,
        };
        assert_eq!(event_for(Signal::SIGUSR1, Role::Standalone), Some(soft));
        for s in [Signal::SIGTERM, Signal::SIGINT] {
            assert_eq!(
                event_for(s, Role::Standalone),
                Some(Stop {
                    kind: StopKind::Hard,
                    signal: s
                })
            );
        }
        assert_eq!(event_for(Signal::SIGTTOU, Role::Standalone), Some(Pause));
        assert_eq!(event_for(Signal::SIGTTIN, Role::Standalone), Some(Resume));
        assert_eq!(event_for(Signal::SIGHUP, Role::Standalone), Some(DumpState));
        assert_eq!(event_for(Signal::SIGUSR2, Role::Standalone), None);
        assert_eq!(event_for(Signal::SIGHUP, Role::Master), Some(Reload));
        assert_eq!(event_for(Signal::SIGUSR2, Role::Master), Some(Reload));
        assert_eq!(
            event_for(Signal::SIGQUIT, Role::Standalone),
            Some(DumpPools)
        );
        assert_eq!(event_for(Signal::SIGALRM, Role::Standalone), None);
    }

    /// A signal raised in a thread that blocks it stays pending on that
    /// thread (raise(3) is thread-directed), so the test process is never
    /// exposed to it: the watcher loop runs in that same thread.
    #[test]
    fn watcher_turns_signals_into_events() {
        let (tx, rx) = flume::unbounded();
        let t = std::thread::spawn(move || {
            block_signals_for_workers().unwrap();
            // Pending together; the kernel hands out the lowest number
            // first: SIGHUP (1) before SIGUSR1 (10) before SIGUSR2 (12).
            nix::sys::signal::raise(Signal::SIGUSR1).unwrap();
            nix::sys::signal::raise(Signal::SIGHUP).unwrap();
            nix::sys::signal::raise(Signal::SIGUSR2).unwrap();
            watch(Role::Standalone, &tx);
        });
        let deadline = Instant::now() + Duration::from_secs(5);
        let first = rx.recv_deadline(deadline).unwrap();
        assert_eq!(first, ProcessEvent::DumpState);
        let second = rx.recv_deadline(deadline).unwrap();
        assert_eq!(
            second,
            ProcessEvent::Stop {
                kind: StopKind::Soft,
                signal: Signal::SIGUSR1
            }
        );
        // SIGUSR2 was taken and ignored; the loop now waits. Dropping the
        // receiver and raising one more would end it, but only that thread
        // can raise for itself: instead check nothing else was sent.
        assert!(rx.try_recv().is_err());
        drop(rx);
        drop(t); // detached: blocked in sigwait until the test process exits
    }

    #[test]
    fn watcher_ends_when_nobody_listens() {
        let (tx, rx) = flume::unbounded::<ProcessEvent>();
        drop(rx);
        let t = std::thread::spawn(move || {
            block_signals_for_workers().unwrap();
            nix::sys::signal::raise(Signal::SIGTTOU).unwrap();
            watch(Role::Standalone, &tx);
        });
        let deadline = Instant::now() + Duration::from_secs(5);
        while !t.is_finished() {
            assert!(Instant::now() < deadline, "watcher still running");
            std::thread::yield_now();
        }
        t.join().unwrap();
    }

    /// Child scenario (no-op as a plain test): a second hard-stop signal
    /// kills the process even if the engine never acts on the first.
    #[test]
    fn child_second_hard_stop_kills() {
        if std::env::var("RINGLB_TEST_SIGNAL_CHILD").as_deref() != Ok("twice") {
            return;
        }
        let (tx, rx) = flume::unbounded();
        block_signals_for_workers().unwrap();
        nix::sys::signal::raise(Signal::SIGTERM).unwrap();
        nix::sys::signal::raise(Signal::SIGINT).unwrap();
        // SIGINT (2) comes first and is sent; SIGTERM (15) is the second
        // hard stop: the watcher dies of it.
        watch(Role::Standalone, &tx);
        drop(rx);
        std::process::exit(0);
    }

    /// Child scenario: die_of gives the default action's status.
    #[test]
    fn child_die_of_sigterm() {
        if std::env::var("RINGLB_TEST_SIGNAL_CHILD").as_deref() != Ok("die") {
            return;
        }
        block_signals_for_workers().unwrap();
        die_of(Signal::SIGTERM);
    }

    fn child_status(test: &str, scenario: &str) -> std::process::ExitStatus {
        let exe = std::env::current_exe().unwrap();
        std::process::Command::new(exe)
            .args([
                "--exact",
                &format!("process::signals::tests::{test}"),
                "--test-threads=1",
            ])
            .env("RINGLB_TEST_SIGNAL_CHILD", scenario)
            .output()
            .unwrap()
            .status
    }

    #[test]
    fn hard_stop_exit_status() {
        assert_eq!(
            child_status("child_die_of_sigterm", "die").signal(),
            Some(Signal::SIGTERM as i32)
        );
        assert_eq!(
            child_status("child_second_hard_stop_kills", "twice").signal(),
            Some(Signal::SIGTERM as i32)
        );
    }

    #[test]
    fn deadline() {
        let t0 = Instant::now();
        assert_eq!(hard_stop_deadline(t0, None), None);
        assert_eq!(
            hard_stop_deadline(t0, Some(Duration::from_secs(30))),
            Some(t0 + Duration::from_secs(30))
        );
    }
}
