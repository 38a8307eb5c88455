//! Packages stanzas and override files, exactly as apt-ftparchive writes and reads them.
//!
//! This module owns the byte contract of a `Packages` index: which fields a
//! stanza gets (`Filename`, `Size`, the digests), which are rewritten
//! (`Priority`, `Section`, `Maintainer` from an override), which are dropped
//! (`Status`, `Optional`), and their order (apt 2.6's `TFRewritePackageOrder`,
//! then unknown fields in their original order). It also reads apt-ftparchive's
//! override file format. It does no file-system I/O except reading an override file.

use std::collections::BTreeMap;
use std::path::Path;

use crate::control::{trim, Change, Paragraph};
use crate::hash::{hex, Hashes};

/// apt 2.6's `TFRewritePackageOrder`: the order of known fields in a Packages stanza.
pub const PACKAGE_ORDER: &[&str] = &[
    "Package",
    "Package-Type",
    "Architecture",
    "Subarchitecture",
    "Version",
    "Kernel-Version",
    "Built-Using",
    "Static-Built-Using",
    "Built-For-Profiles",
    "Auto-Built-Package",
    "Multi-Arch",
    "Status",
    "Priority",
    "Build-Essential",
    "Protected",
    "Important",
    "Essential",
    "Installer-Menu-Item",
    "Section",
    "Source",
    "Origin",
    "Phased-Update-Percentage",
    "Maintainer",
    "Original-Maintainer",
    "Bugs",
    "Config-Version",
    "Conffiles",
    "Triggers-Awaited",
    "Triggers-Pending",
    "Installed-Size",
    "Provides",
    "Pre-Depends",
    "Depends",
    "Recommends",
    "Suggests",
    "Conflicts",
    "Breaks",
    "Replaces",
    "Enhances",
    "Filename",
    "MSDOS-Filename",
    "Size",
    "MD5sum",
    "SHA1",
    "SHA256",
    "SHA512",
    "Homepage",
    "Description",
    "Description-md5",
    "Tag",
    "Task",
];

/// Which optional parts a stanza carries (apt-ftparchive's `APT::FTPArchive::*` switches).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StanzaOptions {
    /// Write `MD5sum`.
    pub md5: bool,
    /// Write `SHA1`.
    pub sha1: bool,
    /// Write `SHA256`.
    pub sha256: bool,
    /// Write `SHA512`.
    pub sha512: bool,
    /// Keep the long description; when false, keep its first line and add `Description-md5`.
    pub long_description: bool,
}

impl Default for StanzaOptions {
    fn default() -> Self {
        StanzaOptions {
            md5: true,
            sha1: true,
            sha256: true,
            sha512: true,
            long_description: true,
        }
    }
}

/// One entry of an override file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OverrideItem {
    /// New Priority (empty: keep).
    pub priority: String,
    /// New Section.
    pub section: String,
    /// Maintainer names to replace (`*`: any), separated by ` // `.
    pub old_maint: String,
    /// Replacement Maintainer.
    pub new_maint: String,
}

impl OverrideItem {
    /// apt's `SwapMaint`: the new Maintainer value, or empty for no change.
    fn swap_maint(&self, orig: &[u8]) -> String {
        if self.new_maint.is_empty() {
            return self.old_maint.clone();
        }
        if self.old_maint == "*" {
            return self.new_maint.clone();
        }
        let old = self.old_maint.as_bytes();
        let mut end = 0usize;
        loop {
            let start = end;
            while end < old.len()
                && (end + 3 >= old.len()
                    || old[end] != b' '
                    || old[end + 1] != b'/'
                    || old[end + 2] != b'/')
            {
                end += 1;
            }
            if old[start..end].eq_ignore_ascii_case(orig) {
                return self.new_maint.clone();
            }
            if end >= old.len() {
                break;
            }
            while end < old.len() && (old[end] == b'/' || old[end] == b' ') {
                end += 1;
            }
        }
        String::new()
    }
}

/// An apt-ftparchive override file: `package priority section [maintainer-spec]`.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    map: BTreeMap<Vec<u8>, OverrideItem>,
    /// Warnings about malformed lines, as apt prints them.
    pub warnings: Vec<String>,
}

