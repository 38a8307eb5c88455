//! Digests the tests compute themselves, to check what elirepo wrote. They are
//! written here with `sha2` rather than taken from `elirepo::hash`, so that the
//! check does not share the code it checks.

use sha2::Digest;

/// Lowercase hex of some bytes.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Lowercase hex SHA-256 of `b`.
pub fn sha256_hex(b: &[u8]) -> String {
    hex(&sha2::Sha256::digest(b))
}

/// Lowercase hex SHA-512 of `b`.
pub fn sha512_hex(b: &[u8]) -> String {
    hex(&sha2::Sha512::digest(b))
}
