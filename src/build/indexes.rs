//! The indexes of every architecture: `Packages` in apt-ftparchive's bytes,
//! its `.gz` and `.xz`, and the component `Release`; and their digests as the
//! suite Release lists them.
//!
//! Each architecture's indexes are made on a thread of their own. A compressed
//! index is reused from the published tree when the previous Release proves it
//! (or when it decompresses to exactly the new index); digests are taken from
//! the previous Release when the published file is byte-identical, and such
//! files are marked `identical`: the suite tree keeps them as they are.

use std::collections::{BTreeMap, BTreeSet};

use sha2::Digest;

use super::inputs::Input;
use super::previous::Previous;
use super::BuildError;
use crate::compress::Compression;
use crate::config::BuildOptions;
use crate::hash::{hex, Hashes};
use crate::index::{write_stanza, Overrides, StanzaOptions};
use crate::release;

/// The indexes of a suite, relative to `dists/<suite>/`.
#[derive(Debug, Default)]
pub(super) struct Indexes {
    /// Every index file, with its bytes.
    pub files: BTreeMap<String, Vec<u8>>,
    /// Their sizes and digests, as the Release lists them.
    pub listed: BTreeMap<String, Hashes>,
    /// Those proven byte-identical to the published ones: kept, not compared again.
    pub identical: BTreeSet<String>,
}

/// One architecture's `Packages`, `Packages.gz` and `Packages.xz`.
struct ArchIndexes {
    arch: String,
    packages: Vec<u8>,
    gz: Vec<u8>,
    xz: Vec<u8>,
}

/// Makes the indexes of every architecture of the suite from `inputs`.
pub(super) fn build(
    opts: &BuildOptions,
    inputs: &[Input],
    previous: &Previous,
) -> Result<Indexes, BuildError> {
    let built: Vec<Result<ArchIndexes, BuildError>> = std::thread::scope(|sc| {
        let jobs: Vec<_> = opts
            .architectures
            .iter()
            .map(|arch| sc.spawn(move || arch_indexes(&opts.component, arch, inputs, previous)))
            .collect();
        jobs.into_iter()
            .map(|j| j.join().expect("index thread"))
            .collect()
    });
    let mut files = BTreeMap::new();
    for b in built {
        let ArchIndexes {
            arch,
            packages,
            gz,
            xz,
        } = b?;
        let dir = format!("{}/binary-{arch}", opts.component);
        files.insert(format!("{dir}/Packages"), packages);
        files.insert(format!("{dir}/Packages.gz"), gz);
        files.insert(format!("{dir}/Packages.xz"), xz);
        files.insert(
            format!("{dir}/Release"),
            release::write_component_release(
                &opts.suite,
                opts.origin.as_deref(),
                opts.label.as_deref(),
                &opts.component,
                &arch,
            ),
        );
    }
    Ok(digests(files, previous))
}

/// The digests of `files`: from the previous Release for those published
/// byte-identical (marked `identical`), else computed.
fn digests(files: BTreeMap<String, Vec<u8>>, previous: &Previous) -> Indexes {
    let mut identical = BTreeSet::new();
    let listed = files
        .iter()
        .map(|(p, b)| {
            let h = match previous.known_digests(p, b) {
                Some(h) => {
                    identical.insert(p.clone());
                    h
                }
                None => Hashes::of_bytes(b),
            };
            (p.clone(), h)
        })
        .collect();
    Indexes {
        files,
        listed,
        identical,
    }
}

/// The Packages index of `arch` (its packages and `all`'s), compressed twice.
fn arch_indexes(
    component: &str,
    arch: &str,
    inputs: &[Input],
    previous: &Previous,
) -> Result<ArchIndexes, BuildError> {
    let packages = packages_index(arch, inputs);
    let dir = format!("{component}/binary-{arch}");
    let sha = hex(&sha2::Sha256::digest(&packages));
    let reuse = |variant: &str| previous.reusable_compressed(&dir, &sha, variant);
    let compress = |variant: &str, c: Compression| {
        let rel = format!("{dir}/{variant}");
        previous
            .compressed(&rel, &packages, c)
            .map_err(|source| BuildError::Compress {
                path: previous.path(&rel),
                source,
            })
    };
    let (gz, xz) = match (reuse("Packages.gz"), reuse("Packages.xz")) {
        (Some(gz), Some(xz)) => (gz, xz),
        _ => {
            let (gz, xz) = std::thread::scope(|inner| {
                let gz = inner.spawn(|| compress("Packages.gz", Compression::Gzip));
                let xz = compress("Packages.xz", Compression::Xz);
                (gz.join().expect("gzip thread"), xz)
            });
            (gz?, xz?)
        }
    };
    Ok(ArchIndexes {
        arch: arch.to_string(),
        packages,
        gz,
        xz,
    })
}

/// The stanzas of the packages for `arch`, in `inputs`' (pool path) order.
fn packages_index(arch: &str, inputs: &[Input]) -> Vec<u8> {
    // One allocation: growing a multi-megabyte index by doubling
    // copies it again and again, faulting in fresh pages each time.
    let estimate: usize = inputs
        .iter()
        .map(|i| i.info.control.source().len() + 512)
        .sum();
    let mut packages = Vec::with_capacity(estimate);
    let (stanza_opts, no_overrides) = (StanzaOptions::default(), Overrides::default());
    for inp in inputs.iter().filter(|i| i.is_for(arch)) {
        write_stanza(
            &mut packages,
            &inp.info.control,
            &inp.info.hashes,
            inp.pool.as_os_str().as_encoded_bytes(),
            &stanza_opts,
            &no_overrides,
            Some(arch),
        );
    }
    packages
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::testing::{input, opts, publish_suite};

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
            crate::control::paragraphs(&got.files[&format!("main/binary-{arch}/Packages")])
                .map(|p| p.get_str("Package"))
                .collect::<Vec<_>>()
        };
        assert_eq!(names("amd64"), ["aa", "bb"]);
        assert_eq!(names("i386"), ["aa", "cc"]);
        assert_eq!(got.files.len(), 8);
        let xz = &got.files["main/binary-amd64/Packages.xz"];
        assert_eq!(
            Compression::Xz
                .compress(&got.files["main/binary-amd64/Packages"])
                .unwrap(),
            *xz
        );
        assert!(got.identical.is_empty());
        for (rel, bytes) in &got.files {
            assert_eq!(got.listed[rel], Hashes::of_bytes(bytes), "{rel}");
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
            let plain = &first.files["main/binary-amd64/Packages"];
            std::io::Write::write_all(&mut enc, plain).unwrap();
            enc.finish().unwrap()
        };
        let mut published = first.files.clone();
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
        assert_eq!(again.files["main/binary-amd64/Packages.gz"], other_gz);
        assert_eq!(
            again.identical,
            published.keys().cloned().collect::<BTreeSet<_>>()
        );
        // amd64 changes; i386 (only `all`) stays as published.
        let changed = [input("aa", "all", b"a"), input("bb", "amd64", b"b2")];
        let next = build(&o, &changed, &previous).unwrap();
        let gz = &next.files["main/binary-amd64/Packages.gz"];
        assert_ne!(*gz, other_gz);
        assert_eq!(
            *gz,
            Compression::Gzip
                .compress(&next.files["main/binary-amd64/Packages"])
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
}
