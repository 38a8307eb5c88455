//! `elirepo verify`: check a published repository the way eliloader and apt use it.
//!
//! The target is a repository directory or an `http://`/`ftp://` URL. For each
//! suite this module reads the Release (and checks InRelease and Release.gpg
//! against a keyring with gpgv), its Date and Valid-Until, every listed file's
//! size and digests, every by-hash copy, every pool file the Packages indexes
//! name; then it fetches the kernel and initrd at exactly the URLs eliloader
//! builds and checks their sizes, that Content-Length is honest, that the kernel
//! is a Xen PV kernel of the right architecture and the initrd an initrd for it,
//! and that `SHA256SUMS`/`MD5SUMS` match. Everything is streamed: files are
//! hashed while they download and large ones are never held in memory.
//! Each problem names the file or URL and what is wrong.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

use crate::eliloader::{self, KernelProblem, INITRD_LIMIT, INITRD_NAME, KERNEL_LIMIT, KERNEL_NAME};
use crate::hash::{hex, Hashes, MultiHasher};
use crate::release::{self, ParsedRelease};

/// Most bytes read of an index or Release (bounds a hostile server).
const INDEX_LIMIT: u64 = 1 << 30;

/// One thing wrong, where.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// The file or URL concerned.
    pub location: String,
    /// What is wrong.
    pub what: String,
}

/// What a verification found.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct VerifyReport {
    /// The target checked.
    pub target: String,
    /// Suites checked.
    pub suites: Vec<String>,
    /// Problems: the repository fails when there is any.
    pub problems: Vec<Problem>,
    /// Warnings that do not fail the check (e.g. an https URL eliloader refuses).
    pub warnings: Vec<Problem>,
    /// Files whose size and digests were checked.
    pub files_checked: usize,
    /// Pool files checked.
    pub packages_checked: usize,
    /// The eliloader URLs fetched.
    pub eliloader_urls: Vec<String>,
}

impl VerifyReport {
    /// True when nothing is wrong.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
    fn problem(&mut self, location: impl Into<String>, what: impl Into<String>) {
        self.problems.push(Problem {
            location: location.into(),
            what: what.into(),
        });
    }
    fn warn(&mut self, location: impl Into<String>, what: impl Into<String>) {
        self.warnings.push(Problem {
            location: location.into(),
            what: what.into(),
        });
    }
}

/// What to check.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// A repository directory or an http:// or ftp:// URL.
    pub target: String,
    /// Suites (default: every suite of a directory; required for a URL).
    pub suites: Vec<String>,
    /// Architectures (default: the Release's).
    pub archs: Vec<String>,
    /// Keyring for gpgv.
    pub keyring: Option<PathBuf>,
    /// The time "now" for Date and Valid-Until.
    pub now: i64,
}

/// Why a verification could not run at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The target is not usable.
    #[error("{target}: {reason}")]
    Target {
        /// The target.
        target: String,
        /// Why.
        reason: String,
    },
}

/// What a fetch saw.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// Bytes received (up to the limit + 1).
    pub bytes: u64,
    /// Digests of the bytes received.
    pub hashes: Hashes,
    /// The server's Content-Length, if any.
    pub content_length: Option<u64>,
    /// True if more than the limit was available (the fetch stopped).
    pub over_limit: bool,
}

/// Where files come from.
pub enum Source {
    /// A local directory.
    Dir(PathBuf),
    /// An http:// base URL (ending in `/`).
    Http(ureq::Agent, String),
    /// An ftp:// base URL (ending in `/`), fetched in passive mode.
    Ftp(String),
}

impl Source {
    /// Opens `target`.
    pub fn open(target: &str) -> Result<Source, VerifyError> {
        let bad = |reason: &str| VerifyError::Target {
            target: target.to_string(),
            reason: reason.to_string(),
        };
        if target.starts_with("http://") || target.starts_with("https://") {
            let mut base = target.to_string();
            if !base.ends_with('/') {
                base.push('/');
            }
            let agent = ureq::AgentBuilder::new()
                .redirects(5)
                .timeout_connect(std::time::Duration::from_secs(20))
                .timeout_read(std::time::Duration::from_secs(60))
                .build();
            if target.starts_with("https://") {
                return Err(bad(
                    "https is not supported by eliloader (nor by this check); publish over http://",
                ));
            }
            Ok(Source::Http(agent, base))
        } else if target.starts_with("ftp://") {
            let mut base = target.to_string();
            if !base.ends_with('/') {
                base.push('/');
            }
            Ok(Source::Ftp(base))
        } else if target.contains("://") {
            Err(bad(
                "unsupported URL scheme: use a directory, an http:// or an ftp:// URL",
            ))
        } else {
            let p = PathBuf::from(target);
            if !p.is_dir() {
                return Err(bad("not a directory"));
            }
            Ok(Source::Dir(p))
        }
    }

