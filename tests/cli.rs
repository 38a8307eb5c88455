//! The command line as people and scripts meet it: the error format and its hints,
//! exit statuses, the `--json` shapes, `man` and `completions`, no escape sequences
//! off a terminal (nor with `NO_COLOR`),
//! and the FAI nfsroot hook in `scripts/`.

mod common;
use common::synth;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{both, elirepo, fixtures_dir, have_tool, json, output_of, set, tempdir, text};
use synth::{initrd_gz as initrd, no_xen_kernel, pv_amd64_kernel as pv_kernel};

fn run(args: &[&str]) -> Output {
    output_of(elirepo().args(args).env_remove("NO_COLOR"))
}

/// Every stderr line is an elirepo line: `elirepo: ...`.
fn assert_elirepo_lines(o: &Output) {
    for line in text(&o.stderr).lines() {
        assert!(line.starts_with("elirepo: "), "{line:?} in\n{}", both(o));
    }
}

/// Neither an escape sequence nor a carriage return, in stdout or stderr.
fn assert_plain(o: &Output, what: &str) {
    for (name, bytes) in [("stdout", &o.stdout), ("stderr", &o.stderr)] {
        assert!(
            !bytes.contains(&0x1b) && !bytes.contains(&b'\r'),
            "{what}: {name} holds an escape sequence or a carriage return:\n{}",
            both(o)
        );
    }
}

fn keys(v: &serde_json::Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect()
}

/// A FAI-like nfsroot with one PV kernel and its initrd.
fn nfsroot(dir: &Path) -> PathBuf {
    let root = dir.join("nfsroot");
    fs::create_dir_all(root.join("boot")).unwrap();
    fs::write(
        root.join("boot/vmlinuz-6.1.0-99-amd64"),
        pv_kernel("6.1.0-99-amd64"),
    )
    .unwrap();
    fs::write(
        root.join("boot/initrd.img-6.1.0-99-amd64"),
        initrd("6.1.0-99-amd64"),
    )
    .unwrap();
    root
}

fn demo_debs() -> PathBuf {
    fixtures_dir().join("demo/debs")
}

/// An unsigned build of the demo .debs (and a netboot tree from `nfsroot`) into `repo`,
/// at [`common::SDE`].
fn build(repo: &Path, nfsroot: Option<&Path>, extra: &[&str]) -> Output {
    let mut c = common::build_cmd(repo);
    c.args(["--suite", "lenny", "--arch", "amd64"])
        .arg("--deb")
        .arg(demo_debs().join("xe-guest-utilities_5.6.0-578_amd64.deb"))
        .arg("--deb")
        .arg(demo_debs().join("xs-tools-common_5.6.0-578_all.deb"))
        .arg("--unsigned")
        .args(extra)
        .env_remove("NO_COLOR");
    if let Some(n) = nfsroot {
        c.arg("--nfsroot").arg(n).args(["--netboot-arch", "amd64"]);
    }
    output_of(&mut c)
}

