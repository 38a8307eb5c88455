//! End-to-end tests of the eliloader netboot tree: `elirepo build` with an nfsroot,
//! a kernel .deb or explicit files, on synthetic kernels and initrds, and the files
//! fetched over HTTP from a server on 127.0.0.1 at exactly eliloader's URLs.

mod common;
use common::synth;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{
    assert_same_snapshot, build_cmd, elirepo, have_tool, output_of, snapshot_tree, tempdir,
    DebBuilder, SDE,
};
use synth::{
    initrd_gz as initrd, no_xen_kernel as no_xen, pv_amd64_kernel as pv_amd64,
    pv_i386_kernel as pv_i386, pvh_i386_kernel as pvh_i386,
};

/// An unsigned amd64 build of suite lenny at [`common::SDE`].
fn build(repo: &Path, extra: &[&str]) -> std::process::Output {
    output_of(
        build_cmd(repo)
            .args(["--suite", "lenny", "--arch", "amd64", "--unsigned", "-q"])
            .args(extra),
    )
}

fn ok(out: &std::process::Output) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "build failed: {err}");
    common::assert_no_crash(out, "build");
}

fn fails_with(out: &std::process::Output, needles: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    common::assert_failed_cleanly(out, "build");
    assert_eq!(
        out.status.code(),
        Some(2),
        "expected exit 2, got {:?}: {err}",
        out.status.code()
    );
    for n in needles {
        assert!(err.contains(n), "stderr lacks {n:?}:\n{err}");
    }
}

/// An nfsroot like FAI's, with a stock kernel, a Xen PV kernel, absolute and
/// relative links, and a link that tries to escape.
fn nfsroot(root: &Path) {
    let boot = root.join("boot");
    fs::create_dir_all(&boot).unwrap();
    fs::write(root.join(".THIS_IS_THE_FAI_NFSROOT"), b"").unwrap();
    fs::write(
        boot.join("vmlinuz-6.1.0-56-amd64"),
        pv_amd64("6.1.0-56-amd64"),
    )
    .unwrap();
    fs::write(
        boot.join("initrd.img-6.1.0-56-amd64"),
        initrd("6.1.0-56-amd64"),
    )
    .unwrap();
    fs::write(boot.join("vmlinuz-6.1.0-1-stock"), no_xen("6.1.0-1-stock")).unwrap();
    fs::write(
        boot.join("initrd.img-6.1.0-1-stock"),
        initrd("6.1.0-1-stock"),
    )
    .unwrap();
    symlink(
        "../../../../../../../../boot/vmlinuz-host",
        boot.join("vmlinuz-9.9.9-escape"),
    )
    .unwrap();
    symlink("/boot/vmlinuz-6.1.0-56-amd64", root.join("vmlinuz")).unwrap();
    symlink("boot/initrd.img-6.1.0-56-amd64", root.join("initrd.img")).unwrap();
    symlink("boot/vmlinuz-6.1.0-1-stock", root.join("vmlinuz.old")).unwrap();
}

fn tree(repo: &Path) -> PathBuf {
    repo.join("dists/lenny/main/installer-amd64")
}

