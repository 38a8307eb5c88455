//! Where a repository's files come from: a directory, an `http://` URL or an `ftp://` URL
//! ([`Source`]), each file streamed into a sink and hashed on the way ([`Fetched`]), or
//! [`FetchError`] naming the file or URL and the cause.
//!
//! A broken or hostile server costs bounded memory and time: what is held in memory is
//! capped ([`METADATA_LIMIT`], [`PACKAGES_LIMIT`]; everything else is streamed and stops
//! one byte past the size its index gives), every connection and every read waits at
//! most the timeout ([`DEFAULT_TIMEOUT`], `--timeout`), and once the server cannot be
//! reached nothing more is asked of it ([`FetchErrorKind::NotAsked`]).

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use crate::hash::{Hashes, MultiHasher};

use super::ftp::{self, FtpError};
use super::VerifyError;

/// The most bytes read of a Release, InRelease, Release.gpg, SHA256SUMS or MD5SUMS
/// (held in memory): 16 MiB. Debian's largest Release is a few hundred KiB.
pub const METADATA_LIMIT: u64 = 16 << 20;

/// The most bytes read of a Packages index, as fetched and as decompressed (held in
/// memory): 256 MiB. The Packages of a whole Debian release is tens of MiB.
pub const PACKAGES_LIMIT: u64 = 256 << 20;

/// How long a connection, and each read, may wait for the server unless `--timeout`
/// says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

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

/// Why a file or URL could not be fetched. Display reads `<location>: <kind>`.
#[derive(Debug, thiserror::Error)]
#[error("{location}: {kind}")]
pub struct FetchError {
    /// The file or URL asked for.
    pub location: String,
    /// What went wrong.
    #[source]
    pub kind: FetchErrorKind,
}

/// What went wrong fetching a file or URL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchErrorKind {
    /// A relative path with `..` or an absolute one, in a directory.
    #[error("path leaves the repository")]
    OutsideRepository,
    /// The file cannot be opened.
    #[error("{0}")]
    Open(#[source] io::Error),
    /// Reading failed part way.
    #[error("read failed after {after} bytes: {source}")]
    Read {
        /// Bytes read before.
        after: u64,
        /// Why.
        source: io::Error,
    },
    /// Writing what was read failed.
    #[error("{0}")]
    Write(#[source] io::Error),
    /// The HTTP server answered with an error status.
    #[error("HTTP {0}")]
    HttpStatus(u16),
    /// The HTTP request failed (connection, protocol, ...).
    #[error("{0}")]
    Http(#[source] Box<ureq::Error>),
    /// The FTP dialogue failed.
    #[error(transparent)]
    Ftp(#[from] FtpError),
    /// More than a file held in memory may be ([`METADATA_LIMIT`], [`PACKAGES_LIMIT`]).
    #[error("larger than {} MiB, the most verify reads of {what}: reading stopped there", limit >> 20)]
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
        /// What the file was meant to be (`a Release file`, `a Packages index`).
        what: &'static str,
    },
    /// The server's name does not resolve.
    #[error("the name {host} does not resolve: {source}")]
    NoSuchHost {
        /// The host name.
        host: String,
        /// The resolver's answer.
        source: io::Error,
    },
    /// No connection to the server (refused, unreachable, or not within the timeout).
    #[error("cannot connect to {server}: {source}")]
    Connect {
        /// `host:port`.
        server: String,
        /// Why.
        source: io::Error,
    },
    /// The server stayed silent longer than the timeout.
    #[error("{server} sent nothing for {} s (--timeout): gave up", secs)]
    TimedOut {
        /// `host:port`.
        server: String,
        /// The timeout, in seconds.
        secs: u64,
    },
    /// The connection broke.
    #[error("the connection to {server} broke: {source}")]
    Broken {
        /// `host:port`.
        server: String,
        /// Why.
        source: io::Error,
    },
    /// Not asked for: the server could not be reached before.
    #[error("not fetched: {server} could not be reached before")]
    NotAsked {
        /// `host:port`.
        server: String,
    },
}

impl FetchErrorKind {
    /// True when the server could not be reached or stopped answering: nothing is
    /// known of the file, and nothing more is asked of the server.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            FetchErrorKind::NoSuchHost { .. }
                | FetchErrorKind::Connect { .. }
                | FetchErrorKind::TimedOut { .. }
                | FetchErrorKind::Broken { .. }
                | FetchErrorKind::NotAsked { .. }
        )
    }

    /// True when the file is simply not there: no such file, HTTP 404 or 410, FTP 550.
    pub fn is_absent(&self) -> bool {
        match self {
            FetchErrorKind::Open(e) => e.kind() == io::ErrorKind::NotFound,
            FetchErrorKind::HttpStatus(code) => matches!(code, 404 | 410),
            FetchErrorKind::Ftp(FtpError::NoSuchFile(_)) => true,
            FetchErrorKind::Ftp(FtpError::Retr { code, .. }) => *code == 550,
            _ => false,
        }
    }

    /// An I/O error of a network read, said as what it means: silence longer than
    /// the timeout, or a broken connection.
    pub(super) fn network(source: io::Error, server: &str, timeout: Duration) -> FetchErrorKind {
        if matches!(
            source.kind(),
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
        ) {
            FetchErrorKind::TimedOut {
                server: server.to_string(),
                secs: timeout.as_secs(),
            }
        } else {
            FetchErrorKind::Broken {
                server: server.to_string(),
                source,
            }
        }
    }
}

