//! Shared helpers for elirepo's integration tests.
//!
//! Use with `mod common;` from a file in `tests/`. What is here:
//!
//! * [`elirepo`]: a `Command` for the binary under test. The environment
//!   variable `ELIREPO_BIN_UNDER_TEST` replaces it with another binary, e.g.
//!   `ELIREPO_BIN_UNDER_TEST=apt-ftparchive` to check the harness against
//!   apt-ftparchive itself ([`under_test_is_apt`] tells the tests so).
//! * [`build_cmd`] / [`build_cmd_at`]: `elirepo build --repo REPO` with
//!   `SOURCE_DATE_EPOCH` pinned ([`SDE`] or another) or removed.
//! * [`skip`], [`have_tool`], [`make_fifo`]: the one mechanism by which a
//!   test skips (with a `skipped: …` line) when a tool or a setup step is
//!   missing; with `ELIREPO_REQUIRE_TOOLS=1` (CI) it is a failure instead.
//! * [`DebBuilder`]: writes a .deb in pure Rust, deterministically, with any
//!   control bytes, compression and ar name style.
//! * [`check_failed_cleanly`] / [`assert_failed_cleanly`]: a run failed with
//!   an exit code of its own, not a crash (exit 101, a signal, `internal
//!   error` on stderr); [`check_no_crash`] / [`assert_no_crash`] for a run that
//!   may also succeed.
//! * [`fixtures_dir`], [`tempdir`], [`assert_bytes_eq`] (a readable diff),
//!   [`split_shell_words`] and a seeded [`Rng`].
//! * [`snapshot_tree`] / [`assert_same_snapshot`] (from [`tree`]): "the
//!   repository was left exactly as it was", with the paths that differ.
//! * [`text`], [`both`], [`json`], [`set`]: a run's output for messages and checks.
//!
//! * [`sha256_hex`], [`sha512_hex`], [`hex`] (from [`digest`]): digests computed
//!   by the tests, not by elirepo's own code.
//!
//! And per concept: [`apt`] (a real, isolated apt client), [`gpg`] (throwaway
//! keys, gpgv), [`synth`] (synthetic kernels and initrds), [`tree`], [`debian_kernel`]
//! (Debian's real amd64 and 686-pae kernels through apt), [`ordinary`] (a command run as an
//! ordinary user when the tests run as root).
//!
//! Nothing here uses elirepo's library API: the tests drive the binary.

#![allow(dead_code)]

pub mod apt;
pub mod debian_kernel;
pub mod digest;
pub mod gpg;
pub mod ordinary;
pub mod publish;
pub mod s3server;
pub mod sshd;
pub mod synth;
pub mod tree;

// Not every test file uses them (as with `dead_code` above).
#[allow(unused_imports)]
pub use digest::{hex, sha256_hex, sha512_hex};
#[allow(unused_imports)]
pub use tree::{assert_same_snapshot, snapshot_tree};

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Every timestamp [`DebBuilder`] writes (ar members and tar entries).
pub const DEFAULT_MTIME: u64 = 1_700_000_000;

/// The binary under test: `ELIREPO_BIN_UNDER_TEST` if set (a path or a name
/// looked up on PATH), else the elirepo binary cargo built for this test.
pub fn elirepo() -> Command {
    Command::new(bin_under_test())
}

/// The `SOURCE_DATE_EPOCH` [`build_cmd`] pins: Thu, 26 Nov 2026 00:00:00 UTC.
pub const SDE: &str = "1795651200";

/// `elirepo build --repo REPO` with `SOURCE_DATE_EPOCH` pinned to [`SDE`]; the
/// caller adds the rest of the command line.
pub fn build_cmd(repo: &Path) -> Command {
    build_cmd_at(repo, Some(SDE))
}

/// `elirepo build --repo REPO` with `SOURCE_DATE_EPOCH` pinned to `sde`, or
/// removed (the real clock) when `None`.
pub fn build_cmd_at(repo: &Path, sde: Option<&str>) -> Command {
    let mut c = elirepo();
    c.arg("build").arg("--repo").arg(repo);
    match sde {
        Some(s) => c.env("SOURCE_DATE_EPOCH", s),
        None => c.env_remove("SOURCE_DATE_EPOCH"),
    };
    c
}

