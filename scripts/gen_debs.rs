//! Writes N small, distinct, valid .deb files for the benchmark's per-file corpus.
//!
//! `cargo run --release --example gen_debs -- DIR N [FIRST]`: packages FIRST (default 0)
//! to N-1 as `DIR/<letter>/<name>_1.0-<i>_<arch>.deb`,
//! a few hundred bytes each: a third `Architecture: all`,
//! one `Depends` each, control members gzip, xz and zstd in turn (data members gzip).
//! Uses the `ar` crate's writer (dpkg's member order and BSD-style names are what
//! dpkg-deb makes).

use std::io::Write;

fn tar(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut t = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_262_304_000);
        h.set_cksum();
        t.append_data(&mut h, name, &data[..]).unwrap();
    }
    t.into_inner().unwrap()
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

/// The control member of package `i`: `control.tar.gz`, `.xz` or `.zst` in turn.
fn control_member(i: usize, tar: &[u8]) -> (&'static str, Vec<u8>) {
    match i % 3 {
        0 => ("control.tar.gz", gz(tar)),
        1 => {
            let mut xz = xz2::write::XzEncoder::new(Vec::new(), 6);
            xz.write_all(tar).unwrap();
            ("control.tar.xz", xz.finish().unwrap())
        }
        _ => ("control.tar.zst", zstd::stream::encode_all(tar, 3).unwrap()),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(dir), Some(n)) = (
        args.first(),
        args.get(1).and_then(|n| n.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: gen_debs DIR N [FIRST]");
        std::process::exit(2);
    };
    let first = args
        .get(2)
        .and_then(|f| f.parse::<usize>().ok())
        .unwrap_or(0);
    for i in first..n {
        let name = format!("bench-{}{i}", (b'a' + (i % 26) as u8) as char);
        let arch = ["amd64", "i386", "all"][i % 3];
        let control = format!(
            "Package: {name}\nVersion: 1.0-{i}\nArchitecture: {arch}\nMaintainer: Bench <bench@example.org>\n\
             Installed-Size: 1\nSection: misc\nPriority: optional\nDepends: libc6 (>= 2.36)\n\
             Description: benchmark package {i}\n A small package of the elirepo benchmark corpus.\n"
        );
        // Arch cycles every 3, the control compression every 3 packages of an arch.
        let (control_name, control_tar) =
            control_member(i / 3, &tar(&[("./control", control.into_bytes())]));
        let data_tar = gz(&tar(&[(
            &format!("./usr/share/doc/{name}/README") as &str,
            format!("package {i}\n").into_bytes(),
        )]));
        let sub = std::path::Path::new(dir).join(&name[6..7]);
        std::fs::create_dir_all(&sub).unwrap();
        let file = std::fs::File::create(sub.join(format!("{name}_1.0-{i}_{arch}.deb"))).unwrap();
        let mut ar = ar::Builder::new(file);
        for (member, data) in [
            ("debian-binary", b"2.0\n".to_vec()),
            (control_name, control_tar),
            ("data.tar.gz", data_tar),
        ] {
            let mut h = ar::Header::new(member.as_bytes().to_vec(), data.len() as u64);
            h.set_mode(0o100644);
            h.set_mtime(1_262_304_000);
            ar.append(&h, &data[..]).unwrap();
        }
    }
}
