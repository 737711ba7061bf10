//! Append-only arrays whose elements never move, for the per-server state
//! of servers added at run time (`add server`).
//!
//! The configured servers' state is laid out once at start-up; a backend
//! grows past it one bucket at a time: bucket `k` holds `2^k` slots, allocated whole when a slot in it is first asked for, and never
//! freed nor moved (a `del server` leaves its slot vacant for the next
//! `add server`). A reader gets `&T` with two acquire loads and no lock,
//! so the data path reads an added server as it reads a configured one;
//! growing takes `&self` (a `OnceLock` per bucket: concurrent growers
//! agree on one allocation). Nothing is committed for a backend that
//! never grows but its empty directory (one `OnceLock`).

use std::sync::OnceLock;

/// Slots in the first bucket; each next one doubles (so that a backend
/// given one server commits one slot, and at most as many as it uses are
/// committed unused, as a `Vec` does).
const FIRST: usize = 1;
/// Buckets in a directory.
const BUCKETS: usize = 20;
/// The slots a [`Grow`] can hold (1,048,575): `add server` refuses past
/// it, where memory, not the layout, would be the limit.
pub const CAPACITY: usize = FIRST * ((1 << BUCKETS) - 1);

type Dir<T> = [OnceLock<Box<[T]>>; BUCKETS];

/// See the module.
pub struct Grow<T> {
    dir: OnceLock<Box<Dir<T>>>,
}

impl<T> Default for Grow<T> {
    fn default() -> Self {
        Grow {
            dir: OnceLock::new(),
        }
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Grow<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Slot `i`'s bucket and its place in it (None: past [`CAPACITY`]).
fn locate(i: usize) -> Option<(usize, usize)> {
    if i >= CAPACITY {
        return None;
    }
    let j = i / FIRST + 1;
    let k = usize::try_from(usize::BITS - 1 - j.leading_zeros()).ok()?;
    Some((k, i - FIRST * ((1 << k) - 1)))
}

impl<T> Grow<T> {
    /// Slot `i`, if its bucket was allocated.
    #[inline]
    pub fn get(&self, i: usize) -> Option<&T> {
        let (k, at) = locate(i)?;
        self.dir.get()?.get(k)?.get()?.get(at)
    }

    /// Slot `i`, its bucket (and every bucket before it) allocated with
    /// `make` where missing; None past [`CAPACITY`]. Not for the data
    /// path: it may allocate.
    pub fn grow_to(&self, i: usize, mut make: impl FnMut() -> T) -> Option<&T> {
        let (k, _) = locate(i)?;
        let dir = self
            .dir
            .get_or_init(|| Box::new(std::array::from_fn(|_| OnceLock::new())));
        for (b, bucket) in dir.iter().enumerate().take(k + 1) {
            bucket.get_or_init(|| (0..FIRST << b).map(|_| make()).collect());
        }
        self.get(i)
    }

    /// The slots allocated (buckets are allocated in order).
    pub fn len(&self) -> usize {
        self.buckets().map(<[T]>::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn buckets(&self) -> impl Iterator<Item = &[T]> + Clone {
        self.dir
            .get()
            .into_iter()
            .flat_map(|d| d.iter())
            .map_while(|b| b.get().map(|b| &**b))
    }

    /// Every allocated slot, in order.
    pub fn iter(&self) -> impl Iterator<Item = &T> + Clone {
        self.buckets().flatten()
    }
}

/// Per-slot state: the configured servers' laid out at start-up, then
/// the added ones' in a [`Grow`]. Indexed as the backend's server slots.
pub struct Slots<T> {
    fixed: Box<[T]>,
    added: Grow<T>,
}

impl<T: std::fmt::Debug> std::fmt::Debug for Slots<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T> Default for Slots<T> {
    fn default() -> Self {
        Slots::new(Vec::new())
    }
}

impl<T> From<Vec<T>> for Slots<T> {
    fn from(v: Vec<T>) -> Self {
        Slots::new(v)
    }
}

impl<T> FromIterator<T> for Slots<T> {
    fn from_iter<I: IntoIterator<Item = T>>(it: I) -> Self {
        Slots::new(it.into_iter().collect())
    }
}

impl<T> Slots<T> {
    pub fn new(fixed: Vec<T>) -> Slots<T> {
        Slots {
            fixed: fixed.into_boxed_slice(),
            added: Grow::default(),
        }
    }

    /// The slots laid out at start-up.
    pub fn fixed(&self) -> &[T] {
        &self.fixed
    }

    #[inline]
    pub fn get(&self, i: usize) -> Option<&T> {
        match i.checked_sub(self.fixed.len()) {
            None => self.fixed.get(i),
            Some(a) => self.added.get(a),
        }
    }

    /// Slot `i`, made (with its bucket) where missing: see
    /// [`Grow::grow_to`].
    pub fn grow_to(&self, i: usize, make: impl FnMut() -> T) -> Option<&T> {
        match i.checked_sub(self.fixed.len()) {
            None => self.fixed.get(i),
            Some(a) => self.added.grow_to(a, make),
        }
    }

    /// The slots there are now (laid out and allocated).
    pub fn len(&self) -> usize {
        self.fixed.len() + self.added.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fixed.is_empty() && self.added.is_empty()
    }

    /// The most slots there can be.
    pub fn capacity(&self) -> usize {
        self.fixed.len() + CAPACITY
    }

    pub fn iter(&self) -> Iter<'_, T> {
        Iter {
            added: &self.added,
            cur: self.fixed.iter(),
            next: 0,
        }
    }
}

impl<'a, T> IntoIterator for &'a Slots<T> {
    type Item = &'a T;
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

/// The slots of a [`Slots`] in order: a slice iterator over the
/// configured ones, then over each allocated bucket.
pub struct Iter<'a, T> {
    added: &'a Grow<T>,
    cur: std::slice::Iter<'a, T>,
    /// The bucket after `cur`.
    next: usize,
}

impl<T> std::fmt::Debug for Iter<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Iter").field("next", &self.next).finish()
    }
}

impl<T> Clone for Iter<'_, T> {
    fn clone(&self) -> Self {
        Iter {
            added: self.added,
            cur: self.cur.clone(),
            next: self.next,
        }
    }
}

