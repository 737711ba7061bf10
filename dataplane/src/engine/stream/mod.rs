//! Streams: what lives from a client's accept to its log line. In TCP mode a
//! stream is the whole client connection ([`tcp`]).

pub mod http;
pub mod tcp;
pub(crate) mod tcp_rules;