    /// The location of `rel` (for messages).
    pub fn location(&self, rel: &str) -> String {
        match self {
            Source::Dir(d) => d.join(rel).display().to_string(),
            Source::Http(_, base) | Source::Ftp(base) => format!("{base}{rel}"),
        }
    }

    /// Streams `rel` (or an absolute URL) into `out`, hashing it, stopping after `limit` bytes.
    pub fn fetch(&self, rel: &str, limit: u64, out: &mut dyn Write) -> Result<Fetched, String> {
        match self {
            Source::Dir(d) => {
                let p = Path::new(rel);
                if p.components().any(|c| !matches!(c, Component::Normal(_))) {
                    return Err("path leaves the repository".into());
                }
                let f = File::open(d.join(p)).map_err(|e| e.to_string())?;
                let len = f.metadata().map(|m| m.len()).ok();
                stream(f, limit, out, len)
            }
            Source::Http(agent, base) => {
                let url = if rel.contains("://") {
                    rel.to_string()
                } else {
                    format!("{base}{rel}")
                };
                Self::fetch_url(agent, &url, limit, out)
            }
            Source::Ftp(base) => {
                let url = if rel.contains("://") {
                    rel.to_string()
                } else {
                    format!("{base}{rel}")
                };
                ftp_fetch(&url, limit, out)
            }
        }
    }

