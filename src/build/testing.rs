//! Shared helpers of the build phases' unit tests: options, inputs and a
//! published suite made by hand.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use super::inputs::{Input, InputInfo};
use super::stanzas::StanzaWriter;
use crate::config::BuildOptions;
use crate::control::Paragraph;
use crate::hash::Hashes;
use crate::index::{write_stanza, Overrides, StanzaOptions};
use crate::pool::PackageId;
use crate::publish::Content;
use crate::release::{self, ReleaseFields};

/// Options of an unsigned suite `s` (amd64, i386) in `repo`.
pub fn opts(repo: &Path) -> BuildOptions {
    BuildOptions {
        repo: repo.to_path_buf(),
        suite: "s".into(),
        codename: "s".into(),
        architectures: vec!["amd64".into(), "i386".into()],
        component: "main".into(),
        debs: Vec::new(),
        origin: Some("O".into()),
        label: None,
        description: None,
        valid_for: None,
        by_hash: true,
        sign: None,
        wait: false,
        netboot: Vec::new(),
        no_symlinks: false,
        allow_oversize: false,
        force: false,
        boot_test: false,
        allow_empty: false,
        allow_removals: false,
        xz_preset: crate::config::DEFAULT_XZ_PRESET,
    }
}

/// An input package `name 1.0 arch` whose .deb bytes are `bytes`, its stanza
/// in a temporary file of its own.
pub fn input(name: &str, arch: &str, bytes: &[u8]) -> Input {
    let control = Paragraph::parse(
        format!("Package: {name}\nVersion: 1.0\nArchitecture: {arch}\nDescription: d\n").as_bytes(),
    );
    let id = PackageId::from_control(&control).expect("a valid test control");
    let pool = id.pool_path("main");
    let hashes = Hashes::of_bytes(bytes);
    let mut stanza = Vec::new();
    write_stanza(
        &mut stanza,
        &control,
        &hashes,
        pool.as_os_str().as_encoded_bytes(),
        &StanzaOptions::default(),
        &Overrides::default(),
        None,
    );
    let mut w = StanzaWriter::new().unwrap();
    let stanza = w.add(&stanza).unwrap();
    w.finish().unwrap();
    Input::new(
        PathBuf::from(format!("in/{name}_{arch}.deb")),
        InputInfo::new(&hashes, stanza),
        &id,
        pool,
    )
}

/// The bytes of an index's content.
pub fn bytes_of(content: &Content) -> Vec<u8> {
    match content {
        Content::Bytes(b) => b.clone(),
        Content::File(p, _) => fs::read(p).unwrap(),
        Content::Symlink(_) => panic!("an index is not a link"),
    }
}

/// Writes `files` (relative to `dists/<suite>/`) and a Release dated `date`
/// listing them as `listed` says (their own digests when not given).
pub fn publish_suite(
    repo: &Path,
    suite: &str,
    files: &[(&str, &[u8])],
    listed: Option<BTreeMap<String, Hashes>>,
    date: i64,
) -> Vec<u8> {
    let dir = repo.join("dists").join(suite);
    for (rel, bytes) in files {
        let p = dir.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, bytes).unwrap();
    }
    let listed = listed.unwrap_or_else(|| {
        files
            .iter()
            .map(|(rel, bytes)| (rel.to_string(), Hashes::of_bytes(bytes)))
            .collect()
    });
    let fields = ReleaseFields {
        suite: suite.into(),
        codename: suite.into(),
        date: release::format_date(date),
        ..Default::default()
    };
    let text = release::write_release(&fields, &listed);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("Release"), &text).unwrap();
    text
}
