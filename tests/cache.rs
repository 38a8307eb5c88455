//! The per-file cache: same output as without it, and never stale.

mod common;

use std::fs;
use std::process::Command;

use common::{elirepo, have_tool, output_of, tempdir, Comp, DebBuilder};

/// A .deb whose size does not depend on `stamp` (uncompressed members).
fn stamped(name: &str, stamp: &str) -> Vec<u8> {
    DebBuilder::new(name)
        .version("1.0")
        .arch("amd64")
        .field("X-Build", stamp)
        .control_compression(Comp::None)
        .data_compression(Comp::None)
        .build()
}

fn packages(dir: &std::path::Path, db: Option<&std::path::Path>) -> Vec<u8> {
    let mut cmd = elirepo();
    cmd.current_dir(dir).arg("packages");
    if let Some(db) = db {
        cmd.arg("--db").arg(db);
    }
    cmd.arg("pool");
    let out = output_of(&mut cmd);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Sets mtime (and so keeps size and name) like a careless `cp -p` or `touch -r`.
fn same_mtime(path: &std::path::Path, reference: &std::path::Path) {
    let st = Command::new("touch")
        .arg("-r")
        .arg(reference)
        .arg(path)
        .status()
        .unwrap();
    assert!(st.success());
}

#[test]
fn db_output_is_identical_and_a_replaced_deb_is_noticed() {
    let t = tempdir();
    let pool = t.path().join("pool");
    fs::create_dir_all(&pool).unwrap();
    for i in 0..20 {
        fs::write(
            pool.join(format!("pkg{i}_1.0_amd64.deb")),
            stamped(&format!("pkg{i}"), "aaaa"),
        )
        .unwrap();
    }
    let db = t.path().join("cache.db");
    let plain = packages(t.path(), None);
    assert_eq!(packages(t.path(), Some(&db)), plain, "cold --db");
    assert!(db.is_file());
    assert_eq!(packages(t.path(), Some(&db)), plain, "warm --db");

    // Replace one .deb at the same path, same size and same mtime.
    let victim = pool.join("pkg3_1.0_amd64.deb");
    let keep = t.path().join("mtime-ref");
    fs::copy(&victim, &keep).unwrap();
    let rebuilt = stamped("pkg3", "bbbb");
    assert_eq!(
        rebuilt.len() as u64,
        fs::metadata(&victim).unwrap().len(),
        "same size"
    );
    fs::write(&victim, &rebuilt).unwrap();
    same_mtime(&victim, &keep);
    let fresh = packages(t.path(), None);
    let cached = packages(t.path(), Some(&db));
    assert_eq!(cached, fresh, "the cache served a stale entry");
    assert!(String::from_utf8_lossy(&cached).contains("X-Build: bbbb"));

    if have_tool("apt-ftparchive") {
        // apt-ftparchive's own --db, for contrast, is not touched by ours.
        let adb = t.path().join("apt.db");
        let out = output_of(
            Command::new("apt-ftparchive")
                .current_dir(t.path())
                .args(["packages", "--db"])
                .arg(&adb)
                .arg("pool"),
        );
        assert!(out.status.success());
        let before = fs::read(&adb).unwrap();
        let out = output_of(
            elirepo()
                .current_dir(t.path())
                .args(["packages", "--db"])
                .arg(&adb)
                .arg("pool"),
        );
        assert!(out.status.success());
        assert_eq!(out.stdout, fresh);
        assert!(String::from_utf8_lossy(&out.stderr).contains("not an elirepo cache"));
        assert_eq!(
            fs::read(&adb).unwrap(),
            before,
            "a foreign database was overwritten"
        );
    }
}

#[test]
fn a_damaged_cache_is_rebuilt_not_trusted() {
    let t = tempdir();
    let pool = t.path().join("pool");
    fs::create_dir_all(&pool).unwrap();
    DebBuilder::new("a")
        .write_to(&pool.join("a_1.0_amd64.deb"))
        .unwrap();
    let db = t.path().join("cache.db");
    let plain = packages(t.path(), Some(&db));
    let mut bytes = fs::read(&db).unwrap();
    let n = bytes.len();
    for b in &mut bytes[n / 3..n / 2] {
        *b ^= 0x55;
    }
    fs::write(&db, &bytes).unwrap();
    let out = output_of(
        elirepo()
            .current_dir(t.path())
            .args(["packages", "--db"])
            .arg(&db)
            .arg("pool"),
    );
    assert!(out.status.success());
    assert_eq!(out.stdout, plain);
    assert!(String::from_utf8_lossy(&out.stderr).contains("damaged"));
    // Rebuilt: the next run is clean.
    let out = output_of(
        elirepo()
            .current_dir(t.path())
            .args(["packages", "--db"])
            .arg(&db)
            .arg("pool"),
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn build_notices_an_input_replaced_in_place() {
    let t = tempdir();
    let debs = t.path().join("debs");
    fs::create_dir_all(&debs).unwrap();
    let deb = debs.join("tool_1.0_amd64.deb");
    DebBuilder::new("tool").write_to(&deb).unwrap();
    let repo = t.path().join("repo");
    let build = || {
        output_of(
            elirepo()
                .args([
                    "build",
                    "-q",
                    "--unsigned",
                    "--suite",
                    "s",
                    "--arch",
                    "amd64",
                    "--repo",
                ])
                .arg(&repo)
                .arg("--deb")
                .arg(&debs),
        )
    };
    assert!(build().status.success());
    let keep = t.path().join("ref");
    fs::copy(&deb, &keep).unwrap();
    fs::write(
        &deb,
        DebBuilder::new("tool").field("X-Changed", "1").build(),
    )
    .unwrap();
    same_mtime(&deb, &keep);
    // Same name and version, other bytes: the published file must not change silently.
    let out = build();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("already published with different content"),
        "{err}"
    );
}

#[test]
fn build_notices_a_by_hash_copy_edited_in_place() {
    use std::os::unix::fs::FileExt;
    let t = tempdir();
    let debs = t.path().join("debs");
    fs::create_dir_all(&debs).unwrap();
    DebBuilder::new("tool")
        .write_to(&debs.join("tool_1.0_amd64.deb"))
        .unwrap();
    let repo = t.path().join("repo");
    let build = || {
        let out = output_of(
            elirepo()
                .args(["build", "-q", "--unsigned", "--suite", "s"])
                .args(["--arch", "amd64", "--repo"])
                .arg(&repo)
                .arg("--deb")
                .arg(&debs),
        );
        assert!(out.status.success(), "{}", common::both(&out));
    };
    // Built, then rebuilt unchanged: the second build knows the by-hash copies
    // from the cache.
    build();
    build();
    let packages = repo.join("dists/s/main/binary-amd64/Packages");
    let copy = repo
        .join("dists/s/main/binary-amd64/by-hash/SHA256")
        .join(common::digest::sha256_hex(&fs::read(&packages).unwrap()));
    let good = fs::read(&copy).unwrap();
    // Edited in place: the same inode, size and mtime, one byte changed.
    let keep = t.path().join("mtime");
    fs::write(&keep, b"").unwrap();
    same_mtime(&keep, &copy);
    let f = fs::OpenOptions::new().write(true).open(&copy).unwrap();
    f.write_all_at(&[good[0] ^ 0x20], 0).unwrap();
    drop(f);
    same_mtime(&copy, &keep);
    assert_ne!(fs::read(&copy).unwrap(), good);
    build();
    assert_eq!(
        fs::read(&copy).unwrap(),
        good,
        "{}: the edited by-hash copy was kept",
        copy.display()
    );
}
