//! `elirepo packages` must print what `apt-ftparchive packages` prints, byte
//! for byte.
//!
//! * Golden tests (always run): every case in `fixtures/golden/cases.tsv`,
//!   recorded from apt-ftparchive 2.6.2 by `scripts/make-goldens.sh`.
//! * Live tests (need `apt-ftparchive`, see `common::have_tool`): trees built
//!   with `DebBuilder` in a temp dir, seeded (`ELIREPO_SEED`), compared with
//!   the real apt-ftparchive run on the same tree with the same arguments.
//! * Broken archives: each file of `fixtures/broken/` alone must give a
//!   non-zero exit and an error naming the file, and never a panic.
//!
//! `ELIREPO_BIN_UNDER_TEST=apt-ftparchive cargo test --test packages_compat`
//! runs the whole harness against apt-ftparchive itself (exit codes are then
//! apt's: 0 for trees with broken .debs).

mod common;

use common::*;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Output;

// ---------------------------------------------------------------------------
// Golden cases
// ---------------------------------------------------------------------------

struct Case {
    name: String,
    cwd: String,
    args: Vec<String>,
    exit: i32,
}

fn load_cases() -> Vec<Case> {
    let path = fixtures_dir().join("golden/cases.tsv");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert_eq!(
                cols.len(),
                4,
                "cases.tsv: want 4 tab-separated columns: {l:?}"
            );
            Case {
                name: cols[0].to_string(),
                cwd: cols[1].to_string(),
                args: split_shell_words(cols[2]),
                exit: cols[3]
                    .parse()
                    .unwrap_or_else(|_| panic!("cases.tsv: bad exit code in {l:?}")),
            }
        })
        .collect()
}

/// Paths apt-ftparchive named in `E: Errors apply to file '<path>'`.
fn broken_files(apt_stderr: &str) -> Vec<String> {
    apt_stderr
        .lines()
        .filter_map(|l| l.strip_prefix("E: Errors apply to file '"))
        .filter_map(|rest| rest.strip_suffix('\''))
        .map(str::to_string)
        .collect()
}

/// Checks one run against what apt-ftparchive did. `apt_exit` and
/// `apt_stderr` are apt's; returns a description of every mismatch.
fn judge(
    context: &str,
    expected_stdout: &[u8],
    apt_exit: i32,
    apt_stderr: &str,
    got: &Output,
) -> Vec<String> {
    let mut problems = Vec::new();
    let stderr = String::from_utf8_lossy(&got.stderr);
    if got.stdout != expected_stdout {
        problems.push(diff_report(expected_stdout, &got.stdout, context));
    }
    let broken = broken_files(apt_stderr);
    let code = got.status.code();
    if under_test_is_apt() {
        if code != Some(apt_exit) {
            problems.push(format!(
                "{context}: exit {code:?}, apt-ftparchive gave {apt_exit}"
            ));
        }
    } else if apt_exit == 0 && broken.is_empty() {
        if let Err(e) = check_no_crash(got) {
            problems.push(format!("{context}: {e}"));
        } else if !got.status.success() {
            problems.push(format!(
                "{context}: exit {code:?}, want 0; stderr:\n{stderr}"
            ));
        }
    } else if let Err(e) = check_failed_cleanly(got) {
        problems.push(format!(
            "{context}: {e}\n(apt-ftparchive: exit {apt_exit}, broken files {broken:?})"
        ));
    }
    for b in &broken {
        if !stderr.contains(b.as_str()) {
            problems.push(format!(
                "{context}: stderr does not name broken file {b:?}; stderr:\n{stderr}"
            ));
        }
    }
    problems
}

