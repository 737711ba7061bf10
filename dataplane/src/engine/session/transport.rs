//! The transport of a connection, client side or server side: TCP or UNIX
//! (TLS next), reading into and writing from [`Buffer`]s.
//!
//! Listening sockets too ([`Listening`]): the accept loop accepts through
//! them.
//!
//! This file and `runtime/` are the only places that know the io_uring
//! runtime (compio, a 0.x crate whose managed-buffer API is being
//! redesigned upstream): an upgrade or a replacement touches them alone.
//! The fast paths stay: [`Conn::read_provided`] reads into a buffer the
//! kernel picks from the ring's provided buffers (an idle connection
//! holds none), and [`Conn::readiness`] lets kernel splicing wait for a
//! socket without an io_uring operation.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd};

use compio::buf::{BufResult, IntoInner, IoBuf};
use compio::io::{AsyncRead, AsyncReadManaged, AsyncWriteExt};
use compio::net::{TcpListener, TcpSocket, TcpStream, UnixListener, UnixStream};

use crate::engine::runtime::buffer::Buffer;

/// One connection's transport.
#[derive(Debug)]
pub enum Conn {
    Tcp(TcpStream),
    Unix(UnixStream),
}

/// A listening socket on the ring, TCP or UNIX.
#[derive(Debug)]
pub enum Listening {
    Tcp(TcpListener),
    Unix(UnixListener),
}

impl Listening {
    pub fn from_std_tcp(l: std::net::TcpListener) -> io::Result<Listening> {
        TcpListener::from_std(l).map(Listening::Tcp)
    }

    pub fn from_std_unix(l: std::os::unix::net::UnixListener) -> io::Result<Listening> {
        UnixListener::from_std(l).map(Listening::Unix)
    }

    pub fn is_tcp(&self) -> bool {
        matches!(self, Listening::Tcp(_))
    }

    /// One accept through the ring: the client's transport and, for TCP,
    /// the address accept(2) returned (given even when the client already
    /// reset, where getpeername would fail).
    pub async fn accept(&self) -> io::Result<(Conn, Option<SocketAddr>)> {
        match self {
            Listening::Tcp(l) => l.accept().await.map(|(c, a)| (Conn::Tcp(c), Some(a))),
            Listening::Unix(l) => l.accept().await.map(|(c, _)| (Conn::Unix(c), None)),
        }
    }
}

/// Bytes read into one of the ring's provided buffers; it goes back to
/// the ring when dropped.
#[derive(Debug)]
pub struct Provided(compio::driver::BufferRef);

impl Provided {
    pub fn len(&self) -> usize {
        self.0.buf_len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn bytes(&self) -> &[u8] {
        self.0.as_init()
    }
}

/// Readiness of a socket for kernel splicing (poll, not io_uring reads).
#[derive(Debug)]
pub struct Readiness(compio::runtime::fd::PollFd<socket2::Socket>);

impl Readiness {
    pub async fn read_ready(&self) -> io::Result<()> {
        self.0.read_ready().await
    }

    pub async fn write_ready(&self) -> io::Result<()> {
        self.0.write_ready().await
    }
}

/// Run `$body` with `$s` bound to the stream of whichever transport.
macro_rules! each {
    ($conn:expr, $s:ident => $body:expr) => {
        match $conn {
            Conn::Tcp($s) => $body,
            Conn::Unix($s) => $body,
        }
    };
}

impl Conn {
    /// A socket accepted or inherited by a listener (std, non-blocking
    /// flags as the listener left them), registered with the runtime.
    pub fn from_std_tcp(s: std::net::TcpStream) -> io::Result<Conn> {
        TcpStream::from_std(s).map(Conn::Tcp)
    }

    pub fn from_std_unix(s: std::os::unix::net::UnixStream) -> io::Result<Conn> {
        UnixStream::from_std(s).map(Conn::Unix)
    }

    /// Connect to a UNIX stream socket.
    pub async fn connect_unix(path: &std::path::Path) -> io::Result<Conn> {
        UnixStream::connect(path).await.map(Conn::Unix)
    }

    /// Read what arrives into `buf`'s room (its tail, up to bufsize −
    /// reserve): the bytes read, 0 at EOF or when there is no room. If the
    /// read is dropped before it completes, the buffer is left empty with
    /// no allocation (the runtime keeps it until the kernel is done).
    pub async fn read(&self, buf: &mut Buffer) -> io::Result<usize> {
        if buf.room() == 0 {
            return Ok(0);
        }
        let (v, end) = buf.take_vec();
        let at = v.len();
        let BufResult(res, slice) =
            each!(self, s => { let mut r = s; r.read(v.slice(at..end)).await });
        buf.restore_vec(slice.into_inner());
        res
    }

