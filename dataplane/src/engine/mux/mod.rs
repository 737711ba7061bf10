//! Muxes: how a protocol's messages ride a connection. HTTP/1 ([`h1`])
//! today; HTTP/2 adds one beside it and leaves streams, rules and logs
//! alone.

pub mod h1;
