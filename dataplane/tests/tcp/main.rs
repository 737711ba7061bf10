//! TCP-mode integration tests, grouped by subsystem as HAProxy's
//! reg-tests are: each module declares its servers, its clients and its
//! configuration in one place, and runs on haproxy first where haproxy
//! can show the right answer.
// Test clients and servers are threads that share a few channels and
// counters behind locks: they are not the data path the lint guards.
#![allow(clippy::disallowed_types)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[macro_use]
#[path = "../harness/mod.rs"]
mod harness;

mod balance;
mod buffers;
mod checks;
mod checks_agent;
mod checks_kinds;
mod checks_observe;
mod checks_real;
mod cli;
mod cli_addkw;
mod cli_addsrc;
mod cli_agent;
mod cli_checks;
mod cli_dynsrv;
mod cli_hostile;
mod cli_kill;
mod cli_kinds;
mod cli_sess;
mod cli_sess_wait;
mod content;
mod dynsrv_grow;
mod fd_budget;
mod fixes_dec7;
mod forward;
mod limits;
mod listeners;
mod log;
mod queue;
mod source;
mod startup;
mod stats;
mod stats_listeners;
mod stop;
mod timeouts;
