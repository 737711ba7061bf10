//! A session: one client connection and its transport, from its accept to
//! its close. In TCP mode its one stream is the whole connection
//! (`stream::tcp`).

pub mod transport;

pub use transport::Conn;