/// Path (or PATH name) of the binary [`elirepo`] runs.
pub fn bin_under_test() -> OsString {
    match std::env::var_os("ELIREPO_BIN_UNDER_TEST") {
        Some(b) if !b.is_empty() => b,
        _ => OsString::from(env!("CARGO_BIN_EXE_elirepo")),
    }
}

/// True when `ELIREPO_BIN_UNDER_TEST` points at apt-ftparchive itself. The
/// compatibility tests then expect apt's exit codes (0 for trees with broken
/// .debs) instead of elirepo's, so that the harness can be checked.
pub fn under_test_is_apt() -> bool {
    Path::new(&bin_under_test())
        .file_name()
        .is_some_and(|n| n == "apt-ftparchive")
}

/// True when `ELIREPO_REQUIRE_TOOLS=1` is set (CI): no test may skip.
pub fn tools_required() -> bool {
    std::env::var("ELIREPO_REQUIRE_TOOLS").as_deref() == Ok("1")
}

/// The one way a test (or part of one) skips: prints `skipped: <why>` to
/// stderr so the caller can return early; but with `ELIREPO_REQUIRE_TOOLS=1`
/// nothing may skip, so it panics with `why` instead. Every skip in tests/
/// goes through here (or [`have_tool`], which calls it).
pub fn skip(why: &str) {
    if tools_required() {
        panic!("{why}; ELIREPO_REQUIRE_TOOLS=1 forbids skipping this test");
    }
    eprintln!("skipped: {why}");
}

/// True if `name` is an executable on PATH. If it is not, calls
/// [`skip`]`("<name> not installed")` and returns false, so the caller can
/// return early (under `ELIREPO_REQUIRE_TOOLS=1` a missing tool panics).
pub fn have_tool(name: &str) -> bool {
    if find_on_path(name).is_some() {
        return true;
    }
    skip(&format!("{name} not installed"));
    false
}

/// [`have_tool`] for each name; true only if all are installed.
pub fn have_tools(names: &[&str]) -> bool {
    names.iter().all(|n| have_tool(n))
}

/// Makes a FIFO at `path` with `mkfifo`. If that cannot be done, [`skip`]s
/// (a failure under `ELIREPO_REQUIRE_TOOLS=1`) and returns false.
pub fn make_fifo(path: &Path) -> bool {
    if find_on_path("mkfifo").is_none() {
        skip("the FIFO case: mkfifo not installed");
        return false;
    }
    match Command::new("mkfifo").arg(path).output() {
        Ok(o) if o.status.success() => true,
        Ok(o) => {
            skip(&format!(
                "the FIFO case: mkfifo {} failed ({}): {}",
                path.display(),
                o.status,
                String::from_utf8_lossy(&o.stderr).trim()
            ));
            false
        }
        Err(e) => {
            skip(&format!(
                "the FIFO case: cannot run mkfifo {}: {e}",
                path.display()
            ));
            false
        }
    }
}

/// Full path of `name` on PATH, if it is there and executable.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// `<crate root>/fixtures`.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// A fresh temporary directory, removed when the value is dropped. Set
/// `ELIREPO_KEEP_TMP=1` to keep it for a post-mortem (its path is printed).
pub fn tempdir() -> tempfile::TempDir {
    let keep = std::env::var("ELIREPO_KEEP_TMP").as_deref() == Ok("1");
    let dir = tempfile::Builder::new()
        .prefix("elirepo-test-")
        .disable_cleanup(keep)
        .tempdir()
        .expect("create a temporary directory");
    if keep {
        eprintln!("keeping temporary directory {}", dir.path().display());
    }
    dir
}

/// Panics with a readable report if `got != expected`: both lengths, the
/// first differing line with three lines of context from each side, and
/// how many lines differ. Bytes that are not printable ASCII are escaped.
pub fn assert_bytes_eq(expected: &[u8], got: &[u8], context: &str) {
    if expected == got {
        return;
    }
    panic!("{}", diff_report(expected, got, context));
}

