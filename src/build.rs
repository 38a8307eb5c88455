//! `elirepo build`: from .debs (and netboot inputs) to a published, signed repository.
//!
//! This module owns the order of a build; the pieces live elsewhere. It reads and
//! checks every input first ([`crate::deb`], [`crate::pool`], [`crate::netboot`]),
//! takes the repository's lock, computes every file of the suite in memory
//! (Packages and its compressed variants, component and suite Release, by-hash
//! copies, netboot trees, signatures), and only then publishes: new pool files
//! (new names nothing refers to yet), then the whole `dists/<suite>` tree at once
//! as a new generation switched in by one rename ([`SuiteTree`]). Pool files no
//! generation still names are removed after the switch. A build whose inputs did
//! not change writes nothing and keeps the Release `Date`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::io::Read;

use sha2::Digest;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::cache::Cache;
use crate::compress::Compression;
use crate::config::BuildOptions;
use crate::deb::{self, DebError, DebInfo};
use crate::hash::{hex, Hashes};
use crate::index::{write_stanza, Overrides, StanzaOptions};
use crate::netboot;
use crate::pool::PackageId;
use crate::progress::Progress;
use crate::publish::{Content, PublishError, Publisher, SuiteTree, STATE_DIR};
use crate::release::{self, ReleaseFields};
use crate::sign::{GpgSigner, SignError};

/// How many generations of by-hash copies stay published.
pub const BY_HASH_KEEP: usize = 3;

/// Receives what a build is doing, for the front end to show.
pub trait Listener {
    /// A step of the build.
    fn step(&mut self, message: &str);
    /// Something the user should know.
    fn warn(&mut self, message: &str);
    /// Long work begins: `task` goes through `total` bytes (hashing, copying,
    /// decompressing), counted on the returned handle from any thread; the work
    /// ends when every clone of it is dropped (see [`crate::progress`]). The
    /// default counts nothing.
    fn progress(&mut self, task: &str, total: u64) -> Progress {
        let _ = (task, total);
        Progress::none()
    }
}

/// A listener that drops everything.
pub struct Silent;
impl Listener for Silent {
    fn step(&mut self, _: &str) {}
    fn warn(&mut self, _: &str) {}
}

/// Why a build published nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// An input path is missing or unusable.
    #[error("{}: {reason}", path.display())]
    Input {
        /// The input.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Some .debs cannot be read (all are listed).
    #[error("{}", list_errors(.0))]
    Debs(Vec<DebError>),
    /// Two inputs claim the same package, version and architecture with different bytes.
    #[error("{} and {}: both are {package} but their contents differ; give only one (or bump the version)", first.display(), second.display())]
    Duplicate {
        /// The first file.
        first: PathBuf,
        /// The second file.
        second: PathBuf,
        /// `name version arch`.
        package: String,
    },
    /// A pool file is already published with other content.
    #[error("{}: already published with different content than {}; Debian archives never change a published file: bump the version", pool.display(), input.display())]
    PoolConflict {
        /// The published file.
        pool: PathBuf,
        /// The input.
        input: PathBuf,
    },
    /// Signing failed.
    #[error(transparent)]
    Sign(#[from] SignError),
    /// Publishing failed.
    #[error(transparent)]
    Publish(#[from] PublishError),
    /// The netboot kernel or initrd cannot be published.
    #[error(transparent)]
    Netboot(#[from] netboot::NetbootError),
    /// Anything else, with its message.
    #[error("{0}")]
    Other(String),
}

fn list_errors(errors: &[DebError]) -> String {
    let mut s = String::new();
    for (i, e) in errors.iter().enumerate() {
        if i > 0 {
            s.push_str("\nelirepo: error: ");
        }
        s.push_str(&e.to_string());
    }
    if errors.len() > 1 {
        s.push_str(&format!(
            "\nelirepo: error: {} .deb files cannot be published",
            errors.len()
        ));
    }
    s
}

/// What a build did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct BuildReport {
    /// True if anything published changed.
    pub changed: bool,
    /// Packages in the suite, as `name version arch`.
    pub packages: Vec<String>,
    /// Packages that were not in the previous Release.
    pub added: Vec<String>,
    /// Packages that were in the previous Release and are gone.
    pub removed: Vec<String>,
    /// Files renamed into place.
    pub files_written: usize,
    /// Files removed.
    pub files_removed: usize,
    /// SHA256 of the suite Release.
    pub release_sha256: String,
    /// Whether the Release is signed.
    pub signed: bool,
    /// The published public key, relative to the repository.
    pub keyring: Option<String>,
    /// The netboot trees: architecture, VERSION, kernel and initrd.
    pub netboot: Vec<NetbootReport>,
    /// Every file the suite Release lists (relative to `dists/<suite>/`), with its
    /// size and SHA256.
    pub release_files: BTreeMap<String, ReleaseFile>,
}

/// One file listed in the suite Release.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReleaseFile {
    /// Size in bytes.
    pub size: u64,
    /// SHA256, lowercase hex.
    pub sha256: String,
}

/// One published netboot tree.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct NetbootReport {
    /// `i386` or `amd64`.
    pub arch: String,
    /// The VERSION directory `current` points to.
    pub version: String,
    /// Kernel release, from its setup header.
    pub kernel_release: Option<String>,
    /// SHA256 of the kernel.
    pub kernel_sha256: String,
    /// Size of the kernel.
    pub kernel_size: u64,
    /// SHA256 of the initrd.
    pub initrd_sha256: String,
    /// Size of the initrd.
    pub initrd_size: u64,
    /// The kernel as eliloader fetches it, relative to the repository.
    pub kernel_path: String,
    /// The initrd as eliloader fetches it, relative to the repository.
    pub initrd_path: String,
    /// The kernel file that was published.
    pub kernel_source: PathBuf,
    /// The initrd file that was published.
    pub initrd_source: PathBuf,
}

