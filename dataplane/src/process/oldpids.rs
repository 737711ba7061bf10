//! The old processes of a reload (`-sf` / `-st`, management guide section 4).
//!
//! The new process binds first. A port still held by an old process is
//! retried every 10 ms for up to 200 attempts, sending the old processes
//! SIGTTOU ("pause": release your listeners) before each retry; if binding
//! still fails, SIGTTIN ("resume") gives them their ports back and the new
//! process exits 1. Once everything is bound, chrooted and the pid file
//! written, the old processes get SIGUSR1 (`-sf`, finish then leave) or
//! SIGTERM (`-st`, leave now), just before the new one drops its privileges
//! (after `setuid` it could no longer signal root-owned processes).

use std::io;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// How old processes are asked to leave (and how a signal asked us).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopKind {
    /// SIGUSR1 (`-sf`): stop listening, finish the streams in flight, leave.
    Soft,
    /// SIGTERM (`-st`), SIGINT: leave now, closing every connection.
    Hard,
}

impl StopKind {
    pub fn signal(self) -> Signal {
        match self {
            StopKind::Soft => Signal::SIGUSR1,
            StopKind::Hard => Signal::SIGTERM,
        }
    }
}

/// HAProxy's `MAX_START_RETRIES`.
pub const BIND_RETRIES: u32 = 200;
/// Wait between two bind attempts while old processes release their ports.
pub const BIND_RETRY_DELAY: Duration = Duration::from_millis(10);

/// Send `-sf` (SIGUSR1) or `-st` (SIGTERM) to the old pids. Returns the pids
/// that could not be signalled and why (gone: ESRCH; not ours: EPERM).
/// HAProxy ignores these failures; a caller may log them.
pub fn signal_old(pids: &[u32], kind: StopKind) -> Vec<(u32, io::Error)> {
    tell(pids, kind.signal())
}

/// SIGTTOU: ask old processes to release their listeners for a moment.
pub fn pause_old(pids: &[u32]) -> Vec<(u32, io::Error)> {
    tell(pids, Signal::SIGTTOU)
}

/// SIGTTIN: give old processes their listeners back (our start failed).
pub fn resume_old(pids: &[u32]) -> Vec<(u32, io::Error)> {
    tell(pids, Signal::SIGTTIN)
}

/// HAProxy's `tell_old_pids`, plus two guards HAProxy leaves to `atol`: pid 0
/// (or one above i32::MAX) would address a whole process group through
/// kill(2), and our own pid (a stale pid file whose pid got reused by us)
/// would stop the new process instead of the old one.
fn tell(pids: &[u32], sig: Signal) -> Vec<(u32, io::Error)> {
    let me = std::process::id();
    let mut failed = Vec::new();
    for &pid in pids {
        let raw = match i32::try_from(pid) {
            Ok(p) if p > 0 => p,
            _ => {
                failed.push((
                    pid,
                    io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("{pid} is not a process id"),
                    ),
                ));
                continue;
            }
        };
        if pid == me {
            failed.push((
                pid,
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{pid} is this process"),
                ),
            ));
            continue;
        }
        if let Err(e) = kill(Pid::from_raw(raw), sig) {
            failed.push((pid, io::Error::from(e)));
        }
    }
    failed
}

/// What one attempt to bind every listener gave.
#[derive(Debug)]
pub enum BindAttempt<T> {
    /// Everything is bound.
    Bound(T),
    /// Some address is in use (EADDRINUSE): worth retrying while old
    /// processes release their ports. The text is the error to report if
    /// retries run out.
    InUse(String),
    /// Any other failure (address not available, permission denied...).
    Fatal(String),
}

/// HAProxy's `bind_listeners` loop. `attempt(last)` must bind what is not
/// bound yet and keep what is (sockets bound by an earlier attempt stay
/// open); `last` tells it that no retry follows, so its error is final.
///
/// Without old pids, one attempt decides. With old pids, every retry first
/// sends them SIGTTOU; if none can be signalled, one last attempt decides.
/// On failure after pausing them, they are resumed with SIGTTIN before the
/// error is returned (the caller then exits 1, as HAProxy does).
///
/// The 10 ms waits happen at start-up only, before any engine thread runs
/// (rule zero: this is HAProxy's `select()` pause, not a test sleep).
pub fn bind_with_retry<T>(
    old: &[u32],
    attempt: impl FnMut(bool) -> BindAttempt<T>,
) -> Result<T, String> {
    bind_loop(
        old.len(),
        BIND_RETRIES,
        attempt,
        |sig| old.len() - tell(old, sig).len(),
        || std::thread::sleep(BIND_RETRY_DELAY),
    )
}

