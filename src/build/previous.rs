//! The suite as the last build published it, read once, after the lock, and
//! what of it this build may reuse.
//!
//! [`Previous::read`] reads the suite Release (kept as bytes and parsed), its
//! signatures, the published public key and elirepo's generation histories
//! (`.elirepo/by-hash-<suite>`, `.elirepo/pool-<suite>`). Its methods answer the
//! reuse questions: may a compressed index be taken as published (the signed
//! Release proves it was made from exactly this index), are an index's digests
//! known (the file is byte-identical to what the Release lists), may the
//! signatures stay (same Release, same key), which packages did the suite hold.
//! The published indexes themselves are read where a question needs them.

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::Digest;

use super::inputs::Input;
use crate::compress::{Compression, LimitReader};
use crate::control::Paragraph;
use crate::hash::{hex, unhex, Hashes};
use crate::publish::STATE_DIR;
use crate::release::{parse_release, ParsedRelease};

/// The published state of one suite; see the module documentation.
#[derive(Debug, Default)]
pub(super) struct Previous {
    /// `<repo>/dists/<suite>`.
    dir: PathBuf,
    /// The suite Release, byte for byte.
    release_bytes: Option<Vec<u8>>,
    /// The same, parsed (`None` when absent or unparseable).
    release: Option<ParsedRelease>,
    /// `InRelease`.
    in_release: Option<Vec<u8>>,
    /// `Release.gpg`.
    release_gpg: Option<Vec<u8>>,
    /// The published public key, when the build signs.
    keyring: Option<Vec<u8>>,
    /// The by-hash paths of the last generations, newest first.
    pub by_hash_generations: Vec<Vec<String>>,
    /// The pool files of the last generations, newest first.
    pub pool_generations: Vec<Vec<String>>,
}

/// The by-hash generations of `suite`, relative to the repository.
pub(super) fn by_hash_generations_path(suite: &str) -> PathBuf {
    PathBuf::from(STATE_DIR).join(format!("by-hash-{suite}"))
}

/// The pool generations of `suite`, relative to the repository.
pub(super) fn pool_generations_path(suite: &str) -> PathBuf {
    PathBuf::from(STATE_DIR).join(format!("pool-{suite}"))
}

/// Reads a generation history: one generation a line, newest first, its
/// paths separated by spaces. A missing file is an empty history.
pub(super) fn read_generations(path: &Path) -> Vec<Vec<String>> {
    fs::read_to_string(path)
        .map(|t| {
            t.lines()
                .map(|l| l.split_whitespace().map(str::to_string).collect())
                .collect()
        })
        .unwrap_or_default()
}

impl Previous {
    /// Reads what is published of `suite` in `repo`; `keyring` names the
    /// public key file when the build signs.
    pub fn read(repo: &Path, suite: &str, keyring: Option<&str>) -> Previous {
        let dir = repo.join("dists").join(suite);
        let release_bytes = fs::read(dir.join("Release")).ok();
        let release = release_bytes
            .as_deref()
            .and_then(|b| parse_release(&String::from_utf8_lossy(b)).ok());
        Previous {
            release_bytes,
            release,
            in_release: fs::read(dir.join("InRelease")).ok(),
            release_gpg: fs::read(dir.join("Release.gpg")).ok(),
            keyring: keyring.and_then(|k| fs::read(repo.join(k)).ok()),
            by_hash_generations: read_generations(&repo.join(by_hash_generations_path(suite))),
            pool_generations: read_generations(&repo.join(pool_generations_path(suite))),
            dir,
        }
    }

    /// True if the suite has a Release (parsable or not).
    pub fn exists(&self) -> bool {
        self.release_bytes.is_some()
    }

    /// The suite Release, byte for byte.
    pub fn release_bytes(&self) -> Option<&[u8]> {
        self.release_bytes.as_deref()
    }

    /// The suite Release, parsed.
    pub fn release(&self) -> Option<&ParsedRelease> {
        self.release.as_ref()
    }