#[test]
fn golden_cases() {
    let fx = fixtures_dir();
    let golden = fx.join("golden");
    let only = std::env::var("ELIREPO_GOLDEN_CASE").ok();
    let cases = load_cases();
    assert!(cases.len() > 20, "cases.tsv has only {} cases", cases.len());
    let mut failed: Vec<(String, Vec<String>)> = Vec::new();
    let mut ran = 0;
    for case in &cases {
        if only.as_deref().is_some_and(|o| !case.name.contains(o)) {
            continue;
        }
        ran += 1;
        let expected =
            fs::read(golden.join(format!("{}.stdout", case.name))).expect("golden stdout");
        let apt_stderr =
            fs::read_to_string(golden.join(format!("{}.stderr", case.name))).unwrap_or_default();
        let got = output_of(elirepo().args(&case.args).current_dir(fx.join(&case.cwd)));
        let context = format!(
            "case {} (cd fixtures/{} && elirepo {})",
            case.name,
            case.cwd,
            case.args.join(" ")
        );
        let problems = judge(&context, &expected, case.exit, &apt_stderr, &got);
        if !problems.is_empty() {
            failed.push((case.name.clone(), problems));
        }
    }
    if !failed.is_empty() {
        let mut msg = format!(
            "{} of {ran} golden cases failed: {}\n\n",
            failed.len(),
            failed
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        );
        // The first few in full; the rest would only repeat themselves.
        for (_, problems) in failed.iter().take(4) {
            for p in problems {
                msg += p;
                msg += "\n";
            }
        }
        msg += "\n(run one case with ELIREPO_GOLDEN_CASE=<name>)";
        panic!("{msg}");
    }
    // A filter that matches nothing would pass having checked nothing.
    assert!(
        ran > 0,
        "ELIREPO_GOLDEN_CASE={:?} matches none of the {} golden cases; the cases are: {}",
        only.as_deref().unwrap_or(""),
        cases.len(),
        cases
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    );
    eprintln!("{ran} golden cases passed");
}

// ---------------------------------------------------------------------------
// Live comparison with apt-ftparchive
// ---------------------------------------------------------------------------

fn apt() -> std::process::Command {
    std::process::Command::new("apt-ftparchive")
}

/// Runs apt-ftparchive and the binary under test with `args` in `cwd` and
/// returns the problems found (empty = identical stdout, compatible exit).
fn compare_in(cwd: &Path, args: &[String], context: &str) -> Vec<String> {
    let want = output_of(apt().args(args).current_dir(cwd));
    let got = output_of(elirepo().args(args).current_dir(cwd));
    let apt_stderr = String::from_utf8_lossy(&want.stderr).to_string();
    let context = format!(
        "{context}: (cd {} && elirepo {})",
        cwd.display(),
        args.join(" ")
    );
    judge(
        &context,
        &want.stdout,
        want.status.code().unwrap_or(-1),
        &apt_stderr,
        &got,
    )
}

fn s(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

fn check(problems: Vec<String>) {
    if !problems.is_empty() {
        panic!("{}", problems.join("\n"));
    }
}

/// Asserts that apt-ftparchive accepts every .deb under `dir` (no `E:`),
/// so that a live test compares real output rather than two error paths.
fn assert_apt_accepts(root: &Path, dir: &str) {
    let out = output_of(apt().args(["packages", dir]).current_dir(root));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !err.contains("E: "),
        "apt-ftparchive rejects a tree that DebBuilder built as valid (a harness bug):\n{err}"
    );
}

const DIR_NAMES: &[&str] = &[
    "a",
    "a-b",
    "a.b",
    "a_b",
    "a+b",
    "A",
    "B",
    "Zz",
    "_x",
    ".dot",
    "a/b",
    "a/b-c",
    "a/b.c",
    "a/b/c",
    "lib/libf",
    "main/h/hello",
    "x y",
    "\u{fc}ml",
    "dir.deb",
];

