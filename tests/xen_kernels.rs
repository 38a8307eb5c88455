//! End-to-end tests of `elirepo::xen` on synthetic kernels (built by `tests/common/synth.rs`),
//! plus `#[ignore]`d checks of real kernels named by environment variables:
//!
//! * `ELIREPO_REAL_KERNEL`: a Debian amd64 `vmlinuz`, must be PV-capable amd64;
//! * `ELIREPO_REAL_KERNEL_PVH`: a Debian 686-pae `vmlinuz`, must be PVH-only i386.
//!
//! `scripts/check-real-kernel.sh --library` downloads both and runs these.

mod common;
use common::synth;

use std::io::Cursor;
use std::path::Path;

use elirepo::xen::{
    inspect_kernel, inspect_kernel_with, Compression, Container, InspectOptions, KernelReport,
    NoteSource, NoteValue, Pae, Verdict, XenError,
};
use synth::*;

fn inspect(bytes: &[u8]) -> Result<KernelReport, XenError> {
    inspect_kernel(Cursor::new(bytes), Path::new("vmlinuz"))
}

fn ok(bytes: &[u8]) -> KernelReport {
    match inspect(bytes) {
        Ok(r) => r,
        Err(e) => panic!("unexpected error: {e}"),
    }
}

fn err(bytes: &[u8]) -> XenError {
    match inspect(bytes) {
        Ok(r) => panic!(
            "expected an error, got verdict {} ({:?})",
            r.verdict, r.reasons
        ),
        Err(e) => e,
    }
}

fn amd64_elf() -> Vec<u8> {
    ElfSpec::amd64(&amd64_notes()).build()
}

fn expected(c: Comp) -> Compression {
    match c {
        Comp::Gzip => Compression::Gzip,
        Comp::Bzip2 => Compression::Bzip2,
        Comp::Xz => Compression::Xz,
        Comp::Lzma => Compression::Lzma,
        Comp::Zstd => Compression::Zstd,
        Comp::Lz4 => Compression::Lz4Legacy,
    }
}

// ------------------------------------------------------------------------------------------
// Accepted kernels

#[test]
fn amd64_bzimage_every_compression_is_pv_capable() {
    let elf = amd64_elf();
    for c in ALL_COMPS {
        let r = ok(&bz(c, &elf));
        assert_eq!(r.verdict, Verdict::PvCapable, "{c:?}: {:?}", r.reasons);
        assert_eq!(r.container, Container::Bzimage);
        assert!(r.efi_stub);
        assert_eq!(r.boot_protocol.as_deref(), Some("2.15"));
        assert_eq!(r.release(), Some("6.1.0-99-amd64"));
        assert!(r
            .kernel_version
            .as_deref()
            .unwrap()
            .starts_with("6.1.0-99-amd64 (debian-kernel@"));
        assert_eq!(r.arch(), Some("amd64"));
        assert_eq!(r.bits(), Some(64));
        let p = r.payload.as_ref().unwrap();
        assert_eq!(p.compression, expected(c));
        assert_eq!(p.declared_size, elf.len() as u64);
        assert!(p.size_verified, "{c:?}");
        assert_eq!(p.decompressed_bytes, elf.len() as u64, "{c:?}");
        assert_eq!(p.passes, 1, "{c:?}");
        assert_eq!(p.trailing_bytes, Some(0), "{c:?}");
        assert_eq!(r.note_source, NoteSource::PtNote);
        assert_eq!(
            r.note(1).unwrap().value,
            NoteValue::Integer(AMD64_ENTRY),
            "{c:?}"
        );
        let x = r.xen.as_ref().unwrap();
        assert!(x.entry_note);
        assert_eq!(x.virt_entry, AMD64_ENTRY);
        assert_eq!(x.virt_kstart, 0xffff_ffff_8100_0000);
        assert_eq!(x.phys32_entry, Some(0x0100_0850));
        assert_eq!(
            r.elf.as_ref().unwrap().linux_build_salt.as_deref(),
            Some("6.1.0-99-amd64")
        );
        if matches!(c, Comp::Gzip | Comp::Xz) {
            assert!(r.warnings.is_empty(), "{c:?}: {:?}", r.warnings);
        } else {
            assert!(r.warnings.iter().any(|w| w.contains("gzip or xz are safe")));
        }
    }
}

