//! [`AtomicBox`]: an owned box or nothing in one atomic word, the blocking
//! pool's newest idle connection of a shard (src/pool/blocking.rs).
//!
//! Written here rather than taken from crossbeam's `AtomicCell<Option<Box<T>>>`,
//! which swaps as this does but cannot tell whether it holds a box without
//! taking it (its `load` needs `T: Copy`), as the pool's idle count must.

use std::marker::PhantomData;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

/// A `Box<T>` or nothing, put and taken with one atomic swap. Its
/// operations are sequentially consistent, one order with the pool's other
/// atomics (its count of waiters, its generation), on which its wake-ups and
/// `close` rely.
pub(crate) struct AtomicBox<T> {
    ptr: AtomicPtr<T>,
    /// Owns a `T`: dropped with it, and sent or shared only as `T` allows.
    owns: PhantomData<Box<T>>,
}

// SAFETY: a `&AtomicBox<T>` moves a `T` in and out between threads (as a
// `&Mutex<T>` does) and never lends a `&T`, so `T: Send` is all either needs.
unsafe impl<T: Send> Send for AtomicBox<T> {}
unsafe impl<T: Send> Sync for AtomicBox<T> {}

impl<T> AtomicBox<T> {
    pub(crate) const fn new() -> Self {
        AtomicBox {
            ptr: AtomicPtr::new(ptr::null_mut()),
            owns: PhantomData,
        }
    }

    /// Puts `new` in (or nothing), and gives back what was there.
    #[inline(always)]
    pub(crate) fn swap(&self, new: Option<Box<T>>) -> Option<Box<T>> {
        let new = new.map_or(ptr::null_mut(), Box::into_raw);
        let old = self.ptr.swap(new, Ordering::SeqCst);
        // SAFETY: a non-null pointer here came from `Box::into_raw` above,
        // and only the one swap that takes it out of the word returns it,
        // so this box is owned by this caller alone.
        (!old.is_null()).then(|| unsafe { Box::from_raw(old) })
    }

    /// Whether it holds a box now.
    pub(crate) fn is_some(&self) -> bool {
        !self.ptr.load(Ordering::SeqCst).is_null()
    }
}

impl<T> Drop for AtomicBox<T> {
    fn drop(&mut self) {
        drop(self.swap(None));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// Each box put in comes out once, whole, and the last one is dropped
    /// with the cell: many threads swapping at once lose none and free none
    /// twice (run under Miri or a sanitizer it also checks the frees).
    #[test]
    fn boxes_swapped_from_many_threads_come_out_once() {
        let cell = Arc::new(AtomicBox::<(usize, String)>::new());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let cell = cell.clone();
                std::thread::spawn(move || {
                    let mut seen = Vec::new();
                    for i in 0..10_000 {
                        let mine = Box::new((t * 10_000 + i, format!("{t}/{i}")));
                        if let Some(b) = cell.swap(Some(mine)) {
                            assert_eq!(b.1, format!("{}/{}", b.0 / 10_000, b.0 % 10_000));
                            seen.push(b.0);
                        }
                    }
                    seen
                })
            })
            .collect();
        let mut seen: Vec<usize> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        assert!(cell.is_some());
        seen.extend(cell.swap(None).map(|b| b.0));
        assert!(!cell.is_some());
        seen.sort_unstable();
        assert_eq!(seen, (0..40_000).collect::<Vec<_>>());
    }

    /// A box left in the cell is dropped with it.
    #[test]
    fn a_box_left_in_is_dropped_with_the_cell() {
        let kept = Arc::new(());
        let cell = AtomicBox::new();
        assert!(cell.swap(Some(Box::new(kept.clone()))).is_none());
        assert_eq!(Arc::strong_count(&kept), 2);
        drop(cell);
        assert_eq!(Arc::strong_count(&kept), 1);
    }
}
