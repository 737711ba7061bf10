//! Backends across the cores: each server's state and its one owner
//! ([`server`]), and the server and backend queues ([`queue`]).

pub mod idle;
pub mod queue;
pub mod server;

#[cfg(test)]
mod follow_tests;