#[test]
fn bzimage_without_efi_stub_and_without_version() {
    let spec = BzSpec {
        efi_stub: false,
        version: None,
        ..BzSpec::default()
    };
    let r = ok(&bzimage(&payload(Comp::Xz, &amd64_elf()), &spec));
    assert_eq!(r.verdict, Verdict::PvCapable);
    assert!(!r.efi_stub);
    assert_eq!(r.kernel_version, None);
    // Falls back to Linux's build-salt note.
    assert_eq!(r.release(), Some("6.1.0-99-amd64"));
}

#[test]
fn plain_elf_and_whole_file_gzip_elf() {
    let elf = amd64_elf();
    let r = ok(&elf);
    assert_eq!(r.container, Container::Elf);
    assert_eq!(r.verdict, Verdict::PvCapable);
    assert!(r.payload.is_none());

    let gz = compress_raw(Comp::Gzip, &elf);
    let r = ok(&gz);
    assert_eq!(r.container, Container::GzipElf);
    assert_eq!(r.verdict, Verdict::PvCapable);
    let p = r.payload.unwrap();
    assert_eq!(p.compression, Compression::Gzip);
    assert!(p.size_verified);
}

#[test]
fn pvh_only_32bit_like_686_pae() {
    let elf = ElfSpec::i386(&pvh32_notes()).build();
    let r = ok(&bz(Comp::Xz, &elf));
    assert_eq!(r.verdict, Verdict::PvhOnly, "{:?}", r.reasons);
    assert_eq!(r.arch(), Some("i386"));
    assert_eq!(r.bits(), Some(32));
    let x = r.xen.as_ref().unwrap();
    assert!(!x.entry_note);
    assert_eq!(x.phys32_entry, Some(0x0100_02e0));
    assert_eq!(x.pae, Pae::ExtendedCr3);
    assert!(r.reasons.iter().any(|s| s.contains("PVH-only")));
    // Refused kernels are not read to the end.
    assert!(!r.payload.as_ref().unwrap().size_verified);
}

#[test]
fn old_32bit_pae_pv_kernel_is_pv_capable() {
    let elf = ElfSpec::i386(&pv32_notes(true)).build();
    let r = ok(&bz(Comp::Gzip, &elf));
    assert_eq!(r.verdict, Verdict::PvCapable, "{:?}", r.reasons);
    assert_eq!(r.arch(), Some("i386"));
}

#[test]
fn non_pae_32bit_kernel_is_refused() {
    let elf = ElfSpec::i386(&pv32_notes(false)).build();
    let r = ok(&bz(Comp::Gzip, &elf));
    assert_eq!(r.verdict, Verdict::NotBootable);
    assert!(
        r.reasons.iter().any(|s| s.contains("without PAE")),
        "{:?}",
        r.reasons
    );
    assert_eq!(r.arch(), None);
}

#[test]
fn kernel_without_xen_support() {
    let mut spec = ElfSpec::amd64(&[]);
    spec.notes = Some(encode_notes(&[Note {
        name: b"GNU\0".to_vec(),
        ntype: 3,
        desc: vec![1; 20],
    }]));
    let r = ok(&bz(Comp::Xz, &spec.build()));
    assert_eq!(r.verdict, Verdict::NoXen);
    assert_eq!(r.note_source, NoteSource::None);
    assert!(r.notes.is_empty());
    assert!(r.xen.is_none());
    assert!(r.reasons[0].contains("Not a Xen-ELF image"));
    // The architecture is still known.
    assert_eq!(r.arch(), Some("amd64"));

    let mut spec = ElfSpec::amd64(&[]);
    spec.notes = None;
    assert_eq!(ok(&spec.build()).verdict, Verdict::NoXen);
}

