//! `elirepo publish` to a local path (a web root, an NFS export), served by a
//! real HTTP server and read by apt-get, eliloader's URLs, `elirepo verify` and
//! a poller during republishes and kill -9s.

mod common;

use std::time::Duration;

use common::apt::Apt;
use common::publish::{demo_images, json, leftovers, Demo, Poller};
use common::{elirepo, have_tools, output_of, tempdir, Rng, Server};

fn publish(repo: &std::path::Path, dest: &std::path::Path) -> std::process::Output {
    output_of(
        elirepo()
            .arg("publish")
            .arg(repo)
            .arg(dest)
            .arg("--json")
            .arg("-q"),
    )
}

/// The demo repository built in `dir` and published once to `<dir>/www`.
fn demo_published(dir: &std::path::Path) -> (Demo, std::path::PathBuf) {
    let demo = Demo::new(dir);
    demo.build();
    let dest = dir.join("www");
    json(&publish(&demo.repo(), &dest));
    (demo, dest)
}

#[test]
fn local_publish_serves_apt_and_eliloader_and_is_incremental() {
    if !have_tools(&["rsync", "apt-get", "gpgv", "python3"]) {
        return;
    }
    let t = tempdir();
    let demo = Demo::new(t.path());
    demo.build();
    let dest = t.path().join("www");
    let first = json(&publish(&demo.repo(), &dest));
    assert_eq!(first["sent"]["count"], 5, "{first}");
    assert!(!dest.join(".elirepo").exists(), ".elirepo/ was sent");
    let server = Server::http(&dest);

    // apt over http returns the input bytes.
    let apt = Apt::over_url(&server.base, "lenny", Some(&demo.keyring()));
    apt.update_clean();
    let got = apt.download(&["xe-guest-utilities:amd64", "xs-tools-common"]);
    let inputs = demo.deb_bytes();
    for (name, bytes) in &got {
        assert_eq!(Some(bytes), inputs.get(name), "{name}");
    }
    // eliloader's URLs, and verify over http.
    common::publish::poll_once(&ureq::agent(), &server.base, &[demo_images(&demo.repo())]).unwrap();
    let v = output_of(
        elirepo()
            .arg("verify")
            .arg(&server.base)
            .args(["--suite", "lenny"])
            .arg("--keyring")
            .arg(demo.keyring()),
    );
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));

    // Nothing changed: nothing sent, nothing deleted, no switch.
    let again = json(&publish(&demo.repo(), &dest));
    assert_eq!(again["sent"]["count"], 0, "{again}");
    assert_eq!(again["deleted"]["count"], 0, "{again}");
    assert_eq!(again["generations"].as_array().unwrap().len(), 0, "{again}");

    // One new package: that .deb and a new generation, nothing else.
    demo.change(1);
    demo.build();
    // --dry-run lists what would be sent and switched, and changes nothing.
    let before = common::snapshot_tree(&dest);
    let dry = output_of(
        elirepo()
            .arg("publish")
            .arg(demo.repo())
            .arg(&dest)
            .arg("--dry-run"),
    );
    assert!(dry.status.success());
    let listed = String::from_utf8_lossy(&dry.stdout).into_owned();
    assert!(
        listed
            .lines()
            .any(|l| l == "send pool/main/e/extra1/extra1_1.1_all.deb"),
        "{listed}"
    );
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("send dists/.generations/lenny/")),
        "{listed}"
    );
    assert_eq!(listed.lines().count(), 2, "{listed}");
    assert_eq!(
        common::snapshot_tree(&dest),
        before,
        "--dry-run changed the destination"
    );
    let third = json(&publish(&demo.repo(), &dest));
    assert_eq!(
        third["sent"]["files"],
        serde_json::json!(["pool/main/e/extra1/extra1_1.1_all.deb"]),
        "{third}"
    );
    assert_eq!(third["generations"].as_array().unwrap().len(), 1, "{third}");
    // The removed package stays while a kept publish names it.
    assert_eq!(third["deleted"]["count"], 0, "{third}");
    let dry = output_of(
        elirepo()
            .arg("publish")
            .arg(demo.repo())
            .arg(&dest)
            .arg("--dry-run")
            .arg("--json"),
    );
    assert_eq!(json(&dry)["sent"]["count"], 0);
}