#[test]
fn nfsroot_kernel_and_initrd_are_published_where_eliloader_looks() {
    let t = tempdir();
    let root = t.path().join("nfsroot");
    nfsroot(&root);
    let repo = t.path().join("repo");
    let out = build(&repo, &["--nfsroot", root.to_str().unwrap()]);
    ok(&out);
    let current = tree(&repo).join("current");
    assert_eq!(fs::read_link(&current).unwrap(), PathBuf::from("20261126"));
    let xen = current.join("images/netboot/xen");
    assert_eq!(
        fs::read(xen.join("vmlinuz")).unwrap(),
        pv_amd64("6.1.0-56-amd64")
    );
    assert_eq!(
        fs::read(xen.join("initrd.gz")).unwrap(),
        initrd("6.1.0-56-amd64")
    );
    // SHA256SUMS names the images, and the Release names SHA256SUMS.
    let sums = fs::read_to_string(current.join("images/SHA256SUMS")).unwrap();
    let k = elirepo::hash::Hashes::of_bytes(&pv_amd64("6.1.0-56-amd64"));
    assert!(
        sums.contains(&format!("{}  ./netboot/xen/vmlinuz\n", k.sha256_hex())),
        "{sums}"
    );
    let release = fs::read_to_string(repo.join("dists/lenny/Release")).unwrap();
    let s = elirepo::hash::Hashes::of_bytes(sums.as_bytes()).sha256_hex();
    assert!(
        release.contains(&format!(" {s} ")),
        "Release does not list SHA256SUMS:\n{release}"
    );
    assert!(release.contains(" main/installer-amd64/current/images/SHA256SUMS\n"));
    assert!(release.contains(" main/installer-amd64/20261126/images/MD5SUMS\n"));
    // The stock kernel of the nfsroot was not chosen.
    assert!(!String::from_utf8_lossy(&out.stderr).contains("stock"));

    // verify agrees.
    let v = output_of(
        elirepo()
            .env("SOURCE_DATE_EPOCH", SDE)
            .arg("verify")
            .arg(&repo),
    );
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));

    // A rerun changes nothing: no new VERSION, nothing rewritten.
    let before = snapshot_tree(&repo);
    ok(&build(&repo, &["--nfsroot", root.to_str().unwrap()]));
    assert_same_snapshot(&before, &snapshot_tree(&repo), "a rerun");
}

#[test]
fn a_new_kernel_gets_a_new_version_and_three_are_kept() {
    let t = tempdir();
    let repo = t.path().join("repo");
    let mut versions = Vec::new();
    for i in 0..5 {
        let rel = format!("6.1.0-{}-amd64", 60 + i);
        let k = t.path().join(format!("vmlinuz-{i}"));
        let r = t.path().join(format!("initrd-{i}"));
        fs::write(&k, pv_amd64(&rel)).unwrap();
        fs::write(&r, initrd(&rel)).unwrap();
        ok(&build(
            &repo,
            &[
                "--kernel",
                k.to_str().unwrap(),
                "--initrd",
                r.to_str().unwrap(),
            ],
        ));
        versions.push(fs::read_link(tree(&repo).join("current")).unwrap());
    }
    let names: Vec<String> = versions.iter().map(|v| v.display().to_string()).collect();
    assert_eq!(
        names,
        [
            "20261126",
            "20261126.1",
            "20261126.2",
            "20261126.3",
            "20261126.4"
        ]
    );
    let mut left: Vec<String> = fs::read_dir(tree(&repo))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, ["20261126.2", "20261126.3", "20261126.4", "current"]);
    let release = fs::read_to_string(repo.join("dists/lenny/Release")).unwrap();
    assert!(
        !release.contains("/20261126.1/"),
        "a removed version is still listed"
    );
    assert!(release.contains(" main/installer-amd64/20261126.2/images/SHA256SUMS\n"));
}

#[test]
fn a_kernel_from_a_linux_image_deb() {
    let t = tempdir();
    let rel = "2.6.32-5-amd64";
    let deb = t
        .path()
        .join("linux-image-2.6.32-5-amd64_2.6.32-48_amd64.deb");
    DebBuilder::new("linux-image-2.6.32-5-amd64")
        .version("2.6.32-48")
        .arch("amd64")
        .data_file("./boot/vmlinuz-2.6.32-5-amd64", pv_amd64(rel), 0o644)
        .data_file(
            "./boot/config-2.6.32-5-amd64",
            b"CONFIG_XEN=y\n".to_vec(),
            0o644,
        )
        .data_symlink("./boot/vmlinuz-evil", "/etc/passwd")
        .write_to(&deb)
        .unwrap();
    let r = t.path().join("initrd");
    fs::write(&r, initrd(rel)).unwrap();
    let repo = t.path().join("repo");
    ok(&build(
        &repo,
        &[
            "--kernel-deb",
            deb.to_str().unwrap(),
            "--initrd",
            r.to_str().unwrap(),
            "--deb",
            deb.to_str().unwrap(),
        ],
    ));
    let xen = tree(&repo).join("current/images/netboot/xen");
    assert_eq!(fs::read(xen.join("vmlinuz")).unwrap(), pv_amd64(rel));
    // The package itself is in the pool too.
    assert!(repo
        .join(
            "pool/main/l/linux-image-2.6.32-5-amd64/linux-image-2.6.32-5-amd64_2.6.32-48_amd64.deb"
        )
        .is_file());
}