#[test]
fn legacy_xen_guest_section() {
    let mut spec = ElfSpec::i386(&[]);
    spec.notes = None;
    spec.entry = 0xc010_0000;
    spec.loads = vec![(0xc010_0000, 0x40_0000)];
    spec.xen_guest = Some(
        "GUEST_OS=linux,GUEST_VER=2.6,XEN_VER=xen-3.0,VIRT_BASE=0xC0000000,\
         ELF_PADDR_OFFSET=0xC0000000,HYPERCALL_PAGE=0x104,LOADER=generic,\
         FEATURES=writable_page_tables|pae_pgdir_above_4gb,PAE=yes[extended-cr3]"
            .into(),
    );
    let elf = spec.build();
    for bytes in [
        elf.clone(),
        compress_raw(Comp::Gzip, &elf),
        bz(Comp::Bzip2, &elf),
    ] {
        let r = ok(&bytes);
        assert_eq!(r.note_source, NoteSource::XenGuest);
        assert!(r
            .guest_info
            .as_deref()
            .unwrap()
            .starts_with("GUEST_OS=linux,"));
        assert_eq!(r.verdict, Verdict::PvCapable, "{:?}", r.reasons);
        assert_eq!(r.arch(), Some("i386"));
        assert_eq!(r.xen.as_ref().unwrap().pae, Pae::ExtendedCr3);
    }

    // Legacy without PAE.
    spec.xen_guest = Some("GUEST_OS=linux,XEN_VER=xen-3.0,VIRT_BASE=0xC0000000".into());
    let r = ok(&spec.build());
    assert_eq!(r.verdict, Verdict::NotBootable);
}

#[test]
fn sht_note_fallback() {
    let mut spec = ElfSpec::amd64(&amd64_notes());
    spec.notes_in_phdr = false;
    spec.notes_in_section = true;
    let r = ok(&bz(Comp::Zstd, &spec.build()));
    assert_eq!(r.note_source, NoteSource::ShtNote);
    assert_eq!(r.verdict, Verdict::PvCapable, "{:?}", r.reasons);
}

#[test]
fn notes_far_in_and_program_headers_at_the_end() {
    let mut spec = ElfSpec::amd64(&amd64_notes());
    spec.filler = 3 << 20;
    spec.phdrs_at_end = true;
    let elf = spec.build();
    let r = ok(&bz(Comp::Xz, &elf));
    assert_eq!(r.verdict, Verdict::PvCapable);
    let p = r.payload.unwrap();
    // Headers at 0, the program header table at the end, then the notes behind it: a second
    // decompression pass, and the verification continues from there.
    assert_eq!(p.passes, 2);
    assert!(p.size_verified);
    assert!(p.decompressed_bytes > elf.len() as u64);
}

#[test]
fn quick_mode_stops_after_the_notes() {
    let mut spec = ElfSpec::amd64(&amd64_notes());
    spec.tail = 2 << 20;
    let elf = spec.build();
    let opts = InspectOptions {
        verify_payload: false,
    };
    let r = inspect_kernel_with(Cursor::new(bz(Comp::Gzip, &elf)), Path::new("k"), &opts).unwrap();
    assert_eq!(r.verdict, Verdict::PvCapable);
    let p = r.payload.unwrap();
    assert!(!p.size_verified);
    assert_eq!(p.trailing_bytes, None);
    assert!(p.decompressed_bytes < (1 << 20), "{}", p.decompressed_bytes);
    let text = format!("{}", ok(&bz(Comp::Gzip, &elf)));
    assert!(text.contains("(verified)"));
}

#[test]
fn xz_stream_followed_by_junk_inside_the_payload() {
    let elf = amd64_elf();
    let mut p = compress_raw(Comp::Xz, &elf);
    p.extend_from_slice(b"JUNKJUNK\x01");
    p.extend_from_slice(&(elf.len() as u32).to_le_bytes());
    let r = ok(&bzimage(&p, &BzSpec::default()));
    assert_eq!(r.verdict, Verdict::PvCapable);
    assert_eq!(r.payload.unwrap().trailing_bytes, Some(9));
}