/// The report [`assert_bytes_eq`] panics with (empty if equal).
pub fn diff_report(expected: &[u8], got: &[u8], context: &str) -> String {
    if expected == got {
        return String::new();
    }
    let e: Vec<&[u8]> = split_lines(expected);
    let g: Vec<&[u8]> = split_lines(got);
    let first = e
        .iter()
        .zip(g.iter())
        .position(|(a, b)| a != b)
        .unwrap_or(e.len().min(g.len()));
    let byte = expected
        .iter()
        .zip(got.iter())
        .position(|(a, b)| a != b)
        .unwrap_or(expected.len().min(got.len()));
    let differing = (0..e.len().max(g.len()))
        .filter(|&i| e.get(i) != g.get(i))
        .count();
    let mut r = String::new();
    r += &format!(
        "{context}: output differs: expected {} bytes / {} lines, got {} bytes / {} lines\n",
        expected.len(),
        e.len(),
        got.len(),
        g.len()
    );
    r += &format!(
        "first difference at line {} (byte {byte}); {differing} line(s) differ at the same index\n",
        first + 1
    );
    let from = first.saturating_sub(3);
    for (i, line) in e.iter().enumerate().take(first).skip(from) {
        r += &format!("   {:>5} {}\n", i + 1, show(line));
    }
    for i in first..(first + 4) {
        match (e.get(i), g.get(i)) {
            (Some(a), Some(b)) if a == b => r += &format!("   {:>5} {}\n", i + 1, show(a)),
            (a, b) => {
                if let Some(a) = a {
                    r += &format!(" - {:>5} {}\n", i + 1, show(a));
                }
                if let Some(b) = b {
                    r += &format!(" + {:>5} {}\n", i + 1, show(b));
                }
            }
        }
    }
    r += "(- expected, + got)\n";
    r
}

/// Lines including their terminating `\n` (so a missing final newline shows).
fn split_lines(b: &[u8]) -> Vec<&[u8]> {
    b.split_inclusive(|&c| c == b'\n').collect()
}

fn show(line: &[u8]) -> String {
    let mut s = String::new();
    for &c in line {
        match c {
            b'\n' => s += "\\n",
            b'\r' => s += "\\r",
            b'\t' => s += "\\t",
            b'\\' => s += "\\\\",
            0x20..=0x7e => s.push(c as char),
            _ => s += &format!("\\x{c:02x}"),
        }
    }
    s
}

/// Splits a string of shell words the way `scripts/make-goldens.sh` writes
/// them: whitespace separates words; `'…'` quotes literally; `"…"` quotes
/// with `\"`, `\\`, `\$` and `` \` `` escapes; a backslash outside quotes
/// escapes the next character. `""` is an empty word.
pub fn split_shell_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    cur.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' if matches!(chars.peek(), Some('"' | '\\' | '$' | '`')) => {
                            cur.push(chars.next().unwrap())
                        }
                        c => cur.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

/// A small seeded PRNG (splitmix64), so that a failing randomised test can be
/// rerun with the seed it printed.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u32) -> bool {
        self.below(100) < percent as usize
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    /// [`Rng::pick`] for string literals (helps type inference).
    pub fn one_of<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

/// The seed for randomised tests: `ELIREPO_SEED` if set, else `default`.
/// Printed to stderr so a failure can be reproduced.
pub fn seed_from_env(default: u64) -> u64 {
    let seed = std::env::var("ELIREPO_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default);
    eprintln!("seed: {seed} (rerun with ELIREPO_SEED={seed})");
    seed
}

/// Compression of a .deb member; [`Comp::ext`] is the member name suffix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comp {
    None,
    Gz,
    Xz,
    Zst,
    Bz2,
    Lzma,
}

impl Comp {
    /// Every compression; apt reads `control.tar` only as None/Gz/Xz/Zst.
    pub const ALL: [Comp; 6] = [
        Comp::None,
        Comp::Gz,
        Comp::Xz,
        Comp::Zst,
        Comp::Bz2,
        Comp::Lzma,
    ];
    /// The control member compressions apt-ftparchive accepts.
    pub const CONTROL_OK: [Comp; 4] = [Comp::None, Comp::Gz, Comp::Xz, Comp::Zst];

