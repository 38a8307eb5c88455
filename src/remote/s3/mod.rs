//! S3 and S3-compatible stores. No rename exists there, so the order of the
//! passes ([`crate::remote::plan::PASSES`]) carries consistency: pool and
//! by-hash objects first, then indexes, `Release.gpg`, `Release`, `InRelease`,
//! then the `current/` netboot objects uploaded at the same time, last. apt
//! fetches indexes by hash (`Acquire-By-Hash: yes`), so it never mixes; a
//! client fetching an index by name, or eliloader's two `current` files, can
//! meet a window of one upload.
//!
//! The lock is `.elirepo-publish/lock`, created with `If-None-Match: *` (the
//! store refuses it with 412 if it exists), holding its owner and an expiry;
//! renewed every third of its validity by a thread, with `If-Match` on its
//! ETag, for as long as the publish runs (a lock lost to another publisher
//! stops every further upload); an expired one is taken over (with
//! `If-Match`, so two takers cannot both win) and a warning.

pub mod client;
pub mod credentials;
pub mod sigv4;

use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use client::{xml_tag, xml_tags, Body, Client, Error};

use super::plan::{GenerationOp, Listing, Snapshot};
use super::{state, Executor, Listener, PublishConfig, PublishError, PublishOptions};

/// Default size above which files go in multipart uploads, and the part size.
pub const MULTIPART_THRESHOLD: u64 = 16 << 20;
/// Default lock validity without renewal, in seconds.
pub const LOCK_TTL: u64 = 600;

/// An S3 destination.
pub struct S3 {
    client: Arc<Client>,
    bucket: String,
    prefix: String,
    jobs: usize,
    threshold: u64,
    ttl: u64,
    heartbeat: Option<Heartbeat>,
    /// Objects of known content already in the bucket: by "size md5" and by
    /// "size sha256", the key and its ETag. A file whose bytes are there under
    /// another key (the kernel of a new netboot version, `current/` after its
    /// versioned copy) is copied inside the store, not uploaded again.
    known: Mutex<std::collections::HashMap<String, (String, String)>>,
    /// The last listing, for `known`.
    listed: Option<Listing>,
    /// Files and bytes uploaded (copies excluded).
    uploaded: (AtomicU64, AtomicU64),
}