#[test]
fn lz4_with_several_blocks_and_a_repeated_magic() {
    let mut spec = ElfSpec::amd64(&amd64_notes());
    spec.tail = 300_000;
    let elf = spec.build();
    let mut p = lz4_legacy(&elf[..100_000], 65536);
    p.extend_from_slice(&0x184C_2102u32.to_le_bytes());
    p.extend_from_slice(&lz4_legacy(&elf[100_000..], 65536)[4..]);
    p.extend_from_slice(&(elf.len() as u32).to_le_bytes());
    let r = ok(&bzimage(&p, &BzSpec::default()));
    assert_eq!(r.verdict, Verdict::PvCapable);
    assert!(r.payload.unwrap().size_verified);
}

// ------------------------------------------------------------------------------------------
// Xen's rules

fn with_notes(notes: Vec<Note>) -> KernelReport {
    ok(&bz(Comp::Gzip, &ElfSpec::amd64(&notes).build()))
}

fn replace(mut notes: Vec<Note>, ntype: u32, new: Option<Note>) -> Vec<Note> {
    notes.retain(|n| !(n.name == b"Xen\0" && n.ntype == ntype));
    notes.extend(new);
    notes
}

#[test]
fn features_requiring_dom0_or_unknown_features_are_refused() {
    let r = with_notes(replace(amd64_notes(), 10, Some(xen_str(10, "!dom0"))));
    assert_eq!(r.verdict, Verdict::NotBootable);
    assert!(r.reasons.iter().any(|s| s.contains("!dom0")));

    let r = with_notes(replace(
        amd64_notes(),
        10,
        Some(xen_str(10, "writable_page_tables|!quantum_entanglement")),
    ));
    assert_eq!(r.verdict, Verdict::NotBootable);
    assert!(r.reasons.iter().any(|s| s.contains("quantum_entanglement")));

    // Supported (not required) unknown features are fine, and so is "dom0" without "!".
    let r = with_notes(replace(
        amd64_notes(),
        10,
        Some(xen_str(10, "dom0|whatever|!pae_pgdir_above_4gb")),
    ));
    assert_eq!(r.verdict, Verdict::PvCapable, "{:?}", r.reasons);
}

#[test]
fn guest_os_loader_and_xen_version_rules() {
    // GUEST_OS not linux but LOADER generic: accepted.
    let r = with_notes(replace(amd64_notes(), 6, Some(xen_str(6, "Mini-OS"))));
    assert_eq!(r.verdict, Verdict::PvCapable);
    // Neither.
    let n = replace(
        replace(amd64_notes(), 6, Some(xen_str(6, "NetBSD"))),
        8,
        None,
    );
    let r = with_notes(n);
    assert_eq!(r.verdict, Verdict::NotBootable);
    assert!(r.reasons.iter().any(|s| s.contains("GUEST_OS")));
    // XEN_VERSION.
    let r = with_notes(replace(amd64_notes(), 5, Some(xen_str(5, "xen-4.0"))));
    assert_eq!(r.verdict, Verdict::NotBootable);
    let r = with_notes(replace(amd64_notes(), 5, None));
    assert_eq!(r.verdict, Verdict::NotBootable);
    // A later note of the same type wins, as in Xen.
    let mut n = amd64_notes();
    n.push(xen_str(5, "xen-2.0"));
    assert_eq!(with_notes(n).verdict, Verdict::NotBootable);
}