#[test]
fn local_republish_and_kill9_never_show_a_mismatch() {
    if !have_tools(&["rsync", "python3"]) {
        return;
    }
    let t = tempdir();
    let (demo, dest) = demo_published(t.path());
    let server = Server::http(&dest);
    let poller = Poller::start(&server.base, demo_images(&demo.repo()));
    let mut rng = Rng::new(common::seed_from_env(14));
    let rounds = if std::env::var("ELIREPO_SLOW_TESTS").as_deref() == Ok("1") {
        20
    } else {
        6
    };
    for n in 1..=rounds {
        demo.change(n);
        if n % 2 == 0 {
            // A new kernel every other round: eliloader's pair changes.
            demo.change_kernel(n);
        }
        demo.build();
        poller.allow(demo_images(&demo.repo()));
        // A publish killed at a random moment, then a complete one.
        let mut child = elirepo()
            .arg("publish")
            .arg(demo.repo())
            .arg(&dest)
            .arg("-q")
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(rng.below(400) as u64));
        let _ = child.kill();
        let _ = child.wait();
        let o = publish(&demo.repo(), &dest);
        json(&o);
    }
    let (polls, pairs) = poller.finish_consistent();
    // The switch is one rename: eliloader never meets a kernel with another publish's initrd.
    common::publish::assert_none_seen(&pairs, polls);
    // The kernel did change.
    let served =
        common::publish::poll_once(&ureq::agent(), &server.base, &[demo_images(&demo.repo())]);
    assert_eq!(served, Ok(()));
    // Old pool files went once no kept publish named them; nothing a killed
    // publish left (temporaries, empty directories) outlived the complete one.
    let left = leftovers(&dest, &demo.repo());
    assert!(
        left.is_empty(),
        "after {rounds} killed and complete publishes the destination holds what a complete publish would not leave:\n  {}",
        left.join("\n  ")
    );
    assert!(!dest.join("pool/main/x/xs-tools-common").exists());
    let v = output_of(
        elirepo()
            .arg("verify")
            .arg(&server.base)
            .args(["--suite", "lenny"])
            .arg("--keyring")
            .arg(demo.keyring()),
    );
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
}

/// Two builds within one second: same-size files (every Release.gpg; a Packages
/// whose versions went 1.2 -> 1.3) with the same mtime second but other bytes.
/// rsync's quick check (size and mtime in whole seconds) would hard-link the old
/// file into the new generation: a Release.gpg that does not sign the Release.
#[test]
fn same_second_builds_are_published_byte_for_byte() {
    if !have_tools(&["rsync", "python3", "gpgv", "touch"]) {
        return;
    }
    let t = tempdir();
    let demo = Demo::new(t.path());
    let dest = t.path().join("www");
    let same_second = |repo: &std::path::Path| {
        let o = output_of(
            std::process::Command::new("find")
                .arg(repo.join("dists"))
                .args(["-exec", "touch", "-h", "-d", "@1795651200", "{}", "+"]),
        );
        assert!(o.status.success());
    };
    demo.build();
    same_second(&demo.repo());
    json(&publish(&demo.repo(), &dest));
    demo.change(1);
    demo.build();
    same_second(&demo.repo());
    json(&publish(&demo.repo(), &dest));
    for f in [
        "Release",
        "Release.gpg",
        "InRelease",
        "main/binary-amd64/Packages",
    ] {
        let want = std::fs::read(demo.repo().join("dists/lenny").join(f)).unwrap();
        let got = std::fs::read(dest.join("dists/lenny").join(f)).unwrap();
        assert!(
            want == got,
            "dists/lenny/{f}: the destination holds other bytes than the repository"
        );
    }
    let server = Server::http(&dest);
    let v = output_of(
        elirepo()
            .arg("verify")
            .arg(&server.base)
            .args(["--suite", "lenny"])
            .arg("--keyring")
            .arg(demo.keyring()),
    );
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
}

/// Waits for every process of a killed publish still running (its rsync, its
/// scripts) to be done: they hold the destination's lock until they exit.
fn wait_for_the_lock(dest: &std::path::Path) {
    let o = output_of(
        std::process::Command::new("flock")
            .arg(dest.join(".elirepo-publish/lock"))
            .arg("true"),
    );
    assert!(o.status.success(), "{}", common::both(&o));
}

/// 2 x KEEP complete publishes, each of a changed repository (package `n`
/// added): after them neither the repository (`build` keeps a removed package
/// in its pool while one of its kept generations names it) nor a kept publish
/// names xs-tools-common.
fn publish_keep_more(demo: &Demo, dest: &std::path::Path, from: u32) {
    for n in from..from + 2 * elirepo::remote::plan::KEEP as u32 {
        demo.change(n);
        demo.build();
        json(&publish(&demo.repo(), dest));
    }
}

/// A publish killed (the fault point aborts it) while it sends its state file:
/// the half-sent state must not replace the old one. An empty or cut state made
/// the next publish trust the listing only and forget every file published
/// before: old pool files stayed for ever (the kill -9 test's flake).
#[test]
fn a_publish_killed_while_sending_its_state_keeps_the_old_state() {
    if !have_tools(&["rsync", "flock"]) {
        return;
    }
    let t = tempdir();
    let (demo, dest) = demo_published(t.path());
    let state = dest.join(".elirepo-publish/state.json");
    let before = std::fs::read(&state).unwrap();
    demo.change(1);
    demo.build();
    let o = output_of(
        elirepo()
            .env("ELIREPO_FAULT", "remote-state-sending")
            .arg("publish")
            .arg(demo.repo())
            .arg(&dest)
            .arg("-q"),
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("fault point remote-state-sending: aborting"),
        "the fault point was not reached: {}",
        common::both(&o)
    );
    wait_for_the_lock(&dest);
    let after = std::fs::read(&state).unwrap();
    assert!(
        after == before,
        "the killed publish replaced the state file with {} bytes: {:?}",
        after.len(),
        String::from_utf8_lossy(&after[..after.len().min(200)])
    );
    assert!(!dest.join(".elirepo-publish/state.json.tmp").exists());
    publish_keep_more(&demo, &dest, 2);
    let left = leftovers(&dest, &demo.repo());
    assert!(left.is_empty(), "left over:\n  {}", left.join("\n  "));
    assert!(!dest.join("pool/main/x/xs-tools-common").exists());
}

