//! Progress of long work (bytes hashed, copied, decompressed), counted for a front end.
//!
//! This module owns the counter the library advances and the reader that advances
//! it; it does not own how progress is shown (that is the front end's, through
//! [`crate::build::Listener::progress`]), and the library never prints.
//!
//! A [`Progress`] is a cheap, cloneable, thread-safe handle. Work that reads bytes
//! adds them with [`Progress::add`] (or reads through a [`ProgressReader`]); the
//! front end keeps the [`Counter`] and polls it. When every `Progress` handle of a
//! counter is dropped the work is over: the front end sees that as
//! [`Counter::finished`], so an error that unwinds through the work ends the bar
//! too. [`Progress::none`] counts nothing and costs nothing.
//!
//! ```
//! use std::io::Read;
//! let p = elirepo::progress::Progress::new("hashing", 11);
//! let counter = p.counter().unwrap();
//! let mut r = elirepo::progress::ProgressReader::new(&b"hello world"[..], p);
//! std::io::copy(&mut r, &mut std::io::sink()).unwrap();
//! assert_eq!(counter.done(), 11);
//! drop(r);
//! assert!(counter.finished());
//! ```

use std::io::{self, Read, Seek, SeekFrom};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// What a front end reads: the task, its total and how much is done.
#[derive(Debug)]
pub struct Counter {
    task: String,
    total: AtomicU64,
    done: AtomicU64,
    started: Instant,
}

impl Counter {
    /// What is being done, e.g. `reading 450 .deb files`.
    pub fn task(&self) -> &str {
        &self.task
    }
    /// Bytes to go through (0 when unknown).
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }
    /// Bytes gone through so far.
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }
    /// When the work started.
    pub fn started(&self) -> Instant {
        self.started
    }
    /// True once every [`Progress`] handle of this counter is dropped (the caller's
    /// `Arc<Counter>` being the only one left).
    pub fn finished(self: &Arc<Self>) -> bool {
        Arc::strong_count(self) == 1
    }
}

/// A handle that long work advances; see the module documentation.
#[derive(Clone, Default)]
pub struct Progress(Option<Arc<Counter>>);

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            None => f.write_str("Progress(none)"),
            Some(c) => write!(f, "Progress({:?}: {}/{})", c.task, c.done(), c.total()),
        }
    }
}

impl Progress {
    /// A handle that counts nothing.
    pub fn none() -> Progress {
        Progress(None)
    }

    /// A new counter for `task`, `total` bytes (0 when unknown).
    pub fn new(task: impl Into<String>, total: u64) -> Progress {
        Progress(Some(Arc::new(Counter {
            task: task.into(),
            total: AtomicU64::new(total),
            done: AtomicU64::new(0),
            started: Instant::now(),
        })))
    }

    /// The counter, for the front end to poll (`None` for [`Progress::none`]).
    pub fn counter(&self) -> Option<Arc<Counter>> {
        self.0.clone()
    }

    /// `n` more bytes done.
    pub fn add(&self, n: u64) {
        if let Some(c) = &self.0 {
            c.done.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// The total turned out to be `total` bytes.
    pub fn set_total(&self, total: u64) {
        if let Some(c) = &self.0 {
            c.total.store(total, Ordering::Relaxed);
        }
    }
}

/// A reader that adds every byte it reads to a [`Progress`].
///
/// Seeking passes through. Bytes read twice (a header, then the payload after
/// it; a payload decompressed in two passes) count twice, so `done` may pass
/// `total`: front ends clamp it. This keeps a bar moving with the work, where
/// counting only the furthest position would jump to the end when a trailer
/// is read first (as the kernel inspector does).
#[derive(Debug)]
pub struct ProgressReader<R> {
    inner: R,
    progress: Progress,
}

impl<R> ProgressReader<R> {
    /// Counts what is read from `inner` into `progress`.
    pub fn new(inner: R, progress: Progress) -> Self {
        ProgressReader { inner, progress }
    }
    /// The wrapped reader.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for ProgressReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.add(n as u64);
        Ok(n)
    }
}

impl<R: Seek> Seek for ProgressReader<R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.inner.seek(to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn every_byte_read_counts_and_the_work_ends_with_the_last_handle() {
        let p = Progress::new("t", 10);
        let c = p.counter().unwrap();
        let mut r = ProgressReader::new(Cursor::new(vec![7u8; 10]), p);
        let mut buf = [0u8; 4];
        r.seek(SeekFrom::Start(8)).unwrap();
        r.read_exact(&mut [0u8; 2]).unwrap();
        assert_eq!(c.done(), 2);
        r.seek(SeekFrom::Start(0)).unwrap();
        r.read_exact(&mut buf).unwrap();
        assert_eq!(c.done(), 6);
        assert!(!c.finished());
        drop(r);
        assert!(c.finished());
    }

    #[test]
    fn none_counts_nothing_and_clones_share_one_counter() {
        let none = Progress::none();
        none.add(5);
        assert!(none.counter().is_none());
        let p = Progress::new("t", 0);
        let q = p.clone();
        std::thread::scope(|s| {
            s.spawn(|| q.add(3));
            s.spawn(|| p.add(4));
        });
        let c = p.counter().unwrap();
        assert_eq!(c.done(), 7);
        p.set_total(9);
        assert_eq!(c.total(), 9);
    }
}
