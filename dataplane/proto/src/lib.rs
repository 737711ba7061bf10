//! ringlb's protocol codecs, sans-IO: they take bytes and return typed
//! values and events; they open no socket and know no runtime, so they are
//! unit-tested here and fuzzed from `fuzz/` without a network.
//!
//! - [`msg`]: the version-neutral HTTP message the stream's analysers work
//!   on (HAProxy's HTX idea): a start line and header fields as spans over
//!   one byte buffer that is reused from request to request, so a parsed
//!   head costs no allocation once the connection's buffers have grown.
//! - [`h1`]: HTTP/1.x — the head parser with HAProxy's acceptance rules
//!   (`h1::head`), the chunked transfer coding (`h1::chunked`), and the
//!   emission of a head back to bytes (`h1::emit`).
//! - [`tls`]: what a TLS client's first bytes say (ClientHello type,
//!   version, SNI) without terminating TLS.
//! - [`rdp`]: the cookie of an RDP connection request.
//! - [`errors`]: HAProxy's default error messages, byte for byte.
//! - [`form`]: a stats admin POST's form parameters.
//! - [`uri_norm`]: HAProxy's URI normalizers (`normalize-uri`).
//! - [`check_reply`]: the binary replies of `mysql-check` and `ldap-check`.
#![forbid(unsafe_code)]

pub mod agent;
pub mod check_reply;
pub mod cli;
pub mod errors;
pub mod form;
pub mod h1;
pub mod msg;
pub mod rdp;
pub mod tls;
pub mod uri_norm;
