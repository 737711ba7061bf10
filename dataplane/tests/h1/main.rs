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

#[path = "../harness/mod.rs"]
mod harness;

mod server;

/// One scenario as two tests: on haproxy (a failure under CI when it is
/// missing) and on ringlb.
macro_rules! on_both {
    ($scenario:ident, $on_haproxy:ident, $on_ringlb:ident) => {
        #[test]
        fn $on_haproxy() {
            if let Some(h) = $crate::harness::haproxy(stringify!($on_haproxy)) {
                $scenario("haproxy", &h);
            }
        }

        #[test]
        fn $on_ringlb() {
            $scenario("ringlb", &$crate::harness::ringlb());
        }
    };
}

mod balance;
mod cookies;
mod errors;
mod features;
mod lifecycle;
mod messaging;
mod reuse;
mod tunnel;
