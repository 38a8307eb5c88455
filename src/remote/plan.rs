//! What to send and delete, and in which order: pure functions over the source
//! repository's [`Snapshot`], the destination's [`State`] and its [`Listing`].
//!
//! Every file a client can fetch falls in one [`Class`]; the classes are sent in
//! passes, each pass finished before the next begins:
//!
//! 1. [`Class::Immutable`] (`pool/`, `by-hash/`, versioned netboot directories) and
//!    [`Class::Other`] (files beside `dists/` and `pool/`, e.g. the keyring);
//! 2. [`Class::Index`] (Packages, component Release files, SUMS files);
//! 3. `Release.gpg`, then `Release`, then `InRelease`, one pass each;
//! 4. [`Class::Current`]: the netboot `current/` files, all at once, last;
//!
//! then deletions, only of what no kept publish ([`KEEP`]) names. On a
//! destination with renames (local path, ssh) a suite whose `dists/<suite>` is a
//! link into `dists/.generations/` is sent as a whole generation directory and
//! switched with one rename instead ([`GenerationOp`]).

use std::collections::{BTreeMap, BTreeSet};

use super::state::{FileState, State};

/// How many publishes' files stay at the destination: the 3 generations `build` keeps.
pub const KEEP: usize = 3;

/// The kind of a published path, which fixes its pass and its Cache-Control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    /// Never changes once published: pool files, by-hash objects, versioned netboot files.
    Immutable,
    /// Outside `dists/` and `pool/` (the public keyring): sent first, short-lived.
    Other,
    /// Indexes fetched by name: Packages*, component Release, SUMS files.
    Index,
    /// `dists/<suite>/Release.gpg`.
    Signature,
    /// `dists/<suite>/Release`.
    Release,
    /// `dists/<suite>/InRelease`.
    InRelease,
    /// The netboot files under `installer-<arch>/current/`: what eliloader fetches.
    Current,
}

impl Class {
    /// True for the classes a CDN may cache for long.
    pub fn immutable(self) -> bool {
        self == Class::Immutable
    }
}

/// The class of a path relative to the repository root.
pub fn classify(path: &str) -> Class {
    let parts: Vec<&str> = path.split('/').collect();
    if parts[0] == "pool" || parts.contains(&"by-hash") {
        return Class::Immutable;
    }
    if parts[0] != "dists" {
        return Class::Other;
    }
    // dists/<suite>/<component>/installer-<arch>/<version>/...
    if parts.len() > 5 && parts[3].starts_with("installer-") {
        return if parts[4] == crate::eliloader::CURRENT {
            Class::Current
        } else {
            Class::Immutable
        };
    }
    if parts.len() == 3 {
        match parts[2] {
            "Release" => return Class::Release,
            "InRelease" => return Class::InRelease,
            "Release.gpg" => return Class::Signature,
            _ => {}
        }
    }
    Class::Index
}

/// The passes, in order: each is a set of classes sent together.
pub const PASSES: &[(&str, &[Class])] = &[
    (
        "pool and immutable files",
        &[Class::Immutable, Class::Other],
    ),
    ("indexes", &[Class::Index]),
    ("Release.gpg", &[Class::Signature]),
    ("Release", &[Class::Release]),
    ("InRelease", &[Class::InRelease]),
    ("netboot current", &[Class::Current]),
];

/// One file of the source repository, as a client sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// Its real path on disk.
    pub abs: std::path::PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256, hex.
    pub sha256: String,
    /// MD5, hex (S3's ETag of a single-part upload).
    pub md5: String,
}

/// A suite whose `dists/<suite>` is a link to a generation directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuiteLink {
    /// The suite name.
    pub suite: String,
    /// The generation directory, relative to the repository (`dists/.generations/<suite>/<n>`).
    pub generation: String,
    /// A content id of that directory: equal ids, equal trees.
    pub id: String,
    /// Files inside the generation (relative to it) and their sizes, links excluded.
    pub files: BTreeMap<String, u64>,
}

/// The source repository: every file a client can fetch (links resolved), and
/// the suites published as generations.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// By path relative to the repository (`dists/<suite>/...` resolved).
    pub files: BTreeMap<String, SourceFile>,
    /// Suites whose `dists/<suite>` is a link into `dists/.generations/`.
    pub suites: Vec<SuiteLink>,
}

