//! The indexes of every architecture: `Packages` in apt-ftparchive's bytes,
//! its `.gz` and `.xz`, and the component `Release`; and their digests as the
//! suite Release lists them.
//!
//! The architectures are made one after the other, file to file in a temporary
//! directory: `Packages` is written from the stanzas on disk (its SHA-256 taken
//! as it is written), then compressed from that file on every core by
//! [`crate::compress::blocks`] (content-defined chunks: one multi-block `.xz`,
//! one `.gz` member); no index is ever whole in memory, and one architecture's
//! compressors at a time bound the memory. The previous build's `.xz` blocks
//! are reused for unchanged chunks when the previous Release proves the
//! published `Packages` and `Packages.xz`. A compressed index is kept as
//! published when the previous Release proves it was made from exactly the new
//! index; digests are taken from the previous Release when the published file
//! is byte-identical, and such files are marked `identical`: the suite tree
//! keeps them as they are.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use sha2::Digest;

use super::inputs::Input;
use super::previous::Previous;
use super::stanzas::Window;
use super::BuildError;
use crate::compress::blocks::{self, PreviousIndex};
use crate::config::BuildOptions;
use crate::hash::{hex, Hashes};
use crate::publish::Content;
use crate::release;

/// The indexes of a suite, relative to `dists/<suite>/`.
#[derive(Debug, Default)]
pub(super) struct Indexes {
    /// Every index file: a file made in `scratch`, a published one, or bytes.
    pub files: BTreeMap<String, Content>,
    /// Their sizes and digests, as the Release lists them.
    pub listed: BTreeMap<String, Hashes>,
    /// Those proven byte-identical to the published ones: kept, not compared again.
    pub identical: BTreeSet<String>,
    /// The temporary directory the new index files are in (removed when dropped).
    pub scratch: Option<tempfile::TempDir>,
    /// `.xz` blocks taken from the previous build, and compressed by this one.
    pub xz_blocks: (usize, usize),
}