/// A control file with seeded oddities: field order, case, whitespace,
/// continuation lines, duplicates, CRLF, latin-1 bytes, apt's own fields.
fn random_control(rng: &mut Rng, pkg: &str, version: &str, arch: &str) -> Vec<u8> {
    let mut f: Vec<(String, Vec<String>)> = Vec::new(); // name, value lines
    let one = |v: &str| vec![v.to_string()];
    f.push(("Package".into(), one(pkg)));
    f.push(("Version".into(), one(version)));
    f.push(("Architecture".into(), one(arch)));
    f.push((
        "Maintainer".into(),
        one(rng.one_of(&[
            "Jane Doe <jane@example.org>",
            "Debian X Team <x@lists.example.org>",
            "Ren\u{e9} <r@example.org>",
        ])),
    ));
    let optional: Vec<(&str, Vec<String>)> = vec![
        (
            "Section",
            one(rng.one_of(&["utils", "libs", "admin", "net", "non-free/misc"])),
        ),
        (
            "Priority",
            one(rng.one_of(&["optional", "required", "extra", "standard"])),
        ),
        ("Installed-Size", one(&format!("{}", rng.below(100000)))),
        ("Depends", one("libc6 (>= 2.36), libfoo1 | libbar2")),
        ("Pre-Depends", one("dpkg (>= 1.15)")),
        ("Recommends", one("foo")),
        ("Provides", one("virtual-thing")),
        ("Source", one(&format!("{pkg}-src ({version})"))),
        ("Homepage", one("https://example.org/")),
        (
            "Multi-Arch",
            one(rng.one_of(&["same", "foreign", "allowed"])),
        ),
        ("Built-Using", one("gcc-12 (= 12.2.0-14)")),
        ("Essential", one("yes")),
        ("Protected", one("yes")),
        (
            "Tag",
            vec![
                "role::program, use::testing,".into(),
                " implemented-in::c".into(),
            ],
        ),
        (
            "Conffiles",
            vec![
                "".into(),
                " /etc/x.conf 0123456789abcdef0123456789abcdef".into(),
                " /etc/y.conf fedcba9876543210fedcba9876543210 obsolete".into(),
            ],
        ),
        ("Status", one("install ok installed")),
        ("Size", one("12")),
        ("MD5sum", one("00000000000000000000000000000000")),
        ("SHA256", one("ab")),
        ("Filename", one("pool/elsewhere.deb")),
        ("Description-md5", one("0123456789abcdef0123456789abcdef")),
        ("Architecture-Variant", one("amd64v3")),
        ("X-Custom", one("custom value")),
        ("Zzz-Last", one("z")),
        ("Aaa-First", one("a")),
        ("X-Empty", one("")),
        (
            "X-Multi",
            vec!["first".into(), " second   ".into(), "\ttabbed".into()],
        ),
        ("Build-Ids", one("0123abcd 4567ef")),
    ];
    for (name, value) in optional {
        if rng.chance(30) {
            f.push((name.to_string(), value));
        }
    }
    // Description: one line or several, with paragraph dots and odd lines.
    let mut desc = vec![format!(
        "test package {pkg}{}",
        if rng.chance(15) { "   " } else { "" }
    )];
    for _ in 0..rng.below(5) {
        desc.push(
            rng.pick(&[
                " a continuation line",
                " .",
                " trailing spaces   ",
                "\ttab-indented",
                "  two spaces",
                " caf\u{e9}",
            ])
            .to_string(),
        );
    }
    f.push(("Description".into(), desc));
    if rng.chance(60) {
        rng.shuffle(&mut f[1..]);
    }
    // Duplicates: a known field (last value wins) and an unknown one.
    if rng.chance(20) {
        f.push(("Depends".into(), one("duplicated-dep")));
    }
    if rng.chance(20) {
        f.insert(1, ("Z-Dup".into(), one("first")));
        f.push(("Z-Dup".into(), one("second")));
    }
    let latin1 = rng.chance(15);
    let mut out: Vec<u8> = Vec::new();
    for (name, lines) in &f {
        let name = match rng.below(10) {
            0 => name.to_lowercase(),
            1 => name.to_uppercase(),
            _ => name.clone(),
        };
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        let first = &lines[0];
        if !first.is_empty() {
            out.extend_from_slice(
                rng.pick(&[" ", " ", " ", " ", " ", " ", "", "\t", "  ", " \t"])
                    .as_bytes(),
            );
        }
        let mut text = lines.join("\n");
        if rng.chance(10) {
            text += "  ";
        }
        if latin1 {
            // U+00E9 etc. as single latin-1 bytes, not UTF-8.
            out.extend(text.chars().map(|c| {
                if (c as u32) < 256 {
                    c as u32 as u8
                } else {
                    b'?'
                }
            }));
        } else {
            out.extend_from_slice(text.as_bytes());
        }
        out.push(b'\n');
    }
    if rng.chance(10) {
        out.extend_from_slice(b"\nPackage: second-paragraph\nX-Dropped: yes\n");
    }
    if rng.chance(10) {
        out = out
            .iter()
            .flat_map(|&b| {
                if b == b'\n' {
                    vec![b'\r', b'\n']
                } else {
                    vec![b]
                }
            })
            .collect();
    }
    out
}

