//! Where a repository's files come from: a directory, an `http://` URL or an `ftp://` URL
//! ([`Source`]), each file streamed into a sink and hashed on the way ([`Fetched`]), or
//! [`FetchError`] naming the file or URL and the cause.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

use crate::hash::{Hashes, MultiHasher};

use super::ftp::{self, FtpError};
use super::VerifyError;

/// Most bytes read of an index or Release (bounds a hostile server).
pub(super) const INDEX_LIMIT: u64 = 1 << 30;

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
    /// More than the limit of an index or Release.
    #[error("larger than {0} bytes")]
    TooLarge(u64),
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
        let target_owned = || target.to_string();
        if target.starts_with("http://") || target.starts_with("https://") {
            if target.starts_with("https://") {
                return Err(VerifyError::Https {
                    target: target_owned(),
                });
            }
            let agent = ureq::AgentBuilder::new()
                .redirects(5)
                .timeout_connect(std::time::Duration::from_secs(20))
                .timeout_read(std::time::Duration::from_secs(60))
                .build();
            Ok(Source::Http(agent, with_slash(target)))
        } else if target.starts_with("ftp://") {
            Ok(Source::Ftp(with_slash(target)))
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

    /// The location of `rel` (for messages): what [`Source::fetch`] fetches,
    /// so an absolute URL (eliloader's) is named as it is, not under the base.
    pub fn location(&self, rel: &str) -> String {
        self.resolve(rel)
    }

    /// The file or URL fetched for `rel` (an absolute URL is fetched as it is).
    fn resolve(&self, rel: &str) -> String {
        match self {
            Source::Dir(d) => d.join(rel).display().to_string(),
            Source::Http(_, base) | Source::Ftp(base) => absolute(base, rel),
        }
    }

    /// Streams `rel` (or an absolute URL) into `out`, hashing it, stopping after `limit` bytes.
    pub fn fetch(&self, rel: &str, limit: u64, out: &mut dyn Write) -> Result<Fetched, FetchError> {
        let fetched = match self {
            Source::Dir(d) => fetch_file(d, rel, limit, out),
            Source::Http(agent, base) => fetch_http(agent, &absolute(base, rel), limit, out),
            Source::Ftp(base) => ftp::fetch(&absolute(base, rel), limit, out),
        };
        fetched.map_err(|kind| FetchError {
            location: self.resolve(rel),
            kind,
        })
    }

    /// [`Source::fetch`] of an index or Release, whole, into memory.
    pub(super) fn fetch_small(&self, rel: &str) -> Result<Vec<u8>, FetchError> {
        let mut buf = Vec::new();
        let got = self.fetch(rel, INDEX_LIMIT, &mut buf)?;
        if got.over_limit {
            return Err(FetchError {
                location: self.resolve(rel),
                kind: FetchErrorKind::TooLarge(INDEX_LIMIT),
            });
        }
        Ok(buf)
    }
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

/// An http:// URL; its Content-Length is reported.
fn fetch_http(
    agent: &ureq::Agent,
    url: &str,
    limit: u64,
    out: &mut dyn Write,
) -> Result<Fetched, FetchErrorKind> {
    match agent.get(url).call() {
        Ok(resp) => {
            let len = resp
                .header("Content-Length")
                .and_then(|v| v.trim().parse().ok());
            stream(resp.into_reader(), limit, out, len)
        }
        Err(ureq::Error::Status(code, _)) => Err(FetchErrorKind::HttpStatus(code)),
        Err(e) => Err(FetchErrorKind::Http(Box::new(e))),
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
