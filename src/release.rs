//! Release files: the suite `Release` apt authenticates, and per-component `Release`s.
//!
//! The suite Release is written the way `apt-ftparchive release` writes it: the
//! header fields in byte order of their names, `Date` in RFC 2822 form in UTC,
//! then the `MD5Sum`, `SHA1`, `SHA256` and `SHA512` sections, each listing every
//! index as `" <hex> <size right-aligned in 16> <path>"`, all sorted bytewise by
//! path. This module also owns the clock: [`BuildTime::from_env`] (and
//! [`build_time`]) honour `SOURCE_DATE_EPOCH`. It does no other I/O.

use std::collections::BTreeMap;

use crate::hash::{hex, Hashes};

/// `SOURCE_DATE_EPOCH` is set but is not a time.
#[derive(Debug, thiserror::Error)]
#[error("SOURCE_DATE_EPOCH={value:?} is not a number of seconds since 1970")]
pub struct TimeError {
    /// The variable's value, as given.
    pub value: String,
    /// Why it does not parse.
    #[source]
    pub source: std::num::ParseIntError,
}

/// When a build happens: the time it stamps into `Date`, and whether that time
/// was given (`SOURCE_DATE_EPOCH`) or read from the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildTime {
    /// Seconds since 1970.
    pub now: i64,
    /// Given by `SOURCE_DATE_EPOCH`: the `Date` is always `now`, a function of
    /// the inputs. From the clock, a build that changes nothing keeps the
    /// previous Release's `Date` instead.
    pub pinned: bool,
}

impl BuildTime {
    /// `SOURCE_DATE_EPOCH` if set, else the clock.
    pub fn from_env() -> Result<BuildTime, TimeError> {
        Ok(BuildTime {
            now: epoch_or_clock(std::env::var("SOURCE_DATE_EPOCH").ok())?,
            pinned: std::env::var_os("SOURCE_DATE_EPOCH").is_some(),
        })
    }
}

/// The time a build stamps into `Date`: `SOURCE_DATE_EPOCH` if set, else now.
pub fn build_time() -> Result<i64, TimeError> {
    BuildTime::from_env().map(|t| t.now)
}

/// `epoch` (the variable's value) parsed, or the clock's time when there is none.
fn epoch_or_clock(epoch: Option<String>) -> Result<i64, TimeError> {
    match epoch {
        Some(value) => value
            .trim()
            .parse::<i64>()
            .map_err(|source| TimeError { value, source }),
        None => Ok(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)),
    }
}

/// Days since 1970-01-01 to a civil (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Formats seconds since the epoch as apt does: `Wed, 25 Nov 2026 16:55:25 +0000`.
pub fn format_date(epoch: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = epoch.div_euclid(86_400);
    let secs = epoch.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} +0000",
        DAYS[days.rem_euclid(7) as usize],
        d,
        MONTHS[(m - 1) as usize],
        y,
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Parses a Release `Date`/`Valid-Until` value (`Day, DD Mon YYYY HH:MM:SS +0000|UTC|GMT|Z`).
pub fn parse_date(s: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let s = s.trim();
    let s = s.split_once(", ").map_or(s, |(_, rest)| rest);
    let parts: Vec<&str> = s.split_whitespace().collect();
    if parts.len() < 4 {
        return None;
    }
    let d: i64 = parts[0].parse().ok()?;
    let m = MONTHS
        .iter()
        .position(|&n| n.eq_ignore_ascii_case(parts[1]))? as i64
        + 1;
    let y: i64 = parts[2].parse().ok()?;
    let hms: Vec<i64> = parts[3]
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    if hms.len() != 3 {
        return None;
    }
    let offset = match parts.get(4).copied() {
        None | Some("UTC") | Some("GMT") | Some("Z") => 0,
        Some(z) if (z.starts_with('+') || z.starts_with('-')) && z.len() == 5 => {
            let v: i64 = z[1..].parse().ok()?;
            let secs = (v / 100) * 3600 + (v % 100) * 60;
            if z.starts_with('-') {
                -secs
            } else {
                secs
            }
        }
        Some(_) => return None,
    };
    // days_from_civil
    let (yy, mm) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let doy = (153 * mm + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hms[0] * 3600 + hms[1] * 60 + hms[2] - offset)
}

