//! HTTP-mode engine tests (HTTP/1 on both sides): each scenario runs on
//! haproxy first with the same assertions, then on ringlb, with real
//! sockets on loopback port 0, a recording test server, and assertions on
//! what the client and the server actually saw.
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

mod server;

mod actions;
mod balance;
mod browser;
mod checkcache;
mod checks;
mod checks_observe;
mod cookie_options;
mod cookies;
mod drive_dec7;
mod errors;
mod features;
mod fixes_dec7;
mod fixes_dec8;
mod lifecycle;
mod logs;
mod messaging;
mod monitor;
mod pool;
mod prometheus;
mod prometheus_stream;
mod retries;
mod reuse;
mod rules;
mod stats;
mod tunnel;
mod unique_id;
mod versions;