/// One architecture's `Packages`, `Packages.gz` and `Packages.xz`, as files.
struct ArchIndexes {
    arch: String,
    /// `(name, file, digests if known)`.
    files: Vec<(&'static str, PathBuf, Option<Hashes>)>,
    /// `.xz` blocks reused and compressed (none when the published ones are kept).
    xz_blocks: (usize, usize),
}

/// Makes the indexes of every architecture of the suite from `inputs`.
pub(super) fn build(
    opts: &BuildOptions,
    inputs: &[Input],
    previous: &Previous,
) -> Result<Indexes, BuildError> {
    let scratch = tempfile::Builder::new()
        .prefix("elirepo-indexes.")
        .tempdir()
        .map_err(|source| BuildError::Index {
            path: std::env::temp_dir(),
            source,
        })?;
    // One architecture at a time, each compressed on every core: the same
    // wall time as one thread per architecture, half the compressors' memory.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    // The plain indexes, though, all at once: each is a pass over the stanza
    // file and a SHA-256, and all a build with nothing changed makes.
    let plains: Vec<io::Result<[u8; 32]>> = std::thread::scope(|s| {
        let made: Vec<_> = opts
            .architectures
            .iter()
            .map(|arch| {
                let dir = scratch.path().join(format!("binary-{arch}"));
                s.spawn(move || {
                    std::fs::create_dir_all(&dir)?;
                    write_packages(arch, inputs, &dir.join("Packages"))
                })
            })
            .collect();
        made.into_iter()
            .map(|h| h.join().expect("an index thread does not panic"))
            .collect()
    });
    let built = opts.architectures.iter().zip(plains).map(|(arch, sha)| {
        let dir = scratch.path().join(format!("binary-{arch}"));
        arch_indexes(
            &opts.component,
            arch,
            previous,
            (&dir, sha),
            threads,
            opts.xz_preset,
        )
    });
    let mut files = BTreeMap::new();
    let mut known = BTreeMap::new();
    let mut xz_blocks = (0, 0);
    for b in built {
        let ArchIndexes {
            arch,
            files: made,
            xz_blocks: (reused, compressed),
        } = b?;
        xz_blocks = (xz_blocks.0 + reused, xz_blocks.1 + compressed);
        let dir = format!("{}/binary-{arch}", opts.component);
        for (name, path, hashes) in made {
            let rel = format!("{dir}/{name}");
            if let Some(h) = hashes {
                known.insert(rel.clone(), h);
            }
            files.insert(rel, FileOrBytes::File(path));
        }
        let component_release = release::write_component_release(
            &opts.suite,
            opts.origin.as_deref(),
            opts.label.as_deref(),
            &opts.component,
            &arch,
        );
        files.insert(
            format!("{dir}/Release"),
            FileOrBytes::Bytes(component_release),
        );
    }
    let mut indexes = digests(files, known, previous)?;
    indexes.scratch = Some(scratch);
    indexes.xz_blocks = xz_blocks;
    Ok(indexes)
}

/// An index's content before its digests are known.
enum FileOrBytes {
    File(PathBuf),
    Bytes(Vec<u8>),
}

/// The digests of `files`: from the previous Release for those published
/// byte-identical (marked `identical`), else `known` or computed.
fn digests(
    files: BTreeMap<String, FileOrBytes>,
    mut known: BTreeMap<String, Hashes>,
    previous: &Previous,
) -> Result<Indexes, BuildError> {
    let mut indexes = Indexes::default();
    for (rel, content) in files {
        let proven = match &content {
            FileOrBytes::File(p) => previous.known_digests_of_file(&rel, p),
            FileOrBytes::Bytes(b) => previous.known_digests(&rel, b),
        };
        let h = match (proven, known.remove(&rel)) {
            (Some(h), _) => {
                indexes.identical.insert(rel.clone());
                h
            }
            (None, Some(h)) => h,
            (None, None) => match &content {
                FileOrBytes::File(p) => {
                    crate::hash::hash_file(p).map_err(|source| BuildError::Index {
                        path: previous.path(&rel),
                        source,
                    })?
                }
                FileOrBytes::Bytes(b) => Hashes::of_bytes(b),
            },
        };
        let content = match content {
            FileOrBytes::File(p) => Content::File(p, h.clone()),
            FileOrBytes::Bytes(b) => Content::Bytes(b),
        };
        indexes.listed.insert(rel.clone(), h);
        indexes.files.insert(rel, content);
    }
    Ok(indexes)
}

/// The Packages index of `arch` (its packages and `all`'s) in `dir`, written
/// there with the SHA-256 `sha` (or why not) by [`write_packages`],
/// compressed twice (or the published compressions kept), the `.xz` at
/// `xz_preset` (its chunks' dictionary capped by [`blocks::DICT_CAP`]). The
/// published `.xz`, or its blocks, are taken only when the previous build
/// recorded the same preset ([`Previous::xz_preset`]).
fn arch_indexes(
    component: &str,
    arch: &str,
    previous: &Previous,
    (dir, sha): (&Path, io::Result<[u8; 32]>),
    threads: usize,
    xz_preset: u32,
) -> Result<ArchIndexes, BuildError> {
    let rel_dir = format!("{component}/binary-{arch}");
    let err = |name: &str| {
        let path = previous.path(&format!("{rel_dir}/{name}"));
        move |source| BuildError::Index { path, source }
    };
    let plain = dir.join("Packages");
    let sha = hex(&sha.map_err(err("Packages"))?);
    let same_preset = previous.xz_preset == Some(xz_preset);
    let reuse = |variant: &str| previous.reusable_compressed(&rel_dir, &sha, variant);
    let mut xz_blocks = (0, 0);
    let (gz, xz) = match (reuse("Packages.gz"), reuse("Packages.xz")) {
        (Some(gz), Some(xz)) if same_preset => (gz, xz),
        _ => {
            let (gz, xz) = (dir.join("Packages.gz"), dir.join("Packages.xz"));
            let before = proven(previous, &format!("{rel_dir}/Packages")).and_then(|plain| {
                Some(PreviousIndex {
                    plain,
                    xz: proven(previous, &format!("{rel_dir}/Packages.xz"))?,
                    xz_preset: previous.xz_preset?,
                })
            });
            let stats =
                blocks::compress_index(&plain, &gz, &xz, before.as_ref(), threads, xz_preset)
                    .map_err(|source| BuildError::Compress {
                        path: previous.path(&format!("{rel_dir}/Packages.xz")),
                        source,
                    })?;
            xz_blocks = (stats.xz_blocks_reused, stats.xz_blocks_compressed);
            (gz, xz)
        }
    };
    Ok(ArchIndexes {
        arch: arch.to_string(),
        files: vec![
            ("Packages", plain, None),
            ("Packages.gz", gz, None),
            ("Packages.xz", xz, None),
        ],
        xz_blocks,
    })
}

/// The published `rel`, if the previous Release lists it with the size and
/// the SHA-256 the file on disk has: only such a file may lend its blocks
/// (the block compressor checks each reused block against the old plain
/// index; this proves the old plain index and the old `.xz` themselves).
fn proven(previous: &Previous, rel: &str) -> Option<PathBuf> {
    let listed = previous.release()?.files.get(rel)?;
    let want = listed.sha256.as_deref()?;
    let path = previous.path(rel);
    let mut f = File::open(&path).ok()?;
    if f.metadata().ok()?.len() != listed.size {
        return None;
    }
    let mut sha = sha2::Sha256::new();
    io::copy(&mut f, &mut sha).ok()?;
    (hex(&sha.finalize()) == want).then_some(path)
}

/// Writes the stanzas of the packages for `arch`, in `inputs`' (pool path)
/// order, to `out`; returns the file's SHA-256.
fn write_packages(arch: &str, inputs: &[Input], out: &Path) -> io::Result<[u8; 32]> {
    let mut w = BufWriter::with_capacity(1 << 16, File::create(out)?);
    let mut sha = sha2::Sha256::new();
    let mut buf = Vec::with_capacity(1 << 16);
    let mut window = Window::default();
    for inp in inputs.iter().filter(|i| i.is_for(arch)) {
        inp.info.stanza.read_into(&mut window, &mut buf)?;
        if buf.len() >= 1 << 15 {
            sha.update(&buf);
            w.write_all(&buf)?;
            buf.clear();
        }
    }
    sha.update(&buf);
    w.write_all(&buf)?;
    w.flush()?;
    Ok(sha.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::testing::{bytes_of, input, opts, publish_suite};
    use crate::compress::Compression;

    fn bytes(ix: &Indexes, rel: &str) -> Vec<u8> {
        bytes_of(&ix.files[rel])
    }

    fn decoded(c: Compression, packed: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut c.decoder(packed).unwrap(), &mut out).unwrap();
        out
    }

    /// Publishes what `ix` made as generation `gen` of suite `s` (a link to it).
    /// Writes (or, for `None`, removes) suite `s`'s record of its xz preset, as a build does.
    fn record_preset(repo: &Path, preset: Option<u32>) {
        let path = repo.join(super::super::previous::xz_preset_path("s"));
        match preset {
            Some(p) => {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, format!("{p}\n")).unwrap();
            }
            None => std::fs::remove_file(path).unwrap(),
        }
    }