/// The header fields of a suite Release.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReleaseFields {
    /// `Origin`.
    pub origin: Option<String>,
    /// `Label`.
    pub label: Option<String>,
    /// `Suite`.
    pub suite: String,
    /// `Codename`.
    pub codename: String,
    /// `Date`, already formatted.
    pub date: String,
    /// `Valid-Until`, already formatted.
    pub valid_until: Option<String>,
    /// `Architectures`.
    pub architectures: Vec<String>,
    /// `Components`.
    pub components: Vec<String>,
    /// `Description`.
    pub description: Option<String>,
    /// `Acquire-By-Hash: yes`.
    pub acquire_by_hash: bool,
}

/// Writes a suite Release: header in apt-ftparchive's (byte-sorted) order, then
/// the four digest sections over `files` (path relative to the suite directory).
pub fn write_release(fields: &ReleaseFields, files: &BTreeMap<String, Hashes>) -> Vec<u8> {
    let mut header: BTreeMap<&str, String> = BTreeMap::new();
    let mut put = |k: &'static str, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            header.insert(k, v);
        }
    };
    put(
        "Acquire-By-Hash",
        fields.acquire_by_hash.then(|| "yes".to_string()),
    );
    put("Architectures", Some(fields.architectures.join(" ")));
    put("Codename", Some(fields.codename.clone()));
    put("Components", Some(fields.components.join(" ")));
    put("Date", Some(fields.date.clone()));
    put("Description", fields.description.clone());
    put("Label", fields.label.clone());
    put("Origin", fields.origin.clone());
    put("Suite", Some(fields.suite.clone()));
    put("Valid-Until", fields.valid_until.clone());
    let mut out = String::new();
    for (k, v) in &header {
        out.push_str(k);
        out.push_str(": ");
        out.push_str(v);
        out.push('\n');
    }
    type Pick = fn(&Hashes) -> &[u8];
    let sections: [(&str, Pick); 4] = [
        ("MD5Sum", |h| &h.md5),
        ("SHA1", |h| &h.sha1),
        ("SHA256", |h| &h.sha256),
        ("SHA512", |h| &h.sha512),
    ];
    for (name, pick) in sections {
        out.push_str(name);
        out.push_str(":\n");
        for (path, h) in files {
            out.push_str(&format!(" {} {:>16} {}\n", hex(pick(h)), h.size, path));
        }
    }
    out.into_bytes()
}

/// Writes a per-component, per-architecture Release, as Debian's archive has them.
pub fn write_component_release(
    suite: &str,
    origin: Option<&str>,
    label: Option<&str>,
    component: &str,
    arch: &str,
) -> Vec<u8> {
    let mut out = format!("Archive: {suite}\n");
    if let Some(o) = origin.filter(|o| !o.is_empty()) {
        out.push_str(&format!("Origin: {o}\n"));
    }
    if let Some(l) = label.filter(|l| !l.is_empty()) {
        out.push_str(&format!("Label: {l}\n"));
    }
    out.push_str(&format!("Component: {component}\nArchitecture: {arch}\n"));
    out.into_bytes()
}

/// The public keyring a signed repository publishes at its top:
/// `<label or origin>-archive-keyring.gpg`, lower-case, other characters as `-`
/// (`elirepo-archive-keyring.gpg` without either).
pub fn keyring_file_name(label: Option<&str>, origin: Option<&str>) -> String {
    let name = label
        .filter(|l| !l.is_empty())
        .or(origin.filter(|o| !o.is_empty()))
        .unwrap_or("elirepo")
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect::<String>();
    format!("{name}-archive-keyring.gpg")
}