struct Tree {
    packages: Vec<(String, String, String)>, // name, arch, maintainer-ish
}

/// Fills `root/pool` with `n` seeded .debs (plus decoys that must be
/// skipped) and writes `root/override`.
fn random_tree(rng: &mut Rng, root: &Path, n: usize) -> Tree {
    let pool = root.join("pool");
    let mut tree = Tree {
        packages: Vec::new(),
    };
    for i in 0..n {
        let name = format!(
            "{}{}",
            rng.pick(&["foo", "libbar", "baz-utils", "q", "python3-x", "zz"]),
            i % 7
        );
        let version = rng
            .pick(&["1.0", "1.0-1", "2:3.4~rc1-1+b1", "0.1+dfsg-2", "1:1.0"])
            .to_string();
        let arch = rng
            .pick(&["amd64", "amd64", "i386", "all", "arm64"])
            .to_string();
        let control = random_control(rng, &name, &version, &arch);
        let ext = rng.pick(&["deb", "deb", "deb", "deb", "udeb", "ddeb"]);
        let fs_version = if rng.chance(50) {
            version.replace(':', "%3a")
        } else {
            version.clone()
        };
        let file = if rng.chance(8) {
            format!("{name}.{ext}")
        } else {
            format!(
                "{name}_{}_{arch}.{ext}",
                fs_version
                    .split_once(':')
                    .map_or(fs_version.as_str(), |(_, v)| v)
            )
        };
        let dir = rng.pick(DIR_NAMES);
        let mut b = DebBuilder::new(&name)
            .control_raw(control)
            .control_compression(*rng.pick(&Comp::CONTROL_OK))
            .data_compression(*rng.pick(&Comp::ALL))
            .ar_style(*rng.pick(&[ArStyle::Gnu, ArStyle::Bsd]));
        if rng.chance(30) {
            b = b
                .data_file(
                    &format!("usr/share/{name}/{}", "long-component/".repeat(8) + "file"),
                    vec![b'x'; rng.below(3000)],
                    0o644,
                )
                .data_symlink("usr/bin/link", "../share/x")
                .control_file("md5sums", "x  usr/share/x\n");
        }
        b.write_to(&pool.join(dir).join(&file)).unwrap();
        tree.packages.push((name, arch, String::new()));
    }
    // Decoys: names that do not match *.deb / *.udeb / *.ddeb.
    let decoy = DebBuilder::new("decoy").build();
    for f in [
        "a/X.DEB",
        "a/decoy.deb.bak",
        "a/decoy.debx",
        "B/deb",
        "a.b/.deb~",
    ] {
        let p = pool.join(f);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, &decoy).unwrap();
    }
    // Override: a seeded subset of the packages, every maintainer form.
    let mut ov = String::from("# generated override\n");
    for (name, arch, _) in &tree.packages {
        if !rng.chance(50) {
            continue;
        }
        let key = if rng.chance(20) {
            format!("{name}/{arch}")
        } else {
            name.clone()
        };
        let prio = rng.pick(&["optional", "important", "extra", "required"]);
        let sect = rng.pick(&["utils", "admin", "libs", "net"]);
        let maint = match rng.below(6) {
            0 => String::new(),
            1 => " New Maint <new@example.org>".into(),
            2 => " JANE DOE <jane@example.org> => Matched Case <m@example.org>".into(),
            3 => " Nobody <n@example.org> // jane doe <JANE@example.org> => Second Alt <s@example.org>".into(),
            4 => " Nobody <n@example.org> => Never <never@example.org>".into(),
            _ => " Ren\u{e9} <r@example.org> => Utf8 Match <u@example.org>".into(),
        };
        ov += &format!(
            "{key}{}{prio}{}{sect}{maint}\n",
            rng.pick(&[" ", "\t", "   "]),
            rng.pick(&[" ", "\t"])
        );
    }
    ov += "malformed-line\n";
    fs::write(root.join("override"), ov).unwrap();
    tree
}