#[test]
fn address_sanity() {
    // ENTRY below the kernel.
    let r = with_notes(replace(amd64_notes(), 1, Some(xen_u64(1, 0x1000))));
    assert_eq!(r.verdict, Verdict::NotBootable);
    assert!(r.reasons.iter().any(|s| s.contains("out of bounds")));
    // VIRT_BASE above the kernel start.
    let r = with_notes(replace(
        amd64_notes(),
        3,
        Some(xen_u64(3, 0xffff_ffff_9000_0000)),
    ));
    assert_eq!(r.verdict, Verdict::NotBootable);
    // PADDR_OFFSET without VIRT_BASE.
    let r = with_notes(replace(amd64_notes(), 3, None));
    assert_eq!(r.verdict, Verdict::NotBootable);
    assert!(r.reasons.iter().any(|s| s.contains("VIRT_BASE is not")));
    // INIT_P2M inside the kernel.
    let r = with_notes(replace(
        amd64_notes(),
        15,
        Some(xen_u64(15, 0xffff_ffff_8200_0000)),
    ));
    assert_eq!(r.verdict, Verdict::NotBootable);
    // No loadable segment at all.
    let mut spec = ElfSpec::amd64(&amd64_notes());
    spec.loads.clear();
    assert_eq!(ok(&spec.build()).verdict, Verdict::NotBootable);
}

#[test]
fn no_entry_and_no_phys32_entry() {
    let n = replace(replace(amd64_notes(), 1, None), 18, None);
    let r = with_notes(n);
    assert_eq!(r.verdict, Verdict::NotBootable);
    assert!(r.reasons.iter().any(|s| s.contains("no ENTRY note")));
}

#[test]
fn non_x86_machine_is_refused() {
    let mut spec = ElfSpec::amd64(&amd64_notes());
    spec.machine = 183;
    let r = ok(&spec.build());
    assert_eq!(r.verdict, Verdict::NotBootable);
    assert_eq!(r.arch(), None);
    assert!(r.reasons.iter().any(|s| s.contains("aarch64")));
}

#[test]
fn boot_protocol_too_old_and_lzo() {
    let spec = BzSpec {
        protocol: 0x0206,
        ..BzSpec::default()
    };
    let r = ok(&bzimage(&payload(Comp::Gzip, &amd64_elf()), &spec));
    assert_eq!(r.verdict, Verdict::NotBootable);
    assert!(r.reasons[0].contains("2.06"));
    assert!(r.elf.is_none());

    let mut lzo = b"\x89LZO\x00\x0d\x0a\x1a\x0a".to_vec();
    lzo.extend_from_slice(&[0; 40]);
    lzo.extend_from_slice(&1000u32.to_le_bytes());
    let r = ok(&bzimage(&lzo, &BzSpec::default()));
    assert_eq!(r.verdict, Verdict::CannotCheck);
    assert_eq!(r.payload.as_ref().unwrap().compression, Compression::Lzo);
    assert_eq!(r.release(), Some("6.1.0-99-amd64"));
}

// ------------------------------------------------------------------------------------------
// Hostile and broken files: typed errors, no panics

#[test]
fn empty_and_garbage_files() {
    assert!(matches!(err(b""), XenError::NotAKernel { .. }));
    let e = err(&[0x42; 5000]);
    assert!(matches!(e, XenError::NotAKernel { .. }));
    assert!(
        e.to_string().starts_with("vmlinuz: not a kernel image"),
        "{e}"
    );
    // A whole-file xz is not something Xen unpacks.
    let e = err(&compress_raw(Comp::Xz, &amd64_elf()));
    assert!(e.to_string().contains("whole-file xz"), "{e}");
    // gzip of something that is not an ELF.
    let e = err(&compress_raw(Comp::Gzip, &[7u8; 3000]));
    assert!(matches!(e, XenError::NotAKernel { .. }), "{e}");
}

#[test]
fn truncated_bzimage() {
    let k = bz(Comp::Xz, &amd64_elf());
    for cut in [0x100, 0x300, k.len() / 2, k.len() - 100] {
        let e = err(&k[..cut]);
        assert!(
            matches!(e, XenError::NotAKernel { .. } | XenError::BadBzImage { .. }),
            "cut {cut}: {e}"
        );
    }
}