/// The thread that renews the lock while the publish runs.
struct Heartbeat {
    /// The lock's current ETag (None: lost).
    etag: Arc<Mutex<Option<String>>>,
    /// Why the lock was lost, if it was.
    lost: Arc<Mutex<Option<String>>>,
    stop: Arc<(Mutex<bool>, Condvar)>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Heartbeat {
    /// Stops the thread; returns the lock's ETag if it is still held.
    fn stop(mut self) -> Option<String> {
        let (m, c) = &*self.stop;
        *m.lock().expect("no panics") = true;
        c.notify_all();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        let etag = self.etag.lock().expect("no panics").clone();
        etag
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn lock_body(ttl: u64) -> Vec<u8> {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let user = std::env::var("USER").unwrap_or_default();
    serde_json::json!({
        "owner": format!("{user}@{} pid {}", host.trim(), std::process::id()),
        "expires": now() + ttl,
    })
    .to_string()
    .into_bytes()
}

fn put_lock(client: &Client, key: &str, ttl: u64, condition: (&str, &str)) -> Result<client::Response, Error> {
    let body = lock_body(ttl);
    client.request(
        "PUT",
        Some(key),
        &[],
        &[condition, ("content-type", "application/json"), ("cache-control", "no-store")],
        Body::Bytes(&body),
    )
}

impl S3 {
    /// Connects (nothing is sent yet).
    pub fn open(opts: &PublishOptions, bucket: &str, prefix: &str) -> Result<S3, PublishError> {
        let settings = credentials::resolve(opts.endpoint.as_deref(), opts.region.as_deref())?;
        let client = Arc::new(Client::new(settings, bucket).map_err(PublishError::Usage)?);
        Ok(S3 {
            client,
            bucket: bucket.into(),
            prefix: prefix.into(),
            jobs: opts.jobs.max(1),
            threshold: opts.config.multipart_threshold.unwrap_or(MULTIPART_THRESHOLD).max(5 << 20),
            ttl: opts.config.lock_ttl.unwrap_or(LOCK_TTL).max(1),
            heartbeat: None,
            known: Mutex::new(std::collections::HashMap::new()),
            listed: None,
            uploaded: (AtomicU64::new(0), AtomicU64::new(0)),
        })
    }

    fn key(&self, rel: &str) -> String {
        format!("{}{rel}", self.prefix)
    }

    fn fail(&self, what: &str, key: &str, e: &Error) -> PublishError {
        let hint = match e {
            Error::Status(403, c, _) if c == "SignatureDoesNotMatch" || c == "InvalidAccessKeyId" || c == "InvalidClientTokenId" => {
                " (wrong credentials: check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the profile)"
            }
            Error::Status(403, ..) => " (access denied: the credentials lack permission on this bucket)",
            Error::Status(404, c, _) if c == "NoSuchBucket" => " (no such bucket)",
            _ => "",
        };
        PublishError::Destination(format!("s3://{}/{key}: {what}: {e}{hint}", self.bucket))
    }

    fn put_lock(&self, condition: (&str, &str)) -> Result<client::Response, Error> {
        put_lock(&self.client, &self.lock_key(), self.ttl, condition)
    }

    /// Starts renewing the lock (ETag `etag`) every third of its validity.
    fn start_heartbeat(&mut self, etag: Option<String>) {
        let etag = Arc::new(Mutex::new(etag));
        let lost = Arc::new(Mutex::new(None));
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let (client, key, ttl) = (self.client.clone(), self.lock_key(), self.ttl);
        let (e, l, st) = (etag.clone(), lost.clone(), stop.clone());
        let where_ = format!("s3://{}/{key}", self.bucket);
        let handle = std::thread::spawn(move || {
            let every = Duration::from_millis((ttl * 1000 / 3).max(300));
            loop {
                {
                    let (m, c) = &*st;
                    let stopped = m.lock().expect("no panics");
                    let (stopped, _) = c.wait_timeout_while(stopped, every, |s| !*s).expect("no panics");
                    if *stopped {
                        return;
                    }
                }
                let current = e.lock().expect("no panics").clone().unwrap_or_default();
                match put_lock(&client, &key, ttl, ("if-match", &current)) {
                    Ok(r) => *e.lock().expect("no panics") = r.etag,
                    // Not answered: try again; the lock is valid until it expires.
                    Err(Error::Transport(_)) | Err(Error::Status(500..=599, ..)) => {}
                    Err(err) => {
                        *e.lock().expect("no panics") = None;
                        *l.lock().expect("no panics") = Some(format!(
                            "{where_}: lost the publish lock (expired and taken over by another publish?): {err}"
                        ));
                        return;
                    }
                }
            }
        });
        self.heartbeat = Some(Heartbeat { etag, lost, stop, handle: Some(handle) });
    }

    /// An error if the lock was lost: nothing more may be written.
    fn check_lock(&self) -> Result<(), PublishError> {
        match self.heartbeat.as_ref().and_then(|h| h.lost.lock().expect("no panics").clone()) {
            Some(why) => Err(PublishError::Destination(why)),
            None => Ok(()),
        }
    }

    fn lock_key(&self) -> String {
        self.key(&format!("{}/lock", state::DIR))
    }

    /// Remembers that `rel` (ETag `etag`) holds these bytes.
    fn learn(&self, rel: &str, size: u64, md5: &str, sha: &str, etag: Option<String>) {
        let Some(etag) = etag else { return };
        let mut k = self.known.lock().expect("no panics");
        k.insert(format!("{size} {md5}"), (rel.to_string(), etag.clone()));
        k.insert(format!("{size} {sha}"), (rel.to_string(), etag));
    }

    /// Copies `from` (if still `etag`) to `rel` inside the store; false if it changed or went.
    fn copy(&self, rel: &str, from: &str, etag: &str, cfg: &PublishConfig) -> Result<bool, PublishError> {
        let key = self.key(rel);
        let source = format!("/{}/{}", self.bucket, sigv4::uri_encode(&self.key(from), true));
        let ct = cfg.content_type(rel);
        let cc = cfg.cache_control(rel);
        let quoted = format!("\"{}\"", etag.trim_matches('"'));
        let headers = [
            ("x-amz-copy-source", source.as_str()),
            ("x-amz-copy-source-if-match", quoted.as_str()),
            ("x-amz-metadata-directive", "REPLACE"),
            ("content-type", ct.as_str()),
            ("cache-control", cc.as_str()),
        ];
        match self.client.request("PUT", Some(&key), &[], &headers, Body::Empty) {
            // A copy can fail after its 200 has begun: the error is then in the body.
            Ok(r) if !String::from_utf8_lossy(&r.body).contains("<Error>") => Ok(true),
            Ok(_) | Err(Error::Status(412 | 404, ..)) => Ok(false),
            Err(e) => Err(self.fail("server-side copy failed", &key, &e)),
        }
    }

    fn put_one(&self, rel: &str, f: &super::plan::SourceFile, cfg: &PublishConfig) -> Result<(), PublishError> {
        let (path, size, sha) = (f.abs.as_path(), f.size, f.sha256.as_str());
        let key = self.key(rel);
        let ct = cfg.content_type(rel);
        let cc = cfg.cache_control(rel);
        let headers = [("content-type", ct.as_str()), ("cache-control", cc.as_str())];
        // The same bytes already in the bucket: copied there (objects up to 5 GiB).
        let same = {
            let k = self.known.lock().expect("no panics");
            k.get(&format!("{size} {sha}")).or_else(|| k.get(&format!("{size} {}", f.md5))).cloned()
        };
        if let Some((from, etag)) = same.filter(|(from, _)| from != rel && size < 5 << 30) {
            if self.copy(rel, &from, &etag, cfg)? {
                return Ok(());
            }
        }
        self.uploaded.0.fetch_add(1, Ordering::Relaxed);
        self.uploaded.1.fetch_add(size, Ordering::Relaxed);
        if size <= self.threshold {
            let r = self
                .client
                .request("PUT", Some(&key), &[], &headers, Body::File(path, size, sha))
                .map_err(|e| self.fail("upload failed", &key, &e))?;
            self.learn(rel, size, &f.md5, sha, r.etag);
            return Ok(());
        }
        // Multipart.
        let r = self
            .client
            .request("POST", Some(&key), &[("uploads", "")], &headers, Body::Empty)
            .map_err(|e| self.fail("cannot start a multipart upload", &key, &e))?;
        let id = xml_tag(&String::from_utf8_lossy(&r.body), "UploadId")
            .ok_or_else(|| PublishError::Destination(format!("s3://{}/{key}: no UploadId in the answer", self.bucket)))?;
        let result = (|| {
            let mut file = std::fs::File::open(path).map_err(|e| PublishError::source(path, e))?;
            let mut parts = String::new();
            let mut n = 0u32;
            let mut buf = Vec::with_capacity(self.threshold as usize);
            loop {
                buf.clear();
                (&mut file).take(self.threshold).read_to_end(&mut buf).map_err(|e| PublishError::source(path, e))?;
                if buf.is_empty() && n > 0 {
                    break;
                }
                n += 1;
                let num = n.to_string();
                let r = self
                    .client
                    .request("PUT", Some(&key), &[("partNumber", &num), ("uploadId", &id)], &[], Body::Bytes(&buf))
                    .map_err(|e| self.fail("part upload failed", &key, &e))?;
                let etag = r.etag.unwrap_or_default();
                parts.push_str(&format!("<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>"));
                if (buf.len() as u64) < self.threshold {
                    break;
                }
            }
            let xml = format!("<CompleteMultipartUpload>{parts}</CompleteMultipartUpload>");
            let r = self
                .client
                .request("POST", Some(&key), &[("uploadId", &id)], &[], Body::Bytes(xml.as_bytes()))
                .map_err(|e| self.fail("cannot complete the multipart upload", &key, &e))?;
            // As with a copy, a failure can come in a 200's body.
            let text = String::from_utf8_lossy(&r.body).into_owned();
            if text.contains("<Error>") {
                return Err(PublishError::Destination(format!(
                    "s3://{}/{key}: cannot complete the multipart upload: {} {}",
                    self.bucket,
                    xml_tag(&text, "Code").unwrap_or_default(),
                    xml_tag(&text, "Message").unwrap_or_default()
                )));
            }
            self.learn(rel, size, &f.md5, sha, xml_tag(&text, "ETag").or(r.etag));
            Ok(())
        })();
        if result.is_err() {
            let _ = self.client.request("DELETE", Some(&key), &[("uploadId", &id)], &[], Body::Empty);
        }
        result
    }

    /// Runs `f` on every item with `self.jobs` threads; the first error wins.
    fn parallel<T: Sync>(&self, items: &[T], f: impl Fn(&T) -> Result<(), PublishError> + Sync) -> Result<(), PublishError> {
        let next = AtomicUsize::new(0);
        let stop = AtomicBool::new(false);
        let err: Mutex<Option<PublishError>> = Mutex::new(None);
        std::thread::scope(|s| {
            for _ in 0..self.jobs.min(items.len()).max(1) {
                s.spawn(|| loop {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    if let Err(e) = f(item) {
                        stop.store(true, Ordering::Relaxed);
                        err.lock().expect("no panics").get_or_insert(e);
                        break;
                    }
                });
            }
        });
        match err.into_inner().expect("no panics") {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Executor for S3 {
    fn renames(&self) -> bool {
        false
    }

    fn lock(&mut self, no_wait: bool, log: &mut dyn Listener) -> Result<(), PublishError> {
        let key = self.lock_key();
        let mut said = false;
        loop {
            match self.put_lock(("if-none-match", "*")) {
                Ok(r) => {
                    self.start_heartbeat(r.etag);
                    return Ok(());
                }
                Err(Error::Status(412 | 409, ..)) => {}
                Err(e) => return Err(self.fail("cannot take the publish lock", &key, &e)),
            }
            // Held: by whom, until when?
            let held = match self.client.request("GET", Some(&key), &[], &[], Body::Empty) {
                Ok(r) => r,
                Err(Error::Status(404, ..)) => continue, // released meanwhile
                Err(e) => return Err(self.fail("cannot read the publish lock", &key, &e)),
            };
            let info: serde_json::Value = serde_json::from_slice(&held.body).unwrap_or_default();
            let owner = info["owner"].as_str().unwrap_or("unknown").to_string();
            let expires = info["expires"].as_u64().unwrap_or(0);
            if expires <= now() {
                let etag = held.etag.unwrap_or_default();
                match self.put_lock(("if-match", &etag)) {
                    Ok(r) => {
                        log.warn(&format!(
                            "s3://{}/{key}: took over an expired lock of {owner} (a publish that died?); \
                             this publish completes what it left",
                            self.bucket
                        ));
                        self.start_heartbeat(r.etag);
                        return Ok(());
                    }
                    Err(Error::Status(412 | 409 | 404, ..)) => continue,
                    Err(e) => return Err(self.fail("cannot take over the publish lock", &key, &e)),
                }
            }
            if no_wait {
                return Err(PublishError::Locked(format!(
                    "s3://{}/{key}: another elirepo publish holds the lock ({owner}, expires in {} s); retry later or drop --no-wait to wait for it",
                    self.bucket,
                    expires.saturating_sub(now())
                )));
            }
            if !said {
                log.step(&format!("s3://{}/{key}: waiting for the lock held by {owner}", self.bucket));
                said = true;
            }
            std::thread::sleep(std::time::Duration::from_secs(2));
        }
    }

    fn renew(&mut self) -> Result<(), PublishError> {
        self.check_lock()
    }

    fn unlock(&mut self) -> Result<(), PublishError> {
        let Some(h) = self.heartbeat.take() else { return Ok(()) };
        let lost = h.lost.lock().expect("no panics").clone();
        let held = h.stop();
        if let Some(why) = lost {
            return Err(PublishError::Destination(why));
        }
        if held.is_some() {
            let key = self.lock_key();
            self.client
                .request("DELETE", Some(&key), &[], &[], Body::Empty)
                .map_err(|e| self.fail("cannot release the publish lock", &key, &e))?;
        }
        Ok(())
    }

    fn listing(&mut self) -> Result<Listing, PublishError> {
        let mut l = Listing::default();
        let mut token: Option<String> = None;
        let skip = self.key(&format!("{}/", state::DIR));
        loop {
            let mut q: Vec<(&str, &str)> = vec![("list-type", "2"), ("prefix", &self.prefix)];
            if let Some(t) = &token {
                q.push(("continuation-token", t));
            }
            let r = self
                .client
                .request("GET", None, &q, &[], Body::Empty)
                .map_err(|e| self.fail("cannot list the bucket", &self.prefix, &e))?;
            let text = String::from_utf8_lossy(&r.body).into_owned();
            for c in xml_tags(&text, "Contents") {
                let (Some(k), Some(size)) = (xml_tag(&c, "Key"), xml_tag(&c, "Size")) else { continue };
                if k.starts_with(&skip) {
                    continue;
                }
                let Some(rel) = k.strip_prefix(&self.prefix) else { continue };
                let etag = xml_tag(&c, "ETag").unwrap_or_default().trim_matches('"').to_string();
                l.files.insert(rel.to_string(), (size.parse().unwrap_or(u64::MAX), etag));
            }
            if xml_tag(&text, "IsTruncated").as_deref() == Some("true") {
                token = xml_tag(&text, "NextContinuationToken");
                if token.is_none() {
                    break;
                }
            } else {
                break;
            }
        }
        {
            // A single-part upload's ETag is the MD5 of its bytes.
            let mut k = self.known.lock().expect("no panics");
            for (rel, (size, etag)) in &l.files {
                if etag.len() == 32 && etag.bytes().all(|b| b.is_ascii_hexdigit()) {
                    k.insert(format!("{size} {etag}"), (rel.clone(), etag.clone()));
                }
            }
        }
        self.listed = Some(l.clone());
        Ok(l)
    }

    fn read_state(&mut self) -> Result<Option<Vec<u8>>, PublishError> {
        let key = self.key(state::FILE);
        match self.client.request("GET", Some(&key), &[], &[], Body::Empty) {
            Ok(r) => {
                // What the state says of objects still as it recorded them (a multipart ETag is no MD5).
                if let (Some(st), Some(l)) = (state::State::parse(&r.body), &self.listed) {
                    let mut k = self.known.lock().expect("no panics");
                    for (rel, f) in &st.files {
                        if let (Some(stamp), Some((size, etag))) = (&f.stamp, l.files.get(rel)) {
                            if stamp.trim_matches('"') == etag && *size == f.size {
                                k.insert(format!("{size} {}", f.sha256), (rel.clone(), etag.clone()));
                            }
                        }
                    }
                }
                Ok(Some(r.body))
            }
            Err(Error::Status(404, ..)) => Ok(None),
            Err(e) => Err(self.fail("cannot read the publish state", &key, &e)),
        }
    }

    fn send(&mut self, snap: &Snapshot, files: &[String], cfg: &PublishConfig) -> Result<(), PublishError> {
        let this = &*self;
        this.parallel(files, |rel| {
            this.check_lock()?;
            this.put_one(rel, &snap.files[rel], cfg)
        })
    }

    fn generation(&mut self, _: &Path, op: &GenerationOp) -> Result<(), PublishError> {
        Err(PublishError::Destination(format!("{}: S3 has no links to switch", op.suite)))
    }

    fn delete(&mut self, files: &[String], _dirs: &[String]) -> Result<(), PublishError> {
        let this = &*self;
        this.parallel(files, |rel| {
            this.check_lock()?;
            let key = this.key(rel);
            match this.client.request("DELETE", Some(&key), &[], &[], Body::Empty) {
                Ok(_) | Err(Error::Status(404, ..)) => Ok(()),
                Err(e) => Err(this.fail("cannot delete", &key, &e)),
            }
        })
    }

    fn write_state(&mut self, bytes: &[u8]) -> Result<(), PublishError> {
        self.check_lock()?;
        let key = self.key(state::FILE);
        self.client
            .request(
                "PUT",
                Some(&key),
                &[],
                &[("content-type", "application/json"), ("cache-control", "no-store")],
                Body::Bytes(bytes),
            )
            .map_err(|e| self.fail("cannot write the publish state", &key, &e))?;
        Ok(())
    }

    fn requests(&self) -> Option<u64> {
        Some(self.client.requests())
    }

    fn transferred(&self) -> Option<(u64, u64)> {
        Some((self.uploaded.0.load(Ordering::Relaxed), self.uploaded.1.load(Ordering::Relaxed)))
    }
}
