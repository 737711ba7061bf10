//! TCP-mode integration tests, grouped by subsystem as HAProxy's
//! reg-tests are: each module declares its servers, its clients and its
//! configuration in one place, and runs on haproxy first where haproxy
//! can show the right answer.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[path = "../harness/mod.rs"]
mod harness;

mod limits;
mod log;
mod startup;
mod stop;