/// Where files come from.
pub enum Source {
    /// A local directory.
    Dir(PathBuf),
    /// An http:// base URL.
    Http(Remote),
    /// An ftp:// base URL, fetched in passive mode.
    Ftp(Remote),
}

/// A server: its base URL, its timeout, and whether it could be reached so far.
pub struct Remote {
    /// The base URL, ending in `/`.
    pub base: String,
    /// How long a connection, and each read, may wait.
    pub timeout: Duration,
    /// The HTTP client (with the timeout).
    agent: ureq::Agent,
    /// Set by the first fetch that finds the server unreachable: `host:port`.
    unreachable: RefCell<Option<String>>,
}

impl Source {
    /// [`Source::open_with_timeout`] with [`DEFAULT_TIMEOUT`].
    pub fn open(target: &str) -> Result<Source, VerifyError> {
        Source::open_with_timeout(target, DEFAULT_TIMEOUT)
    }

    /// Opens `target`; connections and reads wait at most `timeout` (at least 1 s).
    pub fn open_with_timeout(target: &str, timeout: Duration) -> Result<Source, VerifyError> {
        let timeout = timeout.max(Duration::from_secs(1));
        let target_owned = || target.to_string();
        let remote = || Remote {
            base: with_slash(target),
            timeout,
            agent: ureq::AgentBuilder::new()
                .redirects(5)
                .timeout_connect(timeout)
                .timeout_read(timeout)
                .timeout_write(timeout)
                .build(),
            unreachable: RefCell::new(None),
        };
        if target.starts_with("https://") {
            Err(VerifyError::Https {
                target: target_owned(),
            })
        } else if target.starts_with("http://") {
            Ok(Source::Http(remote()))
        } else if target.starts_with("ftp://") {
            Ok(Source::Ftp(remote()))
        } else if target.contains("://") {
            Err(VerifyError::UnsupportedScheme {
                target: target_owned(),
            })
        } else {
            let p = PathBuf::from(target);
            if !p.is_dir() {
                return Err(VerifyError::NotADirectory {
                    target: target_owned(),
                });
            }
            Ok(Source::Dir(p))
        }
    }

    /// The base URL (ending in `/`), or the directory.
    pub fn base(&self) -> String {
        match self {
            Source::Dir(d) => d.display().to_string(),
            Source::Http(r) | Source::Ftp(r) => r.base.clone(),
        }
    }

    /// The server, `host:port` (the port only when the URL gives one); `None` for a
    /// directory.
    pub fn server(&self) -> Option<String> {
        match self {
            Source::Dir(_) => None,
            Source::Http(r) | Source::Ftp(r) => Some(server_of(&r.base)),
        }
    }

    /// The location of `rel` (for messages): what [`Source::fetch`] fetches,
    /// so an absolute URL (eliloader's) is named as it is, not under the base.
    pub fn location(&self, rel: &str) -> String {
        self.resolve(rel)
    }

    /// The file or URL fetched for `rel` (an absolute URL is fetched as it is).
    fn resolve(&self, rel: &str) -> String {
        match self {
            Source::Dir(d) => d.join(rel).display().to_string(),
            Source::Http(r) | Source::Ftp(r) => absolute(&r.base, rel),
        }
    }

    /// Streams `rel` (or an absolute URL) into `out`, hashing it, stopping after `limit`
    /// bytes. Once a fetch found the server unreachable, nothing more is asked of it.
    pub fn fetch(&self, rel: &str, limit: u64, out: &mut dyn Write) -> Result<Fetched, FetchError> {
        let url = self.resolve(rel);
        let fetched = match self {
            Source::Dir(d) => fetch_file(d, rel, limit, out),
            Source::Http(r) | Source::Ftp(r) => r.fetch(&url, limit, out),
        };
        fetched.map_err(|kind| FetchError {
            location: url,
            kind,
        })
    }