#[test]
fn no_symlinks_puts_real_files_in_current() {
    let t = tempdir();
    let root = t.path().join("nfsroot");
    nfsroot(&root);
    let repo = t.path().join("repo");
    ok(&build(
        &repo,
        &["--nfsroot", root.to_str().unwrap(), "--no-symlinks"],
    ));
    let current = tree(&repo).join("current");
    assert!(fs::symlink_metadata(&current).unwrap().is_dir());
    assert_eq!(
        fs::read(current.join("images/netboot/xen/vmlinuz")).unwrap(),
        pv_amd64("6.1.0-56-amd64")
    );
    let before = snapshot_tree(&repo);
    ok(&build(
        &repo,
        &["--nfsroot", root.to_str().unwrap(), "--no-symlinks"],
    ));
    assert_same_snapshot(&before, &snapshot_tree(&repo), "a --no-symlinks rerun");
}

#[test]
fn i386_tree_needs_a_32bit_pae_pv_kernel() {
    let t = tempdir();
    let repo = t.path().join("repo");
    let good = t.path().join("vmlinuz-2.6.32-4-686-bigmem");
    fs::write(&good, pv_i386("2.6.32-4-686-bigmem")).unwrap();
    let r = t.path().join("initrd");
    fs::write(&r, initrd("2.6.32-4-686-bigmem")).unwrap();
    let mut cmd = build_cmd(&repo);
    cmd.args([
        "--suite",
        "lenny",
        "--arch",
        "i386",
        "--unsigned",
        "-q",
        "--kernel",
    ])
    .arg(&good)
    .arg("--initrd")
    .arg(&r);
    ok(&output_of(&mut cmd));
    assert!(repo
        .join("dists/lenny/main/installer-i386/current/images/netboot/xen/vmlinuz")
        .is_file());

    // Debian 12's 686-pae kernel is PVH-only: refused, and the repository stays as it was.
    let pvh = t.path().join("vmlinuz-6.1.0-56-686-pae");
    fs::write(&pvh, pvh_i386("6.1.0-56-686-pae")).unwrap();
    let before = snapshot_tree(&repo);
    let mut cmd = build_cmd(&repo);
    cmd.args([
        "--suite",
        "lenny",
        "--arch",
        "i386",
        "--unsigned",
        "-q",
        "--kernel",
    ])
    .arg(&pvh)
    .arg("--initrd")
    .arg(&r);
    fails_with(
        &output_of(&mut cmd),
        &["vmlinuz-6.1.0-56-686-pae", "PVH-only", "--force"],
    );
    assert_same_snapshot(&before, &snapshot_tree(&repo), "a refused PVH-only kernel");
}