#[test]
fn corrupted_payloads() {
    let elf = amd64_elf();
    for c in ALL_COMPS {
        let mut k = bz(c, &elf);
        let start = payload_start(&BzSpec::default());
        let len = payload(c, &elf).len();
        // Smash the middle of the compressed stream.
        for b in &mut k[start + len / 3..start + len / 3 + 64] {
            *b ^= 0x5a;
        }
        match inspect(&k) {
            // Garbage output may be caught by the checksum, the size, or the ELF/note checks.
            Err(XenError::Io { .. }) => panic!("{c:?}: corruption reported as an I/O error"),
            Err(_) => {}
            // lz4 has no checksum: a corruption inside the filler can survive, but then the
            // size and the notes were still right.
            Ok(r) => assert!(
                c == Comp::Lz4 && r.payload.unwrap().size_verified,
                "{c:?}: corruption went unnoticed"
            ),
        }
    }
}

#[test]
fn lying_size_trailers() {
    let elf = amd64_elf();
    for c in [Comp::Xz, Comp::Bzip2, Comp::Zstd, Comp::Lzma, Comp::Lz4] {
        // Claims more than the stream holds.
        let mut p = compress_raw(c, &elf);
        p.extend_from_slice(&(elf.len() as u32 + 100).to_le_bytes());
        let e = err(&bzimage(&p, &BzSpec::default()));
        assert!(matches!(e, XenError::BadPayload { .. }), "{c:?}: {e}");
        assert!(e.to_string().contains("ends after"), "{c:?}: {e}");
        // Claims less.
        let mut p = compress_raw(c, &elf);
        p.extend_from_slice(&(elf.len() as u32 - 100).to_le_bytes());
        let e = err(&bzimage(&p, &BzSpec::default()));
        assert!(e.to_string().contains("longer than"), "{c:?}: {e}");
        // Claims more than Xen's 1 GiB.
        let mut p = compress_raw(c, &elf);
        p.extend_from_slice(&(1u32 << 31).to_le_bytes());
        let e = err(&bzimage(&p, &BzSpec::default()));
        assert!(e.to_string().contains("1 GiB"), "{c:?}: {e}");
    }
    // gzip's own ISIZE lying: flate2 or the size check catches it.
    let mut g = compress_raw(Comp::Gzip, &elf);
    let n = g.len();
    g[n - 4..].copy_from_slice(&(elf.len() as u32 + 8).to_le_bytes());
    assert!(matches!(
        err(&bzimage(&g, &BzSpec::default())),
        XenError::BadPayload { .. }
    ));
}

#[test]
fn payload_outside_the_file() {
    let k = bz(Comp::Gzip, &amd64_elf());
    let mut bad = k.clone();
    put32(&mut bad, 0x24c, u32::MAX);
    assert!(matches!(err(&bad), XenError::BadBzImage { .. }));
    let mut bad = k.clone();
    put32(&mut bad, 0x248, u32::MAX);
    assert!(matches!(err(&bad), XenError::BadBzImage { .. }));
    let mut bad = k;
    put32(&mut bad, 0x24c, 3);
    assert!(matches!(err(&bad), XenError::BadPayload { .. }));
}

#[test]
fn hostile_elf_headers() {
    let good = amd64_elf();
    let check = |mutate: &dyn Fn(&mut Vec<u8>), want: &str| {
        let mut e = good.clone();
        mutate(&mut e);
        for bytes in [e.clone(), bz(Comp::Xz, &e)] {
            let msg = err(&bytes).to_string();
            assert!(msg.contains(want), "want {want:?}, got {msg}");
        }
    };
    // Huge phnum: the table would run past the image.
    check(&|e| put16(e, 56, 0xffff), "program header table");
    // Program header table offset near u64::MAX.
    check(&|e| put64(e, 32, u64::MAX - 10), "program header table");
    // Section header table past the end.
    check(&|e| put64(e, 40, 1 << 40), "section header table");
    // Tiny program header entries.
    check(&|e| put16(e, 54, 8), "program header size");
    // Unknown class, big-endian.
    check(&|e| e[4] = 9, "unknown ELF class");
    check(&|e| e[5] = 2, "little-endian");
    // The PT_NOTE segment (index 1) points past the end / has a huge size.
    let ph1 = 64 + 56;
    check(&|e| put64(e, ph1 + 8, 1 << 50), "PT_NOTE segment 1");
    check(&|e| put64(e, ph1 + 32, u64::MAX), "PT_NOTE segment 1");
    // PT_LOAD with paddr + memsz overflowing.
    check(&|e| put64(e, 64 + 40, u64::MAX), "overflows");
}