    /// Where the published `rel` (relative to the suite directory) is.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// The published compressed index `<dir>/<variant>`, if the previous
    /// (signed) Release proves it was made from exactly this index: it lists
    /// `<dir>/Packages` with `plain_sha256` and the compressed file with the
    /// digest the file on disk has.
    pub fn reusable_compressed(
        &self,
        dir: &str,
        plain_sha256: &str,
        variant: &str,
    ) -> Option<Vec<u8>> {
        let files = &self.release.as_ref()?.files;
        let plain = files.get(&format!("{dir}/Packages"))?.sha256.as_deref()?;
        if plain != plain_sha256 {
            return None;
        }
        let want = files.get(&format!("{dir}/{variant}"))?.sha256.as_deref()?;
        let bytes = fs::read(self.path(&format!("{dir}/{variant}"))).ok()?;
        (hex(&sha2::Sha256::digest(&bytes)) == want).then_some(bytes)
    }

    /// `content` compressed with `c` as `rel`: the published file's bytes when it
    /// already holds exactly that content (xz of a large index is the slowest step
    /// of a no-change build), else a fresh deterministic compression.
    pub fn compressed(
        &self,
        rel: &str,
        content: &[u8],
        c: Compression,
    ) -> std::io::Result<Vec<u8>> {
        if let Ok(old) = fs::read(self.path(rel)) {
            let mut back = Vec::with_capacity(content.len());
            let same = c
                .decoder(&old[..])
                .and_then(|d| {
                    LimitReader::new(d, content.len() as u64, "index").read_to_end(&mut back)
                })
                .is_ok()
                && back == content;
            if same {
                return Ok(old);
            }
        }
        c.compress(content)
    }

    /// The digests of the index `rel` from the previous Release, when the
    /// published file is byte-identical to `bytes` (comparing is cheaper than
    /// four digests).
    pub fn known_digests(&self, rel: &str, bytes: &[u8]) -> Option<Hashes> {
        let listed = self.release.as_ref()?.files.get(rel)?;
        let arr = |h: &Option<String>| unhex(h.as_deref()?);
        let (md5, sha1, sha256, sha512) = (
            arr(&listed.md5)?,
            arr(&listed.sha1)?,
            arr(&listed.sha256)?,
            arr(&listed.sha512)?,
        );
        if listed.size != bytes.len() as u64 || fs::read(self.path(rel)).ok()? != bytes {
            return None;
        }
        Some(Hashes {
            size: listed.size,
            md5: md5.try_into().ok()?,
            sha1: sha1.try_into().ok()?,
            sha256: sha256.try_into().ok()?,
            sha512: sha512.try_into().ok()?,
        })
    }

    /// The published `(Release.gpg, InRelease)`, if they may stay: the new
    /// Release is the published one and so is the public key (gpg's signatures
    /// are not reproducible, so re-signing would change the tree).
    pub fn reusable_signatures(
        &self,
        release: &[u8],
        public_key: &[u8],
    ) -> Option<(Vec<u8>, Vec<u8>)> {
        let same = self.release_bytes.as_deref() == Some(release)
            && self.keyring.as_deref() == Some(public_key);
        match (same, &self.release_gpg, &self.in_release) {
            (true, Some(gpg), Some(inr)) => Some((gpg.clone(), inr.clone())),
            _ => None,
        }
    }

    /// The packages (`name version arch`) the published indexes of
    /// `architectures` list. An index this build proved `identical` is not
    /// read again: its packages are this build's.
    pub fn packages(
        &self,
        component: &str,
        architectures: &[String],
        identical: &BTreeSet<String>,
        inputs: &[Input],
    ) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        if !self.exists() {
            return out;
        }
        for arch in architectures {
            let rel = format!("{component}/binary-{arch}/Packages");
            if identical.contains(&rel) {
                out.extend(
                    inputs
                        .iter()
                        .filter(|i| i.is_for(arch))
                        .map(Input::identity),
                );
            } else if let Ok(text) = fs::read(self.path(&rel)) {
                out.extend(listed_packages(&text));
            }
        }
        out
    }
}

/// Package identities (`name version arch`) listed in a Packages index text.
pub(super) fn listed_packages(text: &[u8]) -> BTreeSet<String> {
    crate::control::paragraphs(text)
        .filter_map(|p: Paragraph| {
            let (name, version, arch) =
                (p.get("Package")?, p.get("Version")?, p.get("Architecture")?);
            Some(format!(
                "{} {} {}",
                String::from_utf8_lossy(name),
                String::from_utf8_lossy(version),
                String::from_utf8_lossy(arch)
            ))
        })
        .collect()
}
