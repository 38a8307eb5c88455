//! Reading many .debs at once: stat on all cores, answer from the cache what has not changed,
//! read the rest on all cores (largest first), and keep the cache up to date.
//!
//! Each thread parses a .deb as it takes it (seeking over the data member), then hashes it
//! with up to fifteen others: their MD5s side by side in the lanes of
//! [`FileLanes`](crate::hash::lanes::FileLanes), the other digests file by file. A thread
//! takes a new file when a lane frees up; once none is left to take and fewer than
//! [`SCALAR_BELOW`] are being hashed, it ends them one by one with the scalar MD5.

use std::path::PathBuf;

use super::{hash_error, open_parsed, DebError, DebInfo, Parsed, DATA_COMPRESSIONS};
use crate::cache::FileKey;
use crate::compress::Compression;
use crate::control::Paragraph;
use crate::hash::lanes::{FileLanes, SCALAR_BELOW};
use crate::progress::Progress;

/// Reads [`read_info`](super::read_info) of every path on all cores; results come back in
/// input order.
///
/// With a cache, a file whose device, inode, size, mtime and ctime match its entry
/// is not read at all. The others are read largest first, so that one big kernel
/// package does not leave a core idle at the end.
pub fn read_infos(
    paths: &[PathBuf],
    cache: Option<&mut crate::cache::Cache>,
) -> Vec<Result<DebInfo, DebError>> {
    read_infos_with(paths, cache, &mut |_| Progress::none())
}

/// [`read_infos`], adding the bytes read (from every thread) to `progress`.
/// `progress` is called once, with the bytes that really have to be read (cache
/// misses), and counts them as they are read.
pub fn read_infos_with(
    paths: &[PathBuf],
    cache: Option<&mut crate::cache::Cache>,
    progress: &mut dyn FnMut(u64) -> Progress,
) -> Vec<Result<DebInfo, DebError>> {
    let mut results: Vec<Option<Result<DebInfo, DebError>>> = Vec::new();
    results.resize_with(paths.len(), || None);
    for_each_info(paths, cache, progress, &mut |i, r| results[i] = Some(r));
    results
        .into_iter()
        .map(|r| r.expect("every slot is filled"))
        .collect()
}

