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
    let demo = Demo::new(t.path());
    demo.build();
    let dest = t.path().join("www");
    json(&publish(&demo.repo(), &dest));
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
    let (polls, problems, pairs) = poller.finish();
    assert!(polls > 0);
    assert!(
        problems.is_empty(),
        "{} of {polls} rounds saw: {:?}",
        problems.len(),
        &problems[..problems.len().min(5)]
    );
    // The switch is one rename: eliloader never meets a kernel with another publish's initrd.
    assert!(
        pairs.is_empty(),
        "{} of {polls} rounds saw: {:?}",
        pairs.len(),
        &pairs[..pairs.len().min(5)]
    );
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