/// What is really at the destination, by path.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    /// Files: size and a stamp (S3: ETag; file systems: mtime in seconds).
    pub files: BTreeMap<String, (u64, String)>,
    /// Symbolic links and their targets (file systems only).
    pub links: BTreeMap<String, String>,
}

/// Sending one suite as a generation directory, then switching its link.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GenerationOp {
    /// The suite.
    pub suite: String,
    /// Source generation directory, relative to the repository.
    pub source: String,
    /// The id (directory name) at the destination.
    pub id: String,
    /// Whether the directory must be sent (false: already complete there).
    pub send: bool,
    /// It is there but incomplete: completed in place rather than sent anew.
    pub repair: bool,
    /// A kept generation at the destination to hard-link unchanged files from.
    pub link_dest: Option<String>,
}

/// Everything a publish does, in order.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Files to send, one list per pass of [`PASSES`] (same order).
    pub passes: Vec<Vec<String>>,
    /// Generations to send and switch (after the first pass, before deletions).
    pub generations: Vec<GenerationOp>,
    /// Files to delete, after everything else.
    pub delete: Vec<String>,
    /// Generation directories to delete (`dists/.generations/<suite>/<id>`).
    pub delete_dirs: Vec<String>,
    /// Files already in place.
    pub unchanged: usize,
    /// The destination's state once the plan is carried out.
    pub state: State,
}

impl Plan {
    /// Files to send, in order.
    pub fn sends(&self) -> impl Iterator<Item = &String> {
        self.passes.iter().flatten()
    }
    /// True when nothing is sent, switched or deleted.
    pub fn is_empty(&self) -> bool {
        self.sends().next().is_none()
            && self.generations.is_empty()
            && self.delete.is_empty()
            && self.delete_dirs.is_empty()
    }
}

/// Is `path` (with `src`) already at the destination, as `state` and `listing` say?
fn in_place(path: &str, src: &SourceFile, state: &State, listing: &Listing) -> bool {
    let Some((size, stamp)) = listing.files.get(path) else {
        return false;
    };
    if *size != src.size {
        return false;
    }
    // S3: a single-part upload's ETag is the MD5 of the bytes.
    if stamp.trim_matches('"') == src.md5 {
        return true;
    }
    state.files.get(path).is_some_and(|f| {
        f.sha256 == src.sha256 && f.size == src.size && f.stamp.as_deref() == Some(stamp.as_str())
    })
}

/// The directory name of a destination generation path `dists/.generations/<s>/<id>/...`.
fn generation_of(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("dists/.generations/")?;
    let mut it = rest.splitn(3, '/');
    Some((it.next()?, it.next()?))
}

/// Is `path` rsync's temporary `DIR/.NAME.XXXXXX` of a file `DIR/NAME` that
/// elirepo sends or sent (outside generation directories, which go whole)?
fn leftover(path: &str, snap: &Snapshot, state: &State) -> bool {
    if path.starts_with("dists/.generations/") {
        return false;
    }
    let (dir, name) = match path.rsplit_once('/') {
        Some((d, n)) => (Some(d), n),
        None => (None, path),
    };
    let Some((orig, suffix)) = name.strip_prefix('.').and_then(|n| n.rsplit_once('.')) else {
        return false;
    };
    if orig.is_empty() || suffix.len() != 6 || !suffix.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    let original = match dir {
        Some(d) => format!("{d}/{orig}"),
        None => orig.to_string(),
    };
    snap.files.contains_key(&original) || state.files.contains_key(&original)
}