    /// [`Source::fetch`] of a file held in memory, whole, at most `limit` bytes; `what`
    /// names it for [`FetchErrorKind::TooLarge`] (`a Release file`).
    pub(super) fn fetch_small(
        &self,
        rel: &str,
        limit: u64,
        what: &'static str,
    ) -> Result<Vec<u8>, FetchError> {
        let mut buf = Vec::new();
        let got = self.fetch(rel, limit, &mut buf)?;
        if got.over_limit {
            return Err(FetchError {
                location: self.resolve(rel),
                kind: FetchErrorKind::TooLarge { limit, what },
            });
        }
        Ok(buf)
    }
}

impl Remote {
    /// `url` from this server, unless it could not be reached before; the first
    /// fetch that finds it unreachable says so for the later ones.
    fn fetch(&self, url: &str, limit: u64, out: &mut dyn Write) -> Result<Fetched, FetchErrorKind> {
        if let Some(server) = self.unreachable.borrow().clone() {
            return Err(FetchErrorKind::NotAsked { server });
        }
        let fetched = if url.starts_with("ftp://") {
            ftp::fetch(url, limit, out, self.timeout)
        } else {
            fetch_http(&self.agent, url, limit, out, self.timeout)
        };
        fetched.inspect_err(|kind| {
            if kind.is_unreachable() {
                *self.unreachable.borrow_mut() = Some(server_of(url));
            }
        })
    }
}

/// `host:port` of a URL (`host` alone when it gives no port), without credentials.
pub(super) fn server_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, h)| h)
        .to_string()
}

/// `target` ending in `/`.
fn with_slash(target: &str) -> String {
    let mut base = target.to_string();
    if !base.ends_with('/') {
        base.push('/');
    }
    base
}

/// `rel` under `base`, unless `rel` is a URL itself.
fn absolute(base: &str, rel: &str) -> String {
    if rel.contains("://") {
        rel.to_string()
    } else {
        format!("{base}{rel}")
    }
}

/// `rel` of directory `dir`, never outside it.
fn fetch_file(
    dir: &Path,
    rel: &str,
    limit: u64,
    out: &mut dyn Write,
) -> Result<Fetched, FetchErrorKind> {
    let p = Path::new(rel);
    if p.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(FetchErrorKind::OutsideRepository);
    }
    let f = File::open(dir.join(p)).map_err(FetchErrorKind::Open)?;
    let len = f.metadata().map(|m| m.len()).ok();
    stream(f, limit, out, len)
}

/// An http:// URL; its Content-Length is reported. A server that cannot be reached,
/// or stays silent for `timeout`, is said so ([`FetchErrorKind::is_unreachable`]).
fn fetch_http(
    agent: &ureq::Agent,
    url: &str,
    limit: u64,
    out: &mut dyn Write,
    timeout: Duration,
) -> Result<Fetched, FetchErrorKind> {
    let server = server_of(url);
    match agent.get(url).call() {
        Ok(resp) => {
            let len = resp
                .header("Content-Length")
                .and_then(|v| v.trim().parse().ok());
            stream(resp.into_reader(), limit, out, len).map_err(|e| match e {
                FetchErrorKind::Read { source, .. } => {
                    FetchErrorKind::network(source, &server, timeout)
                }
                e => e,
            })
        }
        Err(ureq::Error::Status(code, _)) => Err(FetchErrorKind::HttpStatus(code)),
        Err(ureq::Error::Transport(t)) => Err(transport(t, &server, timeout)),
    }
}

/// What a ureq transport error means for the check.
fn transport(t: ureq::Transport, server: &str, timeout: Duration) -> FetchErrorKind {
    let io_cause = std::error::Error::source(&t)
        .and_then(|s| s.downcast_ref::<io::Error>())
        .map(|e| io::Error::new(e.kind(), e.to_string()));
    let host = server
        .rsplit_once(':')
        .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
        .map_or(server, |(h, _)| h)
        .to_string();
    match (t.kind(), io_cause) {
        (ureq::ErrorKind::Dns, cause) => FetchErrorKind::NoSuchHost {
            host,
            source: cause.unwrap_or_else(|| {
                io::Error::other(t.message().unwrap_or("no address").to_string())
            }),
        },
        (ureq::ErrorKind::ConnectionFailed, Some(cause))
            if !matches!(
                cause.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            ) =>
        {
            FetchErrorKind::Connect {
                server: server.to_string(),
                source: cause,
            }
        }
        (ureq::ErrorKind::ConnectionFailed | ureq::ErrorKind::Io, Some(cause)) => {
            FetchErrorKind::network(cause, server, timeout)
        }
        (ureq::ErrorKind::ConnectionFailed, None) => FetchErrorKind::Connect {
            server: server.to_string(),
            source: io::Error::other(t.to_string()),
        },
        _ => FetchErrorKind::Http(Box::new(ureq::Error::Transport(t))),
    }
}

