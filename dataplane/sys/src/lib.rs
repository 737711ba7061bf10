//! The syscall room: the only crate of ringlb allowed to use `unsafe`
//! (every other crate is `#![forbid(unsafe_code)]`). Each function wraps
//! one system call no safe crate offers (socket2, nix, compio cover the
//! rest), and each `unsafe` block says why it is sound.
#![allow(unsafe_code)]

use std::collections::BTreeSet;
use std::io;
use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd, RawFd};
// Start-up only (adopting `fd@N` listeners), never the data path.
#[allow(clippy::disallowed_types)]
use std::sync::Mutex;

/// File descriptors already adopted: adopting one twice would give two
/// owners and a double close. Start-up only, never on the data path.
#[allow(clippy::disallowed_types)]
static ADOPTED: Mutex<BTreeSet<RawFd>> = Mutex::new(BTreeSet::new());

/// Take ownership of an inherited listening socket (`bind fd@N`), after
/// checking that `fd` is open, is a socket and is listening.
pub fn adopt_listener_fd(fd: RawFd) -> io::Result<OwnedFd> {
    if fd < 3 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("fd@{fd} is a standard stream, not a listening socket"),
        ));
    }
    let mut adopted = ADOPTED
        .lock()
        .map_err(|_| io::Error::other("fd registry poisoned"))?;
    if adopted.contains(&fd) {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("fd@{fd} is used by two bind lines"),
        ));
    }
    // SAFETY: the borrow lives only for this call; F_GETFD on a closed or
    // foreign fd number fails with EBADF and touches nothing.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    nix::fcntl::fcntl(borrowed, nix::fcntl::FcntlArg::F_GETFD)
        .map_err(|e| io::Error::other(format!("fd@{fd} is not open: {e}")))?;
    let sock = socket2::SockRef::from(&borrowed);
    let listening = sock
        .is_listener()
        .map_err(|e| io::Error::other(format!("fd@{fd} is not a socket: {e}")))?;
    if !listening {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("fd@{fd} is not a listening socket"),
        ));
    }
    adopted.insert(fd);
    // SAFETY: `fd` is open (F_GETFD succeeded), is a listening socket, was
    // inherited from our parent for this purpose, and the registry above
    // guarantees we create exactly one owner for it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// An integer socket option neither socket2 nor nix offers
/// (`TCP_DEFER_ACCEPT`, `TCP_FASTOPEN` on a listener).
pub fn set_int_sockopt(fd: BorrowedFd<'_>, level: i32, name: i32, value: i32) -> io::Result<()> {
    let len = nix::libc::socklen_t::try_from(std::mem::size_of::<i32>())
        .map_err(|_| io::Error::other("socklen overflow"))?;
    // SAFETY: `fd` is a borrowed open descriptor for the whole call, and
    // the option value points to a live i32 whose exact size is passed.
    let r = unsafe {
        nix::libc::setsockopt(
            std::os::fd::AsRawFd::as_raw_fd(&fd),
            level,
            name,
            std::ptr::from_ref(&value).cast(),
            len,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Disconnect a socket: connect(2) to an `AF_UNSPEC` address. On a TCP
/// listener this is how HAProxy pauses it (tcp_suspend_receiver): the
/// socket leaves LISTEN and its SO_REUSEPORT group and wakes whoever waits
/// on it, yet stays bound, and listen(2) resumes it. shutdown(2) does the
/// same but leaves the shutdown flags set, and every connection accepted
/// after a resume would inherit them (reads end at once).
pub fn disconnect(fd: BorrowedFd<'_>) -> io::Result<()> {
    let addr = nix::libc::sockaddr {
        sa_family: nix::libc::sa_family_t::try_from(nix::libc::AF_UNSPEC)
            .map_err(|_| io::Error::other("AF_UNSPEC overflow"))?,
        sa_data: [0; 14],
    };
    let len = nix::libc::socklen_t::try_from(std::mem::size_of::<nix::libc::sockaddr>())
        .map_err(|_| io::Error::other("socklen overflow"))?;
    // SAFETY: `fd` is a borrowed open descriptor for the whole call, and
    // the address points to a live sockaddr whose exact size is passed.
    let r = unsafe {
        nix::libc::connect(
            std::os::fd::AsRawFd::as_raw_fd(&fd),
            std::ptr::from_ref(&addr),
            len,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::{AsFd, AsRawFd, IntoRawFd};

    use super::*;

    #[test]
    fn adopts_a_listening_socket_once_and_refuses_the_rest() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let fd = l.into_raw_fd();
        let owned = adopt_listener_fd(fd).unwrap();
        assert_eq!(owned.as_raw_fd(), fd);
        // A second bind line on the same fd would make a second owner.
        let again = adopt_listener_fd(fd).unwrap_err();
        assert_eq!(again.kind(), io::ErrorKind::AlreadyExists);
        // Standard streams, closed fds, non-sockets, non-listening sockets.
        assert!(adopt_listener_fd(1).is_err());
        assert!(adopt_listener_fd(1_000_000).is_err());
        let file = std::fs::File::open("/dev/null").unwrap();
        assert!(adopt_listener_fd(file.as_raw_fd()).is_err());
        let unbound = TcpStream::connect(addr).unwrap();
        assert!(adopt_listener_fd(unbound.as_raw_fd()).is_err());
        drop(owned);
    }

    #[test]
    fn sets_an_integer_socket_option() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        set_int_sockopt(
            l.as_fd(),
            nix::libc::SOL_SOCKET,
            nix::libc::SO_RCVBUF,
            65536,
        )
        .unwrap();
        // Linux doubles the value it was given.
        let got = socket2::SockRef::from(&l).recv_buffer_size().unwrap();
        assert_eq!(got, 131_072);
        assert!(set_int_sockopt(l.as_fd(), nix::libc::IPPROTO_TCP, -1, 1).is_err());
    }

    /// A listener bound to an explicit port (as ringlb's are) beside a
    /// holder of that port that does not listen (SO_REUSEPORT both).
    fn explicit_listener() -> (socket2::Socket, TcpListener, std::net::SocketAddr) {
        let reuse = |s: &socket2::Socket| {
            s.set_reuse_port(true).unwrap();
            s.set_reuse_address(true).unwrap();
        };
        let hold =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        reuse(&hold);
        hold.bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
        let addr = hold.local_addr().unwrap().as_socket().unwrap();
        let l = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        reuse(&l);
        l.bind(&addr.into()).unwrap();
        l.listen(8).unwrap();
        (hold, l.into(), addr)
    }

    /// A disconnected listener refuses clients and accepts again after
    /// listen(2), on the same port, and what it accepts then reads
    /// normally (a shutdown(2) pause would leave the accepted sockets at
    /// EOF). (A socket bound to port 0 would get a new port at listen(2).)
    #[test]
    fn a_disconnected_listener_listens_again() {
        use std::io::{Read, Write};
        let (_hold, l, addr) = explicit_listener();
        disconnect(l.as_fd()).unwrap();
        let refused = TcpStream::connect(addr).unwrap_err();
        assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);
        nix::sys::socket::listen(&l, nix::sys::socket::Backlog::new(8).unwrap()).unwrap();
        let mut c = TcpStream::connect(addr).unwrap();
        c.write_all(b"hi").unwrap();
        let (mut s, _) = l.accept().unwrap();
        let mut got = [0u8; 2];
        s.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"hi");
    }
}
