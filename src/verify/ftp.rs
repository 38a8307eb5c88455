//! Fetching an `ftp://` URL as eliloader's urllib2 does: anonymous unless the URL names a
//! user, binary, passive mode; the `SIZE` reply plays the part of Content-Length.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::source::{stream, FetchErrorKind, Fetched};

/// What went wrong in an FTP dialogue.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FtpError {
    /// The URL does not start with `ftp://`.
    #[error("not an ftp:// URL")]
    NotFtp,
    /// No control connection.
    #[error("cannot connect to {hostport}: {source}")]
    Connect {
        /// `host:port`.
        hostport: String,
        /// Why.
        source: std::io::Error,
    },
    /// The control connection failed.
    #[error("{0}")]
    Control(#[from] std::io::Error),
    /// The server closed the control connection.
    #[error("the FTP server closed the connection")]
    Closed,
    /// A reply without a 3-digit code.
    #[error("bad FTP reply {0:?}")]
    BadReply(String),
    /// The greeting is not 220.
    #[error("FTP greeting: {0}")]
    Greeting(String),
    /// USER or PASS refused.
    #[error("FTP login refused: {0}")]
    LoginRefused(String),
    /// `SIZE` answered 550: no such file.
    #[error("FTP 550: {0}")]
    NoSuchFile(String),
    /// `PASV` refused.
    #[error("FTP PASV refused: {0}")]
    PasvRefused(String),
    /// A `PASV` reply without an address.
    #[error("FTP PASV reply without an address: {0}")]
    PasvNoAddress(String),
    /// No data connection.
    #[error("FTP data connection: {0}")]
    DataConnection(#[source] std::io::Error),
    /// `RETR` refused.
    #[error("FTP {code}: {text}")]
    Retr {
        /// The reply code.
        code: u32,
        /// The reply text after the code.
        text: String,
    },
    /// The transfer did not end with 226 or 250.
    #[error("FTP transfer failed: {0}")]
    TransferFailed(String),
}

/// The parts of an ftp:// URL.
struct FtpUrl {
    user: String,
    pass: String,
    /// `host:port`, port 21 unless given.
    hostport: String,
    /// The path, from `/`.
    path: String,
}

impl FtpUrl {
    fn parse(url: &str) -> Result<FtpUrl, FtpError> {
        let rest = url.strip_prefix("ftp://").ok_or(FtpError::NotFtp)?;
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
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
        Ok(FtpUrl {
            user,
            pass,
            hostport,
            path: format!("/{path}"),
        })
    }

    /// The host, without the port.
    fn host(&self) -> &str {
        self.hostport
            .rsplit_once(':')
            .map_or(self.hostport.as_str(), |(h, _)| h)
    }
}

/// The control connection.
struct Control {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

/// A connection to `addrs` (the first that answers), waiting at most `timeout` for
/// each, with reads and writes waiting at most `timeout` too.
fn connect(addrs: &[SocketAddr], timeout: Duration) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
    for a in addrs {
        match TcpStream::connect_timeout(a, timeout) {
            Ok(s) => {
                s.set_read_timeout(Some(timeout))?;
                s.set_write_timeout(Some(timeout))?;
                return Ok(s);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

impl Control {
    fn connect(
        addrs: &[SocketAddr],
        hostport: &str,
        timeout: Duration,
    ) -> Result<Control, FtpError> {
        let ctrl = connect(addrs, timeout).map_err(|source| FtpError::Connect {
            hostport: hostport.to_string(),
            source,
        })?;
        Ok(Control {
            w: ctrl.try_clone()?,
            r: BufReader::new(ctrl),
        })
    }

    /// The next reply: its code and its first line (a multi-line reply is read to its end).
    fn reply(&mut self) -> Result<(u32, String), FtpError> {
        let mut line = String::new();
        if self.r.read_line(&mut line)? == 0 {
            return Err(FtpError::Closed);
        }
        let code: u32 = line
            .get(..3)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| FtpError::BadReply(line.clone()))?;
        if line.as_bytes().get(3) == Some(&b'-') {
            // Multi-line reply: until "<code> ".
            loop {
                let mut more = String::new();
                if self.r.read_line(&mut more)? == 0 {
                    break;
                }
                if more.starts_with(&format!("{code} ")) {
                    break;
                }
            }
        }
        Ok((code, line.trim_end().to_string()))
    }

    /// Sends `c` and reads the reply.
    fn cmd(&mut self, c: &str) -> Result<(u32, String), FtpError> {
        self.w.write_all(format!("{c}\r\n").as_bytes())?;
        self.reply()
    }

    /// Reads the greeting and logs in.
    fn login(&mut self, user: &str, pass: &str) -> Result<(), FtpError> {
        let (code, text) = self.reply()?;
        if code != 220 {
            return Err(FtpError::Greeting(text));
        }
        let (code, text) = self.cmd(&format!("USER {user}"))?;
        if code == 331 {
            let (code, text) = self.cmd(&format!("PASS {pass}"))?;
            if code != 230 {
                return Err(FtpError::LoginRefused(text));
            }
        } else if code != 230 {
            return Err(FtpError::LoginRefused(text));
        }
        Ok(())
    }

    /// `SIZE path`: the size if the server tells it; 550 is no such file.
    fn size(&mut self, path: &str) -> Result<Option<u64>, FtpError> {
        let (code, text) = self.cmd(&format!("SIZE {path}"))?;
        if code == 550 {
            return Err(FtpError::NoSuchFile(
                text.get(4..).unwrap_or("no such file").to_string(),
            ));
        }
        Ok(if code == 213 {
            text.get(4..).and_then(|v| v.trim().parse().ok())
        } else {
            None
        })
    }

    /// `PASV`, then the data connection to `host` (the control connection's: a server's
    /// idea of its own address is often wrong behind NAT; only the port is taken).
    fn passive(&mut self, host: SocketAddr, timeout: Duration) -> Result<TcpStream, FtpError> {
        let (code, text) = self.cmd("PASV")?;
        if code != 227 {
            return Err(FtpError::PasvRefused(text));
        }
        let nums: Vec<u16> = text
            .split(|c: char| !c.is_ascii_digit())
            .filter(|t| !t.is_empty())
            .filter_map(|t| t.parse().ok())
            .collect();
        let n = nums.len();
        if n < 7 {
            return Err(FtpError::PasvNoAddress(text));
        }
        let port = nums[n - 2] * 256 + nums[n - 1];
        connect(&[SocketAddr::new(host.ip(), port)], timeout).map_err(FtpError::DataConnection)
    }
}

/// Fetches an ftp:// URL (anonymous unless the URL names a user), passive mode,
/// binary; the SIZE reply plays the part of Content-Length. A server that cannot be
/// reached, or stays silent for `timeout`, is said so
/// ([`FetchErrorKind::is_unreachable`]).
pub(super) fn fetch(
    url: &str,
    limit: u64,
    out: &mut dyn Write,
    timeout: Duration,
) -> Result<Fetched, FetchErrorKind> {
    let url = FtpUrl::parse(url)?;
    let addrs: Vec<SocketAddr> = match url.hostport.to_socket_addrs() {
        Ok(a) => a.collect(),
        Err(source) => {
            return Err(FetchErrorKind::NoSuchHost {
                host: url.host().to_string(),
                source,
            })
        }
    };
    dialogue(&url, &addrs, limit, out, timeout).map_err(|e| unreachable(e, &url, timeout))
}

/// The FTP dialogue that fetches `url` from the server at `addrs`.
fn dialogue(
    url: &FtpUrl,
    addrs: &[SocketAddr],
    limit: u64,
    out: &mut dyn Write,
    timeout: Duration,
) -> Result<Fetched, FetchErrorKind> {
    let mut ctrl = Control::connect(addrs, &url.hostport, timeout)?;
    let peer = ctrl.w.peer_addr().map_err(FtpError::Control)?;
    ctrl.login(&url.user, &url.pass)?;
    ctrl.cmd("TYPE I")?;
    let size = ctrl.size(&url.path)?;
    let data = ctrl.passive(peer, timeout)?;
    let (code, text) = ctrl.cmd(&format!("RETR {}", url.path))?;
    if code != 150 && code != 125 {
        return Err(FtpError::Retr {
            code,
            text: text.get(4..).unwrap_or("").to_string(),
        }
        .into());
    }
    let got = stream(data, limit, out, size)?;
    if !got.over_limit {
        let (code, text) = ctrl.reply()?;
        if code != 226 && code != 250 {
            return Err(FtpError::TransferFailed(text).into());
        }
    }
    let _ = ctrl.cmd("QUIT");
    Ok(got)
}

/// A failed dialogue said as the check sees it: the server unreachable, silent or
/// gone mid-way, or the FTP error as it is.
fn unreachable(e: FetchErrorKind, url: &FtpUrl, timeout: Duration) -> FetchErrorKind {
    let server = &url.hostport;
    match e {
        FetchErrorKind::Ftp(FtpError::Connect { source, .. }) => {
            if matches!(
                source.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            ) {
                FetchErrorKind::network(source, server, timeout)
            } else {
                FetchErrorKind::Connect {
                    server: server.clone(),
                    source,
                }
            }
        }
        FetchErrorKind::Ftp(FtpError::Control(source) | FtpError::DataConnection(source))
        | FetchErrorKind::Read { source, .. } => FetchErrorKind::network(source, server, timeout),
        FetchErrorKind::Ftp(FtpError::Closed) => FetchErrorKind::Broken {
            server: server.clone(),
            source: io::Error::other("the FTP server closed the connection"),
        },
        e => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ftp_url_is_anonymous_on_port_21_unless_it_says_otherwise() {
        let u = FtpUrl::parse("ftp://h/debian/dists/x/Release").unwrap();
        assert_eq!(
            (
                u.user.as_str(),
                u.pass.as_str(),
                u.hostport.as_str(),
                u.path.as_str()
            ),
            ("anonymous", "elirepo@", "h:21", "/debian/dists/x/Release")
        );
        assert_eq!(u.host(), "h");
        let u = FtpUrl::parse("ftp://me:secret@h:2121/r").unwrap();
        assert_eq!(
            (
                u.user.as_str(),
                u.pass.as_str(),
                u.hostport.as_str(),
                u.path.as_str()
            ),
            ("me", "secret", "h:2121", "/r")
        );
        assert!(matches!(FtpUrl::parse("http://h/r"), Err(FtpError::NotFtp)));
    }
}