#[test]
fn overflowing_note_sizes() {
    for (namesz, descsz) in [
        (u32::MAX, 4),
        (4, u32::MAX),
        (4, 0x7fff_fff0),
        (0xffff_fffd, 0),
    ] {
        let mut notes = encode_notes(&amd64_notes());
        put32(&mut notes, 0, namesz);
        put32(&mut notes, 4, descsz);
        let mut spec = ElfSpec::amd64(&[]);
        spec.notes = Some(notes);
        let e = err(&bz(Comp::Gzip, &spec.build()));
        assert!(
            matches!(e, XenError::BadNote { .. }),
            "{namesz} {descsz}: {e}"
        );
        assert!(
            e.to_string()
                .starts_with("vmlinuz: ELF note: PT_NOTE segment"),
            "{e}"
        );
    }
    // Stray non-zero bytes after the last note.
    let mut notes = encode_notes(&amd64_notes());
    notes.extend_from_slice(&[1, 2, 3, 4]);
    let mut spec = ElfSpec::amd64(&[]);
    spec.notes = Some(notes);
    assert!(matches!(err(&spec.build()), XenError::BadNote { .. }));
    // Zero padding after the notes is fine.
    let mut notes = encode_notes(&amd64_notes());
    notes.extend_from_slice(&[0; 8]);
    let mut spec = ElfSpec::amd64(&[]);
    spec.notes = Some(notes);
    assert_eq!(ok(&spec.build()).verdict, Verdict::PvCapable);
}

#[test]
fn too_many_notes_hit_the_cap() {
    let tiny = encode_notes(&[Note {
        name: Vec::new(),
        ntype: 0,
        desc: Vec::new(),
    }]);
    let mut notes = encode_notes(&amd64_notes());
    for _ in 0..70_000 {
        notes.extend_from_slice(&tiny);
    }
    let mut spec = ElfSpec::amd64(&[]);
    spec.notes = Some(notes);
    let e = err(&bz(Comp::Zstd, &spec.build()));
    assert!(matches!(e, XenError::Limit { .. }), "{e}");
}

// ------------------------------------------------------------------------------------------
// Output shapes