    fn publish(repo: &Path, gen: &str, ix: &Indexes) -> BTreeMap<String, Vec<u8>> {
        let published: BTreeMap<String, Vec<u8>> = ix
            .files
            .iter()
            .map(|(k, c)| (k.clone(), bytes_of(c)))
            .collect();
        let files: Vec<(&str, &[u8])> = published
            .iter()
            .map(|(k, v)| (k.as_str(), &v[..]))
            .collect();
        publish_suite(repo, gen, &files, None, 0);
        record_preset(repo, Some(crate::config::DEFAULT_XZ_PRESET));
        let link = repo.join("dists/s");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(gen, link).unwrap();
        published
    }

    #[test]
    fn each_architecture_gets_its_packages_and_all() {
        let t = tempfile::tempdir().unwrap();
        let inputs = [
            input("aa", "all", b"a"),
            input("bb", "amd64", b"b"),
            input("cc", "i386", b"c"),
        ];
        let got = build(&opts(t.path()), &inputs, &Previous::default()).unwrap();
        let names = |arch: &str| {
            let text = bytes(&got, &format!("main/binary-{arch}/Packages"));
            crate::control::paragraphs(&text)
                .map(|p| p.get_str("Package").to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(names("amd64"), ["aa", "bb"]);
        assert_eq!(names("i386"), ["aa", "cc"]);
        assert_eq!(got.files.len(), 8);
        let plain = bytes(&got, "main/binary-amd64/Packages");
        let (xz, gz) = (
            bytes(&got, "main/binary-amd64/Packages.xz"),
            bytes(&got, "main/binary-amd64/Packages.gz"),
        );
        assert_eq!(decoded(Compression::Xz, &xz), plain);
        assert_eq!(decoded(Compression::Gzip, &gz), plain);
        // The block compressor's bytes, whatever the number of threads.
        let d = t.path().join("one-thread");
        std::fs::create_dir(&d).unwrap();
        std::fs::write(d.join("Packages"), &plain).unwrap();
        let preset = crate::config::DEFAULT_XZ_PRESET;
        blocks::compress_index(
            &d.join("Packages"),
            &d.join("gz"),
            &d.join("xz"),
            None,
            1,
            preset,
        )
        .unwrap();
        assert_eq!(std::fs::read(d.join("xz")).unwrap(), xz);
        assert_eq!(std::fs::read(d.join("gz")).unwrap(), gz);
        assert_eq!(got.xz_blocks, (0, 2));
        assert!(got.identical.is_empty());
        for (rel, content) in &got.files {
            assert_eq!(
                got.listed[rel],
                Hashes::of_bytes(&bytes_of(content)),
                "{rel}"
            );
        }
    }

    #[test]
    fn an_unchanged_suite_is_reused_and_a_changed_index_is_made_again() {
        let t = tempfile::tempdir().unwrap();
        let o = opts(t.path());
        let inputs = [input("aa", "all", b"a"), input("bb", "amd64", b"b")];
        let first = build(&o, &inputs, &Previous::default()).unwrap();
        // Published as they were made, but with other (valid) .gz bytes for amd64,
        // which the Release vouches for.
        let other_gz = {
            let mut enc = flate2::GzBuilder::new()
                .comment("not elirepo's")
                .write(Vec::new(), flate2::Compression::best());
            let plain = bytes(&first, "main/binary-amd64/Packages");
            std::io::Write::write_all(&mut enc, &plain).unwrap();
            enc.finish().unwrap()
        };
        let mut published: BTreeMap<String, Vec<u8>> = first
            .files
            .iter()
            .map(|(k, c)| (k.clone(), bytes_of(c)))
            .collect();
        published.insert("main/binary-amd64/Packages.gz".into(), other_gz.clone());
        let files: Vec<(&str, &[u8])> = published
            .iter()
            .map(|(k, v)| (k.as_str(), &v[..]))
            .collect();
        // As a generation: the Release of a real directory is not trusted for digests.
        publish_suite(t.path(), "s1", &files, None, 0);
        std::os::unix::fs::symlink("s1", t.path().join("dists/s")).unwrap();
        record_preset(t.path(), Some(6));
        let previous = Previous::read(t.path(), "s", None);
        let again = build(&o, &inputs, &previous).unwrap();
        assert_eq!(bytes(&again, "main/binary-amd64/Packages.gz"), other_gz);
        assert_eq!(
            again.identical,
            published.keys().cloned().collect::<BTreeSet<_>>()
        );
        assert_eq!(again.xz_blocks, (0, 0), "nothing compressed");
        // amd64 changes; i386 (only `all`) stays as published.
        let changed = [input("aa", "all", b"a"), input("bb", "amd64", b"b2")];
        let next = build(&o, &changed, &previous).unwrap();
        let gz = bytes(&next, "main/binary-amd64/Packages.gz");
        assert_ne!(gz, other_gz);
        assert_eq!(
            decoded(Compression::Gzip, &gz),
            bytes(&next, "main/binary-amd64/Packages")
        );
        let identical: Vec<_> = next.identical.iter().map(String::as_str).collect();
        assert_eq!(
            identical,
            [
                "main/binary-amd64/Release",
                "main/binary-i386/Packages",
                "main/binary-i386/Packages.gz",
                "main/binary-i386/Packages.xz",
                "main/binary-i386/Release",
            ]
        );
    }

    /// Adding a package recompresses only the chunk it lands in; the rest of the
    /// `.xz` is the published one's blocks, taken only when the previous Release
    /// proves the published `Packages` and `Packages.xz`.
    #[test]
    fn a_new_package_reuses_the_published_blocks_the_release_proves() {
        let t = tempfile::tempdir().unwrap();
        let mut o = opts(t.path());
        o.architectures = vec!["amd64".into()];
        let many: Vec<Input> = (0..3000)
            .map(|i| input(&format!("p{i:05}"), "amd64", format!("{i}").as_bytes()))
            .collect();
        let sorted = |mut v: Vec<Input>| {
            v.sort_by(|a, b| a.pool.cmp(&b.pool));
            v
        };
        let first = build(&o, &many, &Previous::default()).unwrap();
        let (_, fresh) = first.xz_blocks;
        assert!(fresh >= 3, "a big enough index for several blocks: {fresh}");
        publish(t.path(), "s1", &first);
        let mut plus_one: Vec<Input> = (0..3000)
            .map(|i| input(&format!("p{i:05}"), "amd64", format!("{i}").as_bytes()))
            .collect();
        plus_one.push(input("p01500a", "amd64", b"new"));
        let plus_one = sorted(plus_one);
        let previous = Previous::read(t.path(), "s", None);
        let next = build(&o, &plus_one, &previous).unwrap();
        let (reused, compressed) = next.xz_blocks;
        assert!(
            reused >= fresh - 2 && compressed <= 2,
            "reused {reused}, compressed {compressed} of {fresh}"
        );
        let plain = bytes(&next, "main/binary-amd64/Packages");
        let xz = bytes(&next, "main/binary-amd64/Packages.xz");
        assert_eq!(decoded(Compression::Xz, &xz), plain);
        // The same bytes as a build from nothing.
        let scratch = build(&o, &plus_one, &Previous::default()).unwrap();
        assert_eq!(bytes(&scratch, "main/binary-amd64/Packages.xz"), xz);

        // A published .xz the Release does not prove (edited in place, same
        // size): nothing of it is taken.
        let old_xz = t.path().join("dists/s1/main/binary-amd64/Packages.xz");
        let mut damaged = std::fs::read(&old_xz).unwrap();
        let mid = damaged.len() / 2;
        damaged[mid] ^= 0x55;
        std::fs::write(&old_xz, &damaged).unwrap();
        let previous = Previous::read(t.path(), "s", None);
        let again = build(&o, &plus_one, &previous).unwrap();
        assert_eq!(again.xz_blocks.0, 0, "no block of an unproven .xz");
        assert_eq!(bytes(&again, "main/binary-amd64/Packages.xz"), xz);
    }

    /// The published `.xz` and its blocks are taken only when the previous build
    /// recorded the preset this one uses: a block made at another preset would
    /// give other bytes than this preset gives.
    #[test]
    fn the_xz_preset_decides_what_of_the_published_xz_is_taken() {
        let t = tempfile::tempdir().unwrap();
        let mut o = opts(t.path());
        o.architectures = vec!["amd64".into()];
        let inputs = |n: usize| -> Vec<Input> {
            let mut v: Vec<Input> = (0..n)
                .map(|i| input(&format!("p{i:05}"), "amd64", format!("{i}").as_bytes()))
                .collect();
            v.sort_by(|a, b| a.pool.cmp(&b.pool));
            v
        };
        let xz = |ix: &Indexes| bytes(ix, "main/binary-amd64/Packages.xz");
        let first = build(&o, &inputs(3000), &Previous::default()).unwrap();
        let blocks = first.xz_blocks.1;
        publish(t.path(), "s1", &first);

        // Nothing changed, same preset: the published .xz is kept, nothing compressed.
        let previous = Previous::read(t.path(), "s", None);
        assert_eq!(previous.xz_preset, Some(6));
        let same = build(&o, &inputs(3000), &previous).unwrap();
        assert_eq!(same.xz_blocks, (0, 0));

        // Preset 1: every block made again, the bytes of a build from nothing at 1.
        o.xz_preset = 1;
        let fast = build(&o, &inputs(3000), &previous).unwrap();
        assert_eq!(fast.xz_blocks, (0, blocks));
        let scratch = build(&o, &inputs(3000), &Previous::default()).unwrap();
        assert_eq!(xz(&fast), xz(&scratch));
        assert_ne!(xz(&fast), xz(&first), "preset 1 writes other bytes than 6");
        assert_eq!(
            decoded(Compression::Xz, &xz(&fast)),
            bytes(&first, "main/binary-amd64/Packages")
        );

        // One package more at 1 over the suite published at 6: no block reused.
        let grown = build(&o, &inputs(3001), &previous).unwrap();
        assert_eq!(grown.xz_blocks.0, 0);
        let scratch = build(&o, &inputs(3001), &Previous::default()).unwrap();
        assert_eq!(xz(&grown), xz(&scratch));

        // No record (a build killed between its switch and its state, or a
        // repository older than the setting): nothing of the .xz is taken.
        o.xz_preset = 6;
        record_preset(t.path(), None);
        let previous = Previous::read(t.path(), "s", None);
        assert_eq!(previous.xz_preset, None);
        let unknown = build(&o, &inputs(3001), &previous).unwrap();
        assert_eq!(unknown.xz_blocks.0, 0);
        let same = build(&o, &inputs(3000), &previous).unwrap();
        assert_eq!(same.xz_blocks, (0, blocks));
        assert_eq!(xz(&same), xz(&first));
    }
}