    /// [`Conn::read`], reading no more than `max` bytes (a body's end:
    /// what follows it is not taken from the socket).
    pub async fn read_max(&self, buf: &mut Buffer, max: usize) -> io::Result<usize> {
        let room = buf.room().min(max);
        if room == 0 {
            return Ok(0);
        }
        let (v, _) = buf.take_vec();
        let at = v.len();
        let BufResult(res, slice) =
            each!(self, s => { let mut r = s; r.read(v.slice(at..at + room)).await });
        buf.restore_vec(slice.into_inner());
        res
    }

    /// Write all the bytes `buf` holds; they are consumed.
    pub async fn write_all(&self, buf: &mut Buffer) -> io::Result<()> {
        let n = buf.len();
        if n == 0 {
            return Ok(());
        }
        // Realigned by take_vec: the pending bytes are the whole vector.
        let (v, _) = buf.take_vec();
        let BufResult(res, v) = each!(self, s => { let mut w = s; w.write_all(v).await });
        buf.restore_vec(v);
        if res.is_ok() {
            buf.consume(n);
        }
        res
    }

    /// Write the first `n` bytes `buf` holds; they are consumed.
    pub async fn write_prefix(&self, buf: &mut Buffer, n: usize) -> io::Result<()> {
        let n = n.min(buf.len());
        if n == 0 {
            return Ok(());
        }
        let (v, _) = buf.take_vec();
        let BufResult(res, slice) =
            each!(self, s => { let mut w = s; w.write_all(v.slice(..n)).await });
        buf.restore_vec(slice.into_inner());
        if res.is_ok() {
            buf.consume(n);
        }
        res
    }

    /// Write all of `v` (an encoded head, a re-framed chunk); the vector
    /// comes back emptied, its allocation kept for the next message.
    pub async fn write_vec(&self, v: Vec<u8>) -> (io::Result<()>, Vec<u8>) {
        if v.is_empty() {
            return (Ok(()), v);
        }
        let BufResult(res, mut v) = each!(self, s => { let mut w = s; w.write_all(v).await });
        v.clear();
        (res, v)
    }

    /// Read into a provided buffer: `None` at EOF. When the ring has none
    /// left the error satisfies [`no_provided_buffer`].
    pub async fn read_provided(&self) -> io::Result<Option<Provided>> {
        let r = each!(self, s => { let mut r = s; r.read_managed(0).await });
        r.map(|b| b.map(Provided))
    }

    /// Write all of a provided buffer, which then goes back to the ring.
    pub async fn write_provided(&self, p: Provided) -> io::Result<()> {
        let BufResult(res, b) = each!(self, s => { let mut w = s; w.write_all(p.0).await });
        drop(b);
        res
    }

    /// Wait until a read would not block (bytes, a FIN or an error wait),
    /// without holding a buffer meanwhile.
    pub async fn read_ready(&self) -> io::Result<()> {
        self.readiness()?.read_ready().await
    }

    /// For kernel splicing: poll readiness of this socket.
    pub fn readiness(&self) -> io::Result<Readiness> {
        each!(self, s => s.to_poll_fd()).map(Readiness)
    }

    /// Pass a FIN on with a plain shutdown(2) (io_uring's SHUTDOWN op is
    /// punted to a worker thread).
    pub fn shutdown_write(&self) {
        let _ = socket2::SockRef::from(self).shutdown(std::net::Shutdown::Write);
    }

    /// Look at what waits in the socket without taking it or blocking:
    /// the bytes a read would return (0 at a FIN), or the error it would
    /// fail with (EAGAIN: nothing yet).
    pub fn peek(&self) -> nix::Result<usize> {
        use nix::sys::socket::{recv, MsgFlags};
        let mut one = [0u8; 1];
        recv(
            std::os::fd::AsRawFd::as_raw_fd(&self.as_fd()),
            &mut one,
            MsgFlags::MSG_PEEK | MsgFlags::MSG_DONTWAIT,
        )
    }

    /// Bytes wait in the receive queue (a FIN alone does not count: once
    /// a direction has ended, its FIN stays readable).
    pub fn has_bytes_to_read(&self) -> bool {
        matches!(self.peek(), Ok(n) if n > 0)
    }

