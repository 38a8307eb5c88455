//! The inputs of a build, all read and checked before the repository is
//! touched: the `--deb` files (walked, read on all cores through the cache,
//! their identities checked against the suite) and the netboot pairs.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use super::stanzas::{Stanza, StanzaWriter, Window};
use super::{BuildError, Listener};
use crate::cache::Cache;
use crate::config::BuildOptions;
use crate::deb::{self, DebError, DebErrorKind, DebInfo};
use crate::hash::Hashes;
use crate::index::{write_stanza, Overrides, StanzaOptions};
use crate::netboot::{self, Chosen};
use crate::pool::PackageId;
use crate::publish::STATE_DIR;
use crate::sign::GpgSigner;

/// Everything a build publishes from, checked.
pub(super) struct Inputs {
    /// The signer, its key checked.
    pub signer: Option<GpgSigner>,
    /// The packages, sorted by pool path, duplicates dropped.
    pub debs: Vec<Input>,
    /// The netboot pairs, one per architecture.
    pub netboot: Vec<Chosen>,
}

/// Reads and checks every input, through the repository's cache (returned
/// for the later phases).
pub(super) fn read(
    opts: &BuildOptions,
    log: &mut dyn Listener,
) -> Result<(Inputs, Cache), BuildError> {
    let signer = opts.sign.as_ref().map(GpgSigner::new).transpose()?;
    let paths = collect_debs(&opts.debs)?;
    log.step(&format!("reading {}", deb_files(paths.len())));
    let mut cache = Cache::load(&opts.repo.join(STATE_DIR).join("cache"));
    // Each .deb, and its copy in the pool once published.
    cache.expect(2 * paths.len());
    if let Some(note) = &cache.note {
        log.step(note);
    }
    let debs = read_inputs(opts, paths, &mut cache, log)?;
    // No package is a mistake when --deb inputs were given (an empty mount, a bad
    // checkout) or when nothing else is published; a netboot tree alone, with no
    // --deb, is a repository of its own.
    let netboot_only = opts.debs.is_empty() && !opts.netboot.is_empty();
    if debs.is_empty() && !netboot_only && !opts.allow_empty {
        return Err(BuildError::NoPackages {
            inputs: opts.debs.clone(),
            suite: opts.suite.clone(),
        });
    }
    let netboot = check_netboot(opts, &mut cache, log)?;
    let inputs = Inputs {
        signer,
        debs,
        netboot,
    };
    Ok((inputs, cache))
}

/// What the status line says of a chosen kernel: only a PV-capable one, or
/// one `--force` let through, gets this far.
fn verdict_sentence(v: crate::xen::Verdict) -> &'static str {
    use crate::xen::Verdict;
    match v {
        Verdict::PvCapable => "Xen boots it as a PV guest",
        Verdict::PvhOnly => {
            "it boots as a PVH guest only, not PV; published anyway because of --force"
        }
        Verdict::NoXen => "built without Xen support; published anyway because of --force",
        Verdict::NotBootable => {
            "Xen cannot boot it as a PV guest; published anyway because of --force"
        }
        _ => "it could not be checked; published anyway because of --force",
    }
}

/// `1 .deb file`, `2 .deb files`.
fn deb_files(n: usize) -> String {
    if n == 1 {
        "1 .deb file".into()
    } else {
        format!("{n} .deb files")
    }
}

/// One input package, checked: a few hundred bytes, its stanza on disk.
/// Three allocations: its path, its identity and its pool path (each
/// exactly as long as its text).
#[derive(Debug)]
pub(super) struct Input {
    /// The .deb as given.
    pub path: PathBuf,
    /// Its digests and stanza.
    pub info: InputInfo,
    /// Its checked identity, `name version arch`.
    identity: Box<str>,
    /// Where it goes: `pool/<component>/...`, relative to the repository.
    pub pool: Box<Path>,
}

/// What a build keeps of a read .deb: its size and SHA-256 (what a copy is
/// checked against); its other digests are in its stanza, on disk, read
/// back by [`InputInfo::hashes`] when a copy or the cache needs all four.
#[derive(Debug, Clone)]
pub(super) struct InputInfo {
    /// Size of the .deb.
    pub size: u64,
    /// Its SHA-256.
    sha256: [u8; 32],
    /// Its Packages stanza (the same in every architecture's index).
    pub stanza: Stanza,
}

