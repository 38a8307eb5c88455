//! Writes the synthetic Xen PV kernels and initrds of the demo fixture.
//!
//! `cargo run --example synth_images -- KIND RELEASE OUT`, KIND one of
//! `pv-amd64` (a 64-bit PV kernel laid out like Debian's), `pv-i386` (a 32-bit PAE
//! PV kernel like XenServer's 2.6.32 ones), `initrd` (a gzip newc cpio carrying
//! `lib/modules/RELEASE/`). They are a few KiB, boot nothing, and pass every check
//! `elirepo kernel` makes. Used by `scripts/make-demo.sh`.

#[path = "../tests/common/synth.rs"]
#[allow(dead_code)]
mod synth;

use synth::*;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [kind, release, out] = &args[..] else {
        eprintln!("usage: synth_images pv-amd64|pv-i386|initrd RELEASE OUT");
        std::process::exit(2);
    };
    let version = Some(format!(
        "{release} (elirepo-demo@example.org) #1 SMP (synthetic)"
    ));
    let bytes = match kind.as_str() {
        "pv-amd64" => bzimage(
            &payload(Comp::Xz, &ElfSpec::amd64(&amd64_notes()).build()),
            &BzSpec {
                version,
                ..BzSpec::default()
            },
        ),
        "pv-i386" => bzimage(
            &payload(Comp::Gzip, &ElfSpec::i386(&pv32_notes(true)).build()),
            &BzSpec {
                efi_stub: false,
                protocol: 0x020a,
                version,
                ..BzSpec::default()
            },
        ),
        "initrd" => {
            let dep = format!("lib/modules/{release}/modules.dep");
            compress_raw(
                Comp::Gzip,
                &cpio_newc(&[
                    (
                        "init",
                        b"#!/bin/sh\necho synthetic initrd of the elirepo demo\n",
                    ),
                    (&dep, b""),
                ]),
            )
        }
        other => {
            eprintln!("synth_images: unknown kind {other:?}");
            std::process::exit(2);
        }
    };
    std::fs::write(out, bytes).unwrap_or_else(|e| {
        eprintln!("synth_images: {out}: {e}");
        std::process::exit(1);
    });
}