    /// `silent-drop`: leave without telling the client (HAProxy's
    /// tcp_exec_action_silent_drop): the socket goes to TCP repair mode
    /// so that closing it sends nothing; where that is not allowed (no
    /// CAP_NET_ADMIN), its reset leaves with a TTL of 1 so that it dies
    /// on the way. The caller then drops the socket.
    pub fn silent_drop(&self) {
        let repaired =
            nix::sys::socket::setsockopt(self, nix::sys::socket::sockopt::TcpRepair, &1).is_ok();
        if !repaired {
            let sock = socket2::SockRef::from(self);
            let ttl = 1;
            let _ = if self.local_inet().is_some_and(|a| a.is_ipv6()) {
                sock.set_unicast_hops_v6(ttl)
            } else {
                sock.set_ttl_v4(ttl)
            };
            let _ = sock.set_linger(Some(std::time::Duration::ZERO));
        }
    }

    /// The local IP address (none for UNIX).
    pub fn local_inet(&self) -> Option<SocketAddr> {
        match self {
            Conn::Tcp(s) => s.local_addr().ok(),
            Conn::Unix(_) => None,
        }
    }

    /// The peer's IP address (none for UNIX).
    pub fn peer_inet(&self) -> Option<SocketAddr> {
        match self {
            Conn::Tcp(s) => s.peer_addr().ok(),
            Conn::Unix(_) => None,
        }
    }
}

impl AsFd for Listening {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Listening::Tcp(l) => l.as_fd(),
            Listening::Unix(l) => l.as_fd(),
        }
    }
}

impl AsFd for Conn {
    fn as_fd(&self) -> BorrowedFd<'_> {
        each!(self, s => s.as_fd())
    }
}

/// The ring's provided buffers are all in use: the kernel says ENOBUFS,
/// compio says ResourceBusy when it sees the ring empty first.
pub fn no_provided_buffer(e: &io::Error) -> bool {
    e.raw_os_error() == Some(nix::errno::Errno::ENOBUFS as i32)
        || e.kind() == io::ErrorKind::ResourceBusy
}

/// A TCP socket being set up for a server connection (options, source
/// binding) before its connect.
#[derive(Debug)]
pub struct Connecting(TcpSocket);

impl Connecting {
    /// A new socket of `addr`'s family.
    pub async fn new(addr: &SocketAddr) -> io::Result<Connecting> {
        if addr.is_ipv4() {
            TcpSocket::new_v4().await
        } else {
            TcpSocket::new_v6().await
        }
        .map(Connecting)
    }

    pub fn bind_device(&self, name: &[u8]) -> io::Result<()> {
        self.0.bind_device(Some(name))
    }

    pub fn set_reuseaddr(&self, on: bool) -> io::Result<()> {
        self.0.set_reuseaddr(on)
    }

    pub async fn bind(&self, local: SocketAddr) -> io::Result<()> {
        self.0.bind(local).await
    }

    pub async fn connect(self, addr: SocketAddr) -> io::Result<Conn> {
        self.0.connect(addr).await.map(Conn::Tcp)
    }
}

impl AsFd for Connecting {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::io::{Read, Write};

    use super::*;
    use crate::engine::runtime::block_on;

    /// A read fills the buffer up to bufsize − maxrewrite and no further;
    /// a write sends what it holds and empties it.
    #[test]
    fn reads_stop_at_the_reserve_and_writes_drain_the_buffer() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut peer = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (accepted, _) = l.accept().unwrap();
        peer.write_all(&[7u8; 3000]).unwrap();
        block_on(async {
            let conn = Conn::from_std_tcp(accepted).unwrap();
            let mut buf = Buffer::new(2048, 1024);
            let mut got = 0;
            while buf.room() > 0 {
                got += conn.read(&mut buf).await.unwrap();
            }
            assert_eq!((got, buf.len()), (1024, 1024));
            assert_eq!(conn.read(&mut buf).await.unwrap(), 0, "no room: no read");
            buf.consume(24);
            conn.write_all(&mut buf).await.unwrap();
            assert!(buf.is_empty());
            assert!(conn.has_bytes_to_read(), "the rest waits in the socket");
        });
        let mut back = [0u8; 1000];
        peer.read_exact(&mut back).unwrap();
        assert!(back.iter().all(|b| *b == 7));
    }
}