impl InputInfo {
    /// The info of a .deb of digests `hashes` whose stanza is `stanza`.
    pub fn new(hashes: &Hashes, stanza: Stanza) -> InputInfo {
        InputInfo {
            size: hashes.size,
            sha256: hashes.sha256,
            stanza,
        }
    }

    /// True if `other` is a .deb of the same bytes (size and SHA-256).
    pub fn same_bytes(&self, other: &InputInfo) -> bool {
        self.size == other.size && self.sha256 == other.sha256
    }

    /// True if `hashes` are this .deb's (its size and SHA-256).
    pub fn matches(&self, hashes: &Hashes) -> bool {
        hashes.size == self.size && hashes.sha256 == self.sha256
    }

    /// All four digests, read back from the stanza (through `window`); an
    /// error if the stanza does not hold them, or not this file's.
    pub fn hashes(&self, window: &mut Window) -> std::io::Result<Hashes> {
        let mut text = Vec::new();
        self.stanza.read_into(window, &mut text)?;
        let bad = |what: &str| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("the stanzas file does not hold {what} of a package it was written for"),
            )
        };
        let field = |name: &str| {
            text.split(|&b| b == b'\n').find_map(|line| {
                let value = line.strip_prefix(name.as_bytes())?.strip_prefix(b": ")?;
                crate::hash::unhex(std::str::from_utf8(value).ok()?)
            })
        };
        let digest = |name: &str| field(name).ok_or_else(|| bad(name));
        let hashes = Hashes {
            size: self.size,
            md5: digest("MD5sum")?.try_into().map_err(|_| bad("MD5sum"))?,
            sha1: digest("SHA1")?.try_into().map_err(|_| bad("SHA1"))?,
            sha256: digest("SHA256")?.try_into().map_err(|_| bad("SHA256"))?,
            sha512: digest("SHA512")?.try_into().map_err(|_| bad("SHA512"))?,
        };
        if hashes.sha256 != self.sha256 {
            return Err(bad("the SHA256"));
        }
        Ok(hashes)
    }
}

impl Input {
    /// An input of the package `id`, read from `path`.
    pub fn new(path: PathBuf, info: InputInfo, id: &PackageId, pool: PathBuf) -> Input {
        Input {
            path,
            info,
            identity: format!("{} {} {}", id.name, id.version, id.arch).into_boxed_str(),
            pool: pool.into_boxed_path(),
        }
    }

    /// `name version arch`, as reports list packages.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// Its architecture (`all` or one of the suite's).
    pub fn arch(&self) -> &str {
        self.identity.rsplit(' ').next().unwrap_or_default()
    }

    /// True if the package belongs in the index of `arch` (its own or `all`).
    pub fn is_for(&self, arch: &str) -> bool {
        let own = self.arch();
        own == arch || own == "all"
    }
}

/// The identities of `inputs`, as reports list them.
pub(super) fn identities(inputs: &[Input]) -> BTreeSet<String> {
    inputs.iter().map(|i| i.identity().to_string()).collect()
}

/// A .deb whose architecture is not one of the suite's.
#[derive(Debug, thiserror::Error)]
#[error("Architecture {arch} is not one of the suite's ({}); add --arch {arch} or leave the file out", suite.join(", "))]
pub struct ForeignArch {
    /// The package's architecture.
    pub arch: String,
    /// The suite's.
    pub suite: Vec<String>,
}

fn is_deb_name(p: &Path) -> bool {
    p.extension().is_some_and(|e| e == "deb")
}

/// Expands `--deb` arguments: files as given, directories walked (sorted) for `*.deb`.
pub fn collect_debs(args: &[PathBuf]) -> Result<Vec<PathBuf>, BuildError> {
    let mut out = Vec::new();
    for a in args {
        let meta = fs::metadata(a).map_err(|source| BuildError::Input {
            path: a.clone(),
            source,
        })?;
        if meta.is_dir() {
            walk_debs(a, &mut out)?;
        } else if meta.is_file() {
            out.push(a.clone());
        } else {
            return Err(BuildError::NotFileOrDir { path: a.clone() });
        }
    }
    Ok(out)
}

