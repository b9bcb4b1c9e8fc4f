//! Rate limits (`limits.upload_mib_per_sec`, `download_mib_per_sec`, `read_mib_per_sec`): a
//! token bucket shared by every thread, and a backend wrapper that charges what each request
//! moves. A caller reserves the time its bytes take at the limit and waits until that time has
//! passed, so over any stretch longer than the burst the rate never exceeds the limit, however
//! many threads upload at once and however large each object is.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use vger_types::Result;

use crate::{Backend, ObjectMeta, SourceRange, Spooled};

/// How much may go at once after a pause: a quarter of a second at the limit.
const BURST: Duration = Duration::from_millis(250);

/// A limit of `bytes_per_sec`, shared by everything that charges it.
#[derive(Debug)]
pub struct RateLimit {
    bytes_per_sec: u64,
    /// When the bytes charged so far will have gone at the limit.
    free_at: Mutex<Instant>,
}

impl RateLimit {
    /// `None` for 0 (no limit).
    pub fn new(bytes_per_sec: u64) -> Option<Self> {
        (bytes_per_sec > 0).then(|| RateLimit {
            bytes_per_sec,
            free_at: Mutex::new(Instant::now()),
        })
    }

    pub fn bytes_per_sec(&self) -> u64 {
        self.bytes_per_sec
    }

    /// Charges `bytes` and waits until they fit under the limit.
    pub fn take(&self, bytes: u64) {
        let until = self.reserve(bytes, Instant::now());
        let now = Instant::now();
        if until > now {
            std::thread::sleep(until - now);
        }
    }

    /// Reserves the time `bytes` take and returns when the caller may go on: once they are
    /// paid for, less the burst an idle limit allows.
    fn reserve(&self, bytes: u64, now: Instant) -> Instant {
        let cost = Duration::from_secs_f64(bytes as f64 / self.bytes_per_sec as f64);
        let mut free_at = self.free_at.lock().unwrap_or_else(|e| e.into_inner());
        // Idle time earns at most the burst.
        let start = (*free_at).max(now.checked_sub(BURST).unwrap_or(now));
        *free_at = start + cost;
        (*free_at).checked_sub(BURST).unwrap_or(*free_at)
    }
}

/// A backend whose uploads and downloads are held to their limits.
pub struct Throttled {
    inner: Box<dyn Backend>,
    up: Option<RateLimit>,
    down: Option<RateLimit>,
}

impl Throttled {
    /// `inner` itself when neither limit is set.
    pub fn wrap(inner: Box<dyn Backend>, up: u64, down: u64) -> Box<dyn Backend> {
        match (RateLimit::new(up), RateLimit::new(down)) {
            (None, None) => inner,
            (up, down) => Box::new(Throttled { inner, up, down }),
        }
    }

    fn sent(&self, bytes: usize) {
        if let Some(l) = &self.up {
            l.take(bytes as u64);
        }
    }

    fn received(&self, bytes: usize) {
        if let Some(l) = &self.down {
            l.take(bytes as u64);
        }
    }
}

impl Backend for Throttled {
    fn get(&self, key: &str) -> Result<Vec<u8>> {
        let data = self.inner.get(key)?;
        self.received(data.len());
        Ok(data)
    }
    fn get_range(&self, key: &str, offset: u64, len: u64) -> Result<Vec<u8>> {
        let data = self.inner.get_range(key, offset, len)?;
        self.received(data.len());
        Ok(data)
    }
    fn get_range_into(&self, key: &str, offset: u64, len: u64, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.get_range_into(key, offset, len, buf)?;
        self.received(buf.len());
        Ok(())
    }
    fn get_range_cached(&self, key: &str, offset: u64, len: u64) -> Result<Vec<u8>> {
        let data = self.inner.get_range_cached(key, offset, len)?;
        self.received(data.len());
        Ok(data)
    }
    fn retain_cached(&self, prefix: &str, keep: &dyn Fn(&str) -> bool) {
        self.inner.retain_cached(prefix, keep)
    }
    fn put_new(&self, key: &str, data: &[u8]) -> Result<()> {
        self.sent(data.len());
        self.inner.put_new(key, data)
    }
    fn spool(&self, dir: &str, token: &[u8; 16]) -> Result<Spooled> {
        self.inner.spool(dir, token)
    }
    fn put_spooled(&self, key: &str, spool: Spooled) -> Result<()> {
        self.sent(spool.len() as usize);
        self.inner.put_spooled(key, spool)
    }
    fn parallel_writes(&self) -> usize {
        self.inner.parallel_writes()
    }
    fn parallel_reads(&self) -> usize {
        self.inner.parallel_reads()
    }
    fn can_assemble(&self) -> bool {
        self.inner.can_assemble()
    }
    fn assemble(&self, head: &[u8], ranges: &[SourceRange], tail: &[u8]) -> Result<Option<String>> {
        // The host copies the ranges itself: only the head and tail cross the link.
        self.sent(head.len() + tail.len());
        self.inner.assemble(head, ranges, tail)
    }
    fn verify_packs(&self, keys: &[String]) -> Result<Option<Vec<Option<String>>>> {
        self.inner.verify_packs(keys)
    }
    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        self.inner.list(prefix)
    }
    fn list_meta(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        self.inner.list_meta(prefix)
    }
    fn remove_debris(&self, age: Duration) -> Result<usize> {
        self.inner.remove_debris(age)
    }
    fn destroy(&self) -> Result<()> {
        self.inner.destroy()
    }
    fn size(&self, key: &str) -> Result<Option<u64>> {
        self.inner.size(key)
    }
    fn delete(&self, key: &str) -> Result<()> {
        self.inner.delete(key)
    }
    fn is_empty(&self) -> Result<bool> {
        self.inner.is_empty()
    }
    fn create(&self) -> Result<()> {
        self.inner.create()
    }
    fn location(&self) -> &str {
        self.inner.location()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_follow_the_limit_from_the_first_byte_after_the_burst() {
        let l = RateLimit::new(1000).unwrap();
        let t0 = *l.free_at.lock().unwrap();
        // 1000 bytes at 1000 B/s: one second, of which the burst is free.
        let first = l.reserve(1000, t0);
        assert_eq!(first, t0 + Duration::from_millis(750));
        // Back to back: each further 500 bytes costs half a second more.
        assert_eq!(l.reserve(500, t0), t0 + Duration::from_millis(1250));
        assert_eq!(l.reserve(500, t0), t0 + Duration::from_millis(1750));
    }

    #[test]
    fn idle_time_earns_no_more_than_the_burst() {
        let l = RateLimit::new(1000).unwrap();
        let t0 = *l.free_at.lock().unwrap();
        let later = t0 + Duration::from_secs(60);
        // After a minute idle, 2000 bytes still take two seconds less the burst.
        assert_eq!(
            l.reserve(2000, later),
            later - BURST + Duration::from_secs(2) - BURST
        );
    }

    #[test]
    fn many_threads_share_one_limit() {
        let l = std::sync::Arc::new(RateLimit::new(4 << 20).unwrap());
        let started = Instant::now();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let l = l.clone();
                std::thread::spawn(move || {
                    for _ in 0..4 {
                        l.take(256 << 10);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        // 4 MiB at 4 MiB/s: at least a second less the burst, whatever the scheduling.
        assert!(
            started.elapsed() >= Duration::from_millis(740),
            "{:?}",
            started.elapsed()
        );
    }
}
