//! `elirepo verify` against repositories `elirepo build` made: a good one passes
//! (locally and over HTTP), and each kind of damage is caught and named.

mod common;
use common::synth;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::gpg::Key;
use common::{build_cmd, elirepo, have_tool, have_tools, output_of, tempdir, DebBuilder, SDE};
use synth::{compress_raw, cpio_newc, no_xen_kernel as no_xen, pv_amd64_kernel as pv_amd64, Comp};

/// A gzip initrd with `lib/modules/<release>/` and `pad` bytes of filler.
fn initrd(release: &str, pad: usize) -> Vec<u8> {
    let dep = format!("lib/modules/{release}/modules.dep");
    let filler = vec![0u8; pad];
    compress_raw(
        Comp::Gzip,
        &cpio_newc(&[("init", b"#!/bin/sh\n"), (&dep, b""), ("filler", &filler)]),
    )
}

struct Repo {
    _t: tempfile::TempDir,
    repo: PathBuf,
    keyring: Option<PathBuf>,
    inputs: PathBuf,
    /// The signing key, if signed.
    key: Option<Key>,
}

/// Builds a repository with two packages and an amd64 netboot tree.
fn make_repo(signed: bool, extra: &[&str], kernel: &[u8], init: &[u8]) -> Repo {
    let t = tempdir();
    let inputs = t.path().join("in");
    fs::create_dir_all(&inputs).unwrap();
    DebBuilder::new("xe-guest-utilities")
        .version("5.6.0-578")
        .arch("amd64")
        .write_to(&inputs.join("xe.deb"))
        .unwrap();
    DebBuilder::new("fai-helper")
        .version("1.0")
        .arch("all")
        .write_to(&inputs.join("helper.deb"))
        .unwrap();
    fs::write(t.path().join("vmlinuz"), kernel).unwrap();
    fs::write(t.path().join("initrd"), init).unwrap();
    let repo = t.path().join("repo");
    let mut cmd = build_cmd(&repo);
    cmd.args([
        "-q", "--suite", "lenny", "--arch", "amd64", "--label", "Test", "--deb",
    ])
    .arg(&inputs)
    .arg("--kernel")
    .arg(t.path().join("vmlinuz"))
    .arg("--initrd")
    .arg(t.path().join("initrd"))
    .args(extra);
    let key = signed.then(|| Key::new(None));
    if let Some(key) = &key {
        let key_file = t.path().join("key.asc");
        fs::write(&key_file, key.secret_armored()).unwrap();
        cmd.arg("--sign-key-file").arg(key_file);
    } else {
        cmd.arg("--unsigned");
    }
    let out = output_of(&mut cmd);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let keyring = signed.then(|| repo.join("test-archive-keyring.gpg"));
    Repo {
        _t: t,
        repo,
        keyring,
        inputs,
        key,
    }
}

fn verify(r: &Repo, target: &str, extra: &[&str]) -> Output {
    let mut cmd = elirepo();
    cmd.env("SOURCE_DATE_EPOCH", SDE)
        .args(["verify", target])
        .args(extra);
    if let Some(k) = &r.keyring {
        cmd.arg("--keyring").arg(k);
    }
    output_of(&mut cmd)
}

fn passes(out: &Output) {
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "verify failed:\n{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("OK "), "{text}");
}

