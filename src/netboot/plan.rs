//! The versions of a tree: `installer-<arch>/<VERSION>/images/` as a Debian mirror lays out
//! debian-installer, VERSION being the day (`20261125`, then `20261125.1`, ...), and
//! `current` naming the published one. [`plan`] takes its steps in order: the day's
//! VERSION, a published VERSION whose images are already these (reused), the VERSIONs kept,
//! the files of a new VERSION, the switch of `current`, and what the Release lists.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::cache::Cache;
use crate::eliloader::{self, CURRENT, INITRD_NAME, KERNEL_NAME};
use crate::hash::{hex, Hashes};
use crate::publish::Content;

use super::error::NetbootError;
use super::Chosen;

/// Versions of the tree kept published.
pub const KEEP_VERSIONS: usize = 3;

/// What publishing the trees takes.
#[derive(Debug, Default)]
pub struct TreePlan {
    /// Files of new VERSION directories (staged with the pool files).
    pub files: Vec<(PathBuf, Content)>,
    /// The `current` switch (staged just before the Release).
    pub switch: Vec<(PathBuf, Content)>,
    /// Files the suite Release lists, relative to the suite directory.
    pub listed: BTreeMap<String, Hashes>,
    /// Files of the kept older VERSIONs, carried into the new tree.
    pub wanted: Vec<PathBuf>,
    /// Per architecture: the published VERSION.
    pub versions: BTreeMap<String, String>,
}

/// `MD5SUMS`/`SHA256SUMS` of an images directory: `<hex>  ./netboot/xen/<name>`, sorted.
pub fn sums(kernel: &Hashes, initrd: &Hashes) -> (Vec<u8>, Vec<u8>) {
    // Sorted by name: initrd.gz before vmlinuz.
    let list = |initrd_digest: &[u8], kernel_digest: &[u8]| {
        format!(
            "{}  {}\n{}  {}\n",
            hex(initrd_digest),
            eliloader::sums_entry(INITRD_NAME),
            hex(kernel_digest),
            eliloader::sums_entry(KERNEL_NAME)
        )
    };
    let md5 = list(&initrd.md5, &kernel.md5);
    let sha = list(&initrd.sha256, &kernel.sha256);
    (md5.into_bytes(), sha.into_bytes())
}

/// Orders VERSION names (`20261125`, `20261125.1`, ...) by date, then counter.
fn version_key(v: &str) -> Option<(u32, u32)> {
    let (date, n) = v.split_once('.').unwrap_or((v, "0"));
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((date.parse().ok()?, n.parse().ok()?))
}

/// Plans the trees of `chosen` inside `repo`/`suite_dir`, reusing a VERSION whose
/// images are already these.
pub fn plan(
    chosen: &[Chosen],
    repo: &Path,
    suite_dir: &Path,
    now: i64,
    no_symlinks: bool,
    cache: &mut Cache,
) -> Result<TreePlan, NetbootError> {
    let mut tp = TreePlan::default();
    let day = day_version(now);
    for c in chosen {
        let tree = Tree {
            repo,
            rel: suite_dir.join(eliloader::installer_dir(&c.arch)),
            in_suite: PathBuf::from(eliloader::installer_dir(&c.arch)),
        };
        let mut versions = tree.versions();
        let version = match reusable_version(&tree, &versions, c, cache) {
            Some(v) => v,
            None => {
                let v = next_version(&versions, &day);
                versions.push(v.clone());
                versions.sort_by_key(|v| version_key(v));
                v
            }
        };
        let keep = kept_versions(&versions, &version);
        let files = version_files(c);
        for (name, content) in &files.images {
            tp.files
                .push((tree.images(&version).join(name), content.clone()));
        }
        tp.switch
            .extend(switch(&tree, &version, &files, no_symlinks));
        tp.wanted.push(tree.rel.join(CURRENT));
        for v in keep.iter().map(String::as_str).chain([CURRENT]) {
            // `current/...` goes through the link (or is planned in `switch`).
            if v != CURRENT {
                for (name, _) in &files.images {
                    tp.wanted.push(tree.images(v).join(name));
                }
            }
            let published = v == version || v == CURRENT;
            tp.listed
                .extend(tree.listed_sums(v, published.then_some(&files))?);
        }
        tp.versions.insert(c.arch.clone(), version);
    }
    Ok(tp)
}

