//! Backends across the cores: the server and backend queues ([`queue`]).

pub mod queue;