/// Copies `r` into `out`, hashing it, until its end or `limit` + 1 bytes.
pub(super) fn stream(
    mut r: impl Read,
    limit: u64,
    out: &mut dyn Write,
    content_length: Option<u64>,
) -> Result<Fetched, FetchErrorKind> {
    let mut h = MultiHasher::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut over = false;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(source) => {
                return Err(FetchErrorKind::Read {
                    after: h.size(),
                    source,
                })
            }
        };
        let room = (limit + 1).saturating_sub(h.size()) as usize;
        let take = n.min(room);
        h.update(&buf[..take]);
        out.write_all(&buf[..take]).map_err(FetchErrorKind::Write)?;
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

#[cfg(test)]
mod tests {
    use std::error::Error;

    use super::*;

    #[test]
    fn a_fetch_error_names_the_file_and_keeps_its_cause() {
        let d = tempfile::tempdir().unwrap();
        let source = Source::open(d.path().to_str().unwrap()).unwrap();
        let e = source
            .fetch("dists/x/Release", 10, &mut io::sink())
            .unwrap_err();
        assert_eq!(
            e.location,
            d.path().join("dists/x/Release").display().to_string()
        );
        let FetchErrorKind::Open(cause) = &e.kind else {
            panic!("{e:?}");
        };
        assert_eq!(cause.kind(), io::ErrorKind::NotFound);
        assert!(e.source().is_some());
        assert_eq!(e.to_string(), format!("{}: {}", e.location, cause));
        let e = source
            .fetch("../etc/passwd", 10, &mut io::sink())
            .unwrap_err();
        assert!(matches!(e.kind, FetchErrorKind::OutsideRepository), "{e:?}");
        assert_eq!(e.kind.to_string(), "path leaves the repository");
    }

    #[test]
    fn an_absolute_url_is_fetched_as_it_is() {
        let source = Source::open("ftp://127.0.0.1:1/repo").unwrap();
        assert_eq!(
            source.resolve("dists/x/Release"),
            "ftp://127.0.0.1:1/repo/dists/x/Release"
        );
        assert_eq!(source.resolve("ftp://h/other"), "ftp://h/other");
    }

    #[test]
    fn a_stream_stops_one_byte_past_its_limit() {
        let mut out = Vec::new();
        let got = stream(&[7u8; 100][..], 10, &mut out, Some(100)).unwrap();
        assert_eq!((got.bytes, got.over_limit, out.len()), (11, true, 11));
        let got = stream(&[7u8; 10][..], 10, &mut io::sink(), None).unwrap();
        assert_eq!((got.bytes, got.over_limit), (10, false));
        assert_eq!(got.hashes, Hashes::of_bytes(&[7u8; 10]));
    }

    #[test]
    fn the_server_is_host_and_port_without_credentials() {
        assert_eq!(server_of("http://h:8080/r/dists/x"), "h:8080");
        assert_eq!(server_of("ftp://me:pw@h/r/"), "h");
        assert_eq!(server_of("http://[::1]:80/"), "[::1]:80");
    }

    #[test]
    fn a_missing_file_is_absent_and_a_silent_server_unreachable() {
        let absent = [
            FetchErrorKind::HttpStatus(404),
            FetchErrorKind::Open(io::ErrorKind::NotFound.into()),
            FetchErrorKind::Ftp(FtpError::NoSuchFile("x".into())),
        ];
        assert!(absent.iter().all(|k| k.is_absent() && !k.is_unreachable()));
        assert!(!FetchErrorKind::HttpStatus(403).is_absent());
        let t = Duration::from_secs(7);
        let silent = FetchErrorKind::network(io::ErrorKind::WouldBlock.into(), "h:1", t);
        assert_eq!(
            silent.to_string(),
            "h:1 sent nothing for 7 s (--timeout): gave up"
        );
        let reset = FetchErrorKind::network(io::ErrorKind::ConnectionReset.into(), "h:1", t);
        assert!(silent.is_unreachable() && reset.is_unreachable());
        assert!(matches!(reset, FetchErrorKind::Broken { .. }));
    }

    #[test]
    fn targets_that_cannot_be_checked_say_why() {
        let err = |t: &str| Source::open(t).err().unwrap().to_string();
        assert_eq!(
            err("https://h/r"),
            "https://h/r: https is not supported by eliloader (nor by this check); publish over http://"
        );
        assert_eq!(
            err("gopher://h/r"),
            "gopher://h/r: unsupported URL scheme: use a directory, an http:// or an ftp:// URL"
        );
        assert_eq!(
            err("/nonexistent/repo"),
            "/nonexistent/repo: not a directory"
        );
    }
}
