//! `elirepo publish s3://...` against a real S3-compatible server (moto, with
//! SigV4 checked), read back over plain http like a website endpoint.

mod common;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::apt::Apt;
use common::publish::{changed, client_view, demo_images, json, verify_served, Demo, Poller};
use common::s3server::S3Server;
use common::{assert_failed_cleanly, elirepo, output_of, tempdir, Rng};

fn publish_cmd(s3: &S3Server, repo: &Path, secret: &str, extra: &[&str]) -> Command {
    let mut c = elirepo();
    c.arg("publish")
        .arg(repo)
        .arg(format!("s3://{}/", s3.bucket))
        .args(["--endpoint", &s3.endpoint])
        .args(extra)
        .env("AWS_ACCESS_KEY_ID", &s3.key)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .env("HOME", "/nonexistent");
    c
}

fn publish(s3: &S3Server, repo: &Path, secret: &str, extra: &[&str]) -> Output {
    output_of(publish_cmd(s3, repo, secret, extra).args(["--json", "-q"]))
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A key's bytes as the website endpoint serves them (None: 404).
fn get(s3: &S3Server, key: &str) -> Option<Vec<u8>> {
    let r = ureq::get(&format!("{}{key}", s3.website)).call().ok()?;
    let mut v = Vec::new();
    r.into_reader().read_to_end(&mut v).ok()?;
    Some(v)
}

/// Polls `cond` until it holds or `child` has exited.
fn wait_for(child: &mut std::process::Child, mut cond: impl FnMut() -> bool) {
    while child.try_wait().unwrap().is_none() {
        if cond() {
            return;
        }
    }
}

/// The publish state as the website endpoint serves it.
fn state(s3: &S3Server) -> serde_json::Value {
    let body = ureq::get(&format!("{}.elirepo-publish/state.json", s3.website))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    serde_json::from_str(&body).unwrap()
}

/// Every object of the bucket is known to the publish state (nothing left
/// behind by a killed publish), but the state and lock themselves.
fn no_orphans(s3: &S3Server) {
    let st = state(s3);
    for line in s3.objects() {
        let key = line.split(' ').next().unwrap();
        if !key.starts_with(".elirepo-publish/") {
            assert!(
                st["files"].get(key).is_some(),
                "{key} is in the bucket but not in the publish state"
            );
        }
    }
}

#[test]
fn s3_publish_signed_locked_incremental_and_consistent() {
    let Some(s3) = S3Server::start() else { return };
    let t = tempdir();
    let demo = Demo::new(t.path());
    demo.build();

    // A wrong secret is refused (so a signing bug would fail this test): exit 2, nothing written.
    let bad = publish(&s3, &demo.repo(), "wrong-secret", &[]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(
        stderr(&bad).contains("SignatureDoesNotMatch"),
        "{}",
        stderr(&bad)
    );
    assert!(s3.objects().is_empty(), "{:?}", s3.objects());

    let first = json(&publish(&s3, &demo.repo(), &s3.secret, &[]));
    let files = first["sent"]["count"].as_u64().unwrap();
    assert_eq!(files as usize, client_view(&demo.repo()).len(), "{first}");
    let apt = Apt::over_url(&s3.website, "lenny", Some(&demo.keyring()));
    apt.update_clean();
    let got = apt.download(&["xe-guest-utilities:i386", "xs-tools-common"]);
    assert_eq!(got.len(), 2);
    let inputs = demo.deb_bytes();
    for (name, bytes) in &got {
        assert_eq!(Some(bytes), inputs.get(name), "{name}");
    }
    common::publish::poll_once(&ureq::agent(), &s3.website, &[demo_images(&demo.repo())]).unwrap();
    verify_served(&s3.website, &demo);
    // Headers per path, so that a CDN can sit in front.
    let head = |p: &str| ureq::head(&format!("{}{p}", s3.website)).call().unwrap();
    let pool = head("pool/main/x/xs-tools-common/xs-tools-common_5.6.0-578_all.deb");
    assert_eq!(
        pool.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(
        pool.header("content-type"),
        Some("application/vnd.debian.binary-package")
    );
    assert_eq!(
        head("dists/lenny/InRelease").header("cache-control"),
        Some("public, max-age=60, must-revalidate")
    );

    // Nothing changed: zero uploads, zero deletions, the bucket as it was.
    let objects = s3.objects();
    let again = json(&publish(&s3, &demo.repo(), &s3.secret, &[]));
    assert_eq!(again["sent"]["count"], 0, "{again}");
    assert_eq!(again["deleted"]["count"], 0, "{again}");
    assert_eq!(s3.objects(), objects);
    eprintln!(
        "S3 demo: first {} files {} bytes {} requests; no-change rerun {} requests",
        files, first["sent"]["bytes"], first["requests"], again["requests"]
    );

    // One new package: that .deb, the changed indexes and Release files, nothing else.
    let before = client_view(&demo.repo());
    demo.change(1);
    demo.build();
    let want = changed(&before, &client_view(&demo.repo()));
    assert!(
        want.iter().any(|p| p.ends_with("extra1_1.1_all.deb"))
            && want.iter().all(|p| !p.contains("/current/")),
        "{want:?}"
    );
    let r = json(&publish(&s3, &demo.repo(), &s3.secret, &[]));
    let mut sent: Vec<String> = r["sent"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    // Sent in passes: the pool first, InRelease after the indexes, and so on.
    let pos = |p: &str| sent.iter().position(|x| x == p).unwrap();
    assert!(
        pos("pool/main/e/extra1/extra1_1.1_all.deb")
            < pos("dists/lenny/main/binary-amd64/Packages.xz")
    );
    assert!(pos("dists/lenny/main/binary-amd64/Packages.xz") < pos("dists/lenny/Release.gpg"));
    assert!(
        pos("dists/lenny/Release.gpg") < pos("dists/lenny/Release")
            && pos("dists/lenny/Release") < pos("dists/lenny/InRelease")
    );
    sent.sort();
    assert_eq!(sent, want, "{r}");

    // A new kernel: its bytes are uploaded once, into the new versioned netboot
    // directory; current/ gets them by a copy inside the store, with its own headers.
    demo.change_kernel(1);
    demo.build();
    let r = json(&publish(&s3, &demo.repo(), &s3.secret, &[]));
    let cur = "dists/lenny/main/installer-amd64/current/images/netboot/xen/vmlinuz";
    let kernel = std::fs::metadata(demo.repo().join(cur)).unwrap().len();
    assert!(
        r["sent"]["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == cur),
        "{r}"
    );
    let (sent_bytes, up_bytes) = (
        r["sent"]["bytes"].as_u64().unwrap(),
        r["transferred"]["bytes"].as_u64().unwrap(),
    );
    assert!(
        up_bytes + kernel <= sent_bytes,
        "the kernel was uploaded twice: {r}"
    );
    let h = head(cur);
    assert_eq!(
        h.header("cache-control"),
        Some("public, max-age=60, must-revalidate")
    );
    assert_eq!(h.header("content-type"), Some("application/octet-stream"));
    assert_eq!(
        common::publish::poll_once(&ureq::agent(), &s3.website, &[demo_images(&demo.repo())]),
        Ok(())
    );
    verify_served(&s3.website, &demo);

    // Republishes with the poller reading: no mismatch.
    let poller = Poller::start(&s3.website, demo_images(&demo.repo()));
    for n in 2..=4 {
        demo.change(n);
        demo.build();
        let r = json(&publish(&s3, &demo.repo(), &s3.secret, &["--jobs", "8"]));
        eprintln!(
            "S3 demo: republish {n}: {} files {} bytes, {} deleted, {} requests",
            r["sent"]["count"], r["sent"]["bytes"], r["deleted"]["count"], r["requests"]
        );
    }
    poller.finish_consistent();
    no_orphans(&s3);
}

#[test]
fn s3_lock_held_no_wait_exits_2_and_an_expired_lock_is_taken_over() {
    let Some(s3) = S3Server::start() else { return };
    let t = tempdir();
    let demo = Demo::new(t.path());
    demo.build();
    json(&publish(&s3, &demo.repo(), &s3.secret, &[]));
    demo.change(1);
    demo.build();

    // Another publish holds the lock: --no-wait fails at once naming it, nothing changed.
    s3.put_lock("ci-job-7@runner pid 42", 600);
    let before = s3.objects();
    let o = publish(&s3, &demo.repo(), &s3.secret, &["--no-wait"]);
    assert_failed_cleanly(&o, "publish --no-wait on a held lock");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("another elirepo publish holds the lock (ci-job-7@runner pid 42"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        s3.objects(),
        before,
        "a locked-out publish changed the bucket"
    );

    // Without --no-wait it waits; still nothing changed while it waits.
    let mut waiting = publish_cmd(&s3, &demo.repo(), &s3.secret, &["--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        waiting.try_wait().unwrap(),
        None,
        "the publish did not wait for the lock"
    );
    assert_eq!(s3.objects(), before, "a waiting publish changed the bucket");
    let _ = waiting.kill();
    let _ = waiting.wait();

    // The holder died long ago (its lock expired): taken over with a warning, then released.
    s3.put_lock("ci-job-7@runner pid 42", -5);
    let o = output_of(&mut publish_cmd(&s3, &demo.repo(), &s3.secret, &["--json"]));
    let r = json(&o);
    assert!(
        stderr(&o).contains("took over an expired lock of ci-job-7@runner pid 42"),
        "{}",
        stderr(&o)
    );
    assert!(
        r["sent"]["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "pool/main/e/extra1/extra1_1.1_all.deb"),
        "{r}"
    );
    assert!(
        s3.objects()
            .iter()
            .all(|o| !o.starts_with(".elirepo-publish/lock ")),
        "the lock was not released"
    );
    verify_served(&s3.website, &demo);
}

#[test]
fn s3_kill9_then_rerun_completes_and_the_poller_never_sees_a_mismatch() {
    let Some(s3) = S3Server::start() else { return };
    let t = tempdir();
    let demo = Demo::new(t.path());
    demo.build();
    // A short lock validity: the rerun after a kill -9 takes the dead publish's
    // lock over within seconds (the lock is renewed every third of it meanwhile).
    let config = t.path().join("publish.toml");
    std::fs::write(&config, "[publish]\nlock-ttl = 3\n").unwrap();
    let cfg = ["--config", config.to_str().unwrap(), "--jobs", "8"];
    json(&publish(&s3, &demo.repo(), &s3.secret, &cfg));
    let poller = Poller::start(&s3.website, demo_images(&demo.repo()));
    let mut rng = Rng::new(common::seed_from_env(33));
    let rounds = if std::env::var("ELIREPO_SLOW_TESTS").as_deref() == Ok("1") {
        12
    } else {
        4
    };
    let mut took_over = 0;
    for n in 1..=rounds {
        demo.change(n);
        if n % 2 == 1 {
            demo.change_kernel(n);
        }
        demo.build();
        poller.allow(demo_images(&demo.repo()));
        // kill -9 once the new .deb is in the bucket (mid pool pass), once the
        // new InRelease is (before current/ and the deletions), or at a random moment.
        let old_inrelease = get(&s3, "dists/lenny/InRelease");
        let deb = format!("pool/main/e/extra{n}/extra{n}_1.{n}_all.deb");
        let mut child = publish_cmd(&s3, &demo.repo(), &s3.secret, &cfg)
            .arg("-q")
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        match n % 3 {
            1 => wait_for(&mut child, || get(&s3, &deb).is_some()),
            2 => wait_for(&mut child, || {
                get(&s3, "dists/lenny/InRelease") != old_inrelease
            }),
            _ => std::thread::sleep(Duration::from_millis(rng.below(600) as u64)),
        }
        let _ = child.kill();
        let status = child.wait().unwrap();
        let lock_left = s3
            .objects()
            .iter()
            .any(|o| o.starts_with(".elirepo-publish/lock "));
        if n % 2 == 0 {
            // The repository changes again before the rerun: what the killed
            // publish sent of the previous one must not be left behind.
            demo.change(100 + n);
            demo.build();
            poller.allow(demo_images(&demo.repo()));
        }
        let o = output_of(publish_cmd(&s3, &demo.repo(), &s3.secret, &cfg).arg("--json"));
        json(&o);
        // A killed publish's lock is taken over once expired, with a warning.
        assert_eq!(
            stderr(&o).contains("took over an expired lock"),
            lock_left,
            "{status}: {}",
            stderr(&o)
        );
        took_over += usize::from(lock_left);
    }
    // Complete: a rerun has nothing left to do.
    let again = json(&publish(&s3, &demo.repo(), &s3.secret, &cfg));
    assert_eq!(
        (
            again["sent"]["count"].as_u64(),
            again["deleted"]["count"].as_u64()
        ),
        (Some(0), Some(0)),
        "{again}"
    );
    let (polls, pairs) = poller.finish_consistent();
    // S3 has no rename: eliloader's two current/ objects are uploaded together,
    // last, and a client between the two uploads can meet a mixed pair (README).
    eprintln!("S3 kill -9: {polls} poller rounds, {} eliloader pair windows seen, {took_over} expired locks taken over", pairs.len());
    assert_eq!(
        common::publish::poll_once(&ureq::agent(), &s3.website, &[demo_images(&demo.repo())]),
        Ok(())
    );
    verify_served(&s3.website, &demo);
    no_orphans(&s3);
}

#[test]
fn s3_multipart_upload_round_trips() {
    let Some(s3) = S3Server::start() else { return };
    let t = tempdir();
    let demo = Demo::new(t.path());
    // 11 MiB of incompressible bytes: with a 5 MiB threshold, 3 parts (5, 5, 1 MiB).
    demo.add_big("bigpkg", 11);
    demo.build();
    let config = t.path().join("publish.toml");
    std::fs::write(&config, "[publish]\nmultipart-threshold = 5242880\n").unwrap();
    let cfg = ["--config", config.to_str().unwrap()];
    json(&publish(&s3, &demo.repo(), &s3.secret, &cfg));
    let key = "pool/main/b/bigpkg/bigpkg_1_all.deb";
    let line = s3
        .objects()
        .into_iter()
        .find(|o| o.starts_with(key))
        .expect("the big .deb is in the bucket");
    assert!(
        line.ends_with("-3\""),
        "not a 3-part multipart upload: {line}"
    );
    let input = std::fs::read(t.path().join("demo/debs/bigpkg_1_all.deb")).unwrap();
    assert!(input.len() > 11 << 20);
    let mut got = Vec::new();
    Read::read_to_end(
        &mut ureq::get(&format!("{}{key}", s3.website))
            .call()
            .unwrap()
            .into_reader()
            .take(64 << 20),
        &mut got,
    )
    .unwrap();
    assert!(
        got == input,
        "the downloaded bytes differ ({} vs {} bytes)",
        got.len(),
        input.len()
    );
    let apt = Apt::over_url(&s3.website, "lenny", Some(&demo.keyring()));
    apt.update_clean();
    assert!(apt.download(&["bigpkg"]).get("bigpkg_1_all.deb") == Some(&input));
    // A multipart ETag is no MD5: the state's stamp says it is in place.
    let again = json(&publish(&s3, &demo.repo(), &s3.secret, &cfg));
    assert_eq!(again["sent"]["count"], 0, "{again}");
}

#[test]
fn s3_unknown_bucket_or_unreachable_endpoint_exit_2() {
    let Some(s3) = S3Server::start() else { return };
    let t = tempdir();
    let demo = Demo::new(t.path());
    demo.build();
    let o = output_of(
        elirepo()
            .arg("publish")
            .arg(demo.repo())
            .arg("s3://no-such-bucket/debian")
            .args(["--endpoint", &s3.endpoint])
            .env("AWS_ACCESS_KEY_ID", &s3.key)
            .env("AWS_SECRET_ACCESS_KEY", &s3.secret)
            .env("HOME", "/nonexistent"),
    );
    assert_failed_cleanly(&o, "publish to an unknown bucket");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("s3://no-such-bucket/") && stderr(&o).contains("NoSuchBucket"),
        "{}",
        stderr(&o)
    );
    assert!(s3.objects().is_empty());

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let o = output_of(
        elirepo()
            .arg("publish")
            .arg(demo.repo())
            .arg(format!("s3://{}/", s3.bucket))
            .args(["--endpoint", &format!("http://127.0.0.1:{closed}")])
            .env("AWS_ACCESS_KEY_ID", &s3.key)
            .env("AWS_SECRET_ACCESS_KEY", &s3.secret)
            .env("HOME", "/nonexistent"),
    );
    assert_failed_cleanly(&o, "publish to a closed port");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(&format!("127.0.0.1:{closed}"))
            && stderr(&o).to_lowercase().contains("connection refused"),
        "{}",
        stderr(&o)
    );
}

/// The commands of the README's CI examples (scripts/ci/gitlab-ci.yml's job
/// script, scripts/ci/github-actions.yml's `run` steps), run as written with
/// the variables pointed at moto: they build, publish and verify the served
/// URL; a second pipeline with nothing new publishes nothing.
#[test]
fn the_ci_examples_build_publish_and_verify() {
    let Some(s3) = S3Server::start() else { return };
    if Command::new("python3")
        .args(["-c", "import yaml"])
        .output()
        .map(|o| !o.status.success())
        .unwrap_or(true)
    {
        common::skip("python3-yaml is not installed");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_elirepo"))
        .parent()
        .unwrap()
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let extract = r#"
import json, sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
if "publish" in d and "script" in d["publish"]:
    print(json.dumps({"env": d["variables"], "steps": d["publish"]["script"], "shell": "sh"}))
else:
    print(json.dumps({"env": d["env"], "steps": [s["run"] for s in d["jobs"]["publish"]["steps"] if "run" in s], "shell": "bash"}))
"#;
    for (file, prefix) in [
        ("scripts/ci/gitlab-ci.yml", "gl"),
        ("scripts/ci/github-actions.yml", "gh"),
    ] {
        let t = tempdir();
        let work = t.path().join("project");
        assert!(output_of(
            Command::new("cp")
                .arg("-a")
                .arg(common::fixtures_dir().join("demo"))
                .arg(&work)
        )
        .status
        .success());
        let o = output_of(
            Command::new("python3")
                .arg("-c")
                .arg(extract)
                .arg(root.join(file)),
        );
        assert!(o.status.success(), "{file}: {}", stderr(&o));
        let job: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let steps: Vec<&str> = job["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        assert!(
            steps
                .iter()
                .any(|s| s.contains("elirepo publish public \"$PUBLISH_TO\"")),
            "{file}: {steps:?}"
        );
        assert!(
            steps
                .iter()
                .any(|s| s.contains("elirepo verify \"$REPO_URL\"")),
            "{file}: {steps:?}"
        );
        let key = common::fixtures_dir().join("demo/demo-signing-key.asc");
        for pipeline in 1..=2 {
            for step in &steps {
                let mut c = Command::new(job["shell"].as_str().unwrap());
                c.arg("-e").arg("-c").arg(step).current_dir(&work);
                for (k, v) in job["env"].as_object().unwrap() {
                    c.env(k, v.as_str().unwrap());
                }
                // What the CI settings and the site would give.
                c.env("PATH", &path)
                    .env("SUITE", "lenny")
                    .env("PUBLISH_TO", format!("s3://{}/{prefix}", s3.bucket))
                    .env("AWS_ENDPOINT_URL", &s3.endpoint)
                    .env("AWS_ACCESS_KEY_ID", &s3.key)
                    .env("AWS_SECRET_ACCESS_KEY", &s3.secret)
                    .env("HOME", "/nonexistent")
                    .env("REPO_URL", format!("{}{prefix}/", s3.website))
                    .env("KEYRING", "public/elirepo-demo-archive-keyring.gpg")
                    .env("RUNNER_TEMP", t.path());
                if file.contains("gitlab") {
                    c.env("ELIREPO_SIGNING_KEY", &key);
                } else {
                    c.env(
                        "ELIREPO_SIGNING_KEY",
                        std::fs::read_to_string(&key).unwrap(),
                    );
                }
                let o = output_of(&mut c);
                assert!(
                    o.status.success(),
                    "{file}, pipeline {pipeline}: `{step}` failed: {}",
                    stderr(&o)
                );
            }
            let report: serde_json::Value =
                serde_json::from_slice(&std::fs::read(work.join("publish-report.json")).unwrap())
                    .unwrap();
            if pipeline == 2 {
                assert_eq!(
                    report["sent"]["count"], 0,
                    "{file}: a pipeline with nothing new sent {report}"
                );
            } else {
                assert!(report["sent"]["count"].as_u64().unwrap() > 30, "{report}");
            }
            let verified: serde_json::Value =
                serde_json::from_slice(&std::fs::read(work.join("verify-report.json")).unwrap())
                    .unwrap();
            assert!(verified.to_string().contains("lenny"), "{verified}");
        }
        assert!(
            !t.path().join("signing-key.asc").exists(),
            "the key file was left in RUNNER_TEMP"
        );
    }
}