/// A parsed suite Release: header fields and the files of its SHA256 section.
#[derive(Debug, Clone, Default)]
pub struct ParsedRelease {
    /// Header fields, in file order.
    pub fields: Vec<(String, String)>,
    /// Per listed path: (size, hex digest) of each section that lists it.
    pub files: BTreeMap<String, ListedFile>,
}

/// What a Release says about one file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListedFile {
    /// Size in bytes.
    pub size: u64,
    /// Hex MD5, if listed.
    pub md5: Option<String>,
    /// Hex SHA1, if listed.
    pub sha1: Option<String>,
    /// Hex SHA256, if listed.
    pub sha256: Option<String>,
    /// Hex SHA512, if listed.
    pub sha512: Option<String>,
}

impl ParsedRelease {
    /// Value of a header field (case-insensitive).
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why a Release does not parse: the line and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {kind}")]
pub struct ParseError {
    /// The line, counted from 1.
    pub line: usize,
    /// What is wrong with it.
    #[source]
    pub kind: ParseErrorKind,
}

/// What is wrong with a line of a Release.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// A file line of a digest section without three words.
    #[error("expected \"<hash> <size> <path>\"")]
    FileLine,
    /// A file line whose size is not a number.
    #[error("size {size:?} is not a number")]
    Size {
        /// The size as written.
        size: String,
        /// Why it does not parse.
        #[source]
        source: std::num::ParseIntError,
    },
    /// A header line without a colon.
    #[error("not a field: {0:?}")]
    NotAField(String),
}

/// Parses a Release (or the signed body of an InRelease); `Err` says where and why not.
pub fn parse_release(text: &str) -> Result<ParsedRelease, ParseError> {
    let mut r = ParsedRelease::default();
    let mut section: Option<String> = None;
    for (n, line) in text.lines().enumerate() {
        let at = |kind| ParseError { line: n + 1, kind };
        if line.is_empty() {
            continue;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            let Some(sec) = section.as_deref() else {
                continue;
            };
            let parts: Vec<&str> = line.split_whitespace().collect();
            if parts.len() != 3 {
                return Err(at(ParseErrorKind::FileLine));
            }
            let size: u64 = parts[1].parse().map_err(|source| {
                at(ParseErrorKind::Size {
                    size: parts[1].to_string(),
                    source,
                })
            })?;
            let entry = r.files.entry(parts[2].to_string()).or_default();
            entry.size = size;
            let h = Some(parts[0].to_ascii_lowercase());
            match sec {
                "md5sum" => entry.md5 = h,
                "sha1" => entry.sha1 = h,
                "sha256" => entry.sha256 = h,
                "sha512" => entry.sha512 = h,
                _ => {}
            }
            continue;
        }
        let (k, v) = line
            .split_once(':')
            .ok_or_else(|| at(ParseErrorKind::NotAField(line.to_string())))?;
        let k = k.trim();
        let v = v.trim();
        match k.to_ascii_lowercase().as_str() {
            s @ ("md5sum" | "sha1" | "sha256" | "sha512") if v.is_empty() => {
                section = Some(s.to_string())
            }
            _ => {
                section = Some(String::new());
                r.fields.push((k.to_string(), v.to_string()));
            }
        }
    }
    Ok(r)
}

