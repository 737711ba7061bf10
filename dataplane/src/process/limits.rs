//! File-descriptor limits (management guide section 5, HAProxy's
//! `src/limits.c`): how many fds a configuration needs (`maxsock`), the
//! RLIMIT_NOFILE set from it, and the check that the limit is enough.
//!
//! The arithmetic is HAProxy's, so that `ulimit -n` inside a ringlb process
//! reads the same as inside HAProxy for the same configuration. Measured on
//! HAProxy 2.6 with the soft limit lowered first (HAProxy only raises it):
//! `maxconn 2000`, `nbthread 1`, one `bind` gives 4014 (10 + 1 + 3 + 2*2000);
//! adding a `stats socket` gives 4025 (+1 listener, +10 CLI connections);
//! `option splice-auto` gives 5014 (+2 * 2000/4 pipe fds).

use nix::sys::resource::{getrlimit, setrlimit, Resource, RLIM_INFINITY};

/// Fds HAProxy reserves before counting anything (`global.maxsock = 10`).
pub const RESERVED_FDS: u32 = 10;
/// Fds counted per thread. HAProxy counts its poller fd and a wake-up pipe;
/// ringlb's io_uring ring and its wake-up eventfd fit in the same budget, and
/// keeping HAProxy's number keeps the limit identical.
pub const FDS_PER_THREAD: u32 = 3;
/// HAProxy's `DEFAULT_MAXCONN`: the floor of an automatic maxconn.
pub const DEFAULT_MAXCONN: u32 = 100;
/// HAProxy's `DEFAULT_MAXFD`: the default `fd-hard-limit`, which caps an
/// automatic maxconn when the hard RLIMIT_NOFILE is huge.
pub const DEFAULT_MAXFD: u64 = 1_048_576;

/// What a configuration needs beyond two fds per connection, in HAProxy's
/// terms ("socket eaters" added to `global.maxsock`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FdBudget {
    /// Bound sockets: one per listener of every `bind` line, of every
    /// `stats socket` and of the local peer's bind.
    pub listeners: u32,
    /// Connections accepted outside the global maxconn: the CLI's `stats
    /// maxconn` (HAProxy's default is 10, counted once for all stats sockets
    /// when there is at least one) and each peers section's maxconn.
    pub unlimited_conns: u32,
    /// Health checks. HAProxy 2.6 counts one per server with `check` and two
    /// per server with `agent-check` (measured).
    pub checks: u32,
    /// Worker threads (`nbthread`).
    pub threads: u32,
    /// Splice pipes (HAProxy's `maxpipes`; 0 without splicing). HAProxy's
    /// automatic value is a quarter of the connections of splicing proxies.
    pub pipes: u32,
}

impl FdBudget {
    /// The `extra` argument of [`nofile_limit`] and [`ideal_maxconn`].
    pub fn extra(&self) -> u32 {
        self.listeners
            .saturating_add(self.unlimited_conns)
            .saturating_add(self.checks)
            .saturating_add(self.threads.saturating_mul(FDS_PER_THREAD))
            .saturating_add(self.pipes.saturating_mul(2))
    }
}

/// HAProxy's `maxsock` for `maxconn` connections: the reserve, what the
/// configuration adds (`extra`, see [`FdBudget::extra`]) and two fds per
/// connection (client side and server side). Without `ulimit-n`, HAProxy
/// sets RLIMIT_NOFILE to exactly this.
pub fn nofile_limit(maxconn: u32, extra: u32) -> u64 {
    u64::from(RESERVED_FDS) + u64::from(extra) + 2 * u64::from(maxconn)
}

/// The maxconn HAProxy picks when the configuration sets none
/// (`compute_ideal_maxconn`, without splicing nor SSL async engines): what
/// the fd budget leaves, halved, never under [`DEFAULT_MAXCONN`].
/// `nofile_at_boot` is the larger of the soft and hard RLIMIT_NOFILE read at
/// start-up (an infinite hard limit counts as the soft one); it is capped by
/// `fd-hard-limit` ([`DEFAULT_MAXFD`] unless configured).
pub fn ideal_maxconn(nofile_at_boot: u64, fd_hard_limit: Option<u64>, extra: u32) -> u32 {
    let budget = nofile_at_boot.min(fd_hard_limit.unwrap_or(DEFAULT_MAXFD));
    let remain = budget.saturating_sub(u64::from(RESERVED_FDS) + u64::from(extra));
    let maxconn = u32::try_from(remain / 2).unwrap_or(u32::MAX);
    maxconn.max(DEFAULT_MAXCONN)
}