#[test]
fn refusals_leave_the_repository_untouched() {
    let t = tempdir();
    let root = t.path().join("nfsroot");
    nfsroot(&root);
    let repo = t.path().join("repo");
    ok(&build(&repo, &["--nfsroot", root.to_str().unwrap()]));
    let before = snapshot_tree(&repo);
    let w = |name: &str, bytes: &[u8]| {
        let p = t.path().join(name);
        fs::write(&p, bytes).unwrap();
        p.display().to_string()
    };
    let good_k = w("k", &pv_amd64("6.1.0-70-amd64"));
    let good_i = w("i", &initrd("6.1.0-70-amd64"));
    let cases: Vec<(Vec<String>, Vec<&str>)> = vec![
        (
            vec![
                "--kernel".into(),
                w("nox", &no_xen("6.1.0-70-amd64")),
                "--initrd".into(),
                good_i.clone(),
            ],
            vec!["/nox", "not a Xen PV kernel"],
        ),
        (
            vec![
                "--kernel".into(),
                w("k32", &pv_i386("2.6.32-4-686-bigmem")),
                "--initrd".into(),
                good_i.clone(),
            ],
            vec!["/k32", "installer-amd64"],
        ),
        (
            vec![
                "--kernel".into(),
                good_k.clone(),
                "--initrd".into(),
                w("garbage", b"this is not an initrd at all"),
            ],
            vec!["/garbage", "initrd"],
        ),
        (
            vec![
                "--kernel".into(),
                good_k.clone(),
                "--initrd".into(),
                w("empty", b""),
            ],
            vec!["/empty", "initrd"],
        ),
        (
            vec![
                "--kernel".into(),
                good_k.clone(),
                "--initrd".into(),
                w("other", &initrd("5.10.0-1-amd64")),
            ],
            vec!["/other", "5.10.0-1-amd64", "6.1.0-70-amd64"],
        ),
        (vec!["--kernel".into(), good_k.clone()], vec!["initrd"]),
        (
            vec![
                "--nfsroot".into(),
                t.path().join("missing").display().to_string(),
            ],
            vec!["missing"],
        ),
    ];
    for (args, needles) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        fails_with(&build(&repo, &args), &needles);
        assert_same_snapshot(&before, &snapshot_tree(&repo), &format!("{args:?}"));
    }
    // A kernel over eliloader's 32 MiB limit, unless the hosts raised it.
    let mut big = pv_amd64("6.1.0-70-amd64");
    big.resize(33 << 20, 0);
    let big = w("big", &big);
    fails_with(
        &build(&repo, &["--kernel", &big, "--initrd", &good_i]),
        &["/big", "32 MiB", "--allow-oversize"],
    );
    assert_same_snapshot(&before, &snapshot_tree(&repo), "a kernel over 32 MiB");
    ok(&build(
        &repo,
        &["--kernel", &big, "--initrd", &good_i, "--allow-oversize"],
    ));
}

#[test]
fn an_nfsroot_whose_only_xen_kernel_escapes_is_refused() {
    let t = tempdir();
    let root = t.path().join("nfsroot");
    fs::create_dir_all(root.join("boot")).unwrap();
    // The host's own kernel would be PV-capable; the link must not reach it.
    let host = t.path().join("host-boot");
    fs::create_dir_all(&host).unwrap();
    fs::write(
        host.join("vmlinuz-6.1.0-56-amd64"),
        pv_amd64("6.1.0-56-amd64"),
    )
    .unwrap();
    symlink(
        host.join("vmlinuz-6.1.0-56-amd64"),
        root.join("boot/vmlinuz-6.1.0-56-amd64"),
    )
    .unwrap();
    symlink(
        "../../host-boot/vmlinuz-6.1.0-56-amd64",
        root.join("boot/vmlinuz-6.1.0-57-amd64"),
    )
    .unwrap();
    fs::write(
        root.join("boot/initrd.img-6.1.0-56-amd64"),
        initrd("6.1.0-56-amd64"),
    )
    .unwrap();
    let repo = t.path().join("repo");
    let out = build(&repo, &["--nfsroot", root.to_str().unwrap()]);
    fails_with(&out, &["nfsroot"]);
    assert!(!repo.join("dists").exists());
}

/// The kernel and initrd URLs eliloader computes for `install-distro=debianlike`
/// from the VM's other-config `install-repository`, `debian-release` and
/// `install-arch` (eliloader.py: `handle_first_boot` adds a missing trailing
/// `/`; `debian_first_boot_handler` appends `dists/<release>/` unless the URL
/// already has `/dists/` followed by something other than slashes). Kept
/// independent of elirepo's own `verify::eliloader_urls`, which it checks.
fn eliloader_fetch_urls(install_repository: &str, debian_release: &str, arch: &str) -> [String; 2] {
    let mut repo_url = install_repository.to_string();
    if !repo_url.ends_with('/') {
        repo_url.push('/');
    }
    let names_a_suite = repo_url
        .split_once("/dists/")
        .is_some_and(|(_, rest)| !rest.replace('/', "").is_empty());
    if !names_a_suite {
        repo_url += &format!("dists/{debian_release}/");
    }
    let boot_dir = format!("main/installer-{arch}/current/images/netboot/xen/");
    [
        format!("{repo_url}{boot_dir}vmlinuz"),
        format!("{repo_url}{boot_dir}initrd.gz"),
    ]
}

