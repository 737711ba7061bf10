//! Kernel splicing for large flows (`option splice-auto|request|response`):
//! bytes go socket -> pipe -> socket without entering user space.
//!
//! Measured on this machine (engine issue): io_uring's SPLICE op is punted
//! to kernel worker threads and costs more than copying for small messages,
//! while readiness + a direct non-blocking splice(2) through a pipe cost
//! 0.59x HAProxy's CPU on 256 KiB objects. So a direction starts with
//! pooled buffers and switches to splice only once it proved to be a bulk
//! flow (HAProxy's splice-auto idea): two reads in a row that filled the
//! whole buffer.

use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::OwnedFd;

use nix::errno::Errno;
use nix::fcntl::{splice, OFlag, SpliceFFlags};

/// Bytes moved per splice call (a pipe holds 64 KiB by default).
const CHUNK: usize = 64 * 1024;

#[derive(Debug)]
pub struct Pipe {
    r: OwnedFd,
    w: OwnedFd,
}

/// A core's pipes, capped at its share of HAProxy's `maxpipes` (pipes in
/// use and pipes kept for reuse together: each holds two fds of the fd
/// budget). A direction that cannot get one keeps copying through buffers.
#[derive(Debug)]
pub struct PipePool {
    free: RefCell<Vec<Pipe>>,
    /// Pipes lent out now.
    leased: Cell<usize>,
    max: usize,
}

impl PipePool {
    pub fn new(max: usize) -> Self {
        PipePool {
            free: RefCell::new(Vec::new()),
            leased: Cell::new(0),
            max,
        }
    }

    /// A pipe, reused or new; none past the cap (or when pipe2 fails).
    pub fn get(&self) -> Option<Lease<'_>> {
        let reused = self.free.borrow_mut().pop();
        let pipe = match reused {
            Some(p) => p,
            None if self.leased.get() + self.pooled() < self.max => {
                let (r, w) = nix::unistd::pipe2(OFlag::O_NONBLOCK | OFlag::O_CLOEXEC).ok()?;
                Pipe { r, w }
            }
            None => return None,
        };
        self.leased.set(self.leased.get() + 1);
        Some(Lease {
            pool: self,
            pipe: Some(pipe),
        })
    }

    /// Pipes kept for reuse now.
    pub fn pooled(&self) -> usize {
        self.free.borrow().len()
    }

    /// Pipes in use now.
    pub fn leased(&self) -> usize {
        self.leased.get()
    }

    /// Close every pooled pipe (SIGQUIT).
    pub fn flush(&self) -> usize {
        let n = self.pooled();
        *self.free.borrow_mut() = Vec::new();
        n
    }
}

/// A pipe lent by a [`PipePool`]: closed when dropped (it may hold bytes),
/// unless [`recycle`](Lease::recycle)d empty.
#[derive(Debug)]
pub struct Lease<'p> {
    pool: &'p PipePool,
    pipe: Option<Pipe>,
}

impl Lease<'_> {
    /// Give an empty pipe back for reuse.
    pub fn recycle(mut self) {
        if let Some(p) = self.pipe.take() {
            self.pool.free.borrow_mut().push(p);
        }
    }

    /// The pipe (always there: only `recycle`, which consumes the lease,
    /// takes it).
    fn pipe(&self) -> io::Result<&Pipe> {
        self.pipe
            .as_ref()
            .ok_or_else(|| io::Error::from(Errno::EBADF))
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        self.pool
            .leased
            .set(self.pool.leased.get().saturating_sub(1));
    }
}

/// What one splice step did.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    Moved(usize),
    /// The source has nothing now (EAGAIN): wait for readiness.
    WouldBlock,
    Eof,
}

fn flags() -> SpliceFFlags {
    SpliceFFlags::SPLICE_F_MOVE | SpliceFFlags::SPLICE_F_NONBLOCK
}

/// Socket -> pipe, at most `max` bytes (a body's rest).
pub fn fill(from: &impl std::os::fd::AsFd, pipe: &Lease<'_>, max: usize) -> io::Result<Step> {
    match splice(from, None, &pipe.pipe()?.w, None, CHUNK.min(max), flags()) {
        Ok(0) => Ok(Step::Eof),
        Ok(n) => Ok(Step::Moved(n)),
        Err(Errno::EAGAIN) => Ok(Step::WouldBlock),
        Err(e) => Err(e.into()),
    }
}

/// Pipe -> socket.
pub fn drain(pipe: &Lease<'_>, to: &impl std::os::fd::AsFd, len: usize) -> io::Result<Step> {
    match splice(&pipe.pipe()?.r, None, to, None, len, flags()) {
        Ok(n) => Ok(Step::Moved(n)),
        Err(Errno::EAGAIN) => Ok(Step::WouldBlock),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn pipes_are_capped_and_come_back() {
        let pool = PipePool::new(2);
        let a = pool.get().unwrap();
        let b = pool.get().unwrap();
        assert!(pool.get().is_none(), "maxpipes reached");
        assert_eq!(pool.leased(), 2);
        a.recycle();
        assert_eq!((pool.leased(), pool.pooled()), (1, 1));
        // A pooled pipe counts in the cap: it is reused, none is created.
        let c = pool.get().unwrap();
        assert!(pool.get().is_none());
        // A pipe dropped (it may hold bytes) is closed and its slot freed.
        drop(b);
        drop(c);
        assert_eq!((pool.leased(), pool.pooled()), (0, 0));
        assert!(pool.get().is_some());
        assert!(PipePool::new(0).get().is_none());
    }
}