fn live_iterations() -> u64 {
    std::env::var("ELIREPO_LIVE_ITERATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6)
}

#[test]
fn live_random_trees() {
    if !have_tool("apt-ftparchive") {
        return;
    }
    let seed = seed_from_env(20241125);
    for iter in 0..live_iterations() {
        let tree_seed = seed.wrapping_add(iter);
        let mut rng = Rng::new(tree_seed);
        let tmp = tempdir();
        let root = tmp.path();
        let n = 8 + rng.below(12);
        random_tree(&mut rng, root, n);
        assert_apt_accepts(root, "pool");
        let abs = root.join("pool").to_string_lossy().to_string();
        let runs: Vec<(PathBuf, Vec<String>)> = vec![
            (root.into(), s(&["packages", "pool"])),
            (root.into(), s(&["packages", "./pool/"])),
            (root.into(), s(&["packages", "pool", "override", "prefix/"])),
            (root.into(), s(&["-a", "amd64", "packages", "pool"])),
            (
                root.into(),
                s(&[
                    "-a",
                    "i386",
                    "-o",
                    "APT::FTPArchive::IncludeArchitectureAll=false",
                    "packages",
                    "pool",
                    "override",
                ]),
            ),
            (
                root.into(),
                s(&[
                    "-o",
                    "APT::FTPArchive::LongDescription=false",
                    "packages",
                    "pool",
                    "",
                    "deb",
                ]),
            ),
            (
                root.into(),
                s(&["packages", "--no-md5", "--no-sha1", "pool", "override"]),
            ),
            (
                root.into(),
                s(&["--no-sha256", "--no-sha512", "packages", "pool"]),
            ),
            (root.join("pool"), s(&["packages", "."])),
            (
                root.join("pool"),
                s(&[
                    "-o",
                    "APT::FTPArchive::LongDescription=false",
                    "packages",
                    ".",
                    "../override",
                    "deb",
                ]),
            ),
            (root.into(), s(&["packages", &abs])),
            (root.into(), s(&["packages", &abs, "override", "prefix"])),
        ];
        let mut problems = Vec::new();
        for (cwd, args) in &runs {
            problems.extend(compare_in(
                cwd,
                args,
                &format!("seed {tree_seed} ({n} debs)"),
            ));
        }
        if !problems.is_empty() {
            eprintln!(
                "rerun: ELIREPO_SEED={tree_seed} ELIREPO_LIVE_ITERATIONS=1 ELIREPO_KEEP_TMP=1"
            );
            check(problems);
        }
    }
}

/// Hundreds of .debs of many sizes: `elirepo packages` reads them largest
/// first (and a `--db` run the cached ones first), keeps each stanza on disk
/// and writes the index in the scan's order; the bytes must be apt's, with and
/// without the cache, and with a cache that knows only some of the files.
#[test]
fn live_many_debs_in_the_scan_order() {
    if !have_tool("apt-ftparchive") {
        return;
    }
    let seed = seed_from_env(20261130);
    let mut rng = Rng::new(seed);
    let tmp = tempdir();
    let root = tmp.path();
    let tree = random_tree(&mut rng, root, 400);
    assert_apt_accepts(root, "pool");
    let mut problems = Vec::new();
    for args in [
        s(&["packages", "pool"]),
        s(&["packages", "pool", "override", "prefix/"]),
        s(&["-a", "amd64", "packages", "pool"]),
    ] {
        problems.extend(compare_in(root, &args, &format!("seed {seed}")));
    }
    // elirepo's cache beside apt's database: filled, then all hits, then
    // hits and reads mixed (a third of the files rewritten, new ctimes).
    let want = output_of(apt().args(["packages", "pool"]).current_dir(root));
    let with_db = |round: &str, problems: &mut Vec<String>| {
        let got = output_of(
            elirepo()
                .args(["packages", "--db", "cache.db", "pool"])
                .current_dir(root),
        );
        problems.extend(judge(
            &format!("seed {seed}, --db, {round}"),
            &want.stdout,
            want.status.code().unwrap_or(-1),
            &String::from_utf8_lossy(&want.stderr),
            &got,
        ));
    };
    with_db("first run", &mut problems);
    with_db("all cached", &mut problems);
    let mut debs: Vec<PathBuf> = walkdir::WalkDir::new(root.join("pool"))
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    debs.sort();
    let mut rewritten = 0;
    for path in debs.iter().step_by(3) {
        let bytes = fs::read(path).unwrap();
        fs::remove_file(path).unwrap();
        fs::write(path, bytes).unwrap();
        rewritten += 1;
    }
    assert!(rewritten > 100, "{rewritten} of {}", tree.packages.len());
    with_db("a third rewritten", &mut problems);
    check(problems);
}

/// Every control compression apt reads x every data compression x both ar
/// name styles, in one tree.
#[test]
fn live_compression_matrix() {
    if !have_tool("apt-ftparchive") {
        return;
    }
    let tmp = tempdir();
    let root = tmp.path();
    for c in Comp::CONTROL_OK {
        for d in Comp::ALL {
            for style in [ArStyle::Gnu, ArStyle::Bsd] {
                let name = format!(
                    "m-c{}-d{}-{style:?}",
                    c.ext().trim_start_matches('.'),
                    d.ext().trim_start_matches('.')
                )
                .to_lowercase();
                DebBuilder::new(&name)
                    .control_compression(c)
                    .data_compression(d)
                    .ar_style(style)
                    .write_to(&root.join(format!("pool/{name}_1.0_amd64.deb")))
                    .unwrap();
            }
        }
    }
    assert_apt_accepts(root, "pool");
    check(compare_in(
        root,
        &s(&["packages", "pool"]),
        "compression matrix",
    ));
}

/// Symlinked .debs and a symlinked directory that stay deterministic: a
/// link inside the tree (apt prints the absolute realpath but sorts by the
/// link path), one outside (link path kept), a sibling dir whose name starts
/// with the tree's name (apt compares realpaths as strings), a directory
/// link to outside the tree, a directory link back to the root (a loop ftw
/// skips).
#[test]
fn live_symlinks() {
    if !have_tool("apt-ftparchive") {
        return;
    }
    let tmp = tempdir();
    let root = tmp.path();
    DebBuilder::new("real")
        .write_to(&root.join("pool/a/real_1.0_amd64.deb"))
        .unwrap();
    DebBuilder::new("zreal")
        .arch("all")
        .write_to(&root.join("pool/z/zreal_1.0_all.deb"))
        .unwrap();
    DebBuilder::new("outside")
        .write_to(&root.join("outside/outside_1.0_amd64.deb"))
        .unwrap();
    DebBuilder::new("outdir")
        .arch("i386")
        .write_to(&root.join("outside/sub/outdir_1.0_i386.deb"))
        .unwrap();
    DebBuilder::new("sibling")
        .write_to(&root.join("pool2/sibling_1.0_amd64.deb"))
        .unwrap();
    symlink(
        "a/real_1.0_amd64.deb",
        root.join("pool/link-in_1.0_amd64.deb"),
    )
    .unwrap();
    symlink(
        "../a/real_1.0_amd64.deb",
        root.join("pool/z/0-link-up_1.0_amd64.deb"),
    )
    .unwrap();
    symlink(
        root.join("pool/z/zreal_1.0_all.deb"),
        root.join("pool/abs-link_1.0_all.deb"),
    )
    .unwrap();
    symlink(
        "../outside/outside_1.0_amd64.deb",
        root.join("pool/link-out_1.0_amd64.deb"),
    )
    .unwrap();
    symlink(
        "../pool2/sibling_1.0_amd64.deb",
        root.join("pool/link-sibling_1.0_amd64.deb"),
    )
    .unwrap();
    symlink("../outside/sub", root.join("pool/outdir")).unwrap();
    symlink("..", root.join("pool/a/loop")).unwrap();
    assert_apt_accepts(root, "pool");
    let abs = root.join("pool").to_string_lossy().to_string();
    let mut problems = Vec::new();
    for (cwd, args) in [
        (root.to_path_buf(), s(&["packages", "pool"])),
        (root.to_path_buf(), s(&["packages", "./pool", "", "deb"])),
        (root.to_path_buf(), s(&["-a", "amd64", "packages", "pool/"])),
        (root.join("pool"), s(&["packages", "."])),
        (root.to_path_buf(), s(&["packages", &abs])),
    ] {
        problems.extend(compare_in(&cwd, &args, "symlinks"));
    }
    check(problems);
}

/// A directory symlink that points inside the tree. glibc's ftw visits each
/// directory once, so whichever of `a/` and `alias/` readdir returns first
/// wins and the other is skipped: matching apt means walking in readdir
/// order and remembering directories by (device, inode).
#[test]
fn live_symlinked_dir_inside_tree() {
    if !have_tool("apt-ftparchive") {
        return;
    }
    let tmp = tempdir();
    let root = tmp.path();
    DebBuilder::new("real")
        .write_to(&root.join("pool/a/real_1.0_amd64.deb"))
        .unwrap();
    DebBuilder::new("other")
        .write_to(&root.join("pool/b/other_1.0_amd64.deb"))
        .unwrap();
    symlink("a", root.join("pool/alias")).unwrap();
    symlink("../b", root.join("pool/a/back-to-b")).unwrap();
    check(compare_in(
        root,
        &s(&["packages", "pool"]),
        "symlinked dir inside the tree",
    ));
}

/// A dangling symlink: apt warns (`W: Unable to stat`) and goes on with
/// exit 0. Only stdout is compared; the exit code is elirepo's choice.
#[test]
fn live_dangling_symlink() {
    if !have_tool("apt-ftparchive") {
        return;
    }
    let tmp = tempdir();
    let root = tmp.path();
    DebBuilder::new("real")
        .write_to(&root.join("pool/real_1.0_amd64.deb"))
        .unwrap();
    symlink(
        "nowhere_1.0_amd64.deb",
        root.join("pool/dangling_1.0_amd64.deb"),
    )
    .unwrap();
    let want = output_of(apt().args(["packages", "pool"]).current_dir(root));
    let got = output_of(elirepo().args(["packages", "pool"]).current_dir(root));
    assert_bytes_eq(&want.stdout, &got.stdout, "dangling symlink");
    assert_no_crash(&got, "dangling symlink");
}

/// A symlink loop between two .deb names: apt fails the whole walk (exit
/// 100, `E: Tree walking failed`); elirepo must fail too, without hanging.
#[test]
fn live_symlink_loop() {
    if !have_tool("apt-ftparchive") {
        return;
    }
    let tmp = tempdir();
    let root = tmp.path();
    DebBuilder::new("real")
        .write_to(&root.join("pool/real_1.0_amd64.deb"))
        .unwrap();
    symlink("l2.deb", root.join("pool/l1.deb")).unwrap();
    symlink("l1.deb", root.join("pool/l2.deb")).unwrap();
    let want = output_of(apt().args(["packages", "pool"]).current_dir(root));
    let got = output_of(elirepo().args(["packages", "pool"]).current_dir(root));
    let err = String::from_utf8_lossy(&got.stderr);
    assert_no_crash(&got, "symlink loop");
    assert_eq!(
        got.status.success(),
        want.status.success(),
        "symlink loop: apt-ftparchive exit {:?}, elirepo exit {:?}; stderr:\n{err}",
        want.status.code(),
        got.status.code()
    );
}

/// Truncated copies of a good .deb, each alone: where apt-ftparchive
/// rejects the file elirepo must fail and name it; where apt accepts it,
/// the output must match.
#[test]
fn live_truncated_debs() {
    if !have_tool("apt-ftparchive") {
        return;
    }
    let deb = DebBuilder::new("cut").control_compression(Comp::Xz).build();
    let len = deb.len();
    let mut cuts = vec![
        0,
        1,
        7,
        8,
        20,
        67,
        68,
        71,
        72,
        100,
        132,
        133,
        len / 2,
        len - 2,
        len - 1,
    ];
    cuts.retain(|&c| c < len);
    cuts.dedup();
    let mut problems = Vec::new();
    for cut in cuts {
        let tmp = tempdir();
        let path = tmp.path().join("pool/cut_1.0_amd64.deb");
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, &deb[..cut]).unwrap();
        problems.extend(compare_in(
            tmp.path(),
            &s(&["packages", "pool"]),
            &format!("cut at {cut} of {len} bytes"),
        ));
    }
    check(problems);
}