impl Overrides {
    /// Parses override file text the way apt's `Override::ReadOverride` does
    /// (lines cut at 999 bytes, `#` ends a line, malformed lines skipped with a warning).
    pub fn parse(text: &[u8], shown_name: &str) -> Overrides {
        let mut o = Overrides::default();
        let mut rest = text;
        let mut counter = 0u64;
        while !rest.is_empty() {
            // fgets into a 1000-byte buffer.
            let cut = rest
                .iter()
                .take(999)
                .position(|&b| b == b'\n')
                .map_or(rest.len().min(999), |i| i + 1);
            let mut line = &rest[..cut];
            rest = &rest[cut..];
            counter += 1;
            // A C string ends at NUL; '#' silences the rest.
            if let Some(i) = line.iter().position(|&b| b == 0 || b == b'#') {
                line = &line[..i];
            }
            let sp = crate::control::is_space;
            let mut pos = line.iter().take_while(|b| sp(**b)).count();
            let word = |pos: &mut usize| -> Option<Vec<u8>> {
                let start = *pos;
                while *pos < line.len() && !sp(line[*pos]) {
                    *pos += 1;
                }
                if *pos >= line.len() {
                    return None;
                }
                let w = line[start..*pos].to_vec();
                *pos += 1;
                while *pos < line.len() && sp(line[*pos]) {
                    *pos += 1;
                }
                Some(w)
            };
            let warn = |o: &mut Overrides, what: &str| {
                o.warnings.push(format!(
                    "Malformed override {shown_name} line {counter} ({what})"
                ));
            };
            let Some(pkg) = word(&mut pos) else {
                if pos < line.len() || line.iter().any(|b| !sp(*b)) {
                    warn(&mut o, "pkgname");
                }
                continue;
            };
            let Some(priority) = word(&mut pos) else {
                warn(&mut o, "priority");
                continue;
            };
            let Some(section) = word(&mut pos) else {
                warn(&mut o, "section");
                continue;
            };
            let mut item = OverrideItem {
                priority: String::from_utf8_lossy(&priority).into_owned(),
                section: String::from_utf8_lossy(&section).into_owned(),
                ..Default::default()
            };
            if pos < line.len() {
                let spec = &line[pos..];
                let arrow = spec.windows(2).position(|w| w == b"=>");
                let strip = |b: &[u8]| String::from_utf8_lossy(trim(b)).into_owned();
                match arrow {
                    Some(i) if spec.len() - i >= 4 => {
                        item.old_maint = strip(&spec[..i]);
                        item.new_maint = strip(&spec[i + 3..]);
                    }
                    _ => {
                        item.old_maint = "*".into();
                        item.new_maint = strip(spec);
                    }
                }
            }
            o.map.insert(pkg, item);
        }
        o
    }

    /// Reads an override file.
    pub fn read(path: &Path) -> std::io::Result<Overrides> {
        Ok(Overrides::parse(
            &std::fs::read(path)?,
            &path.display().to_string(),
        ))
    }

    /// apt's `GetItem`: the entry for `package`, with a `package/arch` entry merged over it.
    pub fn get(&self, package: &[u8], arch: &[u8]) -> Option<OverrideItem> {
        let plain = self.map.get(package);
        let mut key = package.to_vec();
        key.push(b'/');
        key.extend_from_slice(arch);
        let specific = self.map.get(&key);
        match (plain, specific) {
            (None, None) => None,
            (None, Some(s)) => Some(s.clone()),
            (Some(p), None) => Some(p.clone()),
            (Some(p), Some(s)) => {
                let mut r = p.clone();
                if !s.priority.is_empty() {
                    r.priority = s.priority.clone();
                }
                if !s.old_maint.is_empty() {
                    r.old_maint = s.old_maint.clone();
                }
                if !s.new_maint.is_empty() {
                    r.new_maint = s.new_maint.clone();
                }
                r.section = s.section.clone();
                Some(r)
            }
        }
    }

