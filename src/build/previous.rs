//! The suite as the last build published it, read once, after the lock, and
//! what of it this build may reuse.
//!
//! [`Previous::read`] reads the suite Release (kept as bytes and parsed), its
//! signatures, the published public key and elirepo's generation histories
//! (`.elirepo/by-hash-<suite>`, `.elirepo/pool-<suite>`). Its methods answer the
//! reuse questions: may a compressed index be taken as published (the signed
//! Release proves it was made from exactly this index), are an index's digests
//! known (the file is byte-identical to what the Release lists, in a linked
//! suite), may the signatures stay (same Release, same key, and they sign it),
//! which packages did the suite hold.
//! The published indexes themselves are read where a question needs them.

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, BufRead, Read};
use std::path::{Path, PathBuf};

use sha2::Digest;

use super::inputs::Input;
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
    /// Its path.
    keyring_path: Option<PathBuf>,
    /// The by-hash paths of the last generations, newest first.
    pub by_hash_generations: Vec<Vec<String>>,
    /// The state file of the pool files of the last generations, newest
    /// first, a line each (it may not exist): read word by word where it is
    /// needed ([`Words`]), never whole in memory.
    pub pool_generations: PathBuf,
    /// The xz preset the published `Packages.xz` files were made with, when
    /// known (`.elirepo/xz-preset-<suite>`).
    pub xz_preset: Option<u32>,
}

/// The by-hash generations of `suite`, relative to the repository.
pub(super) fn by_hash_generations_path(suite: &str) -> PathBuf {
    PathBuf::from(STATE_DIR).join(format!("by-hash-{suite}"))
}

/// The pool generations of `suite`, relative to the repository.
pub(super) fn pool_generations_path(suite: &str) -> PathBuf {
    PathBuf::from(STATE_DIR).join(format!("pool-{suite}"))
}

/// The xz preset of `suite`'s published `Packages.xz`, relative to the
/// repository: a number and a newline. A build whose preset differs removes it
/// before its switch and writes its own after, so that a build killed in
/// between leaves no record rather than a wrong one. No record: the blocks of
/// the published `.xz` are not reused (the block headers do not tell presets
/// apart, and a block made at another preset would change the bytes a preset
/// gives).
pub(super) fn xz_preset_path(suite: &str) -> PathBuf {
    PathBuf::from(STATE_DIR).join(format!("xz-preset-{suite}"))
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

/// A generation history read word by word: a line a generation, its paths
/// separated by (ASCII) white space. A history that cannot be opened is
/// empty; one that cannot be read to its end ends there.
pub(super) struct Words<R> {
    r: R,
    /// The word [`Words::step`] found.
    pub word: Vec<u8>,
    /// The current line has begun (a word or white space of it was read).
    in_line: bool,
}

/// What [`Words::step`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    /// A word, in [`Words::word`].
    Word,
    /// The end of a line (of a generation).
    EndOfLine,
    /// The end of the history.
    End,
}

impl Words<io::BufReader<fs::File>> {
    /// The history in the file at `path`.
    pub fn open(path: &Path) -> Option<Self> {
        let f = fs::File::open(path).ok()?;
        Some(Words::new(io::BufReader::with_capacity(1 << 16, f)))
    }
}

impl<R: BufRead> Words<R> {
    /// The history `r` holds.
    pub fn new(r: R) -> Self {
        Words {
            r,
            word: Vec::new(),
            in_line: false,
        }
    }