/// Fetches `url` as eliloader does (Python's urllib, no checks): the body, or
/// the error Python printed.
fn fetch_like_eliloader(url: &str) -> Result<Vec<u8>, String> {
    let got = Command::new("python3")
        .args([
            "-c",
            "import sys,urllib.request; sys.stdout.buffer.write(urllib.request.urlopen(sys.argv[1]).read())",
            url,
        ])
        .env_remove("http_proxy")
        .env_remove("HTTP_PROXY")
        .output()
        .unwrap();
    if got.status.success() {
        Ok(got.stdout)
    } else {
        Err(String::from_utf8_lossy(&got.stderr).into_owned())
    }
}

#[test]
fn the_eliloader_model_follows_the_reference() {
    // eliloader's example (XenServer's Debian templates) and its edge cases.
    let [k, i] = eliloader_fetch_urls("http://myrepo.example.com/debian-custom", "lenny", "i386");
    assert_eq!(k, "http://myrepo.example.com/debian-custom/dists/lenny/main/installer-i386/current/images/netboot/xen/vmlinuz");
    assert_eq!(i, "http://myrepo.example.com/debian-custom/dists/lenny/main/installer-i386/current/images/netboot/xen/initrd.gz");
    // With `/dists/<suite>` (with or without the slash) the release is not used.
    for spelling in ["http://h/d/dists/lenny", "http://h/d/dists/lenny/"] {
        let [k, _] = eliloader_fetch_urls(spelling, "squeeze", "amd64");
        assert_eq!(
            k,
            "http://h/d/dists/lenny/main/installer-amd64/current/images/netboot/xen/vmlinuz"
        );
    }
    // `/dists/` followed only by slashes does not name a suite; `//` stays doubled.
    let [k, _] = eliloader_fetch_urls("http://h/debian/dists/", "lenny", "i386");
    assert!(
        k.starts_with("http://h/debian/dists/dists/lenny/main/"),
        "{k}"
    );
    let [k, _] = eliloader_fetch_urls("http://h/debian//", "lenny", "i386");
    assert!(k.starts_with("http://h/debian//dists/lenny/main/"), "{k}");
}

#[test]
fn eliloader_fetches_the_published_files_over_http() {
    if !have_tool("python3") {
        return;
    }
    let t = tempdir();
    let root = t.path().join("nfsroot");
    nfsroot(&root);
    let repo = t.path().join("repo");
    ok(&build(&repo, &["--nfsroot", root.to_str().unwrap()]));

    // A real HTTP server on 127.0.0.1, on a free port.
    let server = common::Server::http(&repo);
    let base = server.base.trim_end_matches('/').to_string();

    // Fetch as eliloader does, at the URLs it computes from both repository URL
    // spellings (the second with a release that is not in the repository: eliloader
    // ignores it). Both spellings for both arches: the_two_url_spellings_reach_both_arches.
    for (repo_url, release) in [
        (base.clone(), "lenny"),
        (format!("{base}/dists/lenny"), "squeeze"),
    ] {
        let urls = eliloader_fetch_urls(&repo_url, release, "amd64");
        for (url, want) in urls
            .iter()
            .zip([pv_amd64("6.1.0-56-amd64"), initrd("6.1.0-56-amd64")])
        {
            let got = fetch_like_eliloader(url).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert!(got == want, "{url} served other bytes");
        }
    }
    // verify over HTTP: eliloader's view and apt's.
    let v = output_of(
        elirepo()
            .env("SOURCE_DATE_EPOCH", SDE)
            .args(["verify", &base, "--suite", "lenny"]),
    );
    let text = String::from_utf8_lossy(&v.stdout).into_owned();
    // A swapped kernel is caught by name.
    fs::write(
        tree(&repo).join("20261126/images/netboot/xen/vmlinuz"),
        pv_amd64("6.1.0-99-amd64"),
    )
    .unwrap();
    let bad = output_of(
        elirepo()
            .env("SOURCE_DATE_EPOCH", SDE)
            .args(["verify", &base, "--suite", "lenny"]),
    );
    drop(server);
    assert!(v.status.success(), "verify over http failed:\n{text}");
    assert!(text.contains("eliloader URLs: 2"), "{text}");
    let bad_text = String::from_utf8_lossy(&bad.stdout);
    assert_eq!(bad.status.code(), Some(1), "{bad_text}");
    assert!(
        bad_text.contains("netboot/xen/vmlinuz") && bad_text.contains("SHA256SUMS"),
        "{bad_text}"
    );
}

