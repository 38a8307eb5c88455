//! A small S3 REST client over `ureq`: signed requests (path-style on a custom
//! endpoint, virtual-hosted on AWS), every one with connect/read/write
//! timeouts, response bodies capped, request bodies streamed from files, and
//! transient failures (transport errors, 5xx) retried twice.

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::credentials::Settings;
use super::sigv4::{self, uri_encode, EMPTY_SHA256};

/// The largest response body read (listings, errors, the state file).
pub const BODY_CAP: u64 = 64 << 20;

/// A request body.
pub enum Body<'a> {
    /// None.
    Empty,
    /// These bytes.
    Bytes(&'a [u8]),
    /// A file of known size and SHA-256, streamed.
    File(&'a std::path::Path, u64, &'a str),
}

/// A response of status < 400.
#[derive(Debug)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// The ETag header, if any.
    pub etag: Option<String>,
    /// The body (capped at [`BODY_CAP`]).
    pub body: Vec<u8>,
}

/// A failed request.
#[derive(Debug)]
pub enum Error {
    /// The server answered with an error status; S3's error code and message.
    Status(u16, String, String),
    /// No answer (connection, timeout, TLS).
    Transport(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Status(s, c, m) if c.is_empty() && m.is_empty() => write!(f, "HTTP {s}"),
            Error::Status(s, c, m) => write!(f, "HTTP {s} {c}: {m}"),
            Error::Transport(t) => write!(f, "{t}"),
        }
    }
}

/// The text of the first `<tag>` in `xml`, unescaped.
pub fn xml_tag(xml: &str, tag: &str) -> Option<String> {
    xml_tags(xml, tag).into_iter().next()
}

/// The texts of every `<tag>` in `xml`, unescaped.
pub fn xml_tags(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let Some(j) = after.find(&close) else { break };
        out.push(
            after[..j]
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&apos;", "'")
                .replace("&#34;", "\"")
                .replace("&amp;", "&"),
        );
        rest = &after[j + close.len()..];
    }
    out
}

/// One bucket of one endpoint.
pub struct Client {
    agent: ureq::Agent,
    settings: Settings,
    /// `scheme://authority` requests go to.
    base: String,
    /// Path before the key: `/bucket` (path-style) or empty.
    bucket_path: String,
    requests: AtomicU64,
}

impl Client {
    /// A client for `bucket`.
    pub fn new(settings: Settings, bucket: &str) -> Result<Client, String> {
        let (base, bucket_path) = match &settings.endpoint {
            Some(e) => {
                let e = e.trim_end_matches('/');
                if !(e.starts_with("http://") || e.starts_with("https://")) || e.matches('/').count() > 2 {
                    return Err(format!("{e}: the endpoint must be http[s]://HOST[:PORT]"));
                }
                (e.to_string(), format!("/{}", uri_encode(bucket, false)))
            }
            None => (format!("https://{bucket}.s3.{}.amazonaws.com", settings.region), String::new()),
        };
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(15))
            .timeout_read(Duration::from_secs(120))
            .timeout_write(Duration::from_secs(120))
            .build();
        Ok(Client { agent, settings, base, bucket_path, requests: AtomicU64::new(0) })
    }

    /// Requests made so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Where requests go, for messages.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// One request; `key` None: the bucket itself. Retries transient failures.
    pub fn request(
        &self,
        method: &str,
        key: Option<&str>,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        body: Body<'_>,
    ) -> Result<Response, Error> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.once(method, key, query, headers, &body) {
                Err(Error::Transport(_)) | Err(Error::Status(500..=599, ..)) if attempt < 3 => {
                    std::thread::sleep(Duration::from_millis(500 * attempt));
                }
                r => return r,
            }
        }
    }

    fn once(
        &self,
        method: &str,
        key: Option<&str>,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        body: &Body<'_>,
    ) -> Result<Response, Error> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let path = match key {
            Some(k) => format!("{}/{}", self.bucket_path, uri_encode(k, true)),
            None => format!("{}/", self.bucket_path),
        };
        let q: Vec<(String, String)> = query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let qs = q
            .iter()
            .map(|(k, v)| format!("{}={}", uri_encode(k, false), uri_encode(v, false)))
            .collect::<Vec<_>>()
            .join("&");
        let url = if qs.is_empty() { format!("{}{path}", self.base) } else { format!("{}{path}?{qs}", self.base) };
        let host = self.base.split("://").nth(1).unwrap_or_default().to_string();
        let mut h: Vec<(String, String)> = vec![("host".into(), host)];
        h.extend(headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.to_string())));
        let (payload, len) = match body {
            Body::Empty => (EMPTY_SHA256.to_string(), 0),
            Body::Bytes(b) => (sigv4::sha256_hex(b), b.len() as u64),
            Body::File(_, size, sha) => (sha.to_string(), *size),
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let auth = sigv4::sign(
            &self.settings.credentials,
            &self.settings.region,
            method,
            &path,
            &q,
            &mut h,
            &payload,
            &sigv4::amz_date(now),
        );
        let mut req = self.agent.request(method, &url);
        for (k, v) in &h {
            if k != "host" {
                req = req.set(k, v);
            }
        }
        req = req.set("authorization", &auth);
        let res = match body {
            Body::Empty if method == "PUT" || method == "POST" => req.set("content-length", "0").send_bytes(&[]),
            Body::Empty => req.call(),
            Body::Bytes(b) => req.send_bytes(b),
            Body::File(p, size, _) => {
                let f = std::fs::File::open(p).map_err(|e| Error::Transport(format!("{}: {e}", p.display())))?;
                req.set("content-length", &size.to_string()).send(f.take(len))
            }
        };
        match res {
            Ok(r) => {
                let status = r.status();
                let etag = r.header("etag").map(str::to_string);
                let mut body = Vec::new();
                r.into_reader()
                    .take(BODY_CAP)
                    .read_to_end(&mut body)
                    .map_err(|e| Error::Transport(format!("{url}: reading the answer: {e}")))?;
                Ok(Response { status, etag, body })
            }
            Err(ureq::Error::Status(code, r)) => {
                let mut body = Vec::new();
                let _ = r.into_reader().take(1 << 20).read_to_end(&mut body);
                let text = String::from_utf8_lossy(&body);
                Err(Error::Status(
                    code,
                    xml_tag(&text, "Code").unwrap_or_default(),
                    xml_tag(&text, "Message").unwrap_or_default(),
                ))
            }
            Err(ureq::Error::Transport(t)) => Err(Error::Transport(format!("{}: {t}", self.base))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml() {
        let x = "<a><Key>p/a&amp;b</Key><Size>3</Size></a><a><Key>q</Key></a>";
        assert_eq!(xml_tags(x, "Key"), ["p/a&b", "q"]);
        assert_eq!(xml_tag(x, "Size").as_deref(), Some("3"));
        assert_eq!(xml_tag(x, "None"), None);
    }
}