/// A publish killed with SIGKILL while its rsync runs: the rsync goes on, and
/// the destination's lock must stay taken until it is done, or the next
/// publish lists, plans and writes beside it. The killed publish's rsync is a
/// wrapper that waits for the test's word, so the overlap is certain.
#[test]
fn a_killed_publish_holds_the_lock_until_its_rsync_exits() {
    if !have_tools(&["rsync", "flock"]) {
        return;
    }
    let t = tempdir();
    let (demo, dest) = demo_published(t.path());
    demo.change(1);
    demo.build();

    let gate = t.path().join("gate");
    let bin = t.path().join("bin");
    std::fs::create_dir_all(&gate).unwrap();
    std::fs::create_dir_all(&bin).unwrap();
    let real = common::find_on_path("rsync").unwrap();
    let wrapper = bin.join("rsync");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\ntouch '{g}/started'\nwhile [ ! -e '{g}/go' ]; do sleep 0.05; done\nexec '{r}' \"$@\"\n",
            g = gate.display(),
            r = real.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut killed = elirepo()
        .env("PATH", path)
        .arg("publish")
        .arg(demo.repo())
        .arg(&dest)
        .arg("-q")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    while !gate.join("started").exists() {
        if let Some(status) = killed.try_wait().unwrap() {
            panic!("the publish ended ({status}) before its rsync started");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    killed.kill().unwrap();
    killed.wait().unwrap();
    // Its rsync still runs (waiting at the gate): the destination is still locked.
    let during = output_of(
        elirepo()
            .arg("publish")
            .arg(demo.repo())
            .arg(&dest)
            .arg("--no-wait")
            .arg("-q"),
    );
    std::fs::write(gate.join("go"), b"").unwrap();
    assert_eq!(
        during.status.code(),
        Some(2),
        "a publish ran while the killed one's rsync was still running: {}",
        common::both(&during)
    );
    assert!(
        String::from_utf8_lossy(&during.stderr).contains("another elirepo publish holds"),
        "{}",
        common::both(&during)
    );
    // Once it is done, a publish completes and leaves what a complete one leaves.
    json(&publish(&demo.repo(), &dest));
    publish_keep_more(&demo, &dest, 2);
    let left = leftovers(&dest, &demo.repo());
    assert!(left.is_empty(), "left over:\n  {}", left.join("\n  "));
}

/// What a publish killed together with its rsync (SIGKILL to the whole group)
/// leaves, made by hand: rsync's temporary beside a pool file, a switch link
/// never renamed, a generation directory never completed. The next publish,
/// with nothing else to do, removes them and only them.
#[test]
fn the_next_publish_removes_a_killed_publish_s_temporaries() {
    if !have_tools(&["rsync"]) {
        return;
    }
    let t = tempdir();
    let (demo, dest) = demo_published(t.path());
    let pool_tmp = "pool/main/x/xe-guest-utilities/.xe-guest-utilities_5.6.0-578_amd64.deb.Ab12Cd";
    std::fs::write(dest.join(pool_tmp), b"part of a .deb").unwrap();
    std::os::unix::fs::symlink(
        ".generations/lenny/0123456789abcdef",
        dest.join("dists/.lenny.switch"),
    )
    .unwrap();
    let gen_tmp = dest.join("dists/.generations/lenny/.tmp-0123456789abcdef/main");
    std::fs::create_dir_all(&gen_tmp).unwrap();
    std::fs::write(gen_tmp.join("Release"), b"part").unwrap();
    // A file of the user's that looks like none of them stays.
    std::fs::write(dest.join(".htaccess"), b"Options -Indexes\n").unwrap();
    let before = leftovers(&dest, &demo.repo());
    assert_eq!(before.len(), 5, "{before:?}");

    let r = json(&publish(&demo.repo(), &dest));
    assert_eq!(r["sent"]["count"], 0, "{r}");
    let left = leftovers(&dest, &demo.repo());
    assert_eq!(
        left,
        ["temporary: .htaccess"],
        "the publish left or removed other files"
    );
    std::fs::remove_file(dest.join(".htaccess")).unwrap();
    // Done: the next publish has nothing to do.
    let again = json(&publish(&demo.repo(), &dest));
    assert_eq!(again["deleted"]["count"], 0, "{again}");
    assert_eq!(
        again["deleted_generations"],
        serde_json::json!([]),
        "{again}"
    );
}