impl<'a, T> Iterator for Iter<'a, T> {
    type Item = &'a T;

    #[inline]
    fn next(&mut self) -> Option<&'a T> {
        loop {
            if let Some(x) = self.cur.next() {
                return Some(x);
            }
            let bucket = self.added.dir.get()?.get(self.next)?.get()?;
            self.next += 1;
            self.cur = bucket.iter();
        }
    }
}

#[cfg(test)]
impl<T> std::ops::Index<usize> for Slots<T> {
    type Output = T;

    /// Tests' shorthand (the engine uses [`Slots::get`]).
    fn index(&self, i: usize) -> &T {
        match self.get(i) {
            Some(t) => t,
            None => panic!("slot {i} of {}", self.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_double_and_cover_every_slot_once() {
        assert_eq!(locate(0), Some((0, 0)));
        assert_eq!(locate(1), Some((1, 0)));
        assert_eq!(locate(2), Some((1, 1)));
        assert_eq!(locate(3), Some((2, 0)));
        assert_eq!(locate(6), Some((2, 3)));
        assert_eq!(locate(7), Some((3, 0)));
        assert_eq!(
            locate(CAPACITY - 1),
            Some((BUCKETS - 1, (FIRST << (BUCKETS - 1)) - 1))
        );
        assert_eq!(locate(CAPACITY), None);
        let mut seen = (0usize, 0usize);
        for i in 0..10_000 {
            let (k, at) = locate(i).unwrap();
            assert!(at < FIRST << k);
            assert!((k, at) > seen || i == 0, "in order");
            seen = (k, at);
        }
    }

    #[test]
    fn slots_grow_without_moving() {
        let s: Slots<u32> = vec![1, 2].into();
        assert_eq!((s.len(), s.get(2)), (2, None));
        let mut n = 100;
        let first = s.grow_to(2, || {
            n += 1;
            n
        });
        assert_eq!(first, Some(&101));
        assert_eq!(s.len(), 3, "one slot for one server");
        let at = std::ptr::from_ref(s.get(2).unwrap());
        // Slot 2 + 5 is in bucket 2: bucket 1 comes with it.
        assert!(s.grow_to(7, || 0).is_some());
        assert_eq!(s.len(), 2 + 1 + 2 + 4);
        assert_eq!(std::ptr::from_ref(s.get(2).unwrap()), at, "did not move");
        assert_eq!(s.iter().count(), s.len());
        assert_eq!((&s).into_iter().count(), s.len());
        assert_eq!(s.iter().take(3).copied().collect::<Vec<_>>(), [1, 2, 101]);
        assert!(s.grow_to(s.capacity(), || 0).is_none());
        assert!(s.get(s.capacity()).is_none());
    }
}