/// Computes the plan. `renames`: the destination can switch a generation link
/// with a rename (local path, ssh); `scope`: the suites published (empty: all).
pub fn plan(
    snap: &Snapshot,
    state: &State,
    listing: &Listing,
    renames: bool,
    scope: &[String],
) -> Plan {
    let in_scope = |path: &str| -> bool {
        if scope.is_empty() {
            return true;
        }
        match path.strip_prefix("dists/") {
            Some(rest) => {
                let suite = rest.split('/').next().unwrap_or("");
                let suite = if suite == ".generations" {
                    rest.split('/').nth(1).unwrap_or("")
                } else {
                    suite
                };
                scope.iter().any(|s| s == suite)
            }
            None => true,
        }
    };
    let linked: BTreeSet<&str> = if renames {
        snap.suites.iter().map(|s| s.suite.as_str()).collect()
    } else {
        BTreeSet::new()
    };
    let under_linked = |path: &str| {
        path.strip_prefix("dists/")
            .and_then(|r| r.split('/').next())
            .is_some_and(|s| linked.contains(s))
    };
    let mut out = Plan {
        passes: vec![Vec::new(); PASSES.len()],
        ..Default::default()
    };
    let mut new_state = State {
        version: super::state::VERSION,
        ..Default::default()
    };
    let mut this_gen = Vec::new();
    for (path, src) in &snap.files {
        if !in_scope(path) || under_linked(path) {
            continue;
        }
        this_gen.push(path.clone());
        let class = classify(path);
        let stamp = if in_place(path, src, state, listing) {
            out.unchanged += 1;
            listing.files.get(path).map(|(_, s)| s.clone())
        } else {
            let pass = PASSES
                .iter()
                .position(|(_, cs)| cs.contains(&class))
                .expect("every class has a pass");
            out.passes[pass].push(path.clone());
            None // filled in by the executor once sent
        };
        new_state.files.insert(
            path.clone(),
            FileState {
                size: src.size,
                sha256: src.sha256.clone(),
                stamp,
            },
        );
    }
    // Generations of linked suites.
    for s in &snap.suites {
        if !linked.contains(s.suite.as_str()) || !in_scope(&format!("dists/{}", s.suite)) {
            continue;
        }
        let prefix = format!("dists/.generations/{}/{}/", s.suite, s.id);
        // Complete at the destination whatever the state says (a publish killed
        // after its switch wrote no state): every file there, of the right size.
        let complete = !s.files.is_empty()
            && s.files.iter().all(|(f, size)| {
                listing
                    .files
                    .get(&format!("{prefix}{f}"))
                    .is_some_and(|(sz, _)| sz == size)
            });
        let there = listing.files.keys().any(|k| k.starts_with(&prefix));
        let live = listing.links.get(&format!("dists/{}", s.suite));
        let target = format!(".generations/{}/{}", s.suite, s.id);
        // Generation directories at the destination (a killed publish's id that
        // never got there is not one).
        let mut present: BTreeSet<String> = BTreeSet::new();
        for p in listing.files.keys().chain(listing.links.keys()) {
            if let Some((suite, id)) = generation_of(p) {
                if suite == s.suite {
                    present.insert(id.to_string());
                }
            }
        }
        let kept_before: Vec<&String> = state
            .suites
            .get(&s.suite)
            .into_iter()
            .flatten()
            .filter(|i| **i != s.id && present.contains(*i))
            .collect();
        let link_dest = kept_before.first().map(|i| i.to_string());
        if complete && live == Some(&target) {
            out.unchanged += s.files.len();
        } else {
            out.generations.push(GenerationOp {
                suite: s.suite.clone(),
                source: s.generation.clone(),
                id: s.id.clone(),
                send: !complete,
                repair: !complete && there,
                link_dest,
            });
        }
        let mut ids = vec![s.id.clone()];
        for i in kept_before {
            if ids.len() < KEEP {
                ids.push(i.clone());
            }
        }
        // Generation directories no longer kept.
        for id in present {
            if !ids.contains(&id) {
                out.delete_dirs
                    .push(format!("dists/.generations/{}/{id}", s.suite));
            }
        }
        new_state.suites.insert(s.suite.clone(), ids);
    }
    for (suite, ids) in &state.suites {
        if !in_scope(&format!("dists/{suite}")) || !renames {
            continue;
        }
        new_state
            .suites
            .entry(suite.clone())
            .or_insert_with(|| ids.clone());
    }
    // The publishes kept: this one and the last KEEP-1 in scope.
    this_gen.sort();
    new_state.generations.push(this_gen);
    for g in &state.generations {
        if new_state.generations.len() >= KEEP {
            break;
        }
        if new_state.generations.first() != Some(g) {
            new_state.generations.push(g.clone());
        }
    }
    let kept: BTreeSet<&String> = new_state.generations.iter().flatten().collect();
    for (path, f) in &state.files {
        if kept.contains(path) {
            new_state
                .files
                .entry(path.clone())
                .or_insert_with(|| f.clone());
        } else if in_scope(path) && listing.files.contains_key(path) {
            out.delete.push(path.clone());
        } else if !in_scope(path) {
            new_state.files.insert(path.clone(), f.clone());
        }
    }
    // What a publish killed with its rsync (SIGKILL to the whole group) left: a
    // temporary `.NAME.XXXXXX` beside a file NAME it sends, a switch link
    // never renamed. Nobody else writes there: this publish holds the lock.
    for path in listing.files.keys().chain(listing.links.keys()) {
        if in_scope(path) && leftover(path, snap, state) && !out.delete.contains(path) {
            out.delete.push(path.clone());
        }
    }
    for path in listing.links.keys() {
        let switch = path
            .strip_prefix("dists/.")
            .and_then(|r| r.strip_suffix(".switch"))
            .filter(|s| !s.contains('/'));
        if let Some(suite) = switch {
            if in_scope(&format!("dists/{suite}")) && !out.delete.contains(path) {
                out.delete.push(path.clone());
            }
        }
    }
    // Paths of older generations that are still at the destination stay known.
    new_state
        .generations
        .iter_mut()
        .for_each(|g| g.retain(|p| new_state.files.contains_key(p)));
    out.state = new_state;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(content: &str) -> SourceFile {
        SourceFile {
            abs: "/nonexistent".into(),
            size: content.len() as u64,
            sha256: format!("sha-{content}"),
            md5: format!("md5-{content}"),
        }
    }

    fn snap(files: &[(&str, &str)]) -> Snapshot {
        Snapshot {
            files: files.iter().map(|(p, c)| (p.to_string(), src(c))).collect(),
            suites: vec![],
        }
    }

    /// The destination after carrying out `p` (S3-like: ETag = md5).
    fn apply(p: &Plan, s: &Snapshot, l: &mut Listing) -> State {
        for f in p.sends() {
            let sf = &s.files[f];
            l.files.insert(f.clone(), (sf.size, sf.md5.clone()));
        }
        for f in &p.delete {
            l.files.remove(f);
        }
        let mut st = p.state.clone();
        for (k, f) in st.files.iter_mut() {
            if f.stamp.is_none() {
                f.stamp = l.files.get(k).map(|x| x.1.clone());
            }
        }
        st
    }

    #[test]
    fn classes() {
        assert_eq!(classify("pool/main/f/foo/foo_1_all.deb"), Class::Immutable);
        assert_eq!(
            classify("dists/s/main/binary-i386/by-hash/SHA256/ab"),
            Class::Immutable
        );
        assert_eq!(
            classify("dists/s/main/binary-i386/Packages.xz"),
            Class::Index
        );
        assert_eq!(classify("dists/s/main/binary-i386/Release"), Class::Index);
        assert_eq!(classify("dists/s/Release"), Class::Release);
        assert_eq!(classify("dists/s/InRelease"), Class::InRelease);
        assert_eq!(classify("dists/s/Release.gpg"), Class::Signature);
        assert_eq!(
            classify("dists/s/main/installer-i386/current/images/netboot/xen/vmlinuz"),
            Class::Current
        );
        assert_eq!(
            classify("dists/s/main/installer-i386/20240101/images/netboot/xen/vmlinuz"),
            Class::Immutable
        );
        assert_eq!(classify("demo-archive-keyring.gpg"), Class::Other);
    }

    #[test]
    fn order_pool_indexes_release_current_and_second_run_is_empty() {
        let s = snap(&[
            ("dists/s/InRelease", "ir"),
            ("dists/s/Release", "r"),
            ("dists/s/Release.gpg", "rg"),
            ("dists/s/main/binary-i386/Packages", "p"),
            (
                "dists/s/main/installer-i386/current/images/netboot/xen/vmlinuz",
                "k",
            ),
            ("pool/main/a/a/a_1_all.deb", "a"),
        ]);
        let mut l = Listing::default();
        let p = plan(&s, &State::default(), &l, false, &[]);
        let order: Vec<&str> = p.sends().map(|x| x.as_str()).collect();
        assert_eq!(
            order,
            [
                "pool/main/a/a/a_1_all.deb",
                "dists/s/main/binary-i386/Packages",
                "dists/s/Release.gpg",
                "dists/s/Release",
                "dists/s/InRelease",
                "dists/s/main/installer-i386/current/images/netboot/xen/vmlinuz"
            ]
        );
        let st = apply(&p, &s, &mut l);
        let again = plan(&s, &st, &l, false, &[]);
        assert!(again.is_empty(), "{again:?}");
        assert_eq!(again.unchanged, 6);
    }

    #[test]
    fn removed_package_is_deleted_only_after_keep_publishes() {
        let mut l = Listing::default();
        let mut st = State::default();
        let mut files = vec![("pool/a.deb", "a"), ("dists/s/Release", "r0")];
        let s = snap(&files);
        let p = plan(&s, &st, &l, false, &[]);
        st = apply(&p, &s, &mut l);
        files.retain(|f| f.0 != "pool/a.deb");
        // Each publish changes the Release and adds a by-hash object (as a real
        // change of the indexes does): a new set of paths.
        for n in 1..=KEEP {
            let r = ["r1", "r2", "r3", "r4"][n - 1];
            let by_hash = format!("dists/s/by-hash/SHA256/{r}");
            let mut f2 = files.clone();
            f2[0].1 = r;
            f2.push((by_hash.as_str(), r));
            let s = snap(&f2);
            let p = plan(&s, &st, &l, false, &[]);
            assert_eq!(p.sends().collect::<Vec<_>>(), [&by_hash, "dists/s/Release"]);
            if n < KEEP {
                assert!(p.delete.is_empty(), "publish {n} deleted {:?}", p.delete);
            } else {
                assert_eq!(p.delete, ["pool/a.deb"]);
            }
            st = apply(&p, &s, &mut l);
        }
    }

    /// A killed rsync's temporaries and a switch link never renamed are deleted;
    /// a user's dot files and look-alikes of files elirepo never sent are not.
    #[test]
    fn a_killed_publish_s_temporaries_are_deleted() {
        let s = snap(&[("pool/a.deb", "a"), ("dists/s/Release", "r")]);
        let mut l = Listing::default();
        let p = plan(&s, &State::default(), &l, false, &[]);
        let st = apply(&p, &s, &mut l);
        for t in [
            "pool/.a.deb.Xy12Ab",
            "dists/s/.Release.000000",
            ".htaccess",
            "pool/.b.deb.Xy12Ab",
            "pool/.a.deb.toolong1",
            "dists/.generations/s/g/.Release.Xy12Ab",
        ] {
            l.files.insert(t.into(), (1, "1".into()));
        }
        l.links
            .insert("dists/.s.switch".into(), ".generations/s/g".into());
        let p = plan(&s, &st, &l, false, &[]);
        assert_eq!(
            p.delete,
            [
                "dists/s/.Release.000000",
                "pool/.a.deb.Xy12Ab",
                "dists/.s.switch"
            ]
        );
        assert!(p.sends().next().is_none(), "{p:?}");
        // Out of scope: left alone.
        let p = plan(&s, &st, &l, false, &["t".to_string()]);
        assert_eq!(p.delete, ["pool/.a.deb.Xy12Ab"]);
    }

    #[test]
    fn changed_or_missing_at_destination_is_sent_again() {
        let s = snap(&[("pool/a.deb", "a"), ("pool/b.deb", "b")]);
        let mut l = Listing::default();
        let p = plan(&s, &State::default(), &l, false, &[]);
        let st = apply(&p, &s, &mut l);
        l.files.remove("pool/a.deb");
        l.files.insert("pool/b.deb".into(), (1, "other".into()));
        let p = plan(&s, &st, &l, false, &[]);
        assert_eq!(p.sends().collect::<Vec<_>>(), ["pool/a.deb", "pool/b.deb"]);
    }

    #[test]
    fn generations_switch_and_old_ones_go() {
        let mk = |id: &str| Snapshot {
            files: [("pool/a.deb".to_string(), src("a"))].into_iter().collect(),
            suites: vec![SuiteLink {
                suite: "s".into(),
                generation: "dists/.generations/s/1".into(),
                id: id.into(),
                files: [("Release".to_string(), 1u64)].into_iter().collect(),
            }],
        };
        let mut l = Listing::default();
        let mut st = State::default();
        for (n, id) in ["g1", "g2", "g3", "g4"].iter().enumerate() {
            let s = mk(id);
            let p = plan(&s, &st, &l, true, &[]);
            assert_eq!(p.generations.len(), 1);
            assert!(p.generations[0].send);
            assert_eq!(p.generations[0].link_dest.is_some(), n > 0);
            if n == 3 {
                assert_eq!(p.delete_dirs, ["dists/.generations/s/g1"]);
            } else {
                assert!(p.delete_dirs.is_empty());
            }
            st = apply(&p, &s, &mut l);
            l.files.insert(
                format!("dists/.generations/s/{id}/Release"),
                (1, "t".into()),
            );
            for d in &p.delete_dirs {
                l.files.retain(|k, _| !k.starts_with(d.as_str()));
            }
            l.links
                .insert("dists/s".into(), format!(".generations/s/{id}"));
            let again = plan(&s, &st, &l, true, &[]);
            assert!(again.is_empty(), "{again:?}");
        }
    }
}
