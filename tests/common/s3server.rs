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

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