/// The order of entries of one directory: by name. Their paths differ only in
/// their names, so the paths are compared as they are, not cut into
/// components at each comparison (walkdir's `sort_by_file_name`).
fn by_name(a: &walkdir::DirEntry, b: &walkdir::DirEntry) -> std::cmp::Ordering {
    a.path().as_os_str().cmp(b.path().as_os_str())
}

/// Adds the `*.deb` files under `dir` (sorted, links followed) to `out`.
///
/// Entries are typed from the directory listing; only links are stat'ed, so a
/// tree of thousands of .debs costs no stat per file here.
fn walk_debs(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), BuildError> {
    let walk_err = |source: walkdir::Error| BuildError::Walk {
        path: source.path().map_or(dir.to_path_buf(), Path::to_path_buf),
        source,
    };
    for entry in walkdir::WalkDir::new(dir).sort_by(by_name) {
        let entry = entry.map_err(walk_err)?;
        let ft = entry.file_type();
        if ft.is_file() && is_deb_name(entry.path()) {
            // As long as its text: a walked path has room to spare (40 bytes a
            // package, 2 MiB at 50,000, held until the build ends).
            let mut path = entry.into_path();
            path.shrink_to_fit();
            out.push(path);
        } else if ft.is_symlink() && entry.depth() > 0 {
            match fs::metadata(entry.path()) {
                Ok(m) if m.is_file() && is_deb_name(entry.path()) => out.push(entry.into_path()),
                // A linked directory: walked with links followed (walkdir stops loops).
                Ok(m) if m.is_dir() => {
                    for sub in walkdir::WalkDir::new(entry.path())
                        .follow_links(true)
                        .sort_by(by_name)
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

/// Reads and checks every input package: all unreadable ones are reported
/// together; identical duplicates are dropped; the rest sorted by pool path.
/// Each package's stanza is written to disk as soon as it is read.
fn read_inputs(
    opts: &BuildOptions,
    mut paths: Vec<PathBuf>,
    cache: &mut Cache,
    log: &mut dyn Listener,
) -> Result<Vec<Input>, BuildError> {
    let task = format!("reading {}", deb_files(paths.len()));
    let mut stanzas = StanzaWriter::new().map_err(BuildError::Stanzas)?;
    let mut errors: Vec<(usize, DebError)> = Vec::new();
    let mut inputs: Vec<Input> = Vec::with_capacity(paths.len());
    // Each input's place among the arguments.
    let mut given: Vec<u32> = Vec::with_capacity(paths.len());
    let mut failed = None;
    let mut buf = Vec::with_capacity(4096);
    deb::for_each_info(
        &paths,
        Some(cache),
        &mut |total| log.progress(&task, total),
        &mut |i, info| {
            match info.and_then(|info| check(opts, &paths[i], info, &mut buf)) {
                // After a failure only the errors matter.
                Ok(c) if failed.is_none() && errors.is_empty() => match stanzas.add(&buf) {
                    Ok(stanza) => {
                        // Its path is moved in once every file is read.
                        inputs.push(c.into_input(PathBuf::new(), stanza));
                        given.push(i as u32);
                    }
                    Err(e) => failed = Some(e),
                },
                Ok(_) => {}
                Err(e) => errors.push((i, e)),
            }
        },
    );
    if !errors.is_empty() {
        errors.sort_by_key(|(i, _)| *i);
        return Err(BuildError::Debs(
            errors.into_iter().map(|(_, e)| e).collect(),
        ));
    }
    if let Some(e) = failed {
        return Err(BuildError::Stanzas(e));
    }
    stanzas.finish().map_err(BuildError::Stanzas)?;
    for (input, &i) in inputs.iter_mut().zip(&given) {
        input.path = std::mem::take(&mut paths[i as usize]);
    }
    drop(paths);
    // Of two duplicates, the first in the order of the arguments is the one kept.
    let mut inputs = drop_duplicates(Some(&given), inputs)?;
    inputs.sort_by(|a, b| a.pool.as_os_str().cmp(b.pool.as_os_str()));
    Ok(inputs)
}

/// A read package, checked, its stanza not yet stored.
#[derive(Debug)]
struct Checked {
    id: PackageId,
    pool: PathBuf,
    hashes: Hashes,
}

impl Checked {
    fn into_input(self, path: PathBuf, stanza: Stanza) -> Input {
        let info = InputInfo::new(&self.hashes, stanza);
        Input::new(path, info, &self.id, self.pool)
    }
}

/// The package's identity, checked, and an architecture the suite has; its
/// Packages stanza is written to `stanza`.
fn check(
    opts: &BuildOptions,
    path: &Path,
    info: DebInfo,
    stanza: &mut Vec<u8>,
) -> Result<Checked, DebError> {
    let control_error = |e: std::io::Error| DebError {
        path: path.to_path_buf(),
        kind: DebErrorKind::Member("control".into(), e),
    };
    let id = PackageId::from_control(&info.control)
        .map_err(|e| control_error(std::io::Error::other(e)))?;
    if id.arch != "all" && !opts.architectures.contains(&id.arch) {
        return Err(control_error(std::io::Error::other(ForeignArch {
            arch: id.arch,
            suite: opts.architectures.clone(),
        })));
    }
    let pool = id.pool_path(&opts.component);
    stanza.clear();
    // No overrides: the stanza is the same in every architecture's index.
    write_stanza(
        stanza,
        &info.control,
        &info.hashes,
        pool.as_os_str().as_encoded_bytes(),
        &StanzaOptions::default(),
        &Overrides::default(),
        None,
    );
    Ok(Checked {
        id,
        pool,
        hashes: info.hashes,
    })
}

/// The same package, version and architecture twice: the first kept if the
/// bytes are identical, else an error naming both files. Found by sorting
/// indices (4 bytes a package), not by a map of copied identities.
/// `given` is each input's place among the arguments (`inputs`' order when `None`).
fn drop_duplicates(
    given: Option<&[u32]>,
    mut inputs: Vec<Input>,
) -> Result<Vec<Input>, BuildError> {
    fn ident(i: &Input) -> &str {
        i.identity()
    }
    let place = |k: u32| given.map_or(k, |g| g[k as usize]);
    let mut order: Vec<u32> = (0..inputs.len() as u32).collect();
    // Of one identity, the first given comes first.
    order.sort_by(|&a, &b| {
        let (x, y) = (&inputs[a as usize], &inputs[b as usize]);
        ident(x).cmp(ident(y)).then(place(a).cmp(&place(b)))
    });
    let mut drop = vec![false; inputs.len()];
    // (the later input, the first of its identity): the earliest conflict is told.
    let mut conflict: Option<(u32, u32)> = None;
    let mut first = 0u32;
    for (n, &k) in order.iter().enumerate() {
        let this = &inputs[k as usize];
        if n == 0 || ident(&inputs[first as usize]) != ident(this) {
            first = k;
        } else if inputs[first as usize].info.same_bytes(&this.info) {
            drop[k as usize] = true;
        } else if conflict.is_none_or(|(c, _)| place(k) < place(c)) {
            conflict = Some((k, first));
        }
    }
    if let Some((second, first)) = conflict {
        let (first, second) = (&inputs[first as usize], &inputs[second as usize]);
        return Err(BuildError::Duplicate {
            first: first.path.clone(),
            second: second.path.clone(),
            package: first.identity().to_string(),
        });
    }
    let mut k = 0;
    inputs.retain(|_| {
        k += 1;
        !drop[k - 1]
    });
    Ok(inputs)
}

/// Finds and checks the kernel and initrd of every netboot input.
fn check_netboot(
    opts: &BuildOptions,
    cache: &mut Cache,
    log: &mut dyn Listener,
) -> Result<Vec<Chosen>, BuildError> {
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
        // Two closures cannot both hold the listener: it lends itself to the
        // progress, and the warnings are told when the check ends, before its
        // result line as always (on a terminal, after its progress bars).
        let mut warnings = Vec::new();
        let c = netboot::prepare_with(
            n,
            checks,
            cache,
            &mut |m| warnings.push(m.to_string()),
            &mut |t, total| log.progress(t, total),
        );
        for w in &warnings {
            log.warn(w);
        }
        let c = c?;
        log.step(&format!(
            "installer-{}: kernel {} from {}: {}",
            c.arch,
            c.kernel_report.release().unwrap_or("(version unknown)"),
            c.source,
            verdict_sentence(c.kernel_report.verdict)
        ));
        if opts.boot_test {
            log.step(&format!(
                "boot test of installer-{}: booting the pair under Xen in QEMU",
                c.arch
            ));
            crate::boot::gate(&c.kernel, &c.initrd, &c.arch)?;
        }
        chosen.push(c);
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::testing::{input, opts};
    use crate::hash::hex;
    use std::error::Error;

    #[test]
    fn deb_arguments_are_files_as_given_and_directories_walked_sorted() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        for f in [
            "in/b.deb",
            "in/a.deb",
            "in/sub/c.deb",
            "in/notes.txt",
            "other/e.deb",
        ] {
            fs::create_dir_all(d.join(f).parent().unwrap()).unwrap();
            fs::write(d.join(f), b"").unwrap();
        }
        std::os::unix::fs::symlink(d.join("other"), d.join("in/linked")).unwrap();
        std::os::unix::fs::symlink(d.join("other/e.deb"), d.join("in/d.deb")).unwrap();
        let got = collect_debs(&[d.join("in"), d.join("in/notes.txt")]).unwrap();
        let rel: Vec<_> = got.iter().map(|p| p.strip_prefix(d).unwrap()).collect();
        assert_eq!(
            rel,
            [
                Path::new("in/a.deb"),
                Path::new("in/b.deb"),
                Path::new("in/d.deb"),
                Path::new("in/linked/e.deb"),
                Path::new("in/sub/c.deb"),
                Path::new("in/notes.txt"),
            ]
        );
    }

    #[test]
    fn an_unusable_deb_argument_is_named_with_its_cause() {
        let t = tempfile::tempdir().unwrap();
        let missing = t.path().join("missing.deb");
        let e = collect_debs(std::slice::from_ref(&missing)).unwrap_err();
        match &e {
            BuildError::Input { path, source } => {
                assert_eq!(path, &missing);
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            }
            e => panic!("{e:?}"),
        }
        assert!(e.source().is_some());
        assert!(e.to_string().starts_with(&format!(
            "{}: cannot use as --deb input: ",
            missing.display()
        )));
        let e = collect_debs(&[PathBuf::from("/dev/null")]).unwrap_err();
        assert_eq!(e.to_string(), "/dev/null: not a regular file or directory");
    }

    #[test]
    fn the_digests_are_read_back_from_the_stanza_and_a_wrong_one_is_an_error() {
        let inp = input("aa", "amd64", b"the bytes");
        let want = Hashes::of_bytes(b"the bytes");
        let mut window = Window::default();
        assert_eq!(inp.info.hashes(&mut window).unwrap(), want);
        assert!(inp.info.matches(&want));
        assert!(!inp.info.matches(&Hashes::of_bytes(b"other bytes")));
        // A stanza whose digests are not the file's, or that lacks one.
        let mut w = StanzaWriter::new().unwrap();
        let other = Hashes::of_bytes(b"other bytes");
        let text = |h: &Hashes, skip: &str| {
            let mut t = format!("Package: aa\nSize: {}\n", h.size);
            for (name, v) in [
                ("MD5sum", hex(&h.md5)),
                ("SHA1", hex(&h.sha1)),
                ("SHA256", hex(&h.sha256)),
                ("SHA512", hex(&h.sha512)),
            ] {
                if name != skip {
                    t += &format!("{name}: {v}\n");
                }
            }
            t + "\n"
        };
        let swapped = w.add(text(&other, "").as_bytes()).unwrap();
        let no_sha1 = w.add(text(&want, "SHA1").as_bytes()).unwrap();
        let good = w.add(text(&want, "").as_bytes()).unwrap();
        w.finish().unwrap();
        let err = InputInfo::new(&want, swapped)
            .hashes(&mut window)
            .unwrap_err();
        assert!(err.to_string().contains("the SHA256"), "{err}");
        let err = InputInfo::new(&want, no_sha1)
            .hashes(&mut window)
            .unwrap_err();
        assert!(err.to_string().contains("SHA1"), "{err}");
        assert_eq!(
            InputInfo::new(&want, good).hashes(&mut window).unwrap(),
            want
        );
    }

    /// What each package costs while a build runs (its path, identity and
    /// pool path aside): a guard against a field that makes 50,000 of them
    /// megabytes larger.
    #[test]
    fn an_input_stays_small() {
        assert!(
            std::mem::size_of::<Input>() <= 128,
            "{}",
            std::mem::size_of::<Input>()
        );
    }

    #[test]
    fn duplicates_are_dropped_if_identical_and_refused_if_not() {
        let kept = drop_duplicates(
            None,
            vec![
                input("aa", "all", b"1"),
                input("bb", "all", b"2"),
                input("aa", "all", b"1"),
            ],
        )
        .unwrap();
        let names: Vec<_> = kept.iter().map(Input::identity).collect();
        assert_eq!(names, ["aa 1.0 all", "bb 1.0 all"]);
        let e = drop_duplicates(
            None,
            vec![input("aa", "all", b"1"), input("aa", "all", b"2")],
        );
        match e {
            Err(BuildError::Duplicate { package, .. }) => assert_eq!(package, "aa 1.0 all"),
            other => panic!("{:?}", other.map(|v| v.len())),
        }
        // Another architecture is another package.
        assert_eq!(
            drop_duplicates(
                None,
                vec![input("aa", "amd64", b"1"), input("aa", "i386", b"2")]
            )
            .unwrap()
            .len(),
            2
        );
    }

    #[test]
    fn a_package_must_have_a_valid_identity_and_one_of_the_suites_architectures() {
        let t = tempfile::tempdir().unwrap();
        let o = opts(t.path());
        // A .deb with this Package and Architecture.
        let deb = |arch: &str, name: &str| {
            let text = format!("Package: {name}\nVersion: 1.0\nArchitecture: {arch}\n");
            DebInfo {
                control: crate::control::Paragraph::parse(text.as_bytes()),
                hashes: Hashes::of_bytes(b"x"),
                data_compression: crate::compress::Compression::None,
            }
        };
        let mut stanza = Vec::new();
        let ok = check(&o, Path::new("in/x.deb"), deb("amd64", "xx"), &mut stanza).unwrap();
        assert_eq!(ok.pool, Path::new("pool/main/x/xx/xx_1.0_amd64.deb"));
        let text = String::from_utf8(stanza.clone()).unwrap();
        assert!(
            text.starts_with("Package: xx\nArchitecture: amd64\nVersion: 1.0\n")
                && text.contains("\nFilename: pool/main/x/xx/xx_1.0_amd64.deb\nSize: 1\n")
                && text.ends_with("\n\n"),
            "{text}"
        );
        let cause = |e: DebError| match e.kind {
            DebErrorKind::Member(member, io) => (member, io),
            other => panic!("{other}"),
        };
        let e = check(&o, Path::new("in/y.deb"), deb("arm64", "yy"), &mut stanza).unwrap_err();
        assert_eq!(
            e.to_string(),
            "in/y.deb: control: Architecture arm64 is not one of the suite's (amd64, i386); add --arch arm64 or leave the file out"
        );
        let (member, io) = cause(e);
        assert_eq!(member, "control");
        let foreign = io.get_ref().unwrap().downcast_ref::<ForeignArch>().unwrap();
        assert_eq!(foreign.arch, "arm64");
        let e = check(&o, Path::new("in/z.deb"), deb("amd64", "../z"), &mut stanza).unwrap_err();
        assert_eq!(
            e.to_string(),
            "in/z.deb: control: Package \"../z\" is not a valid Debian package name"
        );
        let (_, io) = cause(e);
        assert!(io.get_ref().unwrap().is::<crate::pool::IdError>());
    }
}
