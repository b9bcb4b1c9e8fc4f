//! A small pool of byte buffers shared between threads. The backup pipeline allocates a buffer
//! per chunk and per sealed blob; with the CLI's fixed 1 MiB mmap threshold every such buffer
//! above 1 MiB is a fresh mapping, faulted in page by page and unmapped again. Recycling them
//! removes those page faults and mmap/munmap calls. The pool keeps at most `keep` bytes of
//! capacity; buffers beyond that are freed.

use std::sync::{Mutex, PoisonError};

pub struct BufPool {
    free: Mutex<(Vec<Vec<u8>>, usize)>,
    keep: usize,
}

impl BufPool {
    pub fn new(keep: usize) -> Self {
        Self {
            free: Mutex::new((Vec::new(), 0)),
            keep,
        }
    }

    /// An empty buffer with room for at least `cap` bytes: a pooled one when any is big enough
    /// (else the biggest, grown), a new one when the pool is empty.
    pub fn take(&self, cap: usize) -> Vec<u8> {
        let mut v = {
            let mut g = self.free.lock().unwrap_or_else(PoisonError::into_inner);
            let (list, bytes) = &mut *g;
            let pick = list
                .iter()
                .enumerate()
                .filter(|(_, b)| b.capacity() >= cap)
                .min_by_key(|(_, b)| b.capacity())
                .or_else(|| list.iter().enumerate().max_by_key(|(_, b)| b.capacity()))
                .map(|(i, _)| i);
            match pick {
                Some(i) => {
                    let v = list.swap_remove(i);
                    *bytes -= v.capacity();
                    v
                }
                None => Vec::new(),
            }
        };
        v.clear();
        v.reserve(cap);
        v
    }

    /// Returns a buffer to the pool (or frees it when the pool is full).
    pub fn give(&self, v: Vec<u8>) {
        let mut g = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        let (list, bytes) = &mut *g;
        if *bytes + v.capacity() <= self.keep {
            *bytes += v.capacity();
            list.push(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_and_bounds() {
        let p = BufPool::new(100);
        let mut a = p.take(60);
        a.extend_from_slice(&[1; 60]);
        let ptr = a.as_ptr();
        p.give(a);
        let b = p.take(10);
        assert!(
            b.is_empty() && b.as_ptr() == ptr,
            "the pooled buffer is reused"
        );
        p.give(b);
        p.give(Vec::with_capacity(80)); // over the bound: freed
        assert_eq!(p.free.lock().unwrap().0.len(), 1);
        let c = p.take(200);
        assert!(c.capacity() >= 200);
    }
}