    pub fn ext(self) -> &'static str {
        match self {
            Comp::None => "",
            Comp::Gz => ".gz",
            Comp::Xz => ".xz",
            Comp::Zst => ".zst",
            Comp::Bz2 => ".bz2",
            Comp::Lzma => ".lzma",
        }
    }

    /// Compresses `data` deterministically (gzip header mtime 0).
    pub fn compress(self, data: &[u8]) -> Vec<u8> {
        fn io<T>(r: io::Result<T>) -> T {
            r.expect("in-memory compression")
        }
        match self {
            Comp::None => data.to_vec(),
            Comp::Gz => {
                let mut e = flate2::GzBuilder::new()
                    .mtime(0)
                    .write(Vec::new(), flate2::Compression::best());
                io(e.write_all(data));
                io(e.finish())
            }
            Comp::Xz => {
                let mut e = xz2::write::XzEncoder::new(Vec::new(), 6);
                io(e.write_all(data));
                io(e.finish())
            }
            Comp::Lzma => {
                let opts = xz2::stream::LzmaOptions::new_preset(6).expect("lzma preset");
                let stream = xz2::stream::Stream::new_lzma_encoder(&opts).expect("lzma encoder");
                let mut e = xz2::write::XzEncoder::new_stream(Vec::new(), stream);
                io(e.write_all(data));
                io(e.finish())
            }
            Comp::Bz2 => {
                let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
                io(e.write_all(data));
                io(e.finish())
            }
            Comp::Zst => io(zstd::stream::encode_all(data, 3)),
        }
    }
}

/// How ar member names are written: GNU `name/`, or BSD/dpkg-deb style
/// `name` padded with spaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArStyle {
    Gnu,
    Bsd,
}

#[derive(Clone, Debug)]
enum DataEntry {
    File {
        path: String,
        bytes: Vec<u8>,
        mode: u32,
    },
    Symlink {
        path: String,
        target: String,
    },
}

/// Builds a .deb in memory, deterministically: every timestamp is
/// [`DEFAULT_MTIME`] (see [`DebBuilder::mtime`]), owners are root (0/0),
/// ar members are mode 100644, tar entries carry `./` prefixes like
/// dpkg-deb's.
///
/// ```ignore
/// DebBuilder::new("foo").version("1:2.0-1").arch("all")
///     .field("Depends", "bar")
///     .control_compression(Comp::Zst).data_compression(Comp::Lzma)
///     .ar_style(ArStyle::Gnu)
///     .write_to(&dir.join("pool/f/foo_2.0-1_all.deb"))?;
/// ```
///
/// Without [`DebBuilder::control_raw`] the control file is
/// `Package`, `Version`, `Architecture`, `Maintainer`, the extra
/// [`DebBuilder::field`]s in order, then a two-line `Description`.
#[derive(Clone, Debug)]
pub struct DebBuilder {
    package: String,
    version: String,
    arch: String,
    fields: Vec<(String, String)>,
    control_raw: Option<Vec<u8>>,
    control_extra: Vec<(String, Vec<u8>)>,
    control_comp: Comp,
    data_comp: Comp,
    ar_style: ArStyle,
    data: Vec<DataEntry>,
    debian_binary: Vec<u8>,
    mtime: u64,
}