/// The day's VERSION: `20261125` for a `now` on 25 Nov 2026 (UTC).
fn day_version(now: i64) -> String {
    let d = crate::release::format_date(now);
    // "Wed, 25 Nov 2026 ..." -> 20261125
    let parts: Vec<&str> = d.split_whitespace().collect();
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let m = months.iter().position(|x| *x == parts[2]).unwrap_or(0) + 1;
    format!("{}{:02}{}", parts[3], m, parts[1])
}

/// The tree of one architecture.
struct Tree<'a> {
    /// The repository.
    repo: &'a Path,
    /// `dists/<suite>/main/installer-<arch>`, relative to the repository.
    rel: PathBuf,
    /// `main/installer-<arch>`, relative to the suite directory (as the Release lists it).
    in_suite: PathBuf,
}

impl Tree<'_> {
    /// The published VERSIONs, oldest first.
    fn versions(&self) -> Vec<String> {
        let mut versions: Vec<String> = fs::read_dir(self.repo.join(&self.rel))
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter_map(|e| e.file_name().into_string().ok())
                    .filter(|n| version_key(n).is_some())
                    // Complete: a build stopped renaming its files (--no-symlinks) left a
                    // part, which is not kept but written again, or removed.
                    .filter(|n| {
                        let images = self.repo.join(self.images(n));
                        let kernel = eliloader::in_images(KERNEL_NAME);
                        let initrd = eliloader::in_images(INITRD_NAME);
                        ["MD5SUMS", "SHA256SUMS", &kernel, &initrd]
                            .iter()
                            .all(|f| images.join(f).is_file())
                    })
                    .collect()
            })
            .unwrap_or_default();
        versions.sort_by_key(|v| version_key(v));
        versions
    }

    /// `<VERSION>/images`, relative to the repository.
    fn images(&self, version: &str) -> PathBuf {
        self.rel.join(version).join("images")
    }

    /// `MD5SUMS` and `SHA256SUMS` of `version` as the Release lists them: `files`' for the
    /// published VERSION (and `current`), else the kept VERSION's own.
    fn listed_sums(
        &self,
        version: &str,
        files: Option<&VersionFiles>,
    ) -> Result<Vec<(String, Hashes)>, NetbootError> {
        let in_suite = |n: &str| {
            self.in_suite
                .join(version)
                .join("images")
                .join(n)
                .display()
                .to_string()
        };
        let mut listed = Vec::new();
        for (n, new) in [
            ("MD5SUMS", files.map(|f| &f.md5sums)),
            ("SHA256SUMS", files.map(|f| &f.sha256sums)),
        ] {
            let hashes = match new {
                Some(bytes) => Hashes::of_bytes(bytes),
                None => {
                    let p = self.repo.join(self.images(version)).join(n);
                    let bytes = fs::read(&p)
                        .map_err(|source| NetbootError::KeptSums { path: p, source })?;
                    Hashes::of_bytes(&bytes)
                }
            };
            listed.push((in_suite(n), hashes));
        }
        Ok(listed)
    }
}

/// The newest published VERSION whose kernel and initrd are already `c`'s.
fn reusable_version(
    tree: &Tree,
    versions: &[String],
    c: &Chosen,
    cache: &mut Cache,
) -> Option<String> {
    let mut same = |v: &str| {
        let images = tree.repo.join(tree.images(v));
        let mut eq = |p: PathBuf, h: &Hashes| {
            fs::metadata(&p).is_ok_and(|m| m.len() == h.size)
                && cache.hash_file(&p).is_ok_and(|g| &g == h)
        };
        eq(
            images.join(eliloader::in_images(KERNEL_NAME)),
            &c.kernel_hashes,
        ) && eq(
            images.join(eliloader::in_images(INITRD_NAME)),
            &c.initrd_hashes,
        )
    };
    versions.iter().rev().find(|v| same(v)).cloned()
}

/// A new VERSION: the day's, or the day's with a counter above every version of the day,
/// even removed ones' successors.
fn next_version(versions: &[String], day: &str) -> String {
    let today = version_key(day).map(|k| k.0);
    let last = versions
        .iter()
        .filter_map(|v| version_key(v))
        .filter(|k| Some(k.0) == today)
        .map(|k| k.1)
        .max();
    match last {
        None if !versions.iter().any(|v| v == day) => day.to_string(),
        None => format!("{day}.1"),
        Some(n) => format!("{day}.{}", n + 1),
    }
}

