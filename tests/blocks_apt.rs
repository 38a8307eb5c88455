//! A real `apt-get update` reads the multi-block `Packages.xz` and the sync-flushed
//! `Packages.gz` that `elirepo::compress::blocks::compress_index` writes, first built and
//! rebuilt with one package added (reusing the previous blocks).
//!
//! The repository is laid out by hand here (one index, an unsigned Release, `[trusted=yes]`),
//! so that apt must fetch exactly the compressed file under test: the Release lists only that
//! one. The e2e tests cover `elirepo build` itself once the build writes these files.
//!
//! A missing apt skips, unless `ELIREPO_REQUIRE_TOOLS=1`.

mod common;

use std::fs;
use std::path::Path;

use common::apt::Apt;
use common::{both, have_tools, sha256_hex, tempdir, text};
use elirepo::compress::blocks::{compress_index, IndexStats, PreviousIndex};

/// Stanza `i`, ~600 bytes, pseudo-random digests.
fn stanza(i: u64) -> String {
    let mut x = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut hex = |n: usize| -> String {
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                char::from(b"0123456789abcdef"[(x & 15) as usize])
            })
            .collect()
    };
    let name = format!("blk-{i}");
    format!(
        "Package: {name}\nArchitecture: amd64\nVersion: 1.{i}\n\
         Maintainer: T <t@example.org>\nInstalled-Size: 1\n\
         Filename: pool/main/b/{name}/{name}_1.{i}_amd64.deb\nSize: {}\n\
         MD5sum: {}\nSHA1: {}\nSHA256: {}\nSHA512: {}\n\
         Description: package {i}\n A package of the blocks test.\n\n",
        500 + i,
        hex(32),
        hex(40),
        hex(64),
        hex(128)
    )
}

/// Writes `dists/s/main/binary-amd64/Packages{,.gz,.xz}` for `names` under `repo`, and a
/// Release listing only `Packages<suffix>`.
fn write_repo(
    repo: &Path,
    names: &[u64],
    suffix: &str,
    previous: Option<&PreviousIndex>,
) -> IndexStats {
    let dir = repo.join("dists/s/main/binary-amd64");
    fs::create_dir_all(&dir).unwrap();
    let plain: String = names.iter().map(|&i| stanza(i)).collect();
    fs::write(dir.join("Packages"), plain).unwrap();
    let stats = compress_index(
        &dir.join("Packages"),
        &dir.join("Packages.gz"),
        &dir.join("Packages.xz"),
        previous,
        2,
        6,
    )
    .unwrap();
    // Release lists the plain index (as Debian's do) and the one compressed file under
    // test; the plain file is then removed, so apt must fetch and decompress that one.
    let entry = |name: &str| {
        let bytes = fs::read(dir.join(name)).unwrap();
        format!(
            " {} {} main/binary-amd64/{name}\n",
            sha256_hex(&bytes),
            bytes.len()
        )
    };
    fs::write(
        repo.join("dists/s/Release"),
        format!(
            "Origin: t\nLabel: t\nSuite: s\nCodename: s\n\
             Date: Thu, 01 Jan 2026 00:00:00 UTC\nArchitectures: amd64\nComponents: main\n\
             SHA256:\n{}{}",
            entry("Packages"),
            entry(&format!("Packages{suffix}"))
        ),
    )
    .unwrap();
    let other = if suffix == ".xz" { ".gz" } else { ".xz" };
    fs::rename(
        dir.join(format!("Packages{other}")),
        dir.join(format!("kept{other}")),
    )
    .unwrap();
    fs::rename(dir.join("Packages"), dir.join("kept")).unwrap();
    stats
}

/// `apt-get update`, then the packages apt knows, sorted.
fn apt_reads(repo: &Path) -> Vec<String> {
    let apt = Apt::new(repo, "s", None);
    let o = apt.update_with(&[]);
    let all = format!("{}{}", text(&o.stdout), text(&o.stderr));
    assert!(
        o.status.success() && !all.lines().any(|l| l.starts_with("E:")),
        "apt-get update failed:\n{}",
        both(&o)
    );
    let mut names: Vec<String> = apt
        .query("apt-cache", &["pkgnames", "blk-"])
        .lines()
        .map(str::to_string)
        .collect();
    names.sort();
    assert!(!names.is_empty(), "apt knows no package:\n{}", both(&o));
    // apt fetched the compressed file (the plain one is not there).
    assert!(all.contains("Packages"), "{all}");
    // The last stanza's fields came through whole.
    let last = names
        .iter()
        .map(|n| n[4..].parse::<u64>().unwrap())
        .max()
        .unwrap();
    let show = apt.query("apt-cache", &["show", &format!("blk-{last}")]);
    assert!(show.contains(&format!("Version: 1.{last}\n")), "{show}");
    names
}

fn expect(names: &[u64]) -> Vec<String> {
    let mut v: Vec<String> = names.iter().map(|i| format!("blk-{i}")).collect();
    v.sort();
    v
}

#[test]
fn apt_reads_multi_block_xz_and_gz_first_and_reused() {
    if !have_tools(&["apt-get", "apt-cache"]) {
        return;
    }
    // ~1.6 MB: several chunks.
    let first: Vec<u64> = (0..2_500).collect();
    let mut added = first.clone();
    added.insert(1_250, 99_999);
    for suffix in [".xz", ".gz"] {
        let old = tempdir();
        let s = write_repo(old.path(), &first, suffix, None);
        assert!(s.chunks >= 4, "{s:?}");
        assert_eq!(
            apt_reads(old.path()),
            expect(&first),
            "first build, {suffix}"
        );

        let dir = old.path().join("dists/s/main/binary-amd64");
        let prev = PreviousIndex {
            plain: dir.join("kept"),
            xz: dir.join(if suffix == ".xz" {
                "Packages.xz"
            } else {
                "kept.xz"
            }),
            xz_preset: 6,
        };
        let new = tempdir();
        let s = write_repo(new.path(), &added, suffix, Some(&prev));
        assert!(
            s.xz_blocks_reused >= s.chunks - 2 && s.xz_blocks_compressed >= 1,
            "{s:?}"
        );
        assert_eq!(apt_reads(new.path()), expect(&added), "reused, {suffix}");
    }
}
