//! HTTP-mode integration tests: a case table of HTTP/1 exchanges
//! (well-formed, malformed requests, malformed responses), each run on
//! haproxy, whose documented behaviour it asserts, and differentially on
//! haproxy and ringlb, which must agree on what the client, the server and
//! the log saw.
// Test clients and servers are threads that share a few channels and a
// script behind locks: they are not the data path the lint guards.
#![allow(clippy::disallowed_types)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[path = "../harness/mod.rs"]
mod harness;

mod case;
mod cases;
mod differential;
mod reference;

/// The haproxy to compare with; a test that needs it fails without it.
fn haproxy(test: &str) -> std::path::PathBuf {
    harness::haproxy(test).unwrap_or_else(|| {
        panic!("{test}: haproxy is needed (Debian package 'haproxy', or $HAPROXY)")
    })
}