/// The newest [`KEEP_VERSIONS`] of `versions` (newest first), and always `published`.
fn kept_versions(versions: &[String], published: &str) -> Vec<String> {
    let mut keep: Vec<String> = versions.iter().rev().take(KEEP_VERSIONS).cloned().collect();
    if !keep.iter().any(|v| v == published) {
        keep.pop();
        keep.push(published.to_string());
    }
    keep
}

/// The files of a VERSION's `images/`.
struct VersionFiles {
    /// Names relative to `images/`, with their content.
    images: [(String, Content); 4],
    /// The `MD5SUMS` bytes.
    md5sums: Vec<u8>,
    /// The `SHA256SUMS` bytes.
    sha256sums: Vec<u8>,
}

/// The kernel, the initrd and their sums, as `c`'s VERSION holds them.
fn version_files(c: &Chosen) -> VersionFiles {
    let (md5sums, sha256sums) = sums(&c.kernel_hashes, &c.initrd_hashes);
    VersionFiles {
        images: [
            (
                eliloader::in_images(KERNEL_NAME),
                Content::File(c.kernel.clone(), c.kernel_hashes.clone()),
            ),
            (
                eliloader::in_images(INITRD_NAME),
                Content::File(c.initrd.clone(), c.initrd_hashes.clone()),
            ),
            ("MD5SUMS".to_string(), Content::Bytes(md5sums.clone())),
            ("SHA256SUMS".to_string(), Content::Bytes(sha256sums.clone())),
        ],
        md5sums,
        sha256sums,
    }
}

/// The switch of `current` to `version`: a symbolic link, or with `no_symlinks` a copy of
/// the files.
fn switch(
    tree: &Tree,
    version: &str,
    files: &VersionFiles,
    no_symlinks: bool,
) -> Vec<(PathBuf, Content)> {
    if no_symlinks {
        files
            .images
            .iter()
            .map(|(name, content)| (tree.images(CURRENT).join(name), content.clone()))
            .collect()
    } else {
        vec![(
            tree.rel.join(CURRENT),
            Content::Symlink(PathBuf::from(version)),
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_are_sorted_and_in_debian_format() {
        let (md5, sha) = sums(&Hashes::of_bytes(b"k"), &Hashes::of_bytes(b"i"));
        let md5 = String::from_utf8(md5).unwrap();
        assert!(md5.starts_with(&format!(
            "{}  ./netboot/xen/initrd.gz\n",
            Hashes::of_bytes(b"i").md5_hex()
        )));
        assert!(String::from_utf8(sha)
            .unwrap()
            .ends_with("  ./netboot/xen/vmlinuz\n"));
    }

    #[test]
    fn versions_order_by_date_then_counter() {
        let mut v = vec!["20261125.10", "20261125", "20251231", "20261125.2", "junk"];
        v.retain(|x| version_key(x).is_some());
        v.sort_by_key(|x| version_key(x));
        assert_eq!(v, ["20251231", "20261125", "20261125.2", "20261125.10"]);
    }

    #[test]
    fn the_day_is_the_utc_date_of_now() {
        assert_eq!(day_version(1_795_651_200), "20261126");
        assert_eq!(day_version(1_795_651_199), "20261125");
    }

    #[test]
    fn a_new_version_is_above_every_version_of_the_day() {
        let v = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(next_version(&v(&["20261125"]), "20261126"), "20261126");
        assert_eq!(next_version(&v(&["20261126"]), "20261126"), "20261126.1");
        // 20261126 and .1 were removed; .2 is kept: never reuse a name.
        assert_eq!(
            next_version(&v(&["20261125", "20261126.2"]), "20261126"),
            "20261126.3"
        );
    }

    #[test]
    fn the_newest_versions_are_kept_and_always_the_published_one() {
        let v = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let all = v(&["20261122", "20261123", "20261124", "20261125"]);
        assert_eq!(
            kept_versions(&all, "20261125"),
            v(&["20261125", "20261124", "20261123"])
        );
        // A reused old VERSION replaces the oldest of the kept.
        assert_eq!(
            kept_versions(&all, "20261122"),
            v(&["20261125", "20261124", "20261122"])
        );
    }
}