impl DebBuilder {
    /// A package `name`, version `1.0`, architecture `amd64`, control.tar.gz,
    /// data.tar.xz, BSD (dpkg-deb style) ar names, one small data file.
    pub fn new(package: &str) -> DebBuilder {
        DebBuilder {
            package: package.to_string(),
            version: "1.0".to_string(),
            arch: "amd64".to_string(),
            fields: Vec::new(),
            control_raw: None,
            control_extra: Vec::new(),
            control_comp: Comp::Gz,
            data_comp: Comp::Xz,
            ar_style: ArStyle::Bsd,
            data: Vec::new(),
            debian_binary: b"2.0\n".to_vec(),
            mtime: DEFAULT_MTIME,
        }
    }
    pub fn version(mut self, v: &str) -> Self {
        self.version = v.to_string();
        self
    }
    pub fn arch(mut self, a: &str) -> Self {
        self.arch = a.to_string();
        self
    }
    /// Adds `Name: value` to the generated control file (after Maintainer,
    /// before Description, in call order). Ignored with [`Self::control_raw`].
    pub fn field(mut self, name: &str, value: &str) -> Self {
        self.fields.push((name.to_string(), value.to_string()));
        self
    }
    /// Uses these exact bytes as `./control` (CRLF, latin-1, anything).
    pub fn control_raw(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.control_raw = Some(bytes.into());
        self
    }
    /// Adds another file to the control tar (e.g. `md5sums`, `postinst`).
    pub fn control_file(mut self, name: &str, bytes: impl Into<Vec<u8>>) -> Self {
        self.control_extra.push((name.to_string(), bytes.into()));
        self
    }
    pub fn control_compression(mut self, c: Comp) -> Self {
        self.control_comp = c;
        self
    }
    pub fn data_compression(mut self, c: Comp) -> Self {
        self.data_comp = c;
        self
    }
    pub fn ar_style(mut self, s: ArStyle) -> Self {
        self.ar_style = s;
        self
    }
    /// Adds a regular file to data.tar (`path` relative, e.g. `usr/bin/foo`).
    pub fn data_file(mut self, path: &str, bytes: impl Into<Vec<u8>>, mode: u32) -> Self {
        self.data.push(DataEntry::File {
            path: path.trim_start_matches("./").to_string(),
            bytes: bytes.into(),
            mode,
        });
        self
    }
    /// Adds a symlink `path -> target` to data.tar.
    pub fn data_symlink(mut self, path: &str, target: &str) -> Self {
        self.data.push(DataEntry::Symlink {
            path: path.trim_start_matches("./").to_string(),
            target: target.to_string(),
        });
        self
    }
    /// Contents of the `debian-binary` member (default `2.0\n`).
    pub fn debian_binary(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.debian_binary = bytes.into();
        self
    }
    /// Timestamp of every ar member and tar entry.
    pub fn mtime(mut self, t: u64) -> Self {
        self.mtime = t;
        self
    }

    /// The bytes that go into `./control`.
    pub fn control_bytes(&self) -> Vec<u8> {
        if let Some(raw) = &self.control_raw {
            return raw.clone();
        }
        let mut c = format!(
            "Package: {}\nVersion: {}\nArchitecture: {}\nMaintainer: Test Builder <test@example.org>\n",
            self.package, self.version, self.arch
        );
        for (k, v) in &self.fields {
            c += &format!("{k}: {v}\n");
        }
        c += &format!(
            "Description: test package {}\n Built by DebBuilder.\n",
            self.package
        );
        c.into_bytes()
    }

    /// Ar member names in order.
    pub fn member_names(&self) -> [String; 3] {
        [
            "debian-binary".to_string(),
            format!("control.tar{}", self.control_comp.ext()),
            format!("data.tar{}", self.data_comp.ext()),
        ]
    }

    /// The whole .deb.
    pub fn build(&self) -> Vec<u8> {
        let control_tar = {
            let mut t = self.tar();
            self.tar_dir(&mut t, "./");
            self.tar_file(&mut t, "./control", &self.control_bytes(), 0o644);
            for (name, bytes) in &self.control_extra {
                let mode = if name.ends_with("inst") || name.ends_with("rm") {
                    0o755
                } else {
                    0o644
                };
                self.tar_file(
                    &mut t,
                    &format!("./{}", name.trim_start_matches("./")),
                    bytes,
                    mode,
                );
            }
            t.into_inner().expect("finish control tar")
        };
        let data_tar = {
            let mut t = self.tar();
            let mut entries = self.data.clone();
            if entries.is_empty() {
                entries.push(DataEntry::File {
                    path: format!("usr/share/doc/{}/README", self.package),
                    bytes: format!("{}\n", self.package).into_bytes(),
                    mode: 0o644,
                });
            }
            let mut dirs: Vec<String> = vec!["./".to_string()];
            for e in &entries {
                let p = match e {
                    DataEntry::File { path, .. } | DataEntry::Symlink { path, .. } => path,
                };
                let parts: Vec<&str> = p.split('/').collect();
                for i in 1..parts.len() {
                    let d = format!("./{}/", parts[..i].join("/"));
                    if !dirs.contains(&d) {
                        dirs.push(d);
                    }
                }
            }
            for d in &dirs {
                self.tar_dir(&mut t, d);
            }
            for e in &entries {
                match e {
                    DataEntry::File { path, bytes, mode } => {
                        self.tar_file(&mut t, &format!("./{path}"), bytes, *mode)
                    }
                    DataEntry::Symlink { path, target } => {
                        let mut h = self.tar_header(tar::EntryType::Symlink, 0o777);
                        h.set_size(0);
                        let name = format!("./{path}");
                        if name.len() < 100 && target.len() < 100 {
                            set_raw_name(&mut h, &name);
                            h.set_link_name(target).expect("tar link name");
                            h.set_cksum();
                            t.append(&h, io::empty()).expect("tar symlink");
                        } else {
                            t.append_link(&mut h, name, target).expect("tar symlink");
                        }
                    }
                }
            }
            t.into_inner().expect("finish data tar")
        };
        let names = self.member_names();
        let bodies = [
            self.debian_binary.clone(),
            self.control_comp.compress(&control_tar),
            self.data_comp.compress(&data_tar),
        ];
        let mut out = Vec::new();
        match self.ar_style {
            ArStyle::Bsd => {
                let mut a = ar::Builder::new(&mut out);
                for (n, b) in names.iter().zip(bodies.iter()) {
                    a.append(&self.ar_header(n, b.len()), &b[..])
                        .expect("ar member");
                }
            }
            ArStyle::Gnu => {
                let ids = names.iter().map(|n| n.as_bytes().to_vec()).collect();
                let mut a = ar::GnuBuilder::new(&mut out, ids);
                for (n, b) in names.iter().zip(bodies.iter()) {
                    a.append(&self.ar_header(n, b.len()), &b[..])
                        .expect("ar member");
                }
            }
        }
        out
    }