fn caught(out: &Output, needles: &[&str]) {
    let text = String::from_utf8_lossy(&out.stdout);
    common::assert_failed_cleanly(out, "verify");
    assert_eq!(
        out.status.code(),
        Some(1),
        "expected problems:\n{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fails: Vec<&str> = text.lines().filter(|l| l.starts_with("FAIL ")).collect();
    assert!(
        fails.iter().any(|l| needles.iter().all(|n| l.contains(n))),
        "no FAIL line names {needles:?}:\n{text}"
    );
}

/// What [`good`] needs: gpg makes the signing key, gpgv checks the signatures.
const SIGNING: &[&str] = &["gpg", "gpgv"];

/// A good, signed repository. A test calling it first returns if
/// `!have_tools(SIGNING)` (a skip locally, a failure under
/// ELIREPO_REQUIRE_TOOLS=1): it never falls back to an unsigned repository.
fn good() -> Repo {
    assert!(
        SIGNING.iter().all(|t| common::find_on_path(t).is_some()),
        "good() builds a signed repository and needs {SIGNING:?}: check have_tools(SIGNING) first"
    );
    let r = make_repo(
        true,
        &[],
        &pv_amd64("6.1.0-56-amd64"),
        &initrd("6.1.0-56-amd64", 0),
    );
    for f in ["dists/lenny/InRelease", "dists/lenny/Release.gpg"] {
        assert!(r.repo.join(f).is_file(), "good(): no {f}");
    }
    assert!(
        r.keyring.as_ref().is_some_and(|k| k.is_file()),
        "good(): no keyring"
    );
    r
}

#[test]
fn a_good_repository_passes_and_json_is_machine_readable() {
    if !have_tools(SIGNING) {
        return;
    }
    let r = good();
    passes(&verify(&r, r.repo.to_str().unwrap(), &[]));
    let out = verify(&r, r.repo.to_str().unwrap(), &["--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["problems"].as_array().unwrap().len(), 0);
    assert_eq!(v["suites"][0], "lenny");
    assert_eq!(v["packages_checked"], 2);
    assert_eq!(v["eliloader_urls"].as_array().unwrap().len(), 2);
}

#[test]
fn a_flipped_byte_in_packages_xz() {
    if !have_tools(SIGNING) {
        return;
    }
    let r = good();
    let p = r.repo.join("dists/lenny/main/binary-amd64/Packages.xz");
    let mut b = fs::read(&p).unwrap();
    let i = b.len() / 2;
    b[i] ^= 0x20;
    fs::write(&p, b).unwrap();
    caught(
        &verify(&r, r.repo.to_str().unwrap(), &[]),
        &["binary-amd64/Packages.xz", "mismatch"],
    );
}

#[test]
fn a_missing_pool_file() {
    if !have_tools(SIGNING) {
        return;
    }
    let r = good();
    let p = r
        .repo
        .join("pool/main/x/xe-guest-utilities/xe-guest-utilities_5.6.0-578_amd64.deb");
    fs::remove_file(&p).unwrap();
    caught(
        &verify(&r, r.repo.to_str().unwrap(), &[]),
        &[
            "xe-guest-utilities_5.6.0-578_amd64.deb",
            "cannot be fetched",
        ],
    );
    let _ = &r.inputs;
}

/// The stanzas of a Packages index as apt reads them: one without Filename, one without
/// Size and one naming a file that is not there are each named once, the last with the
/// cause only (its location is the FAIL line's).
#[test]
fn packages_stanzas_without_filename_or_size_or_file() {
    if !have_tools(SIGNING) {
        return;
    }
    let r = good();
    let p = r.repo.join("dists/lenny/main/binary-amd64/Packages");
    let text = fs::read_to_string(&p).unwrap();
    let mut stanzas: Vec<String> = text
        .trim_end()
        .split("\n\n")
        .map(|s| {
            s.lines()
                .filter(|l| {
                    let drop = if s.contains("Package: fai-helper") {
                        "Filename:"
                    } else {
                        "Size:"
                    };
                    !l.starts_with(drop)
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect();
    assert_eq!(stanzas.len(), 2, "{text}");
    stanzas.push("Package: ghost\nFilename: pool/main/g/ghost.deb\nSize: 10".into());
    // Blank lines of CRs and several newlines between stanzas, as apt accepts them.
    fs::write(&p, stanzas.join("\n\r\n\n\n") + "\n\n").unwrap();
    let out = verify(&r, r.repo.to_str().unwrap(), &[]);
    caught(
        &out,
        &[
            "binary-amd64/Packages: ",
            "a stanza has no Filename (fai-helper)",
        ],
    );
    caught(
        &out,
        &["xe-guest-utilities", "its stanza has no valid Size"],
    );
    let ghost = format!(
        "FAIL {}: named by {}/dists/lenny/main/binary-amd64/Packages but cannot be fetched: No such file or directory (os error 2)",
        r.repo.join("pool/main/g/ghost.deb").display(),
        r.repo.display()
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().any(|l| l == ghost), "no {ghost:?} in:\n{text}");
}

#[test]
fn a_swapped_vmlinuz_and_a_missing_initrd() {
    if !have_tools(SIGNING) {
        return;
    }
    let r = good();
    let xen = r
        .repo
        .join("dists/lenny/main/installer-amd64/current/images/netboot/xen");
    fs::write(xen.join("vmlinuz"), pv_amd64("6.1.0-57-amd64")).unwrap();
    caught(
        &verify(&r, r.repo.to_str().unwrap(), &[]),
        &["netboot/xen/vmlinuz", "SHA256SUMS"],
    );
    fs::remove_file(xen.join("initrd.gz")).unwrap();
    caught(
        &verify(&r, r.repo.to_str().unwrap(), &[]),
        &["netboot/xen/initrd.gz", "cannot fetch the initrd"],
    );
}

#[test]
fn an_edited_inrelease() {
    if !have_tools(SIGNING) {
        return;
    }
    let r = good();
    let p = r.repo.join("dists/lenny/InRelease");
    let text = fs::read_to_string(&p)
        .unwrap()
        .replace("Label: Test", "Label: Evil");
    fs::write(&p, text).unwrap();
    caught(&verify(&r, r.repo.to_str().unwrap(), &[]), &["InRelease"]);
}

#[test]
fn an_expired_valid_until() {
    let r = make_repo(
        false,
        &["--valid-for", "1"],
        &pv_amd64("6.1.0-56-amd64"),
        &initrd("6.1.0-56-amd64", 0),
    );
    passes(&verify(&r, r.repo.to_str().unwrap(), &[]));
    let later = (SDE.parse::<i64>().unwrap() + 2 * 86_400).to_string();
    let out = output_of(
        elirepo()
            .env("SOURCE_DATE_EPOCH", later)
            .arg("verify")
            .arg(&r.repo),
    );
    caught(&out, &["dists/lenny/Release", "expired"]);
}

#[test]
fn a_kernel_without_xen_support() {
    let r = make_repo(
        false,
        &["--force"],
        &no_xen("6.1.0-56-amd64"),
        &initrd("6.1.0-56-amd64", 0),
    );
    caught(
        &verify(&r, r.repo.to_str().unwrap(), &[]),
        &["netboot/xen/vmlinuz", "not a Xen PV kernel"],
    );
}

#[test]
fn an_initrd_over_the_limit() {
    // Incompressible filler so the gzip file itself is over 128 MiB.
    let mut state = 0x2545F4914F6CDD1Du64;
    let mut filler = vec![0u8; (128 << 20) + 4096];
    for chunk in filler.chunks_mut(8) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let b = state.to_le_bytes();
        chunk.copy_from_slice(&b[..chunk.len()]);
    }
    let t = tempdir();
    let mut img = initrd("6.1.0-56-amd64", 0);
    // Append an uncompressed cpio part of random bytes: still an initrd, just too big.
    img.extend_from_slice(&filler);
    let _ = t;
    let r = make_repo(
        false,
        &["--allow-oversize", "--force"],
        &pv_amd64("6.1.0-56-amd64"),
        &img,
    );
    caught(
        &verify(&r, r.repo.to_str().unwrap(), &[]),
        &["netboot/xen/initrd.gz", "128 MiB"],
    );
}

#[test]
fn over_http_too() {
    if !have_tool("python3") || !have_tools(SIGNING) {
        return;
    }
    let r = good();
    let server = common::Server::http(&r.repo);
    let base = server.base.clone();
    let good = verify(&r, &base, &["--suite", "lenny"]);
    fs::remove_file(r.repo.join("pool/main/f/fai-helper/fai-helper_1.0_all.deb")).unwrap();
    let bad = verify(&r, &base, &["--suite", "lenny"]);
    let no_suite = verify(&r, &base, &[]);
    drop(server);
    passes(&good);
    caught(
        &bad,
        &[
            &format!("{base}pool/main/f/fai-helper/fai-helper_1.0_all.deb"),
            "HTTP 404",
        ],
    );
    common::assert_failed_cleanly(&no_suite, "verify without --suite");
    assert_eq!(no_suite.status.code(), Some(2));
}

#[test]
fn xe_commands_are_quoted_for_the_shell() {
    let out = output_of(elirepo().args([
        "xe-commands",
        "--repo-url",
        "http://10.1.1.6/debian-custom",
        "--suite",
        "lenny",
        "--arch",
        "i386",
        "--template",
        "5f1d3a2b-0c4e-4f6a-9b8c-7d6e5f4a3b2c",
        "--nfsroot",
        "10.1.1.6:/srv/fai/nfsroot",
        "--boot-style",
        "live",
        "--vm",
        "9a2c8e7f-1b3d-4c5e-8f9a-0b1c2d3e4f5a",
    ]));
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    // The output is valid shell: sh -n parses it.
    let check = Command::new("sh")
        .args(["-n", "-c", &text])
        .output()
        .unwrap();
    assert!(check.status.success(), "{text}");
    assert!(text.contains("other-config:install-arch=i386"));
    assert!(text.contains("'PV-args=quiet console=hvc0 root=/dev/nfs nfsroot=10.1.1.6:/srv/fai/nfsroot boot=live FAI_FLAGS=verbose,sshd FAI_ACTION=install'"));
}

/// True if the Python FTP server used as a real ftp:// peer is installed
/// (`python3 -m pip install pyftpdlib`); mandatory under ELIREPO_REQUIRE_TOOLS=1.
fn have_pyftpdlib() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import pyftpdlib"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        common::skip("pyftpdlib not installed (python3 -m pip install pyftpdlib)");
    }
    ok
}

#[test]
fn over_ftp_too() {
    if !have_pyftpdlib() || !have_tools(SIGNING) {
        return;
    }
    let r = good();
    let server = common::Server::ftp(&r.repo);
    let base = server.base.clone();
    let good = verify(&r, &base, &["--suite", "lenny"]);
    fs::remove_file(r.repo.join("pool/main/f/fai-helper/fai-helper_1.0_all.deb")).unwrap();
    let bad = verify(&r, &base, &["--suite", "lenny"]);
    drop(server);
    passes(&good);
    assert!(String::from_utf8_lossy(&good.stdout).contains("eliloader URLs: 2"));
    caught(
        &bad,
        &[
            &format!("{base}pool/main/f/fai-helper/fai-helper_1.0_all.deb"),
            "550",
        ],
    );
}

// ---------------------------------------------------------------------------
// The signature check on its own: a forgery that is consistent in every other
// way, a corrupted pool file, a bad Release.gpg, a wrong keyring.
// ---------------------------------------------------------------------------

/// `elirepo verify <repo> --keyring <keyring>`.
fn verify_with(r: &Repo, keyring: &Path) -> Output {
    output_of(
        elirepo()
            .env("SOURCE_DATE_EPOCH", SDE)
            .arg("verify")
            .arg(&r.repo)
            .arg("--keyring")
            .arg(keyring),
    )
}

/// The `FAIL ` lines of a verify report.
fn fail_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("FAIL "))
        .map(str::to_string)
        .collect()
}

/// A signed repository, or `None` (with the reason printed) when gpg or gpgv is
/// missing and ELIREPO_REQUIRE_TOOLS is not set.
fn signed_repo() -> Option<Repo> {
    if !have_tool("gpg") || !have_tool("gpgv") {
        return None;
    }
    let r = make_repo(
        true,
        &[],
        &pv_amd64("6.1.0-56-amd64"),
        &initrd("6.1.0-56-amd64", 0),
    );
    passes(&verify(&r, r.repo.to_str().unwrap(), &[]));
    Some(r)
}

#[test]
fn a_release_re_signed_by_another_key_does_not_verify() {
    let Some(r) = signed_repo() else { return };
    let other = Key::new(None);
    let other_ring = other.write_keyring(&r._t.path().join("other.gpg"));
    let dists = r.repo.join("dists/lenny");
    // An edited Release, and both signatures made over exactly it by the other
    // key: every check but the signature's holds.
    let release = dists.join("Release");
    let edited = fs::read_to_string(&release)
        .unwrap()
        .replace("Label: Test\n", "Label: Evil\n");
    assert!(edited.contains("Label: Evil\n"), "{edited}");
    fs::write(&release, &edited).unwrap();
    let (inrelease, detached) = (dists.join("InRelease"), dists.join("Release.gpg"));
    other.gpg_ok(&[
        "--clearsign".as_ref(),
        "--output".as_ref(),
        inrelease.as_os_str(),
        release.as_os_str(),
    ]);
    other.gpg_ok(&[
        "--armor".as_ref(),
        "--detach-sign".as_ref(),
        "--output".as_ref(),
        detached.as_os_str(),
        release.as_os_str(),
    ]);
    other.stop_agent();
    // The forgery is consistent: gpgv with the other key's keyring gives back
    // exactly the edited Release, and verify against that keyring passes.
    let body = r._t.path().join("body");
    let o = output_of(
        Command::new("gpgv")
            .arg("--keyring")
            .arg(&other_ring)
            .arg("--output")
            .arg(&body)
            .arg(&inrelease),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(fs::read_to_string(&body).unwrap(), edited);
    passes(&verify_with(&r, &other_ring));

    // Against the repository's own keyring only gpgv can tell, and it does.
    let out = verify(&r, r.repo.to_str().unwrap(), &[]);
    caught(
        &out,
        &["dists/lenny/InRelease", "signature does not verify"],
    );
    caught(
        &out,
        &["dists/lenny/Release.gpg", "signature does not verify"],
    );
    let fails = fail_lines(&out);
    assert_eq!(fails.len(), 2, "only the two signatures fail: {fails:#?}");
}

#[test]
fn a_pool_file_corrupted_in_place_at_the_same_size() {
    let r = good();
    let name = "xe-guest-utilities_5.6.0-578_amd64.deb";
    let p = r.repo.join("pool/main/x/xe-guest-utilities").join(name);
    let before = fs::read(&p).unwrap();
    let mut b = before.clone();
    let i = b.len() / 2;
    b[i] ^= 0x01;
    // Rewritten in place (same inode), same size: only a digest can tell.
    fs::OpenOptions::new()
        .write(true)
        .open(&p)
        .and_then(|mut f| std::io::Write::write_all(&mut f, &b))
        .unwrap();
    assert_eq!(fs::metadata(&p).unwrap().len(), before.len() as u64);
    let (want, have) = (common::sha256_hex(&before), common::sha256_hex(&b));
    let out = verify(&r, r.repo.to_str().unwrap(), &[]);
    caught(
        &out,
        &[
            &format!("pool/main/x/xe-guest-utilities/{name}: SHA256 mismatch"),
            &format!("the index says {want}, the file has {have}"),
        ],
    );
    assert_eq!(fail_lines(&out).len(), 1, "{:#?}", fail_lines(&out));
}

#[test]
fn a_bad_release_gpg_fails_by_name() {
    let Some(r) = signed_repo() else { return };
    let dists = r.repo.join("dists/lenny");
    let detached = dists.join("Release.gpg");
    let only_release_gpg = |out: &Output| {
        caught(
            out,
            &["dists/lenny/Release.gpg", "signature does not verify"],
        );
        let fails = fail_lines(out);
        assert_eq!(fails.len(), 1, "InRelease is still good: {fails:#?}");
    };
    // Garbage.
    fs::write(
        &detached,
        "-----BEGIN PGP SIGNATURE-----\n\nnot a signature\n",
    )
    .unwrap();
    only_release_gpg(&verify(&r, r.repo.to_str().unwrap(), &[]));
    // A genuine signature by the repository's own key, of other data (InRelease).
    let key = r.key.as_ref().unwrap();
    let other_data = dists.join("InRelease");
    key.gpg_ok(&[
        "--armor".as_ref(),
        "--detach-sign".as_ref(),
        "--output".as_ref(),
        detached.as_os_str(),
        other_data.as_os_str(),
    ]);
    key.stop_agent();
    let o = output_of(
        Command::new("gpgv")
            .arg("--keyring")
            .arg(r.keyring.as_ref().unwrap())
            .arg(&detached)
            .arg(&other_data),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    only_release_gpg(&verify(&r, r.repo.to_str().unwrap(), &[]));
}

#[test]
fn a_keyring_holding_another_key_fails() {
    let Some(r) = signed_repo() else { return };
    let other = Key::new(None);
    let other_ring = other.write_keyring(&r._t.path().join("other.gpg"));
    other.stop_agent();
    let out = verify_with(&r, &other_ring);
    caught(
        &out,
        &["dists/lenny/InRelease", "signature does not verify"],
    );
    caught(
        &out,
        &["dists/lenny/Release.gpg", "signature does not verify"],
    );
    assert_eq!(fail_lines(&out).len(), 2, "{:#?}", fail_lines(&out));
}
