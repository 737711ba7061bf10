//! Idle server connections of one core, per server: what `http-reuse`
//! hands to a later request instead of a new connection (HAProxy's
//! per-thread idle and safe lists, merged: every connection here has
//! completed at least one request, so it is "safe").
//!
//! A connection the server closed while idle is never handed out: it is
//! looked at (a non-blocking peek) when taken, and dropped when it shows
//! a FIN, an error or unexpected bytes.

use std::cell::RefCell;
use std::net::SocketAddr;

use crate::engine::session::Conn;

/// An idle connection and the address it went to.
pub type Idle = (Conn, Option<SocketAddr>);

#[derive(Debug, Default)]
pub struct IdleConns {
    /// By backend, then server: a stack (the most recently used first,
    /// the one most likely still open).
    by_server: RefCell<Vec<Vec<Vec<Idle>>>>,
}

impl IdleConns {
    /// Empty lists for `servers[b]` servers in each backend `b`.
    pub fn new(servers: impl Iterator<Item = usize>) -> IdleConns {
        IdleConns {
            by_server: RefCell::new(
                servers
                    .map(|n| (0..n).map(|_| Vec::new()).collect())
                    .collect(),
            ),
        }
    }

    /// An idle connection to server `srv` of backend `be`, and the
    /// address it went to. With `check`, it is looked at first (one
    /// recv(2) with MSG_PEEK) and skipped when the server closed it; a
    /// request that can be sent again on a new connection needs no check.
    pub fn take(&self, be: usize, srv: usize, check: bool) -> Option<Idle> {
        let mut all = self.by_server.borrow_mut();
        let list = all.get_mut(be)?.get_mut(srv)?;
        while let Some((conn, addr)) = list.pop() {
            // EAGAIN: open and quiet. Anything else (FIN, reset, bytes
            // nobody asked for): unusable.
            if !check || matches!(conn.peek(), Err(nix::errno::Errno::EAGAIN)) {
                return Some((conn, addr));
            }
        }
        None
    }

    /// Keep `conn` for a later request; `max`: the most this core keeps
    /// for the server (`pool-max-conn`, split over the cores; None: no
    /// limit). A connection over the limit is closed.
    pub fn put(&self, be: usize, srv: usize, (conn, addr): Idle, max: Option<usize>) {
        let mut all = self.by_server.borrow_mut();
        let Some(list) = all.get_mut(be).and_then(|b| b.get_mut(srv)) else {
            return;
        };
        if max.is_some_and(|m| list.len() >= m) {
            return;
        }
        list.push((conn, addr));
    }

    /// Close every idle connection (a stopping core).
    pub fn clear(&self) {
        for b in self.by_server.borrow_mut().iter_mut() {
            for s in b.iter_mut() {
                s.clear();
            }
        }
    }

    /// Idle connections kept now.
    pub fn len(&self) -> usize {
        self.by_server.borrow().iter().flatten().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