/// One input package.
struct Input {
    path: PathBuf,
    info: DebInfo,
    id: PackageId,
    pool: PathBuf,
}

fn is_deb_name(p: &Path) -> bool {
    p.extension().is_some_and(|e| e == "deb")
}

/// Expands `--deb` arguments: files as given, directories walked (sorted) for `*.deb`.
pub fn collect_debs(args: &[PathBuf]) -> Result<Vec<PathBuf>, BuildError> {
    let mut out = Vec::new();
    for a in args {
        let meta = fs::metadata(a).map_err(|e| BuildError::Input {
            path: a.clone(),
            reason: format!("cannot use as --deb input: {e}"),
        })?;
        if meta.is_dir() {
            walk_debs(a, &mut out)?;
        } else if meta.is_file() {
            out.push(a.clone());
        } else {
            return Err(BuildError::Input {
                path: a.clone(),
                reason: "not a regular file or directory".into(),
            });
        }
    }
    Ok(out)
}

/// Adds the `*.deb` files under `dir` (sorted, links followed) to `out`.
///
/// Entries are typed from the directory listing; only links are stat'ed, so a
/// tree of thousands of .debs costs no stat per file here.
fn walk_debs(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), BuildError> {
    let walk_err = |e: walkdir::Error| BuildError::Input {
        path: e.path().map_or(dir.to_path_buf(), Path::to_path_buf),
        reason: format!("cannot walk: {e}"),
    };
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.map_err(walk_err)?;
        let ft = entry.file_type();
        if ft.is_file() && is_deb_name(entry.path()) {
            out.push(entry.into_path());
        } else if ft.is_symlink() && entry.depth() > 0 {
            match fs::metadata(entry.path()) {
                Ok(m) if m.is_file() && is_deb_name(entry.path()) => out.push(entry.into_path()),
                // A linked directory: walked with links followed (walkdir stops loops).
                Ok(m) if m.is_dir() => {
                    for sub in walkdir::WalkDir::new(entry.path())
                        .follow_links(true)
                        .sort_by_file_name()
                    {
                        let sub = sub.map_err(walk_err)?;
                        if sub.file_type().is_file() && is_deb_name(sub.path()) {
                            out.push(sub.into_path());
                        }
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Reads and checks every input package.
fn read_inputs(
    opts: &BuildOptions,
    paths: &[PathBuf],
    cache: &mut Cache,
    progress: &mut dyn FnMut(u64) -> Progress,
) -> Result<Vec<Input>, BuildError> {
    let infos = deb::read_infos_with(paths, Some(cache), progress);
    let mut errors = Vec::new();
    let mut inputs = Vec::new();
    for (path, info) in paths.iter().zip(infos) {
        match info {
            Err(e) => errors.push(e),
            Ok(info) => match PackageId::from_control(&info.control) {
                Err(reason) => errors.push(DebError {
                    path: path.clone(),
                    kind: deb::DebErrorKind::Member(
                        "control".into(),
                        std::io::Error::other(reason),
                    ),
                }),
                Ok(id) => {
                    if id.arch != "all" && !opts.architectures.contains(&id.arch) {
                        errors.push(DebError {
                            path: path.clone(),
                            kind: deb::DebErrorKind::Member(
                                "control".into(),
                                std::io::Error::other(format!(
                                    "Architecture {} is not one of the suite's ({}); add --arch {} or leave the file out",
                                    id.arch,
                                    opts.architectures.join(", "),
                                    id.arch
                                )),
                            ),
                        });
                        continue;
                    }
                    let pool = id.pool_path(&opts.component);
                    inputs.push(Input {
                        path: path.clone(),
                        info,
                        id,
                        pool,
                    });
                }
            },
        }
    }
    if !errors.is_empty() {
        return Err(BuildError::Debs(errors));
    }
    // The same package, version and architecture twice: fine if identical, else an error.
    let mut by_id: HashMap<(String, String, String), usize> = HashMap::new();
    let mut keep = Vec::with_capacity(inputs.len());
    for (i, inp) in inputs.iter().enumerate() {
        let key = (
            inp.id.name.clone(),
            inp.id.version.clone(),
            inp.id.arch.clone(),
        );
        match by_id.get(&key) {
            Some(&j) => {
                if inputs[j].info.hashes != inp.info.hashes {
                    return Err(BuildError::Duplicate {
                        first: inputs[j].path.clone(),
                        second: inp.path.clone(),
                        package: format!("{} {} {}", key.0, key.1, key.2),
                    });
                }
            }
            None => {
                by_id.insert(key, i);
                keep.push(i);
            }
        }
    }
    let mut inputs: Vec<Input> = inputs
        .into_iter()
        .enumerate()
        .filter(|(i, _)| keep.contains(i))
        .map(|(_, inp)| inp)
        .collect();
    inputs.sort_by(|a, b| a.pool.as_os_str().cmp(b.pool.as_os_str()));
    Ok(inputs)
}

/// `content` compressed with `c`: the published file's bytes when it already holds
/// exactly that content (xz of a large index is the slowest step of a no-change
/// build), else a fresh deterministic compression.
fn compressed(published: &Path, content: &[u8], c: Compression) -> std::io::Result<Vec<u8>> {
    if let Ok(old) = fs::read(published) {
        let mut back = Vec::with_capacity(content.len());
        let same = c
            .decoder(&old[..])
            .and_then(|d| {
                crate::compress::LimitReader::new(d, content.len() as u64, "index")
                    .read_to_end(&mut back)
            })
            .is_ok()
            && back == content;
        if same {
            return Ok(old);
        }
    }
    c.compress(content)
}

/// The digests of an index from the previous Release, when the published file is
/// byte-identical to the new one (comparing is cheaper than four digests).
fn known_digests(
    old: Option<&release::ParsedRelease>,
    rel: &str,
    bytes: &[u8],
    published: &Path,
) -> Option<Hashes> {
    let listed = old?.files.get(rel)?;
    let arr = |h: &Option<String>| crate::hash::unhex(h.as_deref()?);
    let (md5, sha1, sha256, sha512) = (
        arr(&listed.md5)?,
        arr(&listed.sha1)?,
        arr(&listed.sha256)?,
        arr(&listed.sha512)?,
    );
    if listed.size != bytes.len() as u64 || fs::read(published).ok()? != bytes {
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

/// The published compressed index, if the previous (signed) Release proves it was made
/// from exactly this index: it lists the uncompressed index with `plain_sha256` and the
/// compressed file with the digest the file on disk has.
fn reuse_compressed(
    old: Option<&release::ParsedRelease>,
    dir: &str,
    plain_sha256: &str,
    variant: &str,
    published: &Path,
) -> Option<Vec<u8>> {
    let old = old?;
    let plain = old
        .files
        .get(&format!("{dir}/Packages"))?
        .sha256
        .as_deref()?;
    if plain != plain_sha256 {
        return None;
    }
    let want = old
        .files
        .get(&format!("{dir}/{variant}"))?
        .sha256
        .as_deref()?;
    let bytes = fs::read(published).ok()?;
    (hex(&sha2::Sha256::digest(&bytes)) == want).then_some(bytes)
}

/// Reads the Filenames listed by every suite's Packages indexes in the repository.
fn referenced_pool_files(repo: &Path) -> BTreeSet<String> {
    let mut refs = BTreeSet::new();
    let dists = repo.join("dists");
    let walker = walkdir::WalkDir::new(&dists)
        .into_iter()
        .filter_entry(|e| e.file_name() != "by-hash");
    let mut seen_dirs: BTreeMap<PathBuf, bool> = BTreeMap::new();
    let mut candidates = Vec::new();
    for entry in walker.flatten() {
        let name = entry.file_name().to_string_lossy();
        if entry.file_type().is_file()
            && (name == "Packages" || name == "Packages.xz" || name == "Packages.gz")
        {
            candidates.push(entry.into_path());
        }
    }
    // Prefer the uncompressed index of a directory; read one variant per directory.
    candidates.sort_by_key(|p| {
        let n = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        (p.parent().map(Path::to_path_buf), n != "Packages")
    });
    for path in candidates {
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        if seen_dirs.insert(dir, true).is_some() {
            continue;
        }
        let comp = match path.extension().and_then(|e| e.to_str()) {
            Some("xz") => Compression::Xz,
            Some("gz") => Compression::Gzip,
            _ => Compression::None,
        };
        let Ok(f) = fs::File::open(&path) else {
            continue;
        };
        let Ok(dec) = comp.decoder(f) else { continue };
        let mut text = Vec::new();
        if crate::compress::LimitReader::new(dec, 1 << 30, "Packages")
            .read_to_end(&mut text)
            .is_err()
        {
            continue;
        }
        for line in text.split(|&b| b == b'\n') {
            if let Some(v) = line.strip_prefix(b"Filename:") {
                refs.insert(String::from_utf8_lossy(crate::control::trim(v)).into_owned());
            }
        }
    }
    refs
}

/// Package identities (`name version arch`) listed in a Packages index text.
fn listed_packages(text: &[u8]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for stanza in text
        .split(|&b| b == b'\n')
        .collect::<Vec<_>>()
        .split(|l| l.is_empty())
    {
        let get = |name: &str| {
            stanza.iter().find_map(|l| {
                let l = *l;
                let (k, v) = l.split_at(l.iter().position(|&b| b == b':')?);
                k.eq_ignore_ascii_case(name.as_bytes())
                    .then(|| String::from_utf8_lossy(crate::control::trim(&v[1..])).into_owned())
            })
        };
        if let (Some(p), Some(v), Some(a)) = (get("Package"), get("Version"), get("Architecture")) {
            out.insert(format!("{p} {v} {a}"));
        }
    }
    out
}

/// Pool files of the last few generations of every suite elirepo builds in the repository.
fn recent_pool_files(repo: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let Ok(rd) = fs::read_dir(repo.join(STATE_DIR)) else {
        return out;
    };
    for e in rd.flatten() {
        if e.file_name().to_string_lossy().starts_with("pool-") {
            out.extend(read_generations(&e.path()).into_iter().flatten());
        }
    }
    out
}

/// Reads the by-hash generation history of a suite, newest first.
fn read_generations(path: &Path) -> Vec<Vec<String>> {
    fs::read_to_string(path)
        .map(|t| {
            t.lines()
                .map(|l| l.split_whitespace().map(str::to_string).collect())
                .collect()
        })
        .unwrap_or_default()
}

/// Runs a build; see the module documentation.
pub fn build(opts: &BuildOptions, log: &mut dyn Listener) -> Result<BuildReport, BuildError> {
    let now = release::build_time().map_err(BuildError::Other)?;
    let pinned_time = std::env::var_os("SOURCE_DATE_EPOCH").is_some();

    // 1. Inputs, all checked before anything is touched.
    let signer = match &opts.sign {
        Some(s) => Some(GpgSigner::new(s)?),
        None => None,
    };
    let paths = collect_debs(&opts.debs)?;
    log.step(&format!("reading {} .deb files", paths.len()));
    let mut cache = Cache::load(&opts.repo.join(STATE_DIR).join("cache"));
    if let Some(note) = &cache.note {
        log.step(note);
    }
    let task = format!("reading {} .deb files", paths.len());
    let inputs = read_inputs(opts, &paths, &mut cache, &mut |total| {
        log.progress(&task, total)
    })?;
    let checks = netboot::Checks {
        allow_oversize: opts.allow_oversize,
        force: opts.force,
    };
    let mut chosen = Vec::new();
    for n in &opts.netboot {
        log.step(&format!(
            "checking the netboot kernel and initrd for installer-{}",
            n.arch
        ));
        let shared = std::cell::RefCell::new(&mut *log);
        let c = netboot::prepare_with(
            n,
            checks,
            &mut cache,
            &mut |m| shared.borrow_mut().warn(m),
            &mut |t, total| shared.borrow_mut().progress(t, total),
        )?;
        log.step(&format!(
            "installer-{}: kernel {} from {} is {}",
            c.arch,
            c.kernel_report.release().unwrap_or("of unknown version"),
            c.source,
            c.kernel_report.verdict.label()
        ));
        chosen.push(c);
    }
    // The lock, before reading anything published: a build that waited must see
    // what the build it waited for published, not what was there before.
    let mut publisher = Publisher::open(&opts.repo, opts.wait, &mut |m| log.step(m))?;

    // 2. The indexes of every architecture.
    let suite_dir = PathBuf::from("dists").join(&opts.suite);
    let mut index_files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let stanza_opts = StanzaOptions::default();
    let no_overrides = Overrides::default();
    let mut all_packages = BTreeSet::new();
    let old_release: Option<release::ParsedRelease> =
        fs::read(opts.repo.join(&suite_dir).join("Release"))
            .ok()
            .and_then(|b| release::parse_release(&String::from_utf8_lossy(&b)).ok());
    let built: Vec<Result<(String, Vec<u8>, Vec<u8>, Vec<u8>), BuildError>> =
        std::thread::scope(|sc| {
            let jobs: Vec<_> = opts
                .architectures
                .iter()
                .map(|arch| {
                    let (inputs, old, suite_dir) = (&inputs, old_release.as_ref(), &suite_dir);
                    let (stanza_opts, no_overrides) = (&stanza_opts, &no_overrides);
                    sc.spawn(move || {
                        // One allocation: growing a multi-megabyte index by doubling
                        // copies it again and again, faulting in fresh pages each time.
                        let estimate: usize = inputs
                            .iter()
                            .map(|i| i.info.control.source().len() + 512)
                            .sum();
                        let mut packages = Vec::with_capacity(estimate);
                        for inp in inputs
                            .iter()
                            .filter(|i| i.id.arch == *arch || i.id.arch == "all")
                        {
                            write_stanza(
                                &mut packages,
                                &inp.info.control,
                                &inp.info.hashes,
                                inp.pool.as_os_str().as_encoded_bytes(),
                                stanza_opts,
                                no_overrides,
                                Some(arch),
                            );
                        }
                        let dir = format!("{}/binary-{arch}", opts.component);
                        let published = opts.repo.join(suite_dir).join(&dir);
                        let sha = hex(&sha2::Sha256::digest(&packages));
                        let reuse = |variant: &str| {
                            reuse_compressed(old, &dir, &sha, variant, &published.join(variant))
                        };
                        let (gz, xz) = match (reuse("Packages.gz"), reuse("Packages.xz")) {
                            (Some(gz), Some(xz)) => (Ok(gz), Ok(xz)),
                            _ => std::thread::scope(|inner| {
                                let gz = inner.spawn(|| {
                                    compressed(
                                        &published.join("Packages.gz"),
                                        &packages,
                                        Compression::Gzip,
                                    )
                                });
                                let xz = compressed(
                                    &published.join("Packages.xz"),
                                    &packages,
                                    Compression::Xz,
                                );
                                (gz.join().expect("gzip thread"), xz)
                            }),
                        };
                        let err = |e: std::io::Error| BuildError::Other(e.to_string());
                        Ok((arch.clone(), packages, gz.map_err(err)?, xz.map_err(err)?))
                    })
                })
                .collect();
            jobs.into_iter()
                .map(|j| j.join().expect("index thread"))
                .collect()
        });
    for b in built {
        let (arch, packages, gz, xz) = b?;
        let dir = format!("{}/binary-{arch}", opts.component);
        index_files.insert(format!("{dir}/Packages"), packages);
        index_files.insert(format!("{dir}/Packages.gz"), gz);
        index_files.insert(format!("{dir}/Packages.xz"), xz);
        index_files.insert(
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
    for inp in &inputs {
        all_packages.insert(format!(
            "{} {} {}",
            inp.id.name, inp.id.version, inp.id.arch
        ));
    }
    let published_dir = opts.repo.join(&suite_dir);
    // The previous Release describes the published files only in a linked tree (one
    // build's whole): a real directory may hold files that a --no-symlinks build
    // renamed in before it stopped, under the previous Release.
    let linked = fs::symlink_metadata(&published_dir).is_ok_and(|m| m.file_type().is_symlink());
    let describing = old_release.as_ref().filter(|_| linked);
    // Indexes proven byte-identical to the published ones are kept, not compared again.
    let mut identical: BTreeSet<String> = BTreeSet::new();
    let mut listed: BTreeMap<String, Hashes> = index_files
        .iter()
        .map(|(p, b)| {
            let h = match known_digests(describing, p, b, &published_dir.join(p)) {
                Some(h) => {
                    identical.insert(p.clone());
                    h
                }
                None => Hashes::of_bytes(b),
            };
            (p.clone(), h)
        })
        .collect();
    let tree = netboot::plan(
        &chosen,
        &opts.repo,
        &suite_dir,
        now,
        opts.no_symlinks,
        &mut cache,
    )?;
    listed.extend(tree.listed.iter().map(|(k, v)| (k.clone(), v.clone())));

    // 4. The suite Release, keeping the previous Date when nothing else changed.
    let fields = |date: String, valid_until: Option<String>| ReleaseFields {
        origin: opts.origin.clone(),
        label: opts.label.clone(),
        suite: opts.suite.clone(),
        codename: opts.codename.clone(),
        date,
        valid_until,
        architectures: opts.architectures.clone(),
        components: vec![opts.component.clone()],
        description: opts.description.clone(),
        acquire_by_hash: opts.by_hash,
    };
    let valid_until = |t: i64| {
        opts.valid_for
            .map(|d| release::format_date(t + d as i64 * 86_400))
    };
    let mut release_bytes = release::write_release(
        &fields(release::format_date(now), valid_until(now)),
        &listed,
    );
    let release_path = opts.repo.join(&suite_dir).join("Release");
    let old_release = fs::read(&release_path).ok();
    let mut previous_packages = BTreeSet::new();
    if let Some(old) = &old_release {
        if let Ok(parsed) = release::parse_release(&String::from_utf8_lossy(old)) {
            if !pinned_time {
                if let Some(old_date) = parsed.field("Date") {
                    let old_valid = parsed.field("Valid-Until").map(str::to_string);
                    let candidate = release::write_release(
                        &fields(old_date.to_string(), old_valid.clone()),
                        &listed,
                    );
                    let fresh_enough = match (
                        opts.valid_for,
                        old_valid.as_deref().and_then(release::parse_date),
                    ) {
                        (None, _) => true,
                        (Some(days), Some(until)) => until - now > days as i64 * 86_400 / 2,
                        (Some(_), None) => false,
                    };
                    if &candidate == old && fresh_enough {
                        release_bytes = candidate;
                    }
                }
            }
        }
        for arch in &opts.architectures {
            let rel = format!("{}/binary-{arch}/Packages", opts.component);
            if identical.contains(&rel) {
                // The published index is this one: its packages are this build's.
                previous_packages.extend(
                    inputs
                        .iter()
                        .filter(|i| i.id.arch == *arch || i.id.arch == "all")
                        .map(|i| format!("{} {} {}", i.id.name, i.id.version, i.id.arch)),
                );
            } else if let Ok(text) = fs::read(opts.repo.join(&suite_dir).join(&rel)) {
                previous_packages.extend(listed_packages(&text));
            }
        }
    }
    let release_unchanged = old_release.as_deref() == Some(&release_bytes[..]);

    // 5. Signatures (reused when the Release did not change, since gpg's are not reproducible).
    let mut signed_files: Vec<(&str, Vec<u8>)> = Vec::new();
    let mut keyring: Option<(String, Vec<u8>)> = None;
    if let Some(signer) = &signer {
        let public = signer.public_key()?;
        let name = opts
            .label
            .as_deref()
            .or(opts.origin.as_deref())
            .unwrap_or("elirepo")
            .to_ascii_lowercase()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                    c
                } else {
                    '-'
                }
            })
            .collect::<String>();
        keyring = Some((format!("{name}-archive-keyring.gpg"), public));
        let suite_abs = opts.repo.join(&suite_dir);
        let old_in = fs::read(suite_abs.join("InRelease")).ok();
        let old_gpg = fs::read(suite_abs.join("Release.gpg")).ok();
        let keyring_same = keyring
            .as_ref()
            .is_some_and(|(n, k)| fs::read(opts.repo.join(n)).ok().as_ref() == Some(k));
        // Only signatures proven to sign these bytes: a --no-symlinks build stopped
        // between renaming Release and InRelease leaves the previous Release's.
        let proven = |i: &[u8]| {
            release::inrelease_body(&String::from_utf8_lossy(i)).as_deref()
                == std::str::from_utf8(&release_bytes).ok()
                && keyring.as_ref().is_some_and(|(n, _)| {
                    let (gpg, rel) = (suite_abs.join("Release.gpg"), suite_abs.join("Release"));
                    crate::sign::gpgv(&opts.repo.join(n), &gpg, Some(&rel)).is_ok()
                })
        };
        match (release_unchanged && keyring_same, old_in, old_gpg) {
            (true, Some(i), Some(g)) if proven(&i) => {
                signed_files.push(("Release.gpg", g));
                signed_files.push(("InRelease", i));
            }
            _ => {
                log.step(&format!("signing Release with key {}", signer.key()));
                signed_files.push(("Release.gpg", signer.detach_sign(&release_bytes)?));
                signed_files.push(("InRelease", signer.clearsign(&release_bytes)?));
            }
        }
    } else {
        log.warn("the repository is not signed: apt clients need [trusted=yes]; give --sign-key to sign it");
    }

    // 5. Publish. Pool files (and the public key) first: new names nothing refers to yet.
    // The published pool files, stat'ed on all cores.
    let dest_metas: Vec<Option<fs::Metadata>> = std::thread::scope(|sc| {
        let chunk = inputs.len().div_ceil(2).max(1);
        let parts: Vec<_> = inputs
            .chunks(chunk)
            .map(|c| {
                let repo = &opts.repo;
                sc.spawn(move || {
                    c.iter()
                        .map(|i| fs::symlink_metadata(repo.join(&i.pool)).ok())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|h| h.join().expect("stat thread"))
            .collect()
    });
    let copying = log.progress(
        "copying into the pool",
        inputs.iter().map(|i| i.info.hashes.size).sum(),
    );
    publisher.set_progress(copying.clone());
    let mut pool_known = vec![false; inputs.len()];
    for (k, (inp, meta)) in inputs.iter().zip(&dest_metas).enumerate() {
        let content = Content::File(inp.path.clone(), inp.info.hashes.clone());
        let dest = opts.repo.join(&inp.pool);
        // A pool file elirepo published and nobody touched since: known without reading it.
        let known = meta
            .as_ref()
            .filter(|m| m.is_file() && m.mode() & 0o777 == 0o644)
            .and_then(|m| cache.get(&dest, m).map(|e| e.hashes == inp.info.hashes));
        if known == Some(true) {
            pool_known[k] = true;
            copying.add(inp.info.hashes.size);
            continue;
        }
        if meta.is_some() {
            // Published already: the same bytes (hashed once here), or a conflict.
            if !publisher.is_current(&inp.pool, &content) {
                return Err(BuildError::PoolConflict {
                    pool: dest,
                    input: inp.path.clone(),
                });
            }
            copying.add(inp.info.hashes.size);
            continue;
        }
        publisher.stage(&inp.pool, &content)?;
    }
    if let Some((name, key)) = &keyring {
        publisher.stage(Path::new(name), &Content::Bytes(key.clone()))?;
    }
    let pool_written = publisher.staged_count();
    // Whatever changes from here on, the pool must be checked for leftovers afterwards,
    // even if this build dies half-way.
    let clean_marker = opts.repo.join(STATE_DIR).join("pool-clean");
    if pool_written > 0 {
        let _ = fs::remove_file(&clean_marker);
    }
    publisher.commit()?;
    publisher.set_progress(Progress::none());
    drop(copying);

    // Then the whole suite tree: indexes, by-hash copies, netboot trees, Release files.
    let mut suite = SuiteTree::open(&opts.repo, &suite_dir, !opts.no_symlinks)?;
    for (rel, content) in tree.files.iter().chain(&tree.switch) {
        suite.put(rel, content.clone())?;
    }
    let mut by_hash_paths = Vec::new();
    if opts.by_hash {
        for (rel, bytes) in &index_files {
            if rel.ends_with("/Release") {
                continue;
            }
            let h = &listed[rel];
            let dir = Path::new(rel).parent().unwrap_or(Path::new(""));
            for (alg, digest) in [("SHA256", hex(&h.sha256)), ("SHA512", hex(&h.sha512))] {
                let p = suite_dir.join(dir).join("by-hash").join(alg).join(digest);
                suite.put(&p, Content::Bytes(bytes.clone()))?;
                by_hash_paths.push(p);
            }
        }
    }
    for (rel, bytes) in &index_files {
        if identical.contains(rel) {
            suite.keep(&suite_dir.join(rel))?;
        } else {
            suite.put(&suite_dir.join(rel), Content::Bytes(bytes.clone()))?;
        }
    }
    suite.put(
        &suite_dir.join("Release"),
        Content::Bytes(release_bytes.clone()),
    )?;
    for (name, bytes) in &signed_files {
        suite.put(&suite_dir.join(name), Content::Bytes(bytes.clone()))?;
    }
    // Kept from the published tree: older netboot versions, recent by-hash generations.
    for rel in &tree.wanted {
        suite.keep(rel)?;
    }
    let generations_path = PathBuf::from(STATE_DIR).join(format!("by-hash-{}", opts.suite));
    let mut generations = read_generations(&opts.repo.join(&generations_path));
    let this_gen: Vec<String> = by_hash_paths
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    if generations.first() != Some(&this_gen) {
        generations.insert(0, this_gen);
    }
    generations.truncate(BY_HASH_KEEP);
    for p in generations.iter().skip(1).flatten() {
        suite.keep(Path::new(p))?;
    }
    let unchanged = suite.unchanged();
    if !unchanged {
        let _ = fs::remove_file(&clean_marker);
        log.step("publishing the suite tree");
    }
    let suite_written = suite.publish(&mut publisher)?;

    // Elirepo's own state, after the switch.
    let gen_text: String = generations.iter().map(|g| g.join(" ") + "\n").collect();
    publisher.stage(&generations_path, &Content::Bytes(gen_text.into_bytes()))?;
    // The pool files of the same generations: a client holding a previous Release
    // finds its indexes by hash, and must find the packages they name too.
    let pool_gen_path = PathBuf::from(STATE_DIR).join(format!("pool-{}", opts.suite));
    let mut pool_gens = read_generations(&opts.repo.join(&pool_gen_path));
    let this_pool: Vec<String> = inputs
        .iter()
        .map(|i| i.pool.display().to_string())
        .collect();
    if pool_gens.first() != Some(&this_pool) {
        pool_gens.insert(0, this_pool);
    }
    pool_gens.truncate(BY_HASH_KEEP);
    let pool_text: String = pool_gens.iter().map(|g| g.join(" ") + "\n").collect();
    publisher.stage(&pool_gen_path, &Content::Bytes(pool_text.into_bytes()))?;
    publisher.commit()?;
    let files_written = pool_written + suite_written;

    // 6. Remove pool files no suite references any more. The marker says the last
    //    cleanup finished; a build with nothing to change skips the walk then.
    let mut removed = 0usize;
    if !clean_marker.exists() {
        let mut refs = referenced_pool_files(&opts.repo);
        refs.extend(recent_pool_files(&opts.repo));
        let pool_abs = opts.repo.join("pool");
        let mut unreferenced = Vec::new();
        for entry in walkdir::WalkDir::new(&pool_abs).into_iter().flatten() {
            let p = entry.path();
            if entry.file_type().is_file()
                && p.extension()
                    .is_some_and(|e| e == "deb" || e == "udeb" || e == "ddeb")
            {
                let rel = p.strip_prefix(&opts.repo).unwrap_or(p).to_path_buf();
                if !refs.contains(&rel.display().to_string()) {
                    unreferenced.push(rel);
                }
            }
        }
        for rel in unreferenced {
            publisher.remove(&rel)?;
            removed += 1;
        }
        fs::write(&clean_marker, b"")
            .map_err(|e| BuildError::Other(format!("{}: {e}", clean_marker.display())))?;
    }
    publisher.finish()?;
    for (inp, known) in inputs.iter().zip(&pool_known) {
        if *known {
            continue;
        }
        let dest = opts.repo.join(&inp.pool);
        if let Ok(m) = fs::symlink_metadata(&dest) {
            if m.is_file() {
                cache.insert(&dest, &m, inp.info.hashes.clone(), None, 0);
            }
        }
    }
    for (rel, content) in &tree.files {
        if let (Content::File(_, h), Ok(m)) = (content, fs::symlink_metadata(opts.repo.join(rel))) {
            if m.is_file() && cache.get(&opts.repo.join(rel), &m).is_none() {
                cache.insert(&opts.repo.join(rel), &m, h.clone(), None, 0);
            }
        }
    }
    if let Err(e) = cache.save() {
        log.warn(&format!(
            "{}: cannot save the cache ({e}); the next build reads every .deb again",
            opts.repo.join(STATE_DIR).join("cache").display()
        ));
    }

    let changed = files_written > 0 || removed > 0;
    Ok(BuildReport {
        changed,
        added: all_packages
            .difference(&previous_packages)
            .cloned()
            .collect(),
        removed: previous_packages
            .difference(&all_packages)
            .cloned()
            .collect(),
        packages: all_packages.into_iter().collect(),
        files_written,
        files_removed: removed,
        release_sha256: Hashes::of_bytes(&release_bytes).sha256_hex(),
        signed: signer.is_some(),
        keyring: keyring.map(|(n, _)| n),
        netboot: chosen
            .iter()
            .map(|c| NetbootReport {
                arch: c.arch.clone(),
                version: tree.versions.get(&c.arch).cloned().unwrap_or_default(),
                kernel_release: c.kernel_report.release().map(str::to_string),
                kernel_sha256: c.kernel_hashes.sha256_hex(),
                kernel_size: c.kernel_hashes.size,
                initrd_sha256: c.initrd_hashes.sha256_hex(),
                initrd_size: c.initrd_hashes.size,
                kernel_path: netboot_path(&suite_dir, &c.arch, crate::eliloader::KERNEL_NAME),
                initrd_path: netboot_path(&suite_dir, &c.arch, crate::eliloader::INITRD_NAME),
                kernel_source: c.kernel.clone(),
                initrd_source: c.initrd.clone(),
            })
            .collect(),
        release_files: listed
            .iter()
            .map(|(p, h)| {
                (
                    p.clone(),
                    ReleaseFile {
                        size: h.size,
                        sha256: h.sha256_hex(),
                    },
                )
            })
            .collect(),
    })
}

/// `dists/<suite>/main/installer-<arch>/current/images/netboot/xen/<name>`.
fn netboot_path(suite_dir: &Path, arch: &str, name: &str) -> String {
    suite_dir
        .join(crate::eliloader::image_path(arch, name))
        .display()
        .to_string()
}