// ---------------------------------------------------------------------------
// Broken archives
// ---------------------------------------------------------------------------

/// apt-ftparchive 2.6.2 does not check the `debian-binary` version, so it
/// lists this one; elirepo must refuse it (dpkg-deb does).
const APT_ACCEPTS: &[&str] = &["debian-binary-3.0_1.0_amd64.deb"];

#[test]
fn broken_fixtures_each_alone() {
    let dir = fixtures_dir().join("broken");
    let mut names: Vec<String> = fs::read_dir(&dir)
        .expect("fixtures/broken")
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    assert!(names.len() >= 9, "fixtures/broken has only {names:?}");
    let mut problems = Vec::new();
    for name in &names {
        let tmp = tempdir();
        let pool = tmp.path().join("pool");
        fs::create_dir_all(&pool).unwrap();
        fs::copy(dir.join(name), pool.join(name)).unwrap();
        let got = output_of(elirepo().args(["packages", "pool"]).current_dir(tmp.path()));
        let err = String::from_utf8_lossy(&got.stderr);
        let shown = format!("pool/{name}");
        let ctx = format!("fixtures/broken/{name}");
        if under_test_is_apt() {
            let rejected = err.contains(&format!("E: Errors apply to file '{shown}'"));
            if rejected == APT_ACCEPTS.contains(&name.as_str()) {
                problems.push(format!(
                    "{ctx}: apt-ftparchive rejected={rejected}, not as recorded; stderr:\n{err}"
                ));
            }
            continue;
        }
        if let Err(e) = check_failed_cleanly(&got) {
            problems.push(format!("{ctx}: {e}"));
        }
        if !got.stdout.is_empty() {
            problems.push(format!(
                "{ctx}: printed a stanza for a broken .deb:\n{}",
                String::from_utf8_lossy(&got.stdout)
            ));
        }
        // The file must be named, with a reason beyond the name itself.
        match err.lines().find(|l| l.contains(&shown)) {
            None => problems.push(format!("{ctx}: stderr does not name {shown}:\n{err}")),
            Some(_) if err.trim().len() < shown.len() + 8 => problems.push(format!(
                "{ctx}: stderr names {shown} but gives no reason:\n{err}"
            )),
            Some(_) => {}
        }
    }
    check(problems);
}

