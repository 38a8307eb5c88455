//! Reading the source repository into a [`Snapshot`]: every file a client can
//! fetch (links followed, `.elirepo/` and `dists/.generations/` left out), each
//! hashed, and the suites published as generation links with a content id.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::Path;

use md5::Digest;

use super::plan::{Snapshot, SourceFile, SuiteLink};
use super::PublishError;
use crate::publish::STATE_DIR;

fn hash_file(path: &Path) -> Result<(u64, String, String), PublishError> {
    let mut f = fs::File::open(path).map_err(|e| PublishError::source(path, e))?;
    let mut sha = sha2::Sha256::new();
    let mut md5 = md5::Md5::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| PublishError::source(path, e))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        sha.update(&buf[..n]);
        md5.update(&buf[..n]);
    }
    Ok((size, crate::hash::hex(&sha.finalize()), crate::hash::hex(&md5.finalize())))
}

fn rel_string(p: &Path) -> Result<String, PublishError> {
    p.to_str()
        .map(str::to_string)
        .ok_or_else(|| PublishError::Source(format!("{}: not a UTF-8 path", p.display())))
}

/// Reads `repo`.
pub fn scan(repo: &Path) -> Result<Snapshot, PublishError> {
    if !repo.join("dists").is_dir() {
        return Err(PublishError::Source(format!(
            "{}: not an elirepo repository (no dists/); run `elirepo build` first",
            repo.display()
        )));
    }
    let mut files = BTreeMap::new();
    let walk = walkdir::WalkDir::new(repo)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            let rel = e.path().strip_prefix(repo).unwrap_or(e.path());
            rel != Path::new(STATE_DIR)
                && rel != Path::new(super::state::DIR)
                && rel != Path::new("dists/.generations")
        });
    for e in walk {
        let e = e.map_err(|e| {
            PublishError::Source(format!(
                "{}: {e}",
                e.path().unwrap_or(repo).display()
            ))
        })?;
        if e.file_type().is_dir() {
            continue;
        }
        let rel = rel_string(e.path().strip_prefix(repo).unwrap_or(e.path()))?;
        let (size, sha256, md5) = hash_file(e.path())?;
        files.insert(
            rel,
            SourceFile {
                abs: e.path().to_path_buf(),
                size,
                sha256,
                md5,
            },
        );
    }
    // Suites published as a link into dists/.generations/.
    let mut suites = Vec::new();
    let dists = repo.join("dists");
    let mut names: Vec<_> = fs::read_dir(&dists)
        .map_err(|e| PublishError::source(&dists, e))?
        .flatten()
        .collect();
    names.sort_by_key(|e| e.file_name());
    for e in names {
        let Ok(name) = e.file_name().into_string() else { continue };
        let Ok(target) = fs::read_link(e.path()) else { continue };
        let t = target.to_string_lossy().to_string();
        let Some(n) = t.strip_prefix(&format!(".generations/{name}/")) else {
            continue;
        };
        if n.contains('/') {
            continue;
        }
        let generation = format!("dists/.generations/{name}/{n}");
        let gdir = repo.join(&generation);
        let mut id_input = String::new();
        let mut gfiles = BTreeMap::new();
        for g in walkdir::WalkDir::new(&gdir).min_depth(1).sort_by_file_name() {
            let g = g.map_err(|err| PublishError::Source(format!("{}: {err}", gdir.display())))?;
            let rel = rel_string(g.path().strip_prefix(&gdir).unwrap_or(g.path()))?;
            if g.path_is_symlink() {
                let t = fs::read_link(g.path()).map_err(|err| PublishError::source(g.path(), err))?;
                id_input.push_str(&format!("L {rel} {}\n", t.display()));
            } else if g.file_type().is_file() {
                let (size, sha, _) = hash_file(g.path())?;
                id_input.push_str(&format!("F {rel} {sha}\n"));
                gfiles.insert(rel, size);
            }
        }
        let id = crate::hash::hex(&sha2::Sha256::digest(id_input.as_bytes()))[..16].to_string();
        suites.push(SuiteLink {
            suite: name,
            generation,
            id,
            files: gfiles,
        });
    }
    Ok(Snapshot { files, suites })
}