#[test]
fn json_shape() {
    let r = ok(&bz(Comp::Xz, &amd64_elf()));
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["verdict"], "pv_capable");
    assert_eq!(v["container"], "bzimage");
    assert_eq!(v["arch"], "amd64");
    assert_eq!(v["release"], "6.1.0-99-amd64");
    assert_eq!(v["efi_stub"], true);
    assert_eq!(v["boot_protocol"], "2.15");
    assert_eq!(v["note_source"], "pt_note");
    assert_eq!(v["payload"]["compression"], "xz");
    assert_eq!(v["payload"]["size_verified"], true);
    assert_eq!(v["elf"]["bits"], 64);
    assert_eq!(v["elf"]["machine_name"], "x86_64");
    assert_eq!(v["xen"]["pae"], "extended_cr3");
    assert_eq!(v["xen"]["entry_note"], true);
    let first = &v["notes"][0];
    assert_eq!(first["type"], 6);
    assert_eq!(first["name"], "GUEST_OS");
    assert_eq!(first["kind"], "string");
    assert_eq!(first["value"], "linux");
    let entry = v["notes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["type"] == 1)
        .unwrap();
    assert_eq!(entry["kind"], "integer");
    assert_eq!(entry["value"].as_u64(), Some(AMD64_ENTRY));
    let l1 = v["notes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["type"] == 13)
        .unwrap();
    assert_eq!(l1["kind"], "bytes");
    assert!(v["reasons"].is_array() && v["warnings"].is_array());
    assert!(v["guest_info"].is_null());

    let lz4 = serde_json::to_value(ok(&bz(Comp::Lz4, &amd64_elf()))).unwrap();
    assert_eq!(lz4["payload"]["compression"], "lz4_legacy");
    let pvh =
        serde_json::to_value(ok(&bz(Comp::Xz, &ElfSpec::i386(&pvh32_notes()).build()))).unwrap();
    assert_eq!(pvh["verdict"], "pvh_only");
    assert_eq!(pvh["arch"], "i386");
}

#[test]
fn text_rendering() {
    let t = ok(&bz(Comp::Xz, &amd64_elf())).to_text();
    assert!(t.starts_with("kernel: vmlinuz ("), "{t}");
    assert!(t.contains("\nverdict: PV-capable\n"), "{t}");
    assert!(
        t.contains("container: bzImage (EFI stub), boot protocol 2.15"),
        "{t}"
    );
    assert!(t.contains("release: 6.1.0-99-amd64"), "{t}");
    assert!(t.contains("arch: amd64"), "{t}");
    assert!(t.contains(" 1 ENTRY "), "{t}");
    let t = ok(&bz(Comp::Xz, &ElfSpec::i386(&pvh32_notes()).build())).to_text();
    assert!(t.contains("\nverdict: PVH-only\n"), "{t}");
}

#[test]
fn error_display_names_the_file() {
    let e = elirepo::xen::inspect_kernel_file(Path::new("/nonexistent/vmlinuz")).unwrap_err();
    assert!(e.to_string().starts_with("/nonexistent/vmlinuz: "), "{e}");
    assert_eq!(e.path(), Path::new("/nonexistent/vmlinuz"));
}

// ------------------------------------------------------------------------------------------
// Real kernels (downloaded by scripts/check-real-kernel.sh)

fn real(var: &str) -> Option<KernelReport> {
    let path = std::env::var_os(var)?;
    let start = std::time::Instant::now();
    let r = elirepo::xen::inspect_kernel_file(Path::new(&path)).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("{r}inspected in {:?}", start.elapsed());
    Some(r)
}

#[test]
#[ignore = "needs ELIREPO_REAL_KERNEL=/path/to/vmlinuz-*-amd64"]
fn real_debian_amd64_kernel_is_pv_capable() {
    let Some(r) = real("ELIREPO_REAL_KERNEL") else {
        common::skip(
            "ELIREPO_REAL_KERNEL not set (scripts/check-real-kernel.sh --library sets it)",
        );
        return;
    };
    assert_eq!(r.verdict, Verdict::PvCapable, "{:?}", r.reasons);
    assert_eq!(r.arch(), Some("amd64"));
    assert_eq!(r.container, Container::Bzimage);
    assert!(r.payload.as_ref().unwrap().size_verified);
    assert!(r.release().unwrap().ends_with("-amd64"));
    assert!(r.note(1).is_some() && r.note(18).is_some());
}

#[test]
#[ignore = "needs ELIREPO_REAL_KERNEL_PVH=/path/to/vmlinuz-*-686-pae"]
fn real_debian_686_pae_kernel_is_pvh_only() {
    let Some(r) = real("ELIREPO_REAL_KERNEL_PVH") else {
        common::skip(
            "ELIREPO_REAL_KERNEL_PVH not set (scripts/check-real-kernel.sh --library sets it)",
        );
        return;
    };
    assert_eq!(r.verdict, Verdict::PvhOnly, "{:?}", r.reasons);
    assert_eq!(r.arch(), Some("i386"));
    assert!(r.note(1).is_none() && r.note(18).is_some());
}
