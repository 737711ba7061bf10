//! Per-core pool of fixed-size I/O buffers (`tune.bufsize`), reused
//! most-recently-released first so the hot buffers stay in cache, and
//! capped so a burst does not pin memory forever.

use std::cell::RefCell;

/// Buffers kept for reuse per core; beyond this they are freed.
const MAX_POOLED: usize = 4096;

#[derive(Debug)]
pub struct BufPool {
    size: usize,
    free: RefCell<Vec<Vec<u8>>>,
}

impl BufPool {
    pub fn new(size: usize) -> Self {
        BufPool {
            size: size.max(1024),
            free: RefCell::new(Vec::new()),
        }
    }

    /// The size of every buffer (`tune.bufsize`).
    pub fn size(&self) -> usize {
        self.size
    }

    /// An empty buffer with `size` bytes of capacity.
    pub fn get(&self) -> Vec<u8> {
        self.free
            .borrow_mut()
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(self.size))
    }

    pub fn put(&self, mut buf: Vec<u8>) {
        buf.clear();
        let mut free = self.free.borrow_mut();
        if free.len() < MAX_POOLED && buf.capacity() >= self.size {
            free.push(buf);
        }
    }

    /// Buffers kept for reuse now.
    pub fn pooled(&self) -> usize {
        self.free.borrow().len()
    }

    /// Free every pooled buffer (SIGQUIT, as HAProxy flushes its pools).
    pub fn flush(&self) -> usize {
        let n = self.pooled();
        *self.free.borrow_mut() = Vec::new();
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_the_last_released_buffer() {
        let p = BufPool::new(16384);
        let a = p.get();
        let ptr = a.as_ptr();
        assert_eq!(a.capacity(), 16384);
        p.put(a);
        let b = p.get();
        assert_eq!(b.as_ptr(), ptr, "MRU reuse");
        assert_eq!(p.pooled(), 0);
    }
}