    fn fetch_url(
        agent: &ureq::Agent,
        url: &str,
        limit: u64,
        out: &mut dyn Write,
    ) -> Result<Fetched, String> {
        match agent.get(url).call() {
            Ok(resp) => {
                let len = resp
                    .header("Content-Length")
                    .and_then(|v| v.trim().parse().ok());
                stream(resp.into_reader(), limit, out, len)
            }
            Err(ureq::Error::Status(code, _)) => Err(format!("HTTP {code}")),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// Fetches an ftp:// URL (anonymous unless the URL names a user), passive mode,
/// binary; the SIZE reply plays the part of Content-Length.
fn ftp_fetch(url: &str, limit: u64, out: &mut dyn Write) -> Result<Fetched, String> {
    use std::io::BufRead;
    use std::net::TcpStream;
    use std::time::Duration;
    let rest = url.strip_prefix("ftp://").ok_or("not an ftp:// URL")?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let path = format!("/{path}");
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let (user, pass) = match userinfo.map(|u| u.split_once(':').unwrap_or((u, ""))) {
        Some((u, p)) => (u.to_string(), p.to_string()),
        None => ("anonymous".to_string(), "elirepo@".to_string()),
    };
    let hostport = if hostport.contains(':') {
        hostport.to_string()
    } else {
        format!("{hostport}:21")
    };
    let timeout = Some(Duration::from_secs(30));
    let ctrl =
        TcpStream::connect(&hostport).map_err(|e| format!("cannot connect to {hostport}: {e}"))?;
    ctrl.set_read_timeout(timeout).ok();
    let mut w = ctrl.try_clone().map_err(|e| e.to_string())?;
    let mut r = std::io::BufReader::new(ctrl);
    let reply = |r: &mut std::io::BufReader<TcpStream>| -> Result<(u32, String), String> {
        let mut line = String::new();
        if r.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
            return Err("the FTP server closed the connection".into());
        }
        let code: u32 = line
            .get(..3)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("bad FTP reply {line:?}"))?;
        if line.as_bytes().get(3) == Some(&b'-') {
            // Multi-line reply: until "<code> ".
            loop {
                let mut more = String::new();
                if r.read_line(&mut more).map_err(|e| e.to_string())? == 0 {
                    break;
                }
                if more.starts_with(&format!("{code} ")) {
                    break;
                }
            }
        }
        Ok((code, line.trim_end().to_string()))
    };
    let cmd = |w: &mut TcpStream,
               r: &mut std::io::BufReader<TcpStream>,
               c: &str|
     -> Result<(u32, String), String> {
        w.write_all(format!("{c}\r\n").as_bytes())
            .map_err(|e| e.to_string())?;
        reply(r)
    };
    let (code, text) = reply(&mut r)?;
    if code != 220 {
        return Err(format!("FTP greeting: {text}"));
    }
    let (code, text) = cmd(&mut w, &mut r, &format!("USER {user}"))?;
    if code == 331 {
        let (code, text) = cmd(&mut w, &mut r, &format!("PASS {pass}"))?;
        if code != 230 {
            return Err(format!("FTP login refused: {text}"));
        }
    } else if code != 230 {
        return Err(format!("FTP login refused: {text}"));
    }
    cmd(&mut w, &mut r, "TYPE I")?;
    let (code, text) = cmd(&mut w, &mut r, &format!("SIZE {path}"))?;
    let size = if code == 213 {
        text.get(4..).and_then(|v| v.trim().parse().ok())
    } else {
        None
    };
    if code == 550 {
        return Err(format!(
            "FTP 550: {}",
            text.get(4..).unwrap_or("no such file")
        ));
    }
    let (code, text) = cmd(&mut w, &mut r, "PASV")?;
    if code != 227 {
        return Err(format!("FTP PASV refused: {text}"));
    }
    let nums: Vec<u16> = text
        .split(|c: char| !c.is_ascii_digit())
        .filter(|t| !t.is_empty())
        .filter_map(|t| t.parse().ok())
        .collect();
    let n = nums.len();
    if n < 7 {
        return Err(format!("FTP PASV reply without an address: {text}"));
    }
    // The data connection goes to the control connection's host (a server's idea of
    // its own address is often wrong behind NAT); only the port is taken.
    let port = nums[n - 2] * 256 + nums[n - 1];
    let host = hostport
        .rsplit_once(':')
        .map_or(hostport.as_str(), |(h, _)| h);
    let data = TcpStream::connect((host, port)).map_err(|e| format!("FTP data connection: {e}"))?;
    data.set_read_timeout(timeout).ok();
    let (code, text) = cmd(&mut w, &mut r, &format!("RETR {path}"))?;
    if code != 150 && code != 125 {
        return Err(format!("FTP {code}: {}", text.get(4..).unwrap_or("")));
    }
    let got = stream(data, limit, out, size)?;
    if !got.over_limit {
        let (code, text) = reply(&mut r)?;
        if code != 226 && code != 250 {
            return Err(format!("FTP transfer failed: {text}"));
        }
    }
    let _ = cmd(&mut w, &mut r, "QUIT");
    Ok(got)
}

fn stream(
    mut r: impl Read,
    limit: u64,
    out: &mut dyn Write,
    content_length: Option<u64>,
) -> Result<Fetched, String> {
    let mut h = MultiHasher::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut over = false;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("read failed after {} bytes: {e}", h.size())),
        };
        let room = (limit + 1).saturating_sub(h.size()) as usize;
        let take = n.min(room);
        h.update(&buf[..take]);
        out.write_all(&buf[..take]).map_err(|e| e.to_string())?;
        if h.size() > limit {
            over = true;
            break;
        }
    }
    let bytes = h.size();
    Ok(Fetched {
        bytes,
        hashes: h.finish(),
        content_length,
        over_limit: over,
    })
}

/// Compares what was fetched with what a Release or Packages says.
fn check_listed(
    report: &mut VerifyReport,
    loc: &str,
    got: &Fetched,
    size: u64,
    digests: &[(&str, Option<&str>, String)],
) {
    report.files_checked += 1;
    if got.bytes != size {
        report.problem(
            loc,
            format!("size is {} bytes, the index says {size}", got.bytes),
        );
        return;
    }
    for (name, want, have) in digests {
        if let Some(w) = want {
            if !w.eq_ignore_ascii_case(have) {
                report.problem(
                    loc,
                    format!("{name} mismatch: the index says {w}, the file has {have}"),
                );
                return;
            }
        }
    }
}

