//! `elirepo publish s3://...` against a real S3-compatible server (moto, with
//! SigV4 checked), read back over plain http like a website endpoint.

mod common;

use common::apt::Apt;
use common::publish::{demo_images, json, Demo, Poller};
use common::s3server::S3Server;
use common::{elirepo, output_of, tempdir};

fn publish(s3: &S3Server, repo: &std::path::Path, secret: &str, extra: &[&str]) -> std::process::Output {
    output_of(
        elirepo()
            .arg("publish")
            .arg(repo)
            .arg(format!("s3://{}/", s3.bucket))
            .args(["--endpoint", &s3.endpoint, "--json", "-q"])
            .args(extra)
            .env("AWS_ACCESS_KEY_ID", &s3.key)
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .env_remove("AWS_PROFILE")
            .env("HOME", "/nonexistent"),
    )
}

#[test]
fn s3_publish_signed_locked_incremental_and_consistent() {
    let Some(s3) = S3Server::start() else { return };
    let t = tempdir();
    let demo = Demo::new(t.path());
    demo.build();

    // A wrong secret is refused (so a signing bug would fail this test): exit 2, nothing written.
    let bad = publish(&s3, &demo.repo(), "wrong-secret", &[]);
    assert_eq!(bad.status.code(), Some(2), "{}", String::from_utf8_lossy(&bad.stderr));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("SignatureDoesNotMatch"), "{}", String::from_utf8_lossy(&bad.stderr));
    assert_eq!(ureq::get(&format!("{}dists/lenny/InRelease", s3.website)).call().err().map(|e| matches!(e, ureq::Error::Status(404, _))), Some(true));

    let first = json(&publish(&s3, &demo.repo(), &s3.secret, &[]));
    let files = first["sent"]["count"].as_u64().unwrap();
    assert!(files > 30, "{first}");
    let apt = Apt::over_url(&s3.website, "lenny", Some(&demo.keyring()));
    apt.update_clean();
    let got = apt.download(&["xe-guest-utilities:i386"]);
    let inputs = demo.deb_bytes();
    for (name, bytes) in &got {
        assert_eq!(Some(bytes), inputs.get(name), "{name}");
    }
    let images = demo_images(&demo.repo());
    common::publish::poll_once(&ureq::agent(), &s3.website, &images).unwrap();
    let v = output_of(elirepo().arg("verify").arg(&s3.website).args(["--suite", "lenny"]).arg("--keyring").arg(demo.keyring()));
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));

    // Nothing changed: zero uploads, zero deletions.
    let again = json(&publish(&s3, &demo.repo(), &s3.secret, &[]));
    assert_eq!(again["sent"]["count"], 0, "{again}");
    assert_eq!(again["deleted"]["count"], 0, "{again}");
    eprintln!("S3 demo: first {} files {} bytes {} requests; no-change rerun {} requests", files, first["sent"]["bytes"], first["requests"], again["requests"]);

    // Republishes with the poller reading: no mismatch.
    let poller = Poller::start(&s3.website, images);
    for n in 1..=4 {
        demo.change(n);
        demo.build();
        let r = json(&publish(&s3, &demo.repo(), &s3.secret, &["--jobs", "8"]));
        eprintln!("S3 demo: republish {n}: {} files {} bytes, {} deleted, {} requests", r["sent"]["count"], r["sent"]["bytes"], r["deleted"]["count"], r["requests"]);
    }
    let (rounds, problems) = poller.finish();
    assert!(problems.is_empty(), "{} of {rounds} rounds saw: {:?}", problems.len(), &problems[..problems.len().min(5)]);
}
