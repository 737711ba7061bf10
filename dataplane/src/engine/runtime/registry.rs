//! Each core's registry of its live streams: what `show sess` prints and
//! what `shutdown session` kills.
//!
//! A stream enters it at its accept ([`Core::register`]) and leaves it when
//! its guard drops. HTTP keeps one entry per client connection and marks it
//! idle between transactions: HAProxy frees the stream between requests, so
//! an idle keep-alive connection is neither shown nor killable.
//!
//! Killing a stream costs nothing on the data path: no future of the
//! stream waits for it. `shutdown session` marks the entry killed and shuts
//! the stream's sockets down (`shutdown(2)`, as a hard stop closes a
//! resource instead of waiting for an operation to notice a cancel): the
//! pending reads end, the stream ends as it would on a close, and its
//! log says `K` because the entry says killed (see [`Registered::killed`]).
//! The socket numbers kept here must not outlive their sockets (a number
//! reused by another connection would be shut down instead). The server's
//! is kept while [`Registered::on_server`]'s guard borrows the connection
//! (or between [`Registered::mark_server`] and
//! [`Registered::unmark_server`]); the client's for the entry's life: the
//! streams register after they own the client connection and drop it
//! last, or (TCP, which closes the client before its log) with no
//! `.await` between, so that no kill can run in between. (Borrowing the
//! client in the guard would say so to the borrow checker, at 8 bytes of
//! the TCP stream's future: `a_stream_stays_small`.)

use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::{Instant, SystemTime};

use super::Core;
use crate::engine::session::Conn;

/// A live stream in its core's registry.
#[derive(Debug, Clone)]
pub struct StreamEntry {
    /// When the stream began (an HTTP connection's current transaction:
    /// its first byte), for its age; and its date.
    pub accepted: Instant,
    pub accept_date: SystemTime,
    /// Its frontend (plan index), the listener's id, the client's address
    /// (None: a UNIX socket) and the address it reached.
    pub frontend: u32,
    pub luid: u32,
    pub src: Option<SocketAddr>,
    pub dst: Option<SocketAddr>,
    /// HTTP mode.
    pub http: bool,
    /// A CLI connection: the GLOBAL proxy's stream (HAProxy's CLI applet
    /// runs in a stream `show sess` lists); `luid` is then the stats
    /// socket's number.
    pub global: bool,
    /// An HTTP connection between two transactions: no stream.
    pub idle: bool,
    /// `%rt`: the stream's number.
    pub uniq_id: u32,
    /// Its backend and server (plan indexes), once chosen.
    pub backend: Option<u32>,
    pub server: Option<u32>,
    /// The server's address while connected to it.
    pub server_addr: Option<SocketAddr>,
    /// `shutdown session` killed it.
    pub killed: bool,
    /// The sockets, see the module's text.
    pub client_fd: RawFd,
    pub server_fd: Option<RawFd>,
}

impl StreamEntry {
    /// The local addresses of its connections, (front, back), read from
    /// the sockets (`show sess`; on the stream's own core, where the
    /// entry's sockets are live). The front's is the one the client
    /// reached, when admission did not read it already.
    pub fn local_addrs(&self) -> (Option<SocketAddr>, Option<SocketAddr>) {
        let name = |fd: RawFd| {
            let a: nix::sys::socket::SockaddrStorage = nix::sys::socket::getsockname(fd).ok()?;
            if let Some(v4) = a.as_sockaddr_in() {
                return Some(SocketAddr::V4((*v4).into()));
            }
            a.as_sockaddr_in6().map(|v6| SocketAddr::V6((*v6).into()))
        };
        (
            self.dst.or_else(|| name(self.client_fd)),
            self.server_fd.and_then(name),
        )
    }
}

/// A stream's place in its core's registry, removed when dropped. It
/// borrows the client connection whose socket number the entry holds.
#[derive(Debug)]
pub struct Registered<'a> {
    core: &'a Core,
    key: usize,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        if let Ok(mut s) = self.core.streams.try_borrow_mut() {
            s.try_remove(self.key);
        }
    }
}