/// Lists the suites of a repository directory (`dists/*/Release`).
fn local_suites(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir.join("dists"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| {
                    e.path().join("Release").is_file() || e.path().join("InRelease").is_file()
                })
                .filter_map(|e| e.file_name().into_string().ok())
                // `.<suite>.new` is a build's switch in progress (a link about to be
                // renamed over `<suite>`): no client asks for it.
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Runs the whole verification.
pub fn verify(opts: &VerifyOptions) -> Result<VerifyReport, VerifyError> {
    let mut report = VerifyReport {
        target: opts.target.clone(),
        ..Default::default()
    };
    if opts.target.starts_with("https://") {
        report.warn(&opts.target, "eliloader refuses https:// (\"Unknown source type\"): serve the repository over http:// too");
    }
    if let Some(rest) = opts.target.split_once("://").map(|(_, r)| r) {
        if rest
            .split('/')
            .next()
            .is_some_and(|host| host.contains('@'))
        {
            report.warn(
                &opts.target,
                "credentials in the URL do not work with eliloader's urllib2 fetcher",
            );
        }
    }
    let source = Source::open(&opts.target)?;
    let suites = if opts.suites.is_empty() {
        match &source {
            Source::Dir(d) => local_suites(d),
            Source::Http(..) | Source::Ftp(..) => {
                return Err(VerifyError::Target {
                    target: opts.target.clone(),
                    reason:
                        "give --suite NAME for a URL (suites cannot be listed over http or ftp)"
                            .into(),
                })
            }
        }
    } else {
        opts.suites.clone()
    };
    if suites.is_empty() {
        report.problem(&opts.target, "no suite found (no dists/*/Release)");
    }
    for suite in &suites {
        verify_suite(&source, opts, suite, &mut report);
        report.suites.push(suite.clone());
    }
    Ok(report)
}

fn fetch_small(source: &Source, rel: &str) -> Result<Vec<u8>, String> {
    let mut buf = Vec::new();
    let got = source.fetch(rel, INDEX_LIMIT, &mut buf)?;
    if got.over_limit {
        return Err(format!("larger than {INDEX_LIMIT} bytes"));
    }
    Ok(buf)
}

fn verify_suite(source: &Source, opts: &VerifyOptions, suite: &str, report: &mut VerifyReport) {
    let dir = format!("dists/{suite}/");
    let rel_loc = source.location(&format!("{dir}Release"));
    let release_bytes = match fetch_small(source, &format!("{dir}Release")) {
        Ok(b) => b,
        Err(e) => {
            report.problem(rel_loc, format!("cannot fetch the Release file: {e}"));
            return;
        }
    };
    let text = String::from_utf8_lossy(&release_bytes).into_owned();
    let parsed = match release::parse_release(&text) {
        Ok(p) => p,
        Err(e) => {
            report.problem(rel_loc, format!("does not parse: {e}"));
            return;
        }
    };
    check_signatures(source, opts, &dir, &release_bytes, report);
    check_dates(&parsed, opts.now, &rel_loc, report);

    // Every listed file, and its by-hash copies.
    let by_hash = parsed
        .field("Acquire-By-Hash")
        .is_some_and(|v| v.eq_ignore_ascii_case("yes"));
    for (path, listed) in &parsed.files {
        let rel = format!("{dir}{path}");
        let loc = source.location(&rel);
        match source.fetch(&rel, INDEX_LIMIT, &mut io::sink()) {
            Err(e) => {
                report.problem(loc, format!("listed in Release but cannot be fetched: {e}"));
                continue;
            }
            Ok(got) => check_listed(
                report,
                &loc,
                &got,
                listed.size,
                &digest_list(listed, &got.hashes),
            ),
        }
        let name = Path::new(path)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("");
        if by_hash && name.starts_with("Packages") {
            let parent = Path::new(path)
                .parent()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            if let Some(sha) = &listed.sha256 {
                let rel = format!("{dir}{parent}/by-hash/SHA256/{sha}");
                let loc = source.location(&rel);
                match source.fetch(&rel, INDEX_LIMIT, &mut io::sink()) {
                    Err(e) => report.problem(loc, format!("by-hash copy missing: {e}")),
                    Ok(got) => check_listed(
                        report,
                        &loc,
                        &got,
                        listed.size,
                        &digest_list(listed, &got.hashes),
                    ),
                }
            }
        }
    }

    // Pool files named by each architecture's Packages.
    let archs: Vec<String> = if opts.archs.is_empty() {
        parsed
            .field("Architectures")
            .map(|a| a.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default()
    } else {
        opts.archs.clone()
    };
    let components: Vec<String> = parsed
        .field("Components")
        .map(|c| c.split_whitespace().map(str::to_string).collect())
        .unwrap_or_else(|| vec!["main".into()]);
    let mut seen_pool = BTreeSet::new();
    for comp in &components {
        for arch in &archs {
            check_packages(source, &dir, comp, arch, &parsed, &mut seen_pool, report);
        }
    }

    // eliloader's view.
    for arch in &archs {
        let sums = format!("{}SHA256SUMS", eliloader::images_dir(arch));
        if !parsed.files.contains_key(&sums) {
            let loc = source.location(&format!("{dir}{}", eliloader::images_dir(arch)));
            let what = format!("no eliloader tree for {arch} (the Release lists none): eliloader installs of {arch} guests from this repository will fail");
            // Asked for explicitly, a missing tree is a failure; otherwise a repository of
            // packages only for this architecture is legitimate.
            if opts.archs.contains(arch) {
                report.problem(loc, what);
            } else {
                report.warn(loc, what);
            }
            continue;
        }
        check_netboot(source, opts, suite, arch, &dir, report);
    }
}

/// The digests to compare, in the order a mismatch is reported: SHA256 first
/// (the hash apt requires, by-hash/ names and `sha256sum` shows), MD5 last (it
/// proves nothing on its own). Every listed digest is still compared.
fn digest_list<'a>(
    listed: &'a release::ListedFile,
    h: &Hashes,
) -> Vec<(&'static str, Option<&'a str>, String)> {
    vec![
        ("SHA256", listed.sha256.as_deref(), hex(&h.sha256)),
        ("SHA512", listed.sha512.as_deref(), hex(&h.sha512)),
        ("SHA1", listed.sha1.as_deref(), hex(&h.sha1)),
        ("MD5", listed.md5.as_deref(), hex(&h.md5)),
    ]
}

fn check_dates(parsed: &ParsedRelease, now: i64, loc: &str, report: &mut VerifyReport) {
    match parsed.field("Date").map(|d| (d, release::parse_date(d))) {
        None => report.problem(loc, "has no Date field"),
        Some((d, None)) => report.problem(loc, format!("Date {d:?} does not parse")),
        Some((d, Some(t))) if t > now + 60 => report.problem(
            loc,
            format!("Date {d} is in the future: apt refuses it as \"not valid yet\""),
        ),
        _ => {}
    }
    if let Some(v) = parsed.field("Valid-Until") {
        match release::parse_date(v) {
            None => report.problem(loc, format!("Valid-Until {v:?} does not parse")),
            Some(t) if t < now => report.problem(
                loc,
                format!(
                    "expired: Valid-Until {v} has passed, apt refuses the repository; rebuild it"
                ),
            ),
            _ => {}
        }
    }
}

fn check_signatures(
    source: &Source,
    opts: &VerifyOptions,
    dir: &str,
    release_bytes: &[u8],
    report: &mut VerifyReport,
) {
    let inrelease = fetch_small(source, &format!("{dir}InRelease")).ok();
    let detached = fetch_small(source, &format!("{dir}Release.gpg")).ok();
    if let Some(inr) = &inrelease {
        let body = release::inrelease_body(&String::from_utf8_lossy(inr));
        if body.as_deref().map(str::as_bytes) != Some(release_bytes) {
            report.problem(
                source.location(&format!("{dir}InRelease")),
                "its signed text differs from Release",
            );
        }
    }
    let Some(keyring) = &opts.keyring else {
        if inrelease.is_none() && detached.is_none() {
            report.warn(
                source.location(&format!("{dir}Release")),
                "unsigned: clients need [trusted=yes]",
            );
        }
        return;
    };
    let tmp = match tempfile::tempdir() {
        Ok(t) => t,
        Err(e) => {
            report.problem("temporary directory", e.to_string());
            return;
        }
    };
    let write = |name: &str, bytes: &[u8]| -> PathBuf {
        let p = tmp.path().join(name);
        let _ = std::fs::write(&p, bytes);
        p
    };
    let rel_path = write("Release", release_bytes);
    match &inrelease {
        None => report.problem(
            source.location(&format!("{dir}InRelease")),
            "missing: the repository is not signed",
        ),
        Some(inr) => {
            let p = write("InRelease", inr);
            if let Err(e) = crate::sign::gpgv(keyring, &p, None) {
                report.problem(
                    source.location(&format!("{dir}InRelease")),
                    format!("signature does not verify: {e}"),
                );
            }
        }
    }
    match &detached {
        None => report.problem(
            source.location(&format!("{dir}Release.gpg")),
            "missing: the repository is not signed",
        ),
        Some(sig) => {
            let p = write("Release.gpg", sig);
            if let Err(e) = crate::sign::gpgv(keyring, &p, Some(&rel_path)) {
                report.problem(
                    source.location(&format!("{dir}Release.gpg")),
                    format!("signature does not verify: {e}"),
                );
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn check_packages(
    source: &Source,
    dir: &str,
    comp: &str,
    arch: &str,
    parsed: &ParsedRelease,
    seen: &mut BTreeSet<String>,
    report: &mut VerifyReport,
) {
    let base = format!("{comp}/binary-{arch}/");
    let choice = ["Packages", "Packages.xz", "Packages.gz"]
        .iter()
        .find(|n| parsed.files.contains_key(&format!("{base}{n}")));
    let Some(name) = choice else {
        report.problem(
            source.location(&format!("{dir}{base}Packages")),
            format!("the Release lists no Packages index for {comp}/{arch}"),
        );
        return;
    };
    let rel = format!("{dir}{base}{name}");
    let Ok(bytes) = fetch_small(source, &rel) else {
        return;
    };
    let comp_kind = match *name {
        "Packages.xz" => crate::compress::Compression::Xz,
        "Packages.gz" => crate::compress::Compression::Gzip,
        _ => crate::compress::Compression::None,
    };
    let mut text = Vec::new();
    let ok = comp_kind.decoder(&bytes[..]).and_then(|d| {
        crate::compress::LimitReader::new(d, INDEX_LIMIT, "Packages").read_to_end(&mut text)
    });
    if let Err(e) = ok {
        report.problem(
            source.location(&rel),
            format!("cannot be decompressed: {e}"),
        );
        return;
    }
    for p in crate::control::paragraphs(&text) {
        let field = |n: &str| p.get(n).map(|v| String::from_utf8_lossy(v).into_owned());
        let Some(filename) = field("Filename") else {
            report.problem(
                source.location(&rel),
                format!(
                    "a stanza has no Filename ({})",
                    field("Package").unwrap_or_default()
                ),
            );
            continue;
        };
        if !seen.insert(filename.clone()) {
            continue;
        }
        let loc = source.location(&filename);
        let Some(size) = field("Size").and_then(|s| s.parse::<u64>().ok()) else {
            report.problem(loc, "its stanza has no valid Size");
            continue;
        };
        report.packages_checked += 1;
        match source.fetch(&filename, size, &mut io::sink()) {
            Err(e) => report.problem(
                loc,
                format!(
                    "named by {} but cannot be fetched: {e}",
                    source.location(&rel)
                ),
            ),
            Ok(got) => {
                let listed = release::ListedFile {
                    size,
                    md5: field("MD5sum"),
                    sha1: field("SHA1"),
                    sha256: field("SHA256"),
                    sha512: field("SHA512"),
                };
                check_listed(report, &loc, &got, size, &digest_list(&listed, &got.hashes));
            }
        }
    }
}

fn check_netboot(
    source: &Source,
    opts: &VerifyOptions,
    suite: &str,
    arch: &str,
    dir: &str,
    report: &mut VerifyReport,
) {
    let (kernel_url, initrd_url) = match source {
        Source::Http(_, base) | Source::Ftp(base) => eliloader::urls(base, suite, arch),
        Source::Dir(_) => {
            let (k, i) = eliloader::urls("", suite, arch);
            (
                k.trim_start_matches('/').to_string(),
                i.trim_start_matches('/').to_string(),
            )
        }
    };
    let _ = opts;
    let tmp = match tempfile::tempdir() {
        Ok(t) => t,
        Err(e) => {
            report.problem("temporary directory", e.to_string());
            return;
        }
    };
    let mut images = Vec::new();
    for (url, name, limit, what) in [
        (&kernel_url, KERNEL_NAME, KERNEL_LIMIT, "kernel"),
        (&initrd_url, INITRD_NAME, INITRD_LIMIT, "initrd"),
    ] {
        let loc = source.location(url);
        report.eliloader_urls.push(loc.clone());
        let path = tmp.path().join(name);
        let Ok(mut f) = File::create(&path) else {
            continue;
        };
        match source.fetch(url, limit, &mut f) {
            Err(e) => report.problem(loc, format!("eliloader cannot fetch the {what}: {e}")),
            Ok(got) => {
                if got.over_limit {
                    report.problem(
                        loc,
                        format!(
                            "the {what} is over eliloader's {} MiB limit: the install would abort",
                            limit >> 20
                        ),
                    );
                    continue;
                }
                if let Some(cl) = got.content_length {
                    if cl != got.bytes {
                        report.problem(
                            loc.clone(),
                            format!(
                                "Content-Length says {cl} bytes but {} arrived: eliloader aborts",
                                got.bytes
                            ),
                        );
                    }
                }
                if got.bytes == 0 {
                    report.problem(loc, format!("the {what} is empty"));
                    continue;
                }
                images.push((name, path, got.hashes, loc));
            }
        }
    }
    let kernel = images.iter().find(|i| i.0 == KERNEL_NAME);
    let initrd = images.iter().find(|i| i.0 == INITRD_NAME);
    let mut release_of_kernel = None;
    if let Some((_, path, _, loc)) = kernel {
        match crate::xen::inspect_kernel_file(path) {
            Err(e) => report.problem(
                loc,
                format!(
                    "not a bootable kernel: {}",
                    strip_path(&e.to_string(), path)
                ),
            ),
            Ok(r) => {
                match eliloader::kernel_problem(&r, arch) {
                    None => {}
                    Some(KernelProblem::NotPv(verdict)) => report.problem(
                        loc,
                        format!(
                            "not a Xen PV kernel ({}): the guest will not boot",
                            verdict.label()
                        ),
                    ),
                    Some(KernelProblem::OtherArch(a)) => {
                        report.problem(loc, format!("a {a} kernel in the installer-{arch} tree"))
                    }
                    Some(KernelProblem::NotX86) => report.problem(
                        loc,
                        format!("a non-x86 kernel in the installer-{arch} tree"),
                    ),
                }
                release_of_kernel = r.release().map(str::to_string);
            }
        }
    }
    if let Some((_, path, _, loc)) = initrd {
        match crate::initrd::inspect_initrd_file(path, release_of_kernel.as_deref()) {
            Err(e) => report.problem(
                loc,
                format!("not an initrd: {}", strip_path(&e.to_string(), path)),
            ),
            Ok(r) => {
                if r.matches == Some(false) {
                    report.problem(
                        loc,
                        format!(
                            "carries modules for {}, not for the kernel's {}",
                            if r.module_versions.is_empty() {
                                "no kernel".to_string()
                            } else {
                                r.module_versions.join(", ")
                            },
                            release_of_kernel.as_deref().unwrap_or("?")
                        ),
                    );
                }
            }
        }
    }
    // Release -> SHA256SUMS/MD5SUMS -> images.
    for (sums, pick) in [("SHA256SUMS", true), ("MD5SUMS", false)] {
        let rel = format!("{dir}{}{sums}", eliloader::images_dir(arch));
        let Ok(bytes) = fetch_small(source, &rel) else {
            report.problem(source.location(&rel), "missing");
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        for name in [KERNEL_NAME, INITRD_NAME] {
            let want_path = eliloader::sums_entry(name);
            let want_path = want_path.as_str();
            let listed = text.lines().find_map(|l| {
                l.split_once("  ")
                    .filter(|(_, p)| *p == want_path)
                    .map(|(h, _)| h.to_string())
            });
            let Some(want) = listed else {
                report.problem(source.location(&rel), format!("does not list {want_path}"));
                continue;
            };
            if let Some((_, _, h, loc)) = images.iter().find(|i| i.0 == name) {
                let have = if pick { hex(&h.sha256) } else { hex(&h.md5) };
                if !want.eq_ignore_ascii_case(&have) {
                    report.problem(
                        loc.clone(),
                        format!("does not match {sums}: the file was replaced or damaged"),
                    );
                }
            }
        }
    }
}

fn strip_path(msg: &str, path: &Path) -> String {
    let prefix = format!("{}: ", path.display());
    msg.strip_prefix(&prefix).unwrap_or(msg).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_switch_in_progress_is_no_suite() {
        let d = tempfile::tempdir().unwrap();
        let dists = d.path().join("dists");
        std::fs::create_dir_all(dists.join("lenny")).unwrap();
        std::fs::write(dists.join("lenny/Release"), "Suite: lenny\n").unwrap();
        // What a build killed between making the new link and renaming it leaves.
        std::os::unix::fs::symlink("lenny", dists.join(".lenny.new")).unwrap();
        assert_eq!(local_suites(d.path()), vec!["lenny".to_string()]);
    }
}