    /// Writes [`Self::build`] to `path`, creating parent directories.
    pub fn write_to(&self, path: &Path) -> io::Result<()> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, self.build())
    }

    fn ar_header(&self, name: &str, size: usize) -> ar::Header {
        let mut h = ar::Header::new(name.as_bytes().to_vec(), size as u64);
        h.set_mtime(self.mtime);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mode(0o100644);
        h
    }

    fn tar(&self) -> tar::Builder<Vec<u8>> {
        tar::Builder::new(Vec::new())
    }

    fn tar_header(&self, kind: tar::EntryType, mode: u32) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(self.mtime);
        h.set_username("root").expect("tar uname");
        h.set_groupname("root").expect("tar gname");
        h
    }

    fn tar_dir(&self, t: &mut tar::Builder<Vec<u8>>, path: &str) {
        let mut h = self.tar_header(tar::EntryType::Directory, 0o755);
        h.set_size(0);
        if path.len() < 100 {
            // set_path would strip "./"; write the name bytes as dpkg-deb does.
            set_raw_name(&mut h, path);
            h.set_cksum();
            t.append(&h, io::empty()).expect("tar dir");
        } else {
            t.append_data(&mut h, path, io::empty()).expect("tar dir");
        }
    }

    fn tar_file(&self, t: &mut tar::Builder<Vec<u8>>, path: &str, bytes: &[u8], mode: u32) {
        let mut h = self.tar_header(tar::EntryType::Regular, mode);
        h.set_size(bytes.len() as u64);
        if path.len() < 100 {
            set_raw_name(&mut h, path);
            h.set_cksum();
            t.append(&h, bytes).expect("tar file");
        } else {
            t.append_data(&mut h, path, bytes).expect("tar file");
        }
    }
}

/// Puts `name` verbatim into the 100-byte name field (keeps a leading `./`).
fn set_raw_name(h: &mut tar::Header, name: &str) {
    let field = &mut h.as_old_mut().name;
    assert!(
        name.len() < field.len(),
        "tar name too long for the raw field: {name}"
    );
    field.iter_mut().for_each(|b| *b = 0);
    field[..name.len()].copy_from_slice(name.as_bytes());
}

/// The exit status elirepo's panic hook gives a crash (Rust's panic status).
pub const EXIT_CRASH: i32 = 101;

/// `Ok` if the binary ran to an exit code of its own choosing, whatever the
/// code: not killed by a signal, not exit [`EXIT_CRASH`], and no `internal
/// error` (the panic hook's words) nor `panicked` (Rust's, with
/// `RUST_BACKTRACE`) on stderr. Else `Err` with the reason and the stderr.
pub fn check_no_crash(o: &std::process::Output) -> Result<(), String> {
    use std::os::unix::process::ExitStatusExt;
    let stderr = String::from_utf8_lossy(&o.stderr);
    let why = match (o.status.code(), o.status.signal()) {
        (_, Some(sig)) => Some(format!("killed by signal {sig}")),
        (Some(EXIT_CRASH), _) => Some(format!("exit {EXIT_CRASH}, elirepo's crash status")),
        (None, None) => Some(format!("no exit code ({:?})", o.status)),
        _ if stderr.contains("internal error") => {
            Some("\"internal error\" on stderr (a panic)".to_string())
        }
        _ if stderr.contains("panicked") => Some("\"panicked\" on stderr".to_string()),
        _ => None,
    };
    match why {
        None => Ok(()),
        Some(why) => Err(format!("crashed: {why}; stderr:\n{stderr}")),
    }
}