/// HAProxy's default `maxpipes` (compute_ideal_maxpipes, with every
/// splicing proxy bounded by the global maxconn): a quarter of maxconn.
pub fn ideal_maxpipes(maxconn: u32) -> u32 {
    if maxconn >= 4 {
        maxconn / 4
    } else {
        maxconn
    }
}

/// An automatic maxconn ([`ideal_maxconn`]) when proxies splice and
/// `maxpipes` is automatic too: HAProxy's compute_ideal_maxconn counts
/// half a pipe fd per connection on top of its two fds (a pipe per four
/// connections), so the budget is divided by 2.5 instead of 2.
pub fn ideal_maxconn_splicing(ideal: u32) -> u32 {
    u32::try_from(u64::from(ideal) * 4 / 5)
        .unwrap_or(u32::MAX)
        .max(DEFAULT_MAXCONN)
}

/// The current (soft, hard) RLIMIT_NOFILE; an infinite hard limit is
/// reported as `u64::MAX`.
pub fn current_nofile() -> Result<(u64, u64), String> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)
        .map_err(|e| format!("cannot read the FD limit: {}", e.desc()))?;
    Ok((soft, hard))
}

/// Raise the soft RLIMIT_NOFILE to `want` (HAProxy's `apply_nofile_limit`):
/// the hard limit is raised too when `want` is above it, which only root
/// (CAP_SYS_RESOURCE) can do. A limit already at or above `want` is left
/// alone, as HAProxy never lowers it. Returns the soft limit now in force.
///
/// `want` is `ulimit-n` when set, else [`nofile_limit`]. The error is
/// HAProxy's alert with the reason; HAProxy exits on it unless
/// `no strict-limits` is set, in which case it warns and settles for
/// `raise_nofile(hard)`.
pub fn raise_nofile(want: u64) -> Result<u64, String> {
    let (soft, hard) = current_nofile()?;
    if soft >= want {
        return Ok(soft);
    }
    let new_hard = if hard == RLIM_INFINITY {
        hard
    } else {
        hard.max(want)
    };
    match setrlimit(Resource::RLIMIT_NOFILE, want, new_hard) {
        Ok(()) => Ok(want),
        Err(e) => {
            let why = if want > hard && !nix::unistd::geteuid().is_root() {
                format!("the hard limit is {hard} and only root can raise it")
            } else if want > hard {
                format!(
                    "the hard limit is {hard}; raising it needs CAP_SYS_RESOURCE and \
                     a value within sysctl fs.nr_open"
                )
            } else {
                e.desc().to_ascii_lowercase()
            };
            Err(format!(
                "cannot raise FD limit to {want}, limit is {soft} ({why}; \
                 hint: raise LimitNOFILE/ulimit -n, or lower maxconn or ulimit-n)"
            ))
        }
    }
}

