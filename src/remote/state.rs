//! The destination's own state, `.elirepo-publish/state.json`: what elirepo
//! published there (size, SHA-256 and the stamp the destination reported: an
//! ETag or an mtime), the paths of the last [`super::plan::KEEP`] publishes, and
//! the kept generation directories of each suite. It is a hint checked against
//! the real listing on every publish ([`super::plan`]): a file missing or
//! changed at the destination is sent again whatever the state says.

use std::collections::BTreeMap;

/// The state directory at the destination; never a source file.
pub const DIR: &str = ".elirepo-publish";
/// The state file inside [`DIR`].
pub const FILE: &str = ".elirepo-publish/state.json";
/// The format version.
pub const VERSION: u32 = 1;

/// One published file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileState {
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the bytes sent, hex.
    pub sha256: String,
    /// What the destination reported for it (S3: ETag; file systems: mtime).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp: Option<String>,
}

/// The whole state.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct State {
    /// [`VERSION`].
    pub version: u32,
    /// Files elirepo published outside generation directories, by path.
    pub files: BTreeMap<String, FileState>,
    /// The paths of the last publishes, newest first.
    pub generations: Vec<Vec<String>>,
    /// Per suite, the kept generation directory names, newest (the live one) first.
    #[serde(default)]
    pub suites: BTreeMap<String, Vec<String>>,
}

impl State {
    /// Parses a state file; `None` for an unknown version or unreadable bytes
    /// (the publish then trusts only the listing).
    pub fn parse(bytes: &[u8]) -> Option<State> {
        let s: State = serde_json::from_slice(bytes).ok()?;
        (s.version == VERSION).then_some(s)
    }
    /// The bytes of the state file.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec(self).expect("state serialises");
        v.push(b'\n');
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_unknown_version() {
        let mut s = State {
            version: VERSION,
            ..Default::default()
        };
        s.files.insert(
            "pool/a.deb".into(),
            FileState { size: 3, sha256: "ab".into(), stamp: Some("\"e\"".into()) },
        );
        s.generations.push(vec!["pool/a.deb".into()]);
        assert_eq!(State::parse(&s.to_bytes()), Some(s.clone()));
        s.version = 99;
        assert_eq!(State::parse(&s.to_bytes()), None);
        assert_eq!(State::parse(b"garbage"), None);
    }
}
