//! The syscall room: the only module of this crate allowed to use `unsafe`
//! (the crate is `#![deny(unsafe_code)]`). Everything else goes through
//! safe wrappers (socket2, nix, compio).
#![allow(unsafe_code)]

use std::collections::BTreeSet;
use std::io;
use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Mutex;

/// File descriptors already adopted: adopting one twice would give two
/// owners and a double close. Start-up only, never on the data path.
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