/// HAProxy's final check (`check_nofile_lim_and_prealloc_fd`): the soft
/// limit in force must cover `maxsock`. It fails when `ulimit-n` is set
/// below what maxconn needs; HAProxy exits on it (strict-limits, the
/// default) or only alerts (`no strict-limits`).
pub fn check_nofile(maxconn: u32, maxsock: u64) -> Result<(), String> {
    let (soft, _) = current_nofile()?;
    if soft < maxsock {
        return Err(format!(
            "FD limit ({soft}) too low for maxconn={maxconn}/maxsock={maxsock}. \
             Please raise 'ulimit-n' to {maxsock} or more to avoid any trouble."
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maxsock_matches_haproxy_measurements() {
        // Values read from /proc/<pid>/limits of HAProxy 2.6 (module docs).
        let one_bind = FdBudget {
            listeners: 1,
            threads: 1,
            ..FdBudget::default()
        };
        assert_eq!(nofile_limit(2000, one_bind.extra()), 4014);
        let two_binds_two_threads_one_check = FdBudget {
            listeners: 2,
            threads: 2,
            checks: 1,
            ..FdBudget::default()
        };
        assert_eq!(
            nofile_limit(2000, two_binds_two_threads_one_check.extra()),
            4019
        );
        let with_stats_socket = FdBudget {
            listeners: 2,
            unlimited_conns: 10,
            threads: 1,
            ..FdBudget::default()
        };
        assert_eq!(nofile_limit(2000, with_stats_socket.extra()), 4025);
        let splicing = FdBudget {
            listeners: 1,
            threads: 1,
            pipes: 2000 / 4,
            ..FdBudget::default()
        };
        assert_eq!(nofile_limit(2000, splicing.extra()), 5014);
        let two_checks_one_agent = FdBudget {
            listeners: 1,
            threads: 1,
            checks: 2 + 2,
            ..FdBudget::default()
        };
        assert_eq!(nofile_limit(2000, two_checks_one_agent.extra()), 4018);
    }

    #[test]
    fn pipes_are_a_quarter_of_maxconn_and_cost_two_fds() {
        assert_eq!(ideal_maxpipes(2000), 500);
        assert_eq!(ideal_maxpipes(3), 3);
        let splicing = FdBudget {
            listeners: 1,
            threads: 1,
            pipes: ideal_maxpipes(2000),
            ..FdBudget::default()
        };
        assert_eq!(nofile_limit(2000, splicing.extra()), 5014);
        // An automatic maxconn leaves room for its pipes' fds.
        let ideal = ideal_maxconn(10_014, None, 4);
        let maxconn = ideal_maxconn_splicing(ideal);
        let with_pipes = FdBudget {
            listeners: 1,
            threads: 1,
            pipes: ideal_maxpipes(maxconn),
            ..FdBudget::default()
        };
        assert!(nofile_limit(maxconn, with_pipes.extra()) <= 10_014);
        assert_eq!(ideal_maxconn_splicing(10), DEFAULT_MAXCONN);
    }

    #[test]
    fn nofile_limit_does_not_overflow() {
        assert_eq!(
            nofile_limit(u32::MAX, u32::MAX),
            10 + u64::from(u32::MAX) * 3
        );
        let huge = FdBudget {
            listeners: u32::MAX,
            threads: u32::MAX,
            ..FdBudget::default()
        };
        assert_eq!(huge.extra(), u32::MAX);
    }

    #[test]
    fn automatic_maxconn() {
        // HAProxy 2.6 without maxconn under a 20000 hard limit set 20000:
        // maxconn (20000 - 14) / 2 = 9993, maxsock 14 + 2 * 9993 = 20000.
        let extra = FdBudget {
            listeners: 1,
            threads: 1,
            ..FdBudget::default()
        }
        .extra();
        assert_eq!(ideal_maxconn(20000, None, extra), 9993);
        assert_eq!(nofile_limit(9993, extra), 20000);
        // A tight budget still gets DEFAULT_MAXCONN.
        assert_eq!(ideal_maxconn(64, None, extra), DEFAULT_MAXCONN);
        // A huge hard limit is capped by fd-hard-limit.
        assert_eq!(
            ideal_maxconn(1 << 30, None, 0),
            ((DEFAULT_MAXFD - 10) / 2) as u32
        );
        assert_eq!(ideal_maxconn(1 << 30, Some(50_000), 0), 24_995);
    }

    #[test]
    fn raise_to_current_soft_changes_nothing() {
        let (soft, hard) = current_nofile().unwrap();
        assert_eq!(raise_nofile(soft).unwrap(), soft);
        assert_eq!(raise_nofile(soft.saturating_sub(1)).unwrap(), soft);
        assert_eq!(current_nofile().unwrap(), (soft, hard));
        assert!(check_nofile(1, soft).is_ok());
    }

    #[test]
    fn raise_beyond_the_kernel_maximum_fails_clearly() {
        // Above fs.nr_open (at most 2^30 on Linux): refused even to root.
        let (soft, hard) = current_nofile().unwrap();
        let err = raise_nofile(1 << 40).unwrap_err();
        assert!(
            err.starts_with(&format!(
                "cannot raise FD limit to {}, limit is {soft} (",
                1u64 << 40
            )),
            "{err}"
        );
        assert_eq!(current_nofile().unwrap(), (soft, hard));
    }

    #[test]
    fn too_low_limit_is_reported_like_haproxy() {
        let (soft, _) = current_nofile().unwrap();
        let err = check_nofile(2000, soft + 1).unwrap_err();
        assert_eq!(
            err,
            format!(
                "FD limit ({soft}) too low for maxconn=2000/maxsock={}. Please raise 'ulimit-n' to {} or more to avoid any trouble.",
                soft + 1,
                soft + 1
            )
        );
    }
}