// ---------------------------------------------------------------------------
// The harness itself
// ---------------------------------------------------------------------------

/// DebBuilder output is deterministic, has the member names and ar name
/// style asked for, and dpkg-deb reads it (control and data, every
/// compression).
#[test]
fn debbuilder_output_is_deterministic_and_dpkg_reads_it() {
    let b = DebBuilder::new("det").field("Depends", "x");
    assert_eq!(
        b.build(),
        b.clone().build(),
        "DebBuilder is not deterministic"
    );
    let gnu = DebBuilder::new("g").ar_style(ArStyle::Gnu).build();
    assert!(
        gnu.starts_with(b"!<arch>\ndebian-binary/  1700000000"),
        "GNU names end in '/'"
    );
    let bsd = DebBuilder::new("b").build();
    assert!(
        bsd.starts_with(b"!<arch>\ndebian-binary   1700000000"),
        "BSD names are space padded"
    );
    if !have_tool("dpkg-deb") {
        return;
    }
    let tmp = tempdir();
    for c in Comp::ALL {
        for d in Comp::ALL {
            let name = format!("dd-{c:?}-{d:?}").to_lowercase();
            let path = tmp.path().join(format!("{name}.deb"));
            DebBuilder::new(&name)
                .control_compression(c)
                .data_compression(d)
                .data_file("usr/bin/tool", b"#!/bin/sh\n".to_vec(), 0o755)
                .data_symlink("usr/bin/alias", "tool")
                .write_to(&path)
                .unwrap();
            let f = output_of(
                std::process::Command::new("dpkg-deb")
                    .args(["-f"])
                    .arg(&path)
                    .arg("Package"),
            );
            // dpkg-deb reads control.tar{,.gz,.xz,.zst} only.
            if Comp::CONTROL_OK.contains(&c) {
                assert_eq!(
                    String::from_utf8_lossy(&f.stdout).trim(),
                    name,
                    "dpkg-deb -f on {c:?}/{d:?}: {}",
                    String::from_utf8_lossy(&f.stderr)
                );
                let l = output_of(std::process::Command::new("dpkg-deb").arg("-c").arg(&path));
                let listing = String::from_utf8_lossy(&l.stdout);
                assert!(
                    l.status.success() && listing.contains("./usr/bin/alias -> tool"),
                    "dpkg-deb -c on {c:?}/{d:?}:\n{listing}{}",
                    String::from_utf8_lossy(&l.stderr)
                );
            }
        }
    }
}