    /// The next word, end of line or end. A last line without its newline
    /// still ends with [`Step::EndOfLine`], as [`BufRead::lines`] reads it.
    pub fn step(&mut self) -> Step {
        self.word.clear();
        loop {
            let buf = match self.r.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => &[],
            };
            if buf.is_empty() {
                if !self.word.is_empty() {
                    return Step::Word;
                }
                if std::mem::take(&mut self.in_line) {
                    return Step::EndOfLine;
                }
                return Step::End;
            }
            let mut used = 0;
            let mut found = None;
            for &b in buf {
                if b == b'\n' {
                    if self.word.is_empty() {
                        used += 1;
                        self.in_line = false;
                        found = Some(Step::EndOfLine);
                    } else {
                        found = Some(Step::Word);
                    }
                    break;
                }
                if b.is_ascii_whitespace() && !self.word.is_empty() {
                    found = Some(Step::Word);
                    break;
                }
                used += 1;
                self.in_line = true;
                if !b.is_ascii_whitespace() {
                    self.word.push(b);
                }
            }
            self.r.consume(used);
            if let Some(step) = found {
                return step;
            }
        }
    }
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
            keyring_path: keyring.map(|k| repo.join(k)),
            by_hash_generations: read_generations(&repo.join(by_hash_generations_path(suite))),
            pool_generations: repo.join(pool_generations_path(suite)),
            xz_preset: fs::read_to_string(repo.join(xz_preset_path(suite)))
                .ok()
                .and_then(|t| t.strip_suffix('\n')?.parse().ok()),
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

    /// The published compressed index `<dir>/<variant>` (its path), if the
    /// previous (signed) Release proves it was made from exactly this index: it
    /// lists `<dir>/Packages` with `plain_sha256` and the compressed file with
    /// the digest the file on disk has.
    pub fn reusable_compressed(
        &self,
        dir: &str,
        plain_sha256: &str,
        variant: &str,
    ) -> Option<PathBuf> {
        let files = &self.release.as_ref()?.files;
        let plain = files.get(&format!("{dir}/Packages"))?.sha256.as_deref()?;
        if plain != plain_sha256 {
            return None;
        }
        let want = files.get(&format!("{dir}/{variant}"))?.sha256.as_deref()?;
        let path = self.path(&format!("{dir}/{variant}"));
        let mut sha = sha2::Sha256::new();
        io::copy(&mut fs::File::open(&path).ok()?, &mut sha).ok()?;
        (hex(&sha.finalize()) == want).then_some(path)
    }

    /// The digests of the index `rel` from the previous Release, when the
    /// published file is byte-identical to `bytes` (comparing is cheaper than
    /// four digests) and the suite is a link to a generation: the Release of a
    /// real directory may be older than its files (a --no-symlinks build renames
    /// them one by one, Release last, and may have stopped in between).
    pub fn known_digests(&self, rel: &str, bytes: &[u8]) -> Option<Hashes> {
        let listed = self.listed_digests(rel, bytes.len() as u64)?;
        (fs::read(self.path(rel)).ok()? == bytes).then_some(listed)
    }

    /// [`Previous::known_digests`] of the index made in the file `path` (which
    /// may be the published file itself), compared as it is read.
    pub fn known_digests_of_file(&self, rel: &str, path: &Path) -> Option<Hashes> {
        let len = fs::metadata(path).ok()?.len();
        let listed = self.listed_digests(rel, len)?;
        let published = self.path(rel);
        if published == path {
            return (fs::metadata(&published).ok()?.len() == len).then_some(listed);
        }
        let (a, b) = (fs::File::open(&published).ok()?, fs::File::open(path).ok()?);
        (a.metadata().ok()?.len() == len && same_stream(a, b).ok()?).then_some(listed)
    }

    /// The digests the previous Release lists for `rel`, if it lists all four
    /// and `len` bytes, and the suite is a link to a generation.
    fn listed_digests(&self, rel: &str, len: u64) -> Option<Hashes> {
        if !fs::symlink_metadata(&self.dir).is_ok_and(|m| m.file_type().is_symlink()) {
            return None;
        }
        let listed = self.release.as_ref()?.files.get(rel)?;
        let arr = |h: &Option<String>| unhex(h.as_deref()?);
        let (md5, sha1, sha256, sha512) = (
            arr(&listed.md5)?,
            arr(&listed.sha1)?,
            arr(&listed.sha256)?,
            arr(&listed.sha512)?,
        );
        (listed.size == len).then_some(())?;
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
    /// are not reproducible, so re-signing would change the tree), InRelease's
    /// signed text is this Release and gpgv accepts Release.gpg for it.
    pub fn reusable_signatures(
        &self,
        release: &[u8],
        public_key: &[u8],
    ) -> Option<(Vec<u8>, Vec<u8>)> {
        let same = self.release_bytes.as_deref() == Some(release)
            && self.keyring.as_deref() == Some(public_key);
        // Only signatures proven to sign these bytes: a --no-symlinks build stopped
        // between renaming Release and InRelease leaves the previous Release's.
        let proven = |i: &[u8]| {
            crate::release::inrelease_body(&String::from_utf8_lossy(i)).as_deref()
                == std::str::from_utf8(release).ok()
                && self.keyring_path.as_ref().is_some_and(|k| {
                    let (gpg, rel) = (self.path("Release.gpg"), self.path("Release"));
                    crate::sign::gpgv(k, &gpg, Some(&rel)).is_ok()
                })
        };
        match (same, &self.release_gpg, &self.in_release) {
            (true, Some(gpg), Some(inr)) if proven(inr) => Some((gpg.clone(), inr.clone())),
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
                        .map(|i| i.identity().to_string()),
                );
            } else if let Ok(f) = fs::File::open(self.path(&rel)) {
                // Paragraph by paragraph: a large index is never whole in memory.
                let _ = for_each_paragraph(io::BufReader::new(f), &mut |text| {
                    out.extend(listed_packages(text))
                });
            }
        }
        out
    }
}