fn bind_loop<T>(
    nb_old: usize,
    retries: u32,
    mut attempt: impl FnMut(bool) -> BindAttempt<T>,
    mut tell_old: impl FnMut(Signal) -> usize,
    mut wait: impl FnMut(),
) -> Result<T, String> {
    let mut retry = retries;
    let err = loop {
        let last = retry == 0 || nb_old == 0;
        match attempt(last) {
            BindAttempt::Bound(t) => return Ok(t),
            BindAttempt::Fatal(e) => break e,
            BindAttempt::InUse(e) if last => break e,
            BindAttempt::InUse(_) => {}
        }
        if tell_old(Signal::SIGTTOU) == 0 {
            // Nobody to pause: one last attempt, without waiting.
            retry = 0;
            continue;
        }
        wait();
        retry -= 1;
    };
    if retry != retries && nb_old > 0 {
        tell_old(Signal::SIGTTIN);
    }
    Err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt as _;
    use std::process::{Child, Command};
    use std::time::Instant;

    fn sleeper() -> Child {
        Command::new("sleep").arg("30").spawn().unwrap()
    }

    /// The signal that ended `child`, waiting at most 5 s (bounded busy-wait:
    /// house rule, no sleeps in tests).
    fn death_signal(child: &mut Child) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status.signal();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("child {} still alive after 5 s", child.id());
            }
            std::thread::yield_now();
        }
    }

    #[test]
    fn sf_sends_sigusr1() {
        let mut c = sleeper();
        assert!(signal_old(&[c.id()], StopKind::Soft).is_empty());
        assert_eq!(death_signal(&mut c), Some(Signal::SIGUSR1 as i32));
    }

    #[test]
    fn st_sends_sigterm() {
        let mut a = sleeper();
        let mut b = sleeper();
        assert!(signal_old(&[a.id(), b.id()], StopKind::Hard).is_empty());
        assert_eq!(death_signal(&mut a), Some(Signal::SIGTERM as i32));
        assert_eq!(death_signal(&mut b), Some(Signal::SIGTERM as i32));
    }

    #[test]
    fn gone_and_bogus_pids_are_reported_not_signalled() {
        let mut gone = sleeper();
        let gone_pid = gone.id();
        gone.kill().unwrap();
        gone.wait().unwrap();
        let me = std::process::id();
        let failed = signal_old(&[gone_pid, 0, u32::MAX, me], StopKind::Soft);
        let pids: Vec<u32> = failed.iter().map(|(p, _)| *p).collect();
        assert_eq!(pids, vec![gone_pid, 0, u32::MAX, me]);
        assert_eq!(
            failed[0].1.raw_os_error(),
            Some(nix::errno::Errno::ESRCH as i32)
        );
        assert_eq!(failed[1].1.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(failed[3].1.to_string(), format!("{me} is this process"));
    }

    #[test]
    fn bound_at_once_sends_nothing() {
        let mut told = Vec::new();
        let r = bind_loop(
            1,
            3,
            |_| BindAttempt::Bound(7),
            |s| {
                told.push(s);
                1
            },
            || {},
        );
        assert_eq!(r, Ok(7));
        assert!(told.is_empty());
    }

    #[test]
    fn without_old_pids_one_attempt_decides() {
        let mut lasts = Vec::new();
        let r: Result<(), _> = bind_loop(
            0,
            3,
            |last| {
                lasts.push(last);
                BindAttempt::InUse("in use".into())
            },
            |_| panic!("no old pid to tell"),
            || panic!("no wait"),
        );
        assert_eq!(r, Err("in use".into()));
        assert_eq!(lasts, vec![true]);
    }

    #[test]
    fn pauses_old_until_bound() {
        let mut told = Vec::new();
        let mut tries = 0;
        let mut waits = 0;
        let r = bind_loop(
            1,
            3,
            |last| {
                tries += 1;
                assert!(!last);
                if tries < 3 {
                    BindAttempt::InUse("in use".into())
                } else {
                    BindAttempt::Bound(())
                }
            },
            |s| {
                told.push(s);
                1
            },
            || waits += 1,
        );
        assert_eq!(r, Ok(()));
        assert_eq!(told, vec![Signal::SIGTTOU, Signal::SIGTTOU]);
        assert_eq!(waits, 2);
    }

    #[test]
    fn resumes_old_when_retries_run_out() {
        let mut told = Vec::new();
        let mut lasts = Vec::new();
        let r: Result<(), _> = bind_loop(
            2,
            2,
            |last| {
                lasts.push(last);
                BindAttempt::InUse("port 80 in use".into())
            },
            |s| {
                told.push(s);
                2
            },
            || {},
        );
        assert_eq!(r, Err("port 80 in use".into()));
        assert_eq!(lasts, vec![false, false, true]);
        assert_eq!(
            told,
            vec![Signal::SIGTTOU, Signal::SIGTTOU, Signal::SIGTTIN]
        );
    }

    #[test]
    fn unreachable_old_pids_leave_one_last_attempt() {
        let mut told = Vec::new();
        let mut lasts = Vec::new();
        let r: Result<(), _> = bind_loop(
            1,
            200,
            |last| {
                lasts.push(last);
                BindAttempt::InUse("in use".into())
            },
            |s| {
                told.push(s);
                0
            },
            || panic!("no wait when nobody was paused"),
        );
        assert!(r.is_err());
        assert_eq!(lasts, vec![false, true]);
        // HAProxy resumes them anyway (retry moved off its start value).
        assert_eq!(told, vec![Signal::SIGTTOU, Signal::SIGTTIN]);
    }

    #[test]
    fn fatal_error_stops_at_once_and_resumes_paused() {
        let mut told = Vec::new();
        let mut tries = 0;
        let r: Result<(), _> = bind_loop(
            1,
            200,
            |_| {
                tries += 1;
                if tries == 1 {
                    BindAttempt::InUse("in use".into())
                } else {
                    BindAttempt::Fatal("denied".into())
                }
            },
            |s| {
                told.push(s);
                1
            },
            || {},
        );
        assert_eq!(r, Err("denied".into()));
        assert_eq!(told, vec![Signal::SIGTTOU, Signal::SIGTTIN]);
    }

    #[test]
    fn real_old_pid_is_paused_then_resumed() {
        // End to end with a real process: SIGTTOU stops `sleep`, so it is
        // still there for SIGTTIN; then clean up.
        let mut c = sleeper();
        let r: Result<(), _> = bind_loop(
            1,
            1,
            |_| BindAttempt::InUse("in use".into()),
            |s| 1 - tell(&[c.id()], s).len(),
            || {},
        );
        assert!(r.is_err());
        c.kill().unwrap();
        c.wait().unwrap();
    }
}
