//! The indexes of every architecture: `Packages` in apt-ftparchive's bytes,
//! its `.gz` and `.xz`, and the component `Release`; and their digests as the
//! suite Release lists them.
//!
//! Each architecture's indexes are made on a thread of their own, file to
//! file in a temporary directory: `Packages` is written from the stanzas on
//! disk (its SHA-256 taken as it is written), then compressed from that file
//! ([`compress_index`]); no index is ever whole in memory. A compressed index
//! is reused from the published tree when the previous Release proves it (or
//! when it decompresses to exactly the new index); digests are taken from the
//! previous Release when the published file is byte-identical, and such files
//! are marked `identical`: the suite tree keeps them as they are.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use sha2::Digest;

use super::inputs::Input;
use super::previous::Previous;
use super::stanzas::Window;
use super::BuildError;
use crate::compress::{Compression, LimitReader};
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
}

/// One architecture's `Packages`, `Packages.gz` and `Packages.xz`, as files.
struct ArchIndexes {
    arch: String,
    /// `(name, file, digests if known)`.
    files: Vec<(&'static str, PathBuf, Option<Hashes>)>,
}

/// The published compressed indexes a new compression may take from: today
/// the whole file, when it decompresses to exactly the new index.
pub(super) struct PreviousIndex {
    /// The published `Packages.gz`.
    pub gz: PathBuf,
    /// The published `Packages.xz`.
    pub xz: PathBuf,
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
    let built: Vec<Result<ArchIndexes, BuildError>> = std::thread::scope(|sc| {
        let jobs: Vec<_> = opts
            .architectures
            .iter()
            .map(|arch| {
                let dir = scratch.path().join(format!("binary-{arch}"));
                sc.spawn(move || arch_indexes(&opts.component, arch, inputs, previous, &dir))
            })
            .collect();
        jobs.into_iter()
            .map(|j| j.join().expect("index thread"))
            .collect()
    });
    let mut files = BTreeMap::new();
    let mut known = BTreeMap::new();
    for b in built {
        let ArchIndexes { arch, files: made } = b?;
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

/// The Packages index of `arch` (its packages and `all`'s) in `dir`,
/// compressed twice (or the published compressions reused).
fn arch_indexes(
    component: &str,
    arch: &str,
    inputs: &[Input],
    previous: &Previous,
    dir: &Path,
) -> Result<ArchIndexes, BuildError> {
    let rel_dir = format!("{component}/binary-{arch}");
    let err = |name: &str| {
        let path = previous.path(&format!("{rel_dir}/{name}"));
        move |source| BuildError::Index { path, source }
    };
    std::fs::create_dir_all(dir).map_err(err("Packages"))?;
    let plain = dir.join("Packages");
    let sha = write_packages(arch, inputs, &plain).map_err(err("Packages"))?;
    let sha = hex(&sha);
    let reuse = |variant: &str| previous.reusable_compressed(&rel_dir, &sha, variant);
    let (gz, xz) = match (reuse("Packages.gz"), reuse("Packages.xz")) {
        (Some(gz), Some(xz)) => (gz, xz),
        _ => {
            let (gz, xz) = (dir.join("Packages.gz"), dir.join("Packages.xz"));
            let before = PreviousIndex {
                gz: previous.path(&format!("{rel_dir}/Packages.gz")),
                xz: previous.path(&format!("{rel_dir}/Packages.xz")),
            };
            compress_index(&plain, &gz, &xz, Some(before)).map_err(|source| {
                BuildError::Compress {
                    path: previous.path(&format!("{rel_dir}/Packages.xz")),
                    source,
                }
            })?;
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
    })
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

/// Compresses the index `plain` into `gz` and `xz`, file to file (gzip on a
/// thread of its own), deterministically: gzip -9 and xz -6 as
/// [`Compression::compress`] makes them. A published compression in
/// `previous` that decompresses to exactly `plain` is copied instead (xz of a
/// large index is the slowest step of a build).
pub(super) fn compress_index(
    plain: &Path,
    gz: &Path,
    xz: &Path,
    previous: Option<PreviousIndex>,
) -> io::Result<()> {
    let one = |out: &Path, c: Compression, before: Option<&Path>| -> io::Result<()> {
        if let Some(before) = before.filter(|b| decompresses_to(b, c, plain)) {
            std::fs::copy(before, out)?;
            return Ok(());
        }
        let mut input = File::open(plain)?;
        let out = BufWriter::with_capacity(1 << 16, File::create(out)?);
        encode(c, &mut input, out)?.flush()
    };
    let (gz_before, xz_before) = match &previous {
        Some(p) => (Some(p.gz.as_path()), Some(p.xz.as_path())),
        None => (None, None),
    };
    std::thread::scope(|sc| {
        let g = sc.spawn(|| one(gz, Compression::Gzip, gz_before));
        let x = one(xz, Compression::Xz, xz_before);
        g.join().expect("gzip thread").and(x)
    })
}

/// Compresses `input` into `out` with `c` (gzip or xz), in
/// [`Compression::compress`]'s bytes: gzip level 9, mtime 0, no name, OS unix;
/// xz preset 6, CRC64, one thread.
fn encode<W: Write>(c: Compression, input: &mut impl Read, out: W) -> io::Result<W> {
    match c {
        Compression::Gzip => {
            let mut enc = flate2::GzBuilder::new()
                .mtime(0)
                .operating_system(3)
                .write(out, flate2::Compression::best());
            io::copy(input, &mut enc)?;
            enc.finish()
        }
        Compression::Xz => {
            let stream = xz2::stream::Stream::new_easy_encoder(6, xz2::stream::Check::Crc64)
                .map_err(io::Error::other)?;
            let mut enc = xz2::write::XzEncoder::new_stream(out, stream);
            io::copy(input, &mut enc)?;
            enc.finish()
        }
        other => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("indexes are not compressed with {}", other.name()),
        )),
    }
}

/// True if the file `packed` decompresses with `c` to exactly the file `plain`.
fn decompresses_to(packed: &Path, c: Compression, plain: &Path) -> bool {
    let same = || -> io::Result<bool> {
        let (packed, plain) = (File::open(packed)?, File::open(plain)?);
        let len = plain.metadata()?.len();
        let decoded = LimitReader::new(c.decoder(packed)?, len + 1, "index");
        super::previous::same_stream(decoded, plain)
    };
    same().unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::testing::{bytes_of, input, opts, publish_suite};

    fn bytes(ix: &Indexes, rel: &str) -> Vec<u8> {
        bytes_of(&ix.files[rel])
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
        let xz = bytes(&got, "main/binary-amd64/Packages.xz");
        let plain = bytes(&got, "main/binary-amd64/Packages");
        assert_eq!(Compression::Xz.compress(&plain).unwrap(), xz);
        let gz = bytes(&got, "main/binary-amd64/Packages.gz");
        assert_eq!(Compression::Gzip.compress(&plain).unwrap(), gz);
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
        let previous = Previous::read(t.path(), "s", None);
        let again = build(&o, &inputs, &previous).unwrap();
        assert_eq!(bytes(&again, "main/binary-amd64/Packages.gz"), other_gz);
        assert_eq!(
            again.identical,
            published.keys().cloned().collect::<BTreeSet<_>>()
        );
        // amd64 changes; i386 (only `all`) stays as published.
        let changed = [input("aa", "all", b"a"), input("bb", "amd64", b"b2")];
        let next = build(&o, &changed, &previous).unwrap();
        let gz = bytes(&next, "main/binary-amd64/Packages.gz");
        assert_ne!(gz, other_gz);
        assert_eq!(
            gz,
            Compression::Gzip
                .compress(&bytes(&next, "main/binary-amd64/Packages"))
                .unwrap()
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

    #[test]
    fn a_published_compression_of_the_same_content_is_kept() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        const INDEX: &[u8] = b"Package: a\nVersion: 1\nArchitecture: amd64\n\n";
        std::fs::write(d.join("Packages"), INDEX).unwrap();
        // gzip at level 1 with a file name in its header: not elirepo's bytes.
        let mut enc = flate2::GzBuilder::new()
            .filename("Packages")
            .write(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut enc, INDEX).unwrap();
        let theirs = enc.finish().unwrap();
        let ours = Compression::Gzip.compress(INDEX).unwrap();
        assert_ne!(theirs, ours);
        std::fs::write(d.join("old.gz"), &theirs).unwrap();
        let before = || PreviousIndex {
            gz: d.join("old.gz"),
            xz: d.join("missing.xz"),
        };
        let (gz, xz) = (d.join("new.gz"), d.join("new.xz"));
        compress_index(&d.join("Packages"), &gz, &xz, Some(before())).unwrap();
        assert_eq!(std::fs::read(&gz).unwrap(), theirs);
        assert_eq!(
            std::fs::read(&xz).unwrap(),
            Compression::Xz.compress(INDEX).unwrap()
        );
        // Another index: a fresh compression, as one call in memory makes it.
        let other: Vec<u8> = (0..20_000u32)
            .flat_map(|i| format!("Package: p{i}\nVersion: {i}\n\n").into_bytes())
            .collect();
        std::fs::write(d.join("Packages"), &other).unwrap();
        compress_index(&d.join("Packages"), &gz, &xz, Some(before())).unwrap();
        assert_eq!(
            std::fs::read(&gz).unwrap(),
            Compression::Gzip.compress(&other).unwrap()
        );
        assert_eq!(
            std::fs::read(&xz).unwrap(),
            Compression::Xz.compress(&other).unwrap()
        );
        // Nothing published: the same.
        compress_index(&d.join("Packages"), &gz, &xz, None).unwrap();
        assert_eq!(
            std::fs::read(&gz).unwrap(),
            Compression::Gzip.compress(&other).unwrap()
        );
    }
}
