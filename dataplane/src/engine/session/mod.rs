//! A session: one client connection and its transport, from its accept to
//! its close. In TCP mode its one stream is the whole connection
//! (`stream::tcp`); in HTTP mode a stream per request (`stream::http`).

pub mod transport;

pub use transport::Conn;

use std::net::SocketAddr;

use crate::engine::plan::FrontendPlan;

/// The start of a session in either mode: `tcp-request connection` rules
/// (a rejected connection is closed at once, unlogged: HAProxy counts it
/// denied), and the address the client reached when the frontend needs it
/// (one getsockname, shared by the rules and the stream). None: rejected.
pub(crate) fn admit(
    fe: &FrontendPlan,
    client: &Conn,
    peer: Option<SocketAddr>,
) -> Option<Option<SocketAddr>> {
    let dst = if fe.needs_dst {
        client.local_inet()
    } else {
        None
    };
    match &fe.tcp_conn {
        Some(rules) if !rules.accepts(peer, dst, &fe.name) => None,
        _ => Some(dst),
    }
}