/// [`read_infos_with`] without holding the results: `each` is called once per
/// path, with its index, on the calling thread, in no particular order (the
/// cache's answers first). Only a few results are in memory at a time.
pub fn for_each_info(
    paths: &[PathBuf],
    mut cache: Option<&mut crate::cache::Cache>,
    progress: &mut dyn FnMut(u64) -> Progress,
    each: &mut dyn FnMut(usize, Result<DebInfo, DebError>),
) {
    // stat every file on all cores: with a warm cache that is most of the work. Only what
    // the cache compares (and the length) is kept, 64 bytes a file.
    let metas: Vec<Option<FileKey>> = std::thread::scope(|s| {
        let chunk = paths.len().div_ceil(2).max(1);
        let parts: Vec<_> = paths
            .chunks(chunk)
            .map(|c| {
                s.spawn(move || {
                    c.iter()
                        .map(|p| std::fs::metadata(p).ok().map(|m| FileKey::of(&m)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|h| h.join().expect("stat thread"))
            .collect()
    });
    let mut known = vec![false; paths.len()];
    // The cache saves its records in the order of `paths`, hits and reads alike.
    let order = cache.as_deref_mut().map(|c| c.reserve_order(paths.len()));
    if let Some(c) = cache.as_deref_mut() {
        for (i, (p, m)) in paths.iter().zip(&metas).enumerate() {
            let Some(m) = m else { continue };
            if let Some(e) = c.get(p, *m) {
                if let (Some(control), Some(data_compression)) = (e.control, tag_compression(e.tag))
                {
                    known[i] = true;
                    c.set_order(p, order.unwrap_or(0) + i as u32);
                    each(
                        i,
                        Ok(DebInfo {
                            control: Paragraph::parse(&control),
                            hashes: e.hashes,
                            data_compression,
                        }),
                    );
                }
            }
        }
    }
    let mut todo: Vec<usize> = (0..paths.len()).filter(|&i| !known[i]).collect();
    drop(known);
    todo.sort_by_key(|&i| std::cmp::Reverse(metas[i].as_ref().map_or(0, |m| m.size())));
    let progress = &progress(
        todo.iter()
            .filter_map(|&i| metas[i].as_ref())
            .map(|m| m.size())
            .sum(),
    );
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(todo.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, Result<DebInfo, DebError>)>(64);
    std::thread::scope(|s| {
        for _ in 0..threads {
            let tx = tx.clone();
            let (todo, next) = (&todo, &next);
            s.spawn(move || {
                let mut lanes = FileLanes::<(usize, Parsed)>::new(progress.clone());
                let mut done = |(i, parsed): (usize, Parsed), r: std::io::Result<_>| {
                    let r = r.map(|h| parsed.with(h)).map_err(|e| DebError {
                        path: paths[i].clone(),
                        kind: hash_error(e),
                    });
                    // The receiver lives until every sender is gone.
                    let _ = tx.send((i, r));
                };
                let mut more = true;
                loop {
                    while more && lanes.has_room() {
                        let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(&i) = todo.get(k) else {
                            more = false;
                            break;
                        };
                        let mut start = lanes.buffer();
                        match open_parsed(&paths[i], &mut start) {
                            Ok(o) => lanes.add((i, o.parsed), o.file, o.len, start, o.eof),
                            Err(e) => {
                                lanes.recycle(start);
                                let _ = tx.send((i, Err(e)));
                            }
                        }
                    }
                    if !more && lanes.busy() < SCALAR_BELOW {
                        lanes.drain(&mut done);
                        break;
                    }
                    // Files of one length end in the same round and may leave every lane
                    // free while files are still to be taken.
                    if !lanes.round(&mut done) && !more {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for (i, r) in rx {
            if let (Some(c), Ok(info), Some(m)) = (cache.as_deref_mut(), &r, &metas[i]) {
                c.insert(
                    &paths[i],
                    *m,
                    info.hashes.clone(),
                    Some(info.control.source().to_vec()),
                    compression_tag(info.data_compression),
                );
                c.set_order(&paths[i], order.unwrap_or(0) + i as u32);
            }
            each(i, r);
        }
    });
}

fn compression_tag(c: Compression) -> u8 {
    DATA_COMPRESSIONS
        .iter()
        .position(|&d| d == c)
        .map_or(0, |i| i as u8 + 1)
}

fn tag_compression(t: u8) -> Option<Compression> {
    DATA_COMPRESSIONS.get((t as usize).checked_sub(1)?).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_files_of_one_length_all_come_back() {
        // Lanes that all end in the same round must not end the thread while files remain.
        let dir = tempfile::tempdir().unwrap();
        let paths: Vec<_> = (0..100)
            .map(|k| {
                let p = dir.path().join(format!("{k:03}.deb"));
                std::fs::write(&p, crate::deb::tests::deb_named(&format!("p{k:03}"))).unwrap();
                p
            })
            .collect();
        let infos = read_infos(&paths, None);
        assert_eq!(infos.len(), 100);
        for (k, r) in infos.into_iter().enumerate() {
            let info = r.unwrap();
            assert_eq!(
                info.control.get("Package").unwrap(),
                format!("p{k:03}").as_bytes()
            );
        }
    }

    #[test]
    fn what_is_kept_of_each_stat_is_small() {
        // 50,000 paths: 3.2 MB of keys where whole std::fs::Metadata took 7.2 MB.
        assert!(std::mem::size_of::<Option<FileKey>>() <= 64);
        assert!(std::mem::size_of::<Option<std::fs::Metadata>>() >= 128);
    }
}
