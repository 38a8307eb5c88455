//! A real S3-compatible server for the tests: moto in server mode with
//! signatures checked (tests/common/s3server.py), plus a plain-http website endpoint.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub struct S3Server {
    child: Child,
    pub endpoint: String,
    pub website: String,
    pub key: String,
    pub secret: String,
    pub bucket: String,
}

impl S3Server {
    /// Starts it; None (after [`super::skip`]) if moto is not installed.
    pub fn start() -> Option<S3Server> {
        let ok = Command::new("python3").args(["-c", "import moto, boto3, flask"]).output().is_ok_and(|o| o.status.success());
        if !ok {
            super::skip("moto (pip install 'moto[server]') is not installed");
            return None;
        }
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/common/s3server.py");
        let mut child = Command::new("python3").arg(script).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("s3server.py said {line:?}: {e}"));
        let s = |k: &str| v[k].as_str().unwrap().to_string();
        Some(S3Server { endpoint: s("endpoint"), website: format!("{}/", s("website")), key: s("key"), secret: s("secret"), bucket: s("bucket"), child })
    }
}

impl S3Server {
    /// Runs Python `code` with `s3` (a boto3 client signed with the test's key),
    /// `B` (the bucket), `json` and `time`; returns its stdout.
    pub fn boto(&self, code: &str) -> String {
        let prelude = format!(
            "import boto3, json, time\ns3 = boto3.client('s3', endpoint_url={:?}, region_name='us-east-1', aws_access_key_id={:?}, aws_secret_access_key={:?})\nB = {:?}\n",
            self.endpoint, self.key, self.secret, self.bucket
        );
        let o = Command::new("python3").arg("-c").arg(format!("{prelude}{code}")).output().unwrap();
        assert!(o.status.success(), "boto3: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    }

    /// Every object of the bucket: "key size etag", sorted.
    pub fn objects(&self) -> Vec<String> {
        let out = self.boto(
            "p = s3.get_paginator('list_objects_v2')\n\
             for page in p.paginate(Bucket=B):\n    \
                 for o in page.get('Contents', []):\n        \
                     print(o['Key'], o['Size'], o['ETag'])\n",
        );
        let mut v: Vec<String> = out.lines().map(str::to_string).collect();
        v.sort();
        v
    }

    /// Writes the publish lock as another publisher would: `owner`, expiring in `secs` (may be negative).
    pub fn put_lock(&self, owner: &str, secs: i64) {
        self.boto(&format!(
            "s3.put_object(Bucket=B, Key='.elirepo-publish/lock', Body=json.dumps({{'owner': {owner:?}, 'expires': int(time.time()) + ({secs})}}))\n"
        ));
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
