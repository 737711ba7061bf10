//! Process management: what HAProxy's `main()` does around the engine
//! (management guide sections 3-5; configuration manual 3.1: `daemon`,
//! `pidfile`, `chroot`, `user`/`group`, `ulimit-n`, `maxconn`,
//! `hard-stop-after`).
//!
//! Start-up order, as in HAProxy 3.2 (standalone mode):
//!
//! 1. `main`: [`block_signals_for_workers`] before any thread exists; in
//!    the daemon copy, [`daemon_child_start`] right after.
//! 2. Read and check the configuration; [`Identity::resolve`] the
//!    `user`/`group` names (fails early, nothing touched yet).
//! 3. Daemon mode (`-D`/`daemon`; not with `-c`, `-d`, `-db`, nor `-Ws`
//!    where systemd supervises), launcher side: `return daemonize()`; the
//!    copy (`is_daemon_child()`) goes on below. HAProxy forks before the full
//!    configuration read; ringlb's launcher checks it first, so errors
//!    come from the process the operator started.
//! 4. Limits: `maxconn` (or [`ideal_maxconn`]), maxsock =
//!    [`nofile_limit`]`(maxconn, budget.extra())`, then
//!    [`raise_nofile`]`(ulimit_n.unwrap_or(maxsock))` and
//!    [`check_nofile`]`(maxconn, maxsock)`.
//! 5. Bind every listener with [`bind_with_retry`]`(&old_pids, ...)`
//!    (old pids: `-sf` or `-st`).
//! 6. Daemon mode: [`write_pidfile`]`(path, &[std::process::id()])`
//!    (outside the jail; on error [`resume_old`] and exit 1).
//! 7. [`enter_chroot`] (on error [`resume_old`] and exit 1).
//! 8. [`signal_old`]`(&old_pids, StopKind::Soft | Hard)`.
//! 9. [`set_identity`] (after 8: once setuid, root-owned old processes
//!    can no longer be signalled).
//! 10. [`spawn_signal_thread`], start the per-core runtimes, then
//!     [`DaemonChild::ready`] in the daemon copy.
//!
//! Without old pids, 7 to 9 are [`drop_privileges`].

mod daemon;
mod identity;
mod limits;
mod oldpids;
mod pidfile;
mod signals;

// Until the engine calls them, the re-exports are unused (the
// `#[allow(dead_code)]` on `mod process` in main.rs does not cover imports).
#[allow(unused_imports)]
pub use daemon::{daemon_child_start, daemonize, is_daemon_child, DaemonChild, DAEMON_ENV};
#[allow(unused_imports)]
pub use identity::{drop_privileges, enter_chroot, set_identity, Identity};
#[allow(unused_imports)]
pub use limits::{
    check_nofile, current_nofile, ideal_maxconn, ideal_maxconn_splicing, ideal_maxpipes,
    nofile_limit, raise_nofile, FdBudget, DEFAULT_MAXCONN, DEFAULT_MAXFD, FDS_PER_THREAD,
    RESERVED_FDS,
};
#[allow(unused_imports)]
pub use oldpids::{
    bind_with_retry, pause_old, resume_old, signal_old, BindAttempt, StopKind, BIND_RETRIES,
    BIND_RETRY_DELAY,
};
#[allow(unused_imports)]
pub use pidfile::{read_pidfile, write_pidfile};
#[allow(unused_imports)]
pub use signals::{
    block_signals_for_workers, die_of, event_for, hard_stop_deadline, spawn_signal_thread,
    ProcessEvent, Role, WATCHED,
};
