//! `elirepo publish USER@HOST:PATH` over the real `ssh` and `rsync` to a real
//! `sshd` on 127.0.0.1 (tests/common/sshd.rs), the destination directory served
//! by a real HTTP server and read by apt-get, eliloader's URLs, `elirepo verify`
//! and a poller during republishes and kill -9s.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::apt::Apt;
use common::publish::{changed, client_view, demo_images, json, verify_served, Demo, Poller};
use common::sshd::Sshd;
use common::{
    assert_failed_cleanly, elirepo, have_tools, output_of, snapshot_tree, tempdir, Rng, Server,
};

fn publish_cmd(rsh: &str, repo: &Path, dest: &str) -> Command {
    let mut c = elirepo();
    c.arg("publish")
        .arg(repo)
        .arg(dest)
        .args(["--rsh", rsh])
        .arg("-q");
    c
}

fn publish(sshd: &Sshd, repo: &Path, dest: &Path, extra: &[&str]) -> Output {
    let dest = format!("{}:{}", sshd.target, dest.display());
    output_of(
        publish_cmd(&sshd.rsh(), repo, &dest)
            .arg("--json")
            .args(extra),
    )
}

#[test]
fn ssh_publish_serves_apt_and_eliloader_and_is_incremental() {
    if !have_tools(&["apt-get", "gpgv", "python3"]) {
        return;
    }
    let Some(sshd) = Sshd::start() else { return };
    let t = tempdir();
    let demo = Demo::new(t.path());
    demo.build();
    let dest = t.path().join("www");

    let first = json(&publish(&sshd, &demo.repo(), &dest, &[]));
    // The pool (4 .debs) and the keyring as files; dists/lenny as one generation.
    assert_eq!(first["sent"]["count"], 5, "{first}");
    assert_eq!(first["generations"].as_array().unwrap().len(), 1, "{first}");
    assert!(!dest.join(".elirepo").exists(), ".elirepo/ was sent");
    assert!(dest.join(".elirepo-publish/state.json").is_file());
    assert!(std::fs::symlink_metadata(dest.join("dists/lenny"))
        .unwrap()
        .file_type()
        .is_symlink());

    let server = Server::http(&dest);
    let apt = Apt::over_url(&server.base, "lenny", Some(&demo.keyring()));
    apt.update_clean();
    let got = apt.download(&[
        "xe-guest-utilities:amd64",
        "xs-tools-common",
        "linux-image-2.6-xen:i386",
    ]);
    assert_eq!(got.len(), 3);
    let inputs = demo.deb_bytes();
    for (name, bytes) in &got {
        assert_eq!(Some(bytes), inputs.get(name), "{name}");
    }
    common::publish::poll_once(&ureq::agent(), &server.base, &[demo_images(&demo.repo())]).unwrap();
    verify_served(&server.base, &demo);

    // Nothing changed: nothing sent, switched or deleted; not one file of the
    // destination touched (sizes, mtimes in ns, inodes, link targets).
    let before = snapshot_tree(&dest);
    let again = json(&publish(&sshd, &demo.repo(), &dest, &[]));
    assert_eq!(again["sent"]["count"], 0, "{again}");
    assert_eq!(again["sent"]["bytes"], 0, "{again}");
    assert_eq!(again["deleted"]["count"], 0, "{again}");
    assert_eq!(again["generations"].as_array().unwrap().len(), 0, "{again}");
    assert_eq!(again["transferred"]["files"], 0, "{again}");
    assert_eq!(
        snapshot_tree(&dest),
        before,
        "a no-change publish changed the destination"
    );

    // One new package, given as ssh://USER@HOST:PORT/PATH: that .deb and a new
    // generation (its unchanged files hard-linked to the previous one).
    let before = client_view(&demo.repo());
    demo.change(1);
    demo.build();
    let want = changed(&before, &client_view(&demo.repo()));
    let url = format!("ssh://{}:{}{}", sshd.target, sshd.port, dest.display());
    let third = json(&output_of(
        publish_cmd(&sshd.rsh_without_port(), &demo.repo(), &url).arg("--json"),
    ));
    assert_eq!(
        third["sent"]["files"],
        serde_json::json!(["pool/main/e/extra1/extra1_1.1_all.deb"]),
        "{third}"
    );
    // What rsync really sent: the .deb and the changed files of the generation
    // (indexes, by-hash objects, Release files); the rest hard-linked.
    assert_eq!(
        third["transferred"]["files"].as_u64(),
        Some(want.len() as u64),
        "{third}\nchanged: {want:?}"
    );
    let gens = third["generations"].as_array().unwrap();
    assert_eq!(gens.len(), 1, "{third}");
    assert!(gens[0]["link_dest"].is_string(), "{third}");
    assert_eq!(third["deleted"]["count"], 0, "{third}");
    let apt = Apt::over_url(&server.base, "lenny", Some(&demo.keyring()));
    apt.update_clean();
    let got = apt.download(&["extra1"]);
    assert_eq!(
        got.get("extra1_1.1_all.deb"),
        demo.deb_bytes().get("extra1_1.1_all.deb")
    );
    verify_served(&server.base, &demo);
    // A Release that did not change is the same file (hard link) in both generations.
    let gens_dir = dest.join("dists/.generations/lenny");
    let ids: Vec<_> = std::fs::read_dir(&gens_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    use std::os::unix::fs::MetadataExt;
    let k = "main/installer-amd64/current/images/netboot/xen/vmlinuz";
    let inode = |d: &Path| std::fs::metadata(d.join(k)).unwrap().ino();
    assert_eq!(
        inode(&ids[0]),
        inode(&ids[1]),
        "the unchanged kernel was copied, not linked"
    );

    // --dry-run lists, changes nothing.
    let before = snapshot_tree(&dest);
    let dry = json(&publish(&sshd, &demo.repo(), &dest, &["--dry-run"]));
    assert_eq!(dry["sent"]["count"], 0, "{dry}");
    assert_eq!(snapshot_tree(&dest), before);
}

#[test]
fn ssh_republish_and_kill9_never_show_a_mismatch_and_the_lock_holds() {
    if !have_tools(&["python3"]) {
        return;
    }
    let Some(sshd) = Sshd::start() else { return };
    let t = tempdir();
    let demo = Demo::new(t.path());
    demo.build();
    let dest = t.path().join("www");
    json(&publish(&sshd, &demo.repo(), &dest, &[]));
    let server = Server::http(&dest);

    // Another publish holds the lock: --no-wait fails at once, exit 2, nothing changed.
    let mut holder = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "exec {} {} \"flock {}/.elirepo-publish/lock sh -c 'echo held; exec cat >/dev/null'\"",
            sshd.rsh(),
            sshd.target,
            dest.display()
        ))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(holder.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "held");
    demo.change(1);
    demo.build();
    let before = snapshot_tree(&dest);
    let locked = publish(&sshd, &demo.repo(), &dest, &["--no-wait"]);
    assert_eq!(
        locked.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&locked.stderr)
    );
    assert!(
        String::from_utf8_lossy(&locked.stderr).contains("another elirepo publish holds"),
        "{}",
        String::from_utf8_lossy(&locked.stderr)
    );
    assert_eq!(
        snapshot_tree(&dest),
        before,
        "a locked-out publish changed the destination"
    );
    // Without --no-wait it waits for the holder, then publishes.
    let waiting = publish_cmd(
        &sshd.rsh(),
        &demo.repo(),
        &format!("{}:{}", sshd.target, dest.display()),
    )
    .arg("--json")
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        snapshot_tree(&dest),
        before,
        "a waiting publish changed the destination"
    );
    drop(holder.stdin.take());
    let _ = holder.wait();
    json(&waiting.wait_with_output().unwrap());

    // Republishes that add and remove packages, each first killed at a random
    // moment: the poller never sees a mismatch.
    let poller = Poller::start(&server.base, demo_images(&demo.repo()));
    let mut rng = Rng::new(common::seed_from_env(22));
    // The build keeps a removed package's file in its pool while one of its 3
    // generations names it, and the destination while one of its last 3 publishes
    // does: xs-tools-common (removed by change(1)) goes at the 4th of these rounds.
    let rounds = if std::env::var("ELIREPO_SLOW_TESTS").as_deref() == Ok("1") {
        10
    } else {
        4
    };
    for n in 2..2 + rounds {
        demo.change(n);
        if n % 2 == 1 {
            // A new kernel every other round: eliloader's pair changes.
            demo.change_kernel(n);
        }
        demo.build();
        poller.allow(demo_images(&demo.repo()));
        let mut child = publish_cmd(
            &sshd.rsh(),
            &demo.repo(),
            &format!("{}:{}", sshd.target, dest.display()),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
        std::thread::sleep(Duration::from_millis(rng.below(1500) as u64));
        let _ = child.kill();
        let _ = child.wait();
        json(&publish(&sshd, &demo.repo(), &dest, &[]));
    }
    // Complete: a rerun has nothing left to do.
    let again = json(&publish(&sshd, &demo.repo(), &dest, &[]));
    assert_eq!(
        (
            again["sent"]["count"].as_u64(),
            again["deleted"]["count"].as_u64()
        ),
        (Some(0), Some(0)),
        "{again}"
    );
    assert_eq!(again["generations"].as_array().unwrap().len(), 0, "{again}");
    let (polls, pairs) = poller.finish_consistent();
    // The switch is one rename: eliloader never meets a kernel with another publish's initrd.
    common::publish::assert_none_seen(&pairs, polls);
    assert_eq!(
        common::publish::poll_once(&ureq::agent(), &server.base, &[demo_images(&demo.repo())]),
        Ok(())
    );
    // No leftovers: no temporary generation, at most 3 generations, the old pool file gone.
    let gens: Vec<String> = std::fs::read_dir(dest.join("dists/.generations/lenny"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        gens.len() <= 3 && gens.iter().all(|g| !g.starts_with(".tmp")),
        "{gens:?}"
    );
    assert!(!dest.join("pool/main/x/xs-tools-common").exists());
    verify_served(&server.base, &demo);
}

#[test]
fn ssh_wrong_key_or_unreachable_host_exit_2_and_change_nothing() {
    let Some(sshd) = Sshd::start() else { return };
    let t = tempdir();
    let demo = Demo::new(t.path());
    demo.build();
    let dest = t.path().join("www");
    let target = format!("{}:{}", sshd.target, dest.display());

    // A key the server does not accept: exit 2, an error naming the destination and the refusal.
    let o = output_of(&mut publish_cmd(
        &sshd.rsh_with(&sshd.wrong_key()),
        &demo.repo(),
        &target,
    ));
    assert_failed_cleanly(&o, "publish with a wrong key");
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&target) && err.contains("Permission denied"),
        "{err}"
    );
    assert!(!dest.exists(), "a refused publish created the destination");

    // Published once, then a refused publish and an unreachable one change nothing.
    json(&publish(&sshd, &demo.repo(), &dest, &[]));
    demo.change(1);
    demo.build();
    let before = snapshot_tree(&dest);
    let o = output_of(&mut publish_cmd(
        &sshd.rsh_with(&sshd.wrong_key()),
        &demo.repo(),
        &target,
    ));
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("ssh://{}:{closed}{}", sshd.target, dest.display());
    let o = output_of(&mut publish_cmd(
        &sshd.rsh_without_port(),
        &demo.repo(),
        &url,
    ));
    assert_failed_cleanly(&o, "publish to a closed port");
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("Connection refused"), "{err}");
    assert_eq!(
        snapshot_tree(&dest),
        before,
        "a failed publish changed the destination"
    );
}