    /// True when the file had no entry.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Appends one Packages stanza (fields, then a blank line) for a .deb, as
/// apt-ftparchive's `PackagesWriter::DoPackage` writes it.
///
/// `arch` is the architecture the index is for (`-a`), used to look up
/// `package/arch` overrides; without it the control file's Architecture is used.
pub fn write_stanza(
    out: &mut Vec<u8>,
    control: &Paragraph,
    hashes: &Hashes,
    filename: &[u8],
    opts: &StanzaOptions,
    overrides: &Overrides,
    arch: Option<&str>,
) {
    let package = control.get("Package").unwrap_or_default();
    let arch_bytes = match arch {
        Some(a) => a.as_bytes(),
        None => control.get("Architecture").unwrap_or_default(),
    };
    let item = overrides
        .get(package, arch_bytes)
        .unwrap_or_else(|| OverrideItem {
            priority: String::from_utf8_lossy(control.get("Priority").unwrap_or_default())
                .into_owned(),
            section: String::from_utf8_lossy(control.get("Section").unwrap_or_default())
                .into_owned(),
            ..Default::default()
        });

    let mut desc = control.get("Description").unwrap_or_default().to_vec();
    desc.push(b'\n');

    let mut changes = Vec::with_capacity(14);
    changes.push(Change::Rewrite(
        "Size",
        hashes.size.to_string().into_bytes(),
    ));
    if opts.md5 {
        changes.push(Change::Rewrite("MD5sum", hex(&hashes.md5).into_bytes()));
    }
    if opts.sha1 {
        changes.push(Change::Rewrite("SHA1", hex(&hashes.sha1).into_bytes()));
    }
    if opts.sha256 {
        changes.push(Change::Rewrite("SHA256", hex(&hashes.sha256).into_bytes()));
    }
    if opts.sha512 {
        changes.push(Change::Rewrite("SHA512", hex(&hashes.sha512).into_bytes()));
    }
    changes.push(Change::Rewrite("Filename", filename.to_vec()));
    changes.push(Change::Rewrite(
        "Priority",
        item.priority.clone().into_bytes(),
    ));
    changes.push(Change::Remove("Status"));
    changes.push(Change::Remove("Optional"));
    if !opts.long_description {
        let md5 = crate::hash::Hashes::of_bytes(&desc).md5;
        changes.push(Change::Rewrite("Description-md5", hex(&md5).into_bytes()));
    }
    let new_maint = item.swap_maint(control.get("Maintainer").unwrap_or_default());
    if !new_maint.is_empty() {
        changes.push(Change::Rewrite("Maintainer", new_maint.into_bytes()));
    }
    // The field overrides, in std::map (byte) order: Description, then Section.
    if !opts.long_description {
        let first = desc
            .split(|&b| b == b'\n')
            .next()
            .unwrap_or_default()
            .to_vec();
        changes.push(Change::Rewrite("Description", first));
    }
    changes.push(Change::Rewrite("Section", item.section.into_bytes()));

    control.write(out, PACKAGE_ORDER, &changes);
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stanza(control: &[u8], opts: &StanzaOptions, ov: &Overrides) -> String {
        let mut out = Vec::new();
        let p = Paragraph::parse(control);
        write_stanza(
            &mut out,
            &p,
            &Hashes::of_bytes(b"abc"),
            b"pool/x.deb",
            opts,
            ov,
            None,
        );
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_plain_stanza_in_apt_order() {
        let got = stanza(
            b"Package: foo\nVersion: 1.0\nSection:  utils  \nPriority:   optional   \nArchitecture: amd64\nMaintainer: M <m@x>\nStatus: install ok\nSize: 9\nX-Zzz: 1\nDescription: short\n long\n",
            &StanzaOptions::default(),
            &Overrides::default(),
        );
        let want = "Package: foo\nArchitecture: amd64\nVersion: 1.0\nPriority: optional\nSection: utils\n\
Maintainer: M <m@x>\nFilename: pool/x.deb\nSize: 3\nMD5sum: 900150983cd24fb0d6963f7d28e17f72\n\
SHA1: a9993e364706816aba3e25717850c26c9cd0d89d\n\
SHA256: ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n\
SHA512: ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f\n\
Description: short\n long\nX-Zzz: 1\n\n";
        assert_eq!(got, want);
    }

    #[test]
    fn short_description_gets_its_md5() {
        let opts = StanzaOptions {
            long_description: false,
            md5: false,
            sha1: false,
            sha256: false,
            sha512: false,
        };
        let got = stanza(b"Package: hello\nDescription: example package based on GNU hello\n The GNU hello program produces a familiar, friendly greeting.  It\n allows non-programmers to use a classic computer science tool which\n would otherwise be unavailable to them.\n .\n Seriously, though: this is an example of how to do a Debian package.\n It is the Debian version of the GNU Project's `hello world' program\n (which is itself an example for the GNU Project).\n", &opts, &Overrides::default());
        assert!(
            got.contains("Description: example package based on GNU hello\nDescription-md5: "),
            "{got}"
        );
        assert!(!got.contains("MD5sum"));
        assert!(got.contains("Size: 3\n"));
    }

    #[test]
    fn overrides_rewrite_priority_section_and_maintainer() {
        let ov = Overrides::parse(
            b"# comment\nfoo extra admin\nbar optional net Old Guy <o@x> // Other <p@x> => New <n@x>\nbaz optional net new <z@x>\nfoo/i386 important games\nbroken line\n",
            "ov",
        );
        assert_eq!(ov.warnings.len(), 1, "{:?}", ov.warnings);
        let got = stanza(
            b"Package: foo\nSection: utils\nArchitecture: amd64\n",
            &StanzaOptions::default(),
            &ov,
        );
        assert!(got.contains("Priority: extra\nSection: admin\n"), "{got}");
        let got = stanza(
            b"Package: foo\nArchitecture: i386\n",
            &StanzaOptions::default(),
            &ov,
        );
        assert!(
            got.contains("Priority: important\nSection: games\n"),
            "{got}"
        );
        let got = stanza(
            b"Package: bar\nMaintainer: other <P@X>\n",
            &StanzaOptions::default(),
            &ov,
        );
        assert!(got.contains("Maintainer: New <n@x>\n"), "{got}");
        let got = stanza(
            b"Package: bar\nMaintainer: nobody\n",
            &StanzaOptions::default(),
            &ov,
        );
        assert!(got.contains("Maintainer: nobody\n"), "{got}");
        let got = stanza(
            b"Package: baz\nMaintainer: whoever\n",
            &StanzaOptions::default(),
            &ov,
        );
        assert!(got.contains("Maintainer: new <z@x>\n"), "{got}");
    }

    #[test]
    fn override_lines_without_a_final_newline_lose_their_section() {
        let ov = Overrides::parse(b"foo extra admin", "ov");
        assert!(ov.is_empty());
        assert_eq!(
            ov.warnings,
            vec!["Malformed override ov line 1 (section)".to_string()]
        );
    }
}