/// Extracts the signed text of a clear-signed InRelease (dash-escaping undone).
pub fn inrelease_body(text: &str) -> Option<String> {
    let start = text.find("-----BEGIN PGP SIGNED MESSAGE-----")?;
    let after = &text[start..];
    let blank = after.find("\n\n")? + 2;
    let body_and_sig = &after[blank..];
    let end = body_and_sig.find("\n-----BEGIN PGP SIGNATURE-----")?;
    let body = &body_and_sig[..end];
    let mut out = String::with_capacity(body.len() + 1);
    for line in body.split('\n') {
        out.push_str(line.strip_prefix("- ").unwrap_or(line));
        out.push('\n');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_formatted_like_apt() {
        assert_eq!(format_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(format_date(946_684_800), "Sat, 01 Jan 2000 00:00:00 +0000");
        assert_eq!(
            format_date(1_795_625_725),
            "Wed, 25 Nov 2026 16:55:25 +0000"
        );
        for t in [0, 946_684_800, 1_795_625_725, 4_102_444_800, 951_782_400] {
            assert_eq!(parse_date(&format_date(t)), Some(t));
        }
        assert_eq!(
            parse_date("Sat, 01 Jan 2000 01:00:00 +0100"),
            Some(946_684_800)
        );
        assert_eq!(parse_date("garbage"), None);
    }

    #[test]
    fn release_lines_match_apt_ftparchive() {
        let mut files = BTreeMap::new();
        files.insert(
            "main/binary-amd64/Packages".to_string(),
            Hashes::of_bytes(b""),
        );
        files.insert("main/Contents-amd64".to_string(), Hashes::of_bytes(b"abc"));
        let fields = ReleaseFields {
            suite: "stable".into(),
            codename: "bookworm".into(),
            date: format_date(946_684_800),
            architectures: vec!["amd64".into()],
            components: vec!["main".into()],
            origin: Some("O".into()),
            ..Default::default()
        };
        let text = String::from_utf8(write_release(&fields, &files)).unwrap();
        assert!(text.starts_with(
            "Architectures: amd64\nCodename: bookworm\nComponents: main\nDate: Sat, 01 Jan 2000 00:00:00 +0000\nOrigin: O\nSuite: stable\nMD5Sum:\n 900150983cd24fb0d6963f7d28e17f72                3 main/Contents-amd64\n d41d8cd98f00b204e9800998ecf8427e                0 main/binary-amd64/Packages\nSHA1:\n"
        ), "{text}");
        assert!(text.ends_with(" main/binary-amd64/Packages\n"));
        let parsed = parse_release(&text).unwrap();
        assert_eq!(parsed.field("codename"), Some("bookworm"));
        assert_eq!(parsed.files["main/Contents-amd64"].size, 3);
        assert_eq!(
            parsed.files["main/binary-amd64/Packages"].sha256.as_deref(),
            Some("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
    }

    #[test]
    fn a_bad_release_names_its_line_and_cause() {
        let e = parse_release("Origin: x\nSHA256:\n abc 12x main/Packages\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert_eq!(e.to_string(), "line 3: size \"12x\" is not a number");
        assert!(matches!(e.kind, ParseErrorKind::Size { ref size, .. } if size == "12x"));
        assert!(std::error::Error::source(&e.kind).is_some());
        let e = parse_release("Origin: x\nSHA256:\n abc 12\n").unwrap_err();
        assert_eq!(e.to_string(), "line 3: expected \"<hash> <size> <path>\"");
        let e = parse_release("Origin: x\ngarbage\n").unwrap_err();
        assert_eq!(e.to_string(), "line 2: not a field: \"garbage\"");
    }

    #[test]
    fn a_bad_epoch_names_the_value_and_its_cause() {
        let e = epoch_or_clock(Some("soon".into())).unwrap_err();
        assert_eq!(e.value, "soon");
        assert_eq!(
            e.to_string(),
            "SOURCE_DATE_EPOCH=\"soon\" is not a number of seconds since 1970"
        );
        assert!(std::error::Error::source(&e).is_some());
        assert_eq!(
            epoch_or_clock(Some(" 946684800\n".into())).unwrap(),
            946_684_800
        );
        assert!(epoch_or_clock(None).unwrap() > 946_684_800);
    }

    #[test]
    fn inrelease_body_undoes_dash_escaping() {
        let signed = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nOrigin: x\n- -dash\n-----BEGIN PGP SIGNATURE-----\n\nabc\n-----END PGP SIGNATURE-----\n";
        assert_eq!(inrelease_body(signed).unwrap(), "Origin: x\n-dash\n");
    }
}