#[test]
fn the_two_url_spellings_reach_both_arches_over_http() {
    if !have_tool("python3") {
        return;
    }
    let t = tempdir();
    // The repository at a sub-path of the web root, as on a real web server.
    let www = t.path().join("www");
    let repo = www.join("debian-custom");
    let inputs = |arch: &str| match arch {
        "i386" => (
            pv_i386("2.6.32-4-686-bigmem"),
            initrd("2.6.32-4-686-bigmem"),
        ),
        _ => (pv_amd64("6.1.0-56-amd64"), initrd("6.1.0-56-amd64")),
    };
    // One suite with both installer trees: a [[netboot]] table per arch.
    let mut config = String::from("suite = \"lenny\"\narchitectures = [\"i386\", \"amd64\"]\n");
    for arch in ["i386", "amd64"] {
        let (kernel, init) = inputs(arch);
        fs::write(t.path().join(format!("vmlinuz-{arch}")), kernel).unwrap();
        fs::write(t.path().join(format!("initrd-{arch}")), init).unwrap();
        config += &format!(
            "\n[[netboot]]\narch = \"{arch}\"\nkernel = \"vmlinuz-{arch}\"\ninitrd = \"initrd-{arch}\"\n"
        );
    }
    let conf = t.path().join("elirepo.toml");
    fs::write(&conf, config).unwrap();
    let mut cmd = build_cmd(&repo);
    cmd.arg("--config").arg(&conf).args(["--unsigned", "-q"]);
    ok(&output_of(&mut cmd));

    let server = common::Server::http(&www);
    let base = format!("{}debian-custom", server.base);
    let mut fetched = 0;
    let mut failures = Vec::new();
    for arch in ["i386", "amd64"] {
        let (kernel, init) = inputs(arch);
        // Spelling 1: the repository; eliloader appends dists/<debian-release>/.
        // Spelling 2: the repository with /dists/<suite>(/); debian-release is
        // ignored, so it is set to a suite the repository does not have.
        for (repo_url, release) in [
            (base.clone(), "lenny"),
            (format!("{base}/"), "lenny"),
            (format!("{base}/dists/lenny"), "squeeze"),
            (format!("{base}/dists/lenny/"), "squeeze"),
        ] {
            let urls = eliloader_fetch_urls(&repo_url, release, arch);
            for (url, want) in urls.iter().zip([&kernel, &init]) {
                match fetch_like_eliloader(url) {
                    Ok(got) if &got == want => fetched += 1,
                    Ok(got) => failures.push(format!(
                        "{repo_url} (debian-release {release}): {url} served {} bytes, not the {} bytes given",
                        got.len(),
                        want.len()
                    )),
                    Err(e) => failures.push(format!(
                        "{repo_url} (debian-release {release}): {url}: {}",
                        e.lines().last().unwrap_or_default()
                    )),
                }
            }
        }
        // The fetch can fail: with the release that is not there, spelling 1 is a 404.
        let [missing, _] = eliloader_fetch_urls(&base, "squeeze", arch);
        let e = fetch_like_eliloader(&missing).expect_err(&missing);
        assert!(e.contains("404"), "{missing}: {e}");
    }
    drop(server);
    assert!(
        failures.is_empty(),
        "eliloader would not get the inputs:\n{}",
        failures.join("\n")
    );
    assert_eq!(fetched, 2 * 4 * 2);
}