/// Calls `each` with the text of `r` cut at blank lines (a newline, any CRs, a
/// newline: where [`crate::control::paragraphs`] cuts), a few paragraphs at a time.
pub(super) fn for_each_paragraph(
    mut r: impl BufRead,
    each: &mut dyn FnMut(&[u8]),
) -> io::Result<()> {
    let (mut chunk, mut line) = (Vec::new(), Vec::new());
    loop {
        line.clear();
        let n = r.read_until(b'\n', &mut line)?;
        let blank = line.iter().all(|&b| b == b'\r' || b == b'\n') && line.ends_with(b"\n");
        chunk.extend_from_slice(&line);
        if n == 0 || (blank && chunk.len() >= 1 << 16) {
            each(&chunk);
            chunk.clear();
        }
        if n == 0 {
            return Ok(());
        }
    }
}

/// True if `a` and `b` read the same bytes to their ends.
pub(super) fn same_stream(mut a: impl Read, mut b: impl Read) -> io::Result<bool> {
    let (mut x, mut y) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    loop {
        let n = read_full(&mut a, &mut x)?;
        let m = read_full(&mut b, &mut y)?;
        if n != m || x[..n] != y[..m] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
    }
}

/// Reads until `buf` is full or the end; returns the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::testing::{input, publish_suite};
    use std::collections::BTreeMap;

    const DAY0: i64 = 946_684_800;
    const INDEX: &[u8] = b"Package: a\nVersion: 1\nArchitecture: amd64\n\n";

    #[test]
    fn a_compressed_index_the_release_vouches_for_is_reused() {
        let t = tempfile::tempdir().unwrap();
        // Not what elirepo's encoder makes: reuse must hand back the published bytes.
        let published_gz = b"gzip bytes made by someone else".to_vec();
        publish_suite(
            t.path(),
            "s",
            &[
                ("main/binary-amd64/Packages", INDEX),
                ("main/binary-amd64/Packages.gz", &published_gz),
            ],
            None,
            DAY0,
        );
        let prev = Previous::read(t.path(), "s", None);
        let sha = |b: &[u8]| hex(&sha2::Sha256::digest(b));
        let dir = "main/binary-amd64";
        let reused = prev.reusable_compressed(dir, &sha(INDEX), "Packages.gz");
        assert_eq!(
            reused,
            Some(t.path().join("dists/s").join(dir).join("Packages.gz"))
        );
        assert_eq!(fs::read(reused.unwrap()).unwrap(), published_gz);
        // A changed index: the published .gz was made from another one.
        assert_eq!(
            prev.reusable_compressed(dir, &sha(b"Package: b\n"), "Packages.gz"),
            None
        );
        // A variant the Release does not list.
        assert_eq!(
            prev.reusable_compressed(dir, &sha(INDEX), "Packages.xz"),
            None
        );
        // The file on disk no longer what the Release lists.
        fs::write(t.path().join("dists/s").join(dir).join("Packages.gz"), b"x").unwrap();
        let prev = Previous::read(t.path(), "s", None);
        assert_eq!(
            prev.reusable_compressed(dir, &sha(INDEX), "Packages.gz"),
            None
        );
        // No Release at all.
        let empty = Previous::read(&t.path().join("nothing"), "s", None);
        assert!(!empty.exists());
        assert_eq!(
            empty.reusable_compressed(dir, &sha(INDEX), "Packages.gz"),
            None
        );
    }

    #[test]
    fn digests_of_a_byte_identical_index_come_from_the_release() {
        let t = tempfile::tempdir().unwrap();
        let rel = "main/binary-amd64/Packages";
        // The Release's MD5 is not the file's: a reused digest shows where it came from.
        let mut listed = Hashes::of_bytes(INDEX);
        listed.md5 = [7; 16];
        let files = BTreeMap::from([(rel.to_string(), listed.clone())]);
        publish_suite(t.path(), "s1", &[(rel, INDEX)], Some(files), DAY0);
        // A real directory (--no-symlinks): its Release may be older than its files.
        let prev = Previous::read(t.path(), "s1", None);
        assert_eq!(prev.known_digests(rel, INDEX), None);
        // A link to a generation: its Release describes its files.
        std::os::unix::fs::symlink("s1", t.path().join("dists/s")).unwrap();
        let prev = Previous::read(t.path(), "s", None);
        assert_eq!(prev.known_digests(rel, INDEX), Some(listed));
        // Other bytes, even of the same size, are hashed afresh.
        let same_size = INDEX.to_ascii_uppercase();
        assert_eq!(prev.known_digests(rel, &same_size), None);
        assert_eq!(prev.known_digests(rel, b"shorter"), None);
        assert_eq!(prev.known_digests("main/binary-i386/Packages", INDEX), None);
    }

    #[test]
    fn signatures_stay_only_for_the_same_release_and_key() {
        let t = tempfile::tempdir().unwrap();
        let release = publish_suite(t.path(), "s", &[], None, DAY0);
        let dir = t.path().join("dists/s");
        fs::write(dir.join("InRelease"), b"clearsigned").unwrap();
        fs::write(dir.join("Release.gpg"), b"detached").unwrap();
        fs::write(t.path().join("k.gpg"), b"key").unwrap();
        let prev = Previous::read(t.path(), "s", Some("k.gpg"));
        // Same Release, same key, but nothing proves they sign it (InRelease's text
        // is not the Release, gpgv refuses): signed again. Real signatures are kept
        // (tests/build_apt.rs unchanged_rerun_writes_nothing), stale ones are not
        // (tests/crash.rs a_stale_release_gpg_beside_a_matching_inrelease_is_not_kept).
        assert_eq!(prev.reusable_signatures(&release, b"key"), None);
        assert_eq!(prev.reusable_signatures(b"another Release", b"key"), None);
        assert_eq!(prev.reusable_signatures(&release, b"another key"), None);
        // A key file the build does not publish is never read.
        let unsigned = Previous::read(t.path(), "s", None);
        assert_eq!(unsigned.reusable_signatures(&release, b"key"), None);
        fs::remove_file(dir.join("InRelease")).unwrap();
        let prev = Previous::read(t.path(), "s", Some("k.gpg"));
        assert_eq!(prev.reusable_signatures(&release, b"key"), None);
    }

    #[test]
    fn previous_packages_come_from_the_published_indexes() {
        let t = tempfile::tempdir().unwrap();
        let amd64 = b"Package: a\nversion: 1\nArchitecture: amd64\nDescription: x\n Package: not-one\n\npackage: b\nVersion: 2\nArchitecture: all\n\nPackage: no-version\nArchitecture: all\n";
        publish_suite(
            t.path(),
            "s",
            &[("main/binary-amd64/Packages", amd64)],
            None,
            DAY0,
        );
        let prev = Previous::read(t.path(), "s", None);
        let archs = ["amd64".to_string(), "i386".to_string()];
        let none = BTreeSet::new();
        let got = prev.packages("main", &archs, &none, &[]);
        assert_eq!(got, BTreeSet::from(["a 1 amd64".into(), "b 2 all".into()]));
        // An index proven identical is this build's: not read again.
        let identical = BTreeSet::from(["main/binary-amd64/Packages".to_string()]);
        let inputs = [input("cc", "amd64", b"c"), input("dd", "i386", b"d")];
        let got = prev.packages("main", &archs, &identical, &inputs);
        assert_eq!(got, BTreeSet::from(["cc 1.0 amd64".into()]));
        // No Release: no previous packages, whatever lies around.
        fs::remove_file(t.path().join("dists/s/Release")).unwrap();
        let prev = Previous::read(t.path(), "s", None);
        assert!(prev.packages("main", &archs, &none, &[]).is_empty());
    }

    #[test]
    fn generations_are_read_newest_first() {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir_all(t.path().join(STATE_DIR)).unwrap();
        fs::write(t.path().join(by_hash_generations_path("s")), "a b\n\nc\n").unwrap();
        fs::write(t.path().join(pool_generations_path("s")), "pool/x\n").unwrap();
        let prev = Previous::read(t.path(), "s", None);
        assert_eq!(
            prev.by_hash_generations,
            [
                vec!["a".to_string(), "b".to_string()],
                vec![],
                vec!["c".to_string()]
            ]
        );
        assert_eq!(
            prev.pool_generations,
            t.path().join(STATE_DIR).join("pool-s")
        );
    }

    /// Every word and line end of `text`, as [`Words`] reads them.
    fn words(text: &[u8]) -> Vec<String> {
        let mut w = Words::new(text);
        let mut out = Vec::new();
        loop {
            match w.step() {
                Step::Word => out.push(String::from_utf8(w.word.clone()).unwrap()),
                Step::EndOfLine => out.push("$".into()),
                Step::End => return out,
            }
        }
    }

    #[test]
    fn a_history_is_read_word_by_word_as_lines_and_white_space_cut_it() {
        assert!(words(b"").is_empty());
        assert_eq!(words(b"\n"), ["$"]);
        assert_eq!(words(b"a"), ["a", "$"]);
        assert_eq!(words(b"a\n"), ["a", "$"]);
        assert_eq!(words(b"a\n\n"), ["a", "$", "$"]);
        assert_eq!(
            words(b"  a \t bb\r\n\nc d  "),
            ["a", "bb", "$", "$", "c", "d", "$"]
        );
        // Words longer than the reader's buffer, cut across its refills.
        let long = "x".repeat(70_000);
        let text = format!("{long} y\n{long}");
        let mut w = Words::new(io::BufReader::with_capacity(1000, text.as_bytes()));
        let mut got = Vec::new();
        loop {
            match w.step() {
                Step::Word => got.push(w.word.len()),
                Step::EndOfLine => got.push(0),
                Step::End => break,
            }
        }
        assert_eq!(got, [70_000, 1, 0, 70_000, 0]);
        assert!(Words::open(Path::new("/nonexistent/pool-s")).is_none());
    }
}