#[test]
fn a_bad_input_reads_elirepo_error_path_what_and_exits_2() {
    let t = tempdir();
    let missing = t.path().join("no-such.deb");
    let repo = t.path().join("repo");
    let o = output_of(
        elirepo()
            .args(["build", "--suite", "s", "--arch", "amd64", "--unsigned"])
            .arg("--repo")
            .arg(&repo)
            .arg("--deb")
            .arg(&missing),
    );
    assert_eq!(o.status.code(), Some(2), "{}", both(&o));
    let err = text(&o.stderr);
    let first = err.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(&format!("elirepo: error: {}: ", missing.display())),
        "{}",
        both(&o)
    );
    assert!(err.contains("elirepo: hint: "), "{}", both(&o));
    assert!(err.contains("nothing was published"), "{}", both(&o));
    assert_elirepo_lines(&o);
    assert!(o.stdout.is_empty(), "{}", both(&o));

    // A broken .deb: the file, then what is wrong with it.
    let bad = fixtures_dir().join("broken/bad-magic_1.0_amd64.deb");
    let o = output_of(
        elirepo()
            .args(["build", "--suite", "s", "--arch", "amd64", "--unsigned"])
            .arg("--repo")
            .arg(&repo)
            .arg("--deb")
            .arg(&bad),
    );
    assert_eq!(o.status.code(), Some(2), "{}", both(&o));
    let first_error = text(&o.stderr)
        .lines()
        .find(|l| l.starts_with("elirepo: error: "))
        .map(str::to_string);
    assert!(
        first_error.is_some_and(|l| l.starts_with(&format!("elirepo: error: {}: ", bad.display()))),
        "{}",
        both(&o)
    );
    assert_elirepo_lines(&o);
    assert!(!repo.join("dists").exists(), "a failed build published");

    // A missing config file gets a hint to the example.
    let cfg = t.path().join("elirepo.toml");
    let o = run(&["build", "--config", cfg.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", both(&o));
    assert!(
        text(&o.stderr).starts_with(&format!("elirepo: error: {}: cannot read", cfg.display())),
        "{}",
        both(&o)
    );
    assert!(
        text(&o.stderr).contains("elirepo: hint: `elirepo config example` prints an example"),
        "{}",
        both(&o)
    );

    // Not a kernel.
    let notk = t.path().join("notakernel");
    fs::write(&notk, b"hello").unwrap();
    let o = run(&["kernel", notk.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", both(&o));
    assert!(
        text(&o.stderr).starts_with(&format!(
            "elirepo: error: {}: not a kernel image",
            notk.display()
        )),
        "{}",
        both(&o)
    );
    assert!(text(&o.stderr).contains("elirepo: hint: "), "{}", both(&o));
    assert_elirepo_lines(&o);
}

#[test]
fn usage_errors_exit_2_in_the_same_format_and_help_exits_0() {
    let o = run(&["build", "--no-such-flag"]);
    assert_eq!(o.status.code(), Some(2), "{}", both(&o));
    assert!(
        text(&o.stderr).starts_with("elirepo: error: unexpected argument '--no-such-flag'"),
        "{}",
        both(&o)
    );
    let o = run(&["frobnicate"]);
    assert_eq!(o.status.code(), Some(2), "{}", both(&o));
    assert!(
        text(&o.stderr).starts_with("elirepo: error: "),
        "{}",
        both(&o)
    );
    let o = run(&["-q", "-v", "man"]);
    assert_eq!(o.status.code(), Some(2), "-q and -v conflict: {}", both(&o));

    for args in [
        &["--help"][..],
        &["build", "--help"],
        &["-h"],
        &["--version"],
    ] {
        let o = run(args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", both(&o));
        assert!(
            !o.stdout.is_empty() && o.stderr.is_empty(),
            "{args:?}: {}",
            both(&o)
        );
    }
    let help = text(&run(&["build", "--help"]).stdout);
    assert!(
        help.contains("Examples:") && help.contains("Exit status:"),
        "{help}"
    );
    let help = text(&run(&["--help"]).stdout);
    for cmd in [
        "build",
        "verify",
        "kernel",
        "packages",
        "xe-commands",
        "man",
        "completions",
    ] {
        assert!(
            help.contains(&format!("  {cmd} ")),
            "{cmd} missing from\n{help}"
        );
    }
}

#[test]
fn exit_statuses_0_1_2_for_verify_and_kernel() {
    let t = tempdir();
    let k = t.path().join("vmlinuz-pv");
    fs::write(&k, pv_kernel("6.1.0-99-amd64")).unwrap();
    let o = run(&["kernel", k.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "PV kernel: {}", both(&o));
    let n = t.path().join("vmlinuz-noxen");
    fs::write(&n, no_xen_kernel("6.1.0-99-amd64")).unwrap();
    let o = run(&["kernel", n.to_str().unwrap()]);
    common::assert_failed_cleanly(&o, "no Xen");
    assert_eq!(o.status.code(), Some(1), "no Xen: {}", both(&o));
    let o = run(&["kernel", t.path().join("missing").to_str().unwrap()]);
    common::assert_failed_cleanly(&o, "missing");
    assert_eq!(o.status.code(), Some(2), "missing: {}", both(&o));

    let repo = t.path().join("repo");
    let o = build(&repo, None, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    let o = run(&["verify", repo.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "good repo: {}", both(&o));
    assert!(
        text(&o.stdout)
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("OK ")),
        "{}",
        both(&o)
    );
    let packages = repo.join("dists/lenny/main/binary-amd64/Packages");
    let mut bytes = fs::read(&packages).unwrap();
    bytes[0] ^= 1;
    fs::write(&packages, bytes).unwrap();
    let o = run(&["verify", repo.to_str().unwrap()]);
    common::assert_failed_cleanly(&o, "damaged repo");
    assert_eq!(o.status.code(), Some(1), "damaged repo: {}", both(&o));
    assert!(text(&o.stdout).contains("FAIL "), "{}", both(&o));
    let quiet = run(&["-q", "verify", repo.to_str().unwrap()]);
    assert_eq!(quiet.status.code(), Some(1), "{}", both(&quiet));
    assert!(
        text(&quiet.stdout).lines().all(|l| l.starts_with("FAIL ")) && quiet.stderr.is_empty(),
        "-q prints only the problems: {}",
        both(&quiet)
    );
    let o = run(&["verify", t.path().join("nowhere").to_str().unwrap()]);
    common::assert_failed_cleanly(&o, "no repo");
    assert_eq!(o.status.code(), Some(2), "no repo: {}", both(&o));
    assert_elirepo_lines(&o);
}

/// The crash detector every test leans on ([`common::check_failed_cleanly`]) fires on a
/// real crash of the binary, forced by its hidden `ELIREPO_TEST_PANIC=1` hook, and passes
/// a clean failure of the same command.
#[test]
fn a_crash_is_exit_101_and_the_tests_tell_it_from_a_clean_failure() {
    use std::os::unix::process::ExitStatusExt;
    use std::process::ExitStatus;
    let t = tempdir();
    let missing = t.path().join("missing");
    let args = ["kernel", missing.to_str().unwrap()];

    let clean = output_of(elirepo().args(args).env_remove("ELIREPO_TEST_PANIC"));
    assert_eq!(clean.status.code(), Some(2), "{}", both(&clean));
    assert_eq!(common::check_failed_cleanly(&clean), Ok(()));
    assert_eq!(common::check_no_crash(&clean), Ok(()));

    let crash = output_of(
        elirepo()
            .args(args)
            .env("ELIREPO_TEST_PANIC", "1")
            .env_remove("RUST_BACKTRACE"),
    );
    assert_eq!(crash.status.code(), Some(101), "{}", both(&crash));
    let err = text(&crash.stderr);
    assert!(
        err.starts_with("elirepo: error: internal error at src/main.rs:")
            && err.contains("ELIREPO_TEST_PANIC=1: a deliberate panic"),
        "{}",
        both(&crash)
    );
    // What the old `contains("panicked")` checks looked for is not there.
    assert!(!err.contains("panicked"), "{}", both(&crash));
    let why = common::check_failed_cleanly(&crash).expect_err("a crash passed as a clean failure");
    assert!(
        why.contains("exit 101") && why.contains(err.trim_end()),
        "{why}"
    );
    assert!(common::check_no_crash(&crash).is_err());

    // With RUST_BACKTRACE, Rust's own report follows: still a crash.
    let bt = output_of(
        elirepo()
            .args(args)
            .env("ELIREPO_TEST_PANIC", "1")
            .env("RUST_BACKTRACE", "1"),
    );
    assert_eq!(bt.status.code(), Some(101), "{}", both(&bt));
    assert!(text(&bt.stderr).contains("panicked"), "{}", both(&bt));
    assert!(common::check_failed_cleanly(&bt).is_err());

    // The ends the binary cannot be made to reach on demand.
    let out = |status: i32, stderr: &str| Output {
        status: ExitStatus::from_raw(status),
        stdout: Vec::new(),
        stderr: stderr.as_bytes().to_vec(),
    };
    let killed = out(9, "");
    let why = common::check_no_crash(&killed).unwrap_err();
    assert!(why.contains("killed by signal 9"), "{why}");
    // A panic on a thread whose end was turned into an ordinary error.
    let thread = out(
        1 << 8,
        "elirepo: error: internal error at src/x.rs:1: boom\n",
    );
    assert!(common::check_failed_cleanly(&thread)
        .unwrap_err()
        .contains("internal error"));
    let success = out(0, "");
    assert_eq!(common::check_no_crash(&success), Ok(()));
    assert!(common::check_failed_cleanly(&success)
        .unwrap_err()
        .starts_with("exit 0"));
    assert_eq!(
        common::check_failed_cleanly(&out(2 << 8, "elirepo: error: x: y\n")),
        Ok(())
    );
}

#[test]
fn json_shapes_are_stable() {
    let t = tempdir();
    let root = nfsroot(t.path());
    let repo = t.path().join("repo");
    let o = build(&repo, Some(&root), &["--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    let b = json(&o);
    assert_eq!(
        keys(&b),
        set(&[
            "schema_version",
            "ok",
            "repo",
            "suite",
            "changed",
            "packages",
            "added",
            "removed",
            "files_written",
            "files_removed",
            "release_sha256",
            "signed",
            "keyring",
            "keyring_fingerprint",
            "netboot",
            "release_files",
        ]),
        "{b:#}"
    );
    assert_eq!(b["schema_version"], 1);
    assert_eq!(b["ok"], true);
    assert_eq!(b["suite"], "lenny");
    assert_eq!(b["changed"], true);
    assert_eq!(b["signed"], false);
    assert!(b["keyring"].is_null());
    assert!(b["keyring_fingerprint"].is_null());
    assert_eq!(
        b["added"],
        serde_json::json!([
            "xe-guest-utilities 5.6.0-578 amd64",
            "xs-tools-common 5.6.0-578 all"
        ])
    );
    let nb = &b["netboot"][0];
    assert_eq!(
        keys(nb),
        set(&[
            "arch",
            "version",
            "kernel_release",
            "kernel_sha256",
            "kernel_size",
            "initrd_sha256",
            "initrd_size",
            "kernel_path",
            "initrd_path",
            "kernel_source",
            "initrd_source",
        ]),
        "{nb:#}"
    );
    assert_eq!(nb["kernel_release"], "6.1.0-99-amd64");
    assert_eq!(
        nb["kernel_path"],
        "dists/lenny/main/installer-amd64/current/images/netboot/xen/vmlinuz"
    );
    let published = fs::read(repo.join(nb["kernel_path"].as_str().unwrap())).unwrap();
    assert_eq!(nb["kernel_size"], published.len());
    let rf = &b["release_files"]["main/binary-amd64/Packages"];
    assert_eq!(keys(rf), set(&["size", "sha256"]), "{b:#}");
    // --json gives the real size and SHA256 of the index, and the Release lists the same
    // pair on its SHA256 line for it, in apt-ftparchive's format (size right-aligned in 16).
    let index = fs::read(repo.join("dists/lenny/main/binary-amd64/Packages")).unwrap();
    let (sha, size) = (rf["sha256"].as_str().unwrap(), rf["size"].as_u64().unwrap());
    assert_eq!(size, index.len() as u64, "{rf}");
    let real = common::sha256_hex(&index);
    assert_eq!(sha, real, "{rf}");
    let release = fs::read_to_string(repo.join("dists/lenny/Release")).unwrap();
    let sha256_lines: Vec<&str> = release
        .lines()
        .skip_while(|l| *l != "SHA256:")
        .skip(1)
        .take_while(|l| l.starts_with(' '))
        .collect();
    let line = format!(" {sha} {size:>16} main/binary-amd64/Packages");
    assert!(
        sha256_lines.contains(&line.as_str()),
        "the Release lists what --json says: no {line:?} under SHA256:\n{release}"
    );
    // JSON is the only thing on stdout; a rerun says nothing changed.
    let again = json(&build(&repo, Some(&root), &["--json"]));
    assert_eq!(again["changed"], false);
    assert_eq!(again["release_sha256"], b["release_sha256"]);

    let o = run(&["verify", repo.to_str().unwrap(), "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    let v = json(&o);
    assert_eq!(
        keys(&v),
        set(&[
            "schema_version",
            "ok",
            "target",
            "suites",
            "problems",
            "warnings",
            "files_checked",
            "packages_checked",
            "eliloader_urls",
            "could_not_check",
            "not_fetched",
        ]),
        "{v:#}"
    );
    assert_eq!(v["ok"], true);
    assert_eq!(v["eliloader_urls"].as_array().map(Vec::len), Some(2));

    let k = root.join("boot/vmlinuz-6.1.0-99-amd64");
    let o = run(&["kernel", "--json", k.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    let kj = json(&o);
    assert_eq!(
        keys(&kj),
        set(&[
            "schema_version",
            "ok",
            "path",
            "file_size",
            "container",
            "efi_stub",
            "boot_protocol",
            "kernel_version",
            "release",
            "arch",
            "payload",
            "elf",
            "note_source",
            "notes",
            "guest_info",
            "xen",
            "verdict",
            "reasons",
            "warnings",
        ]),
        "{kj:#}"
    );
    assert_eq!(kj["verdict"], "pv_capable");
    assert_eq!(kj["ok"], true);
    assert_eq!(kj["arch"], "amd64");
}

#[test]
fn man_and_completions_come_from_the_cli_definition() {
    let o = run(&["man"]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    let page = text(&o.stdout);
    assert!(page.starts_with(".ie") || page.starts_with(".TH"), "{page}");
    for section in [
        ".SH NAME",
        ".SH SYNOPSIS",
        ".SH \"EXIT STATUS\"",
        ".SH ENVIRONMENT",
        ".SH EXAMPLES",
    ] {
        assert!(page.contains(section), "{section} missing");
    }
    let t = tempdir();
    let o = run(&["man", "--dir", t.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    for name in [
        "elirepo",
        "elirepo-build",
        "elirepo-verify",
        "elirepo-kernel",
        "elirepo-packages",
    ] {
        let p = fs::read_to_string(t.path().join(format!("{name}.1"))).unwrap();
        assert!(p.contains(".SH OPTIONS") || name == "elirepo", "{name}");
    }
    if have_tool("man") {
        let o = output_of(
            Command::new("man")
                .arg("-l")
                .arg(t.path().join("elirepo-build.1"))
                .env("MANPAGER", "cat")
                .env("MANWIDTH", "80"),
        );
        assert!(o.status.success(), "{}", both(&o));
        assert!(text(&o.stdout).contains("--sign-key-file"), "{}", both(&o));
    }

    for (shell, needle) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef elirepo"),
        ("fish", "complete -c elirepo"),
    ] {
        let o = run(&["completions", shell]);
        assert_eq!(o.status.code(), Some(0), "{shell}: {}", both(&o));
        assert!(text(&o.stdout).contains(needle), "{shell}: {}", both(&o));
    }
    assert_eq!(run(&["completions", "tcsh"]).status.code(), Some(2));
    if have_tool("bash") {
        let script = t.path().join("elirepo.bash");
        fs::write(&script, run(&["completions", "bash"]).stdout).unwrap();
        let o = output_of(
            Command::new("bash")
                .arg("-c")
                .arg(format!("source {}; complete -p elirepo", script.display())),
        );
        assert!(
            o.status.success() && text(&o.stdout).contains("elirepo"),
            "{}",
            both(&o)
        );
    }
}

#[test]
fn no_escape_sequences_off_a_terminal_nor_with_no_color() {
    let t = tempdir();
    let root = nfsroot(t.path());
    let repo = t.path().join("repo");
    for no_color in [false, true] {
        let env = |c: &mut Command| {
            if no_color {
                c.env("NO_COLOR", "1");
            } else {
                c.env_remove("NO_COLOR");
            }
        };
        let mut c = elirepo();
        c.args(["-v", "build", "--suite", "s", "--arch", "amd64"])
            .arg("--repo")
            .arg(&repo)
            .arg("--deb")
            .arg(demo_debs().join("xe-guest-utilities_5.6.0-578_amd64.deb"))
            .arg("--nfsroot")
            .arg(&root);
        env(&mut c);
        let o = output_of(&mut c);
        assert_eq!(o.status.code(), Some(0), "{}", both(&o));
        assert!(
            text(&o.stderr).contains("elirepo: warning: "),
            "{}",
            both(&o)
        );
        assert_plain(&o, "build -v");
        assert_elirepo_lines(&o);
        for args in [
            &["verify", repo.to_str().unwrap()][..],
            &["kernel", root.join("boot/nothing").to_str().unwrap()],
            &["build", "--bogus"],
            &["--help"],
            &["packages", fixtures_dir().join("broken").to_str().unwrap()],
        ] {
            let mut c = elirepo();
            c.args(args);
            env(&mut c);
            assert_plain(&output_of(&mut c), &format!("{args:?}"));
        }
    }
    // On a terminal (script(1) gives one), colour unless NO_COLOR; never a bar for -q.
    if have_tool("script") {
        let bin = common::bin_under_test();
        let cmd = format!("{} kernel /nonexistent", bin.to_string_lossy());
        let on_tty = |no_color: bool| {
            let mut c = Command::new("script");
            c.args(["-q", "-e", "-c", &cmd, "/dev/null"]);
            if no_color {
                c.env("NO_COLOR", "1");
            } else {
                c.env_remove("NO_COLOR");
            }
            c.env("TERM", "xterm");
            output_of(&mut c)
        };
        let colored = on_tty(false);
        assert!(
            text(&colored.stdout).contains("\x1b[1;31merror:\x1b[0m"),
            "colour on a terminal: {}",
            both(&colored)
        );
        let plain = on_tty(true);
        assert!(
            text(&plain.stdout).contains("elirepo: error: /nonexistent")
                && !plain.stdout.contains(&0x1b),
            "NO_COLOR on a terminal: {}",
            both(&plain)
        );
    }
}

#[test]
fn the_fai_nfsroot_hook_republishes_and_fails_fai_make_nfsroot_loudly() {
    if !have_tool("sh") || !have_tool("bash") || !have_tool("run-parts") {
        return;
    }
    let t = tempdir();
    let root = nfsroot(t.path());
    let repo = t.path().join("repo");
    let cfg = t.path().join("elirepo.toml");
    fs::write(
        &cfg,
        format!(
            "repo = \"{}\"\nsuite = \"bookworm\"\narchitectures = [\"amd64\"]\ndebs = [\"{}\"]\n",
            repo.display(),
            demo_debs()
                .join("xe-guest-utilities_5.6.0-578_amd64.deb")
                .display()
        ),
    )
    .unwrap();
    let hook = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/fai-nfsroot-hook");
    let bin = PathBuf::from(common::bin_under_test());

    // Run by hand, as the README shows.
    let o = output_of(
        Command::new("sh")
            .arg(&hook)
            .env("NFSROOT", &root)
            .env("ELIREPO_CONFIG", &cfg)
            .env("ELIREPO", &bin),
    );
    assert!(o.status.success(), "{}", both(&o));
    let xen = repo.join("dists/bookworm/main/installer-amd64/current/images/netboot/xen");
    assert_eq!(
        fs::read(xen.join("vmlinuz")).unwrap(),
        fs::read(root.join("boot/vmlinuz-6.1.0-99-amd64")).unwrap()
    );

    // Sourced the way fai-make-nfsroot (FAI 6) runs its hooks, with its ERR trap.
    let hooks = t.path().join("hooks");
    fs::create_dir(&hooks).unwrap();
    std::os::unix::fs::symlink(&hook, hooks.join("50-elirepo")).unwrap();
    let fai = |config: &Path| {
        output_of(Command::new("bash").arg("-c").arg(format!(
            r#"NFSROOT='{}'; NFSROOT_HOOKS='{}'; ELIREPO_CONFIG='{}'; ELIREPO='{}'
exitcode=0; merror=properly
bad_exit() {{ merror="with errors"; exitcode=1; }}
trap bad_exit ERR
for file in $(run-parts --lsbsysinit --list "$NFSROOT_HOOKS"); do . $file $v; done
echo "fai-make-nfsroot finished $merror."; exit $exitcode"#,
            root.display(),
            hooks.display(),
            config.display(),
            bin.display()
        )))
    };
    let o = fai(&cfg);
    assert!(o.status.success(), "{}", both(&o));
    assert!(
        text(&o.stdout).contains("finished properly"),
        "{}",
        both(&o)
    );
    assert!(text(&o.stderr).contains("nothing changed"), "{}", both(&o));
    let o = fai(&t.path().join("missing.toml"));
    assert_eq!(o.status.code(), Some(1), "{}", both(&o));
    assert!(
        text(&o.stdout).contains("finished with errors"),
        "{}",
        both(&o)
    );
    assert!(text(&o.stderr).contains("elirepo: error: "), "{}", both(&o));
}