impl Core {
    /// Enter a stream in the registry for as long as the guard lives:
    /// (frontend, listener id), the client's connection and (address,
    /// the address it reached), and whether it is HTTP.
    pub fn register<'a>(
        &'a self,
        (frontend, luid): (usize, u32),
        client: &Conn,
        (src, dst): (Option<SocketAddr>, Option<SocketAddr>),
        http: bool,
    ) -> Registered<'a> {
        let key = self.streams.borrow_mut().insert(StreamEntry {
            accepted: Instant::now(),
            accept_date: SystemTime::now(),
            frontend: u32::try_from(frontend).unwrap_or(u32::MAX),
            luid,
            src,
            dst,
            http,
            global: false,
            // An HTTP connection is a stream once a request came.
            idle: http,
            uniq_id: 0,
            backend: None,
            server: None,
            server_addr: None,
            killed: false,
            client_fd: client.as_fd().as_raw_fd(),
            server_fd: None,
        });
        Registered { core: self, key }
    }

    /// Enter a CLI connection (stats socket `luid`, its client `src`, None
    /// for a UNIX one) as the GLOBAL proxy's stream, numbered as a stream
    /// (HAProxy's CLI stream takes a `%rt` too): `show sess` lists it and
    /// `shutdown session` closes it, as HAProxy's.
    pub fn register_cli<'a>(
        &'a self,
        luid: u32,
        client: &Conn,
        src: Option<SocketAddr>,
    ) -> Registered<'a> {
        let uniq_id = self.next_stream_id();
        let reg = self.register((usize::MAX, luid), client, (src, None), false);
        reg.update(|e| {
            e.global = true;
            e.uniq_id = uniq_id;
        });
        reg
    }

    /// `shutdown session`: kill the stream in slot `key` (false: no such
    /// stream). Its server connection is shut down; so is its client's
    /// in TCP mode, or in HTTP before a server is connected. An HTTP
    /// transaction that loses its server answers 502 (`KH`; the client
    /// connection goes on, as HAProxy's) or cuts its response (`KD`, the
    /// client connection closed) as on a server's abort.
    pub fn kill_stream(&self, key: usize) -> bool {
        let (client, server, http) = {
            let mut streams = self.streams.borrow_mut();
            let Some(e) = streams.get_mut(key).filter(|e| !e.idle) else {
                return false;
            };
            e.killed = true;
            (e.client_fd, e.server_fd, e.http)
        };
        use nix::sys::socket::{shutdown, Shutdown};
        if let Some(fd) = server {
            let _ = shutdown(fd, Shutdown::Both);
        }
        if !http || server.is_none() {
            let _ = shutdown(client, Shutdown::Both);
        }
        true
    }
}

impl<'a> Registered<'a> {
    /// This core's slot of the stream (its `show sess` id has it).
    pub fn key(&self) -> usize {
        self.key
    }

    fn update(&self, f: impl FnOnce(&mut StreamEntry)) {
        if let Some(e) = self.core.streams.borrow_mut().get_mut(self.key) {
            f(e);
        }
    }

    /// Whether `shutdown session` killed the stream: its log says `K`.
    pub fn killed(&self) -> bool {
        self.core
            .streams
            .borrow()
            .get(self.key)
            .is_some_and(|e| e.killed)
    }

    /// The stream's number (`%rt`) and its backend, once known.
    pub fn set_stream(&self, id: u32, backend: Option<usize>) {
        self.update(|e| {
            e.uniq_id = id;
            e.backend = backend.and_then(|b| u32::try_from(b).ok());
        });
    }

    /// The address the client reached (known once admitted).
    pub fn set_dst(&self, dst: Option<SocketAddr>) {
        self.update(|e| e.dst = dst);
    }

    /// HTTP: a transaction began (its first byte came at `since`): a
    /// stream again.
    pub fn begin(&self, id: u32, (since, date): (Instant, SystemTime)) {
        self.update(|e| {
            e.idle = false;
            e.killed = false;
            e.uniq_id = id;
            e.accepted = since;
            e.accept_date = date;
            e.backend = None;
            e.server = None;
        });
    }

    /// HTTP: the transaction ended; the connection waits for the next.
    pub fn end(&self) {
        self.update(|e| e.idle = true);
    }

    /// The stream's backend was chosen.
    pub fn set_backend(&self, b: usize) {
        self.update(|e| e.backend = u32::try_from(b).ok());
    }

    /// The stream uses `conn` to server `s` of backend `b` (at `addr`)
    /// for as long as the guard lives. A stream killed before it got
    /// there loses the connection at once.
    pub fn on_server<'r>(
        &'r self,
        conn: &'r Conn,
        at: (usize, usize),
        addr: Option<SocketAddr>,
    ) -> OnServer<'r, 'a> {
        self.mark_server(conn, at, addr);
        OnServer { reg: self }
    }

    /// [`Registered::on_server`] without its guard, for the TCP stream
    /// whose future has no 8 bytes to spare (`a_stream_stays_small`): the
    /// caller calls [`Registered::unmark_server`] before the connection
    /// goes, with no `.await` in between. (A future dropped on the way
    /// drops the connection and then this registration, with nothing
    /// that could run a kill in between: the core runs one task at a
    /// time.)
    pub fn mark_server(&self, conn: &Conn, (b, s): (usize, usize), addr: Option<SocketAddr>) {
        let fd = conn.as_fd().as_raw_fd();
        let mut killed = false;
        self.update(|e| {
            e.backend = u32::try_from(b).ok();
            e.server = u32::try_from(s).ok();
            e.server_addr = addr;
            e.server_fd = Some(fd);
            killed = e.killed;
        });
        if killed {
            let _ = nix::sys::socket::shutdown(fd, nix::sys::socket::Shutdown::Both);
        }
    }

    /// The stream no longer uses its server connection.
    pub fn unmark_server(&self) {
        if let Ok(mut s) = self.core.streams.try_borrow_mut() {
            if let Some(e) = s.get_mut(self.key) {
                e.server_fd = None;
            }
        }
    }
}

/// See [`Registered::on_server`]: the entry forgets the server's socket
/// when dropped (the server stays shown).
#[derive(Debug)]
pub struct OnServer<'r, 'a> {
    reg: &'r Registered<'a>,
}

impl Drop for OnServer<'_, '_> {
    fn drop(&mut self) {
        self.reg.unmark_server();
    }
}