/// `Ok` if the run failed cleanly, the way bad input must end: [`check_no_crash`]
/// holds and the exit code is not 0. Else `Err` with the reason and the stderr.
pub fn check_failed_cleanly(o: &std::process::Output) -> Result<(), String> {
    check_no_crash(o)?;
    if o.status.success() {
        return Err(format!(
            "exit 0, want a failure; stderr:\n{}",
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    Ok(())
}

/// Panics, naming `what`, unless [`check_no_crash`] holds.
#[track_caller]
pub fn assert_no_crash(o: &std::process::Output, what: &str) {
    if let Err(e) = check_no_crash(o) {
        panic!("{what}: {e}");
    }
}

/// Panics, naming `what`, unless [`check_failed_cleanly`] holds.
#[track_caller]
pub fn assert_failed_cleanly(o: &std::process::Output, what: &str) {
    if let Err(e) = check_failed_cleanly(o) {
        panic!("{what}: {e}");
    }
}

/// Runs `cmd`, returning its output; panics with the command line if it
/// cannot be started.
pub fn output_of(cmd: &mut Command) -> std::process::Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// Lossy text of some bytes.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// stdout and stderr of a finished command, for messages.
pub fn both(o: &std::process::Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        text(&o.stdout),
        text(&o.stderr)
    )
}

/// The JSON on a finished command's stdout; panics (showing the output) if it
/// is not JSON.
pub fn json(o: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", both(o)))
}

/// The set of these names.
pub fn set(names: &[&str]) -> std::collections::BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words() {
        assert_eq!(
            split_shell_words(r#"packages pool "" deb"#),
            vec!["packages", "pool", "", "deb"]
        );
        assert_eq!(
            split_shell_words(r#"-o 'A B' "c \"d\"" e\ f"#),
            vec!["-o", "A B", "c \"d\"", "e f"]
        );
        assert!(split_shell_words("  ").is_empty());
    }
}

/// A real server on 127.0.0.1 serving a directory: `python3 -m http.server` or
/// `python3 -m pyftpdlib`. Killed when dropped.
pub struct Server {
    child: std::process::Child,
    /// Its base URL, ending in `/`.
    pub base: String,
}

impl Server {
    /// Starts an HTTP server on a free port and waits until it listens.
    pub fn http(dir: &Path) -> Server {
        Server::start(dir, "http", |port| {
            vec![
                "-m".into(),
                "http.server".into(),
                "--bind".into(),
                "127.0.0.1".into(),
                port,
                "--directory".into(),
            ]
        })
    }

    /// Starts an anonymous FTP server (pyftpdlib) on a free port and waits until it listens.
    pub fn ftp(dir: &Path) -> Server {
        Server::start(dir, "ftp", |port| {
            vec![
                "-m".into(),
                "pyftpdlib".into(),
                "-i".into(),
                "127.0.0.1".into(),
                "-p".into(),
                port,
                "-d".into(),
            ]
        })
    }

    fn start(dir: &Path, scheme: &str, args: impl FnOnce(String) -> Vec<String>) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("python3")
            .args(args(port.to_string()))
            .arg(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let server = Server {
            child,
            base: format!("{scheme}://127.0.0.1:{port}/"),
        };
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("the {scheme} server on port {port} did not start");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An ar archive of `(name, data)` members with GNU-style padding, for hand-made .debs.
pub fn ar_archive(members: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut out = b"!<arch>\n".to_vec();
    for (name, data) in members {
        let mut head = format!(
            "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
            "",
            0,
            0,
            0,
            100644,
            data.len()
        )
        .into_bytes();
        head[..name.len()].copy_from_slice(name);
        out.extend_from_slice(&head);
        out.extend_from_slice(data);
        if data.len() % 2 == 1 {
            out.push(b'\n');
        }
    }
    out
}
