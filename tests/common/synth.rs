//! Synthetic kernels for tests: ELF32/ELF64 images with chosen Xen notes, sections and layout,
//! wrapped as bzImages with any payload compression Linux uses.
//!
//! Test-only, and shared by every kind of test: the end-to-end tests reach it as
//! `common::synth`, the library's unit tests as `xen::synth` (through `#[path]`), and
//! `scripts/synth_images.rs` writes the demo's kernels with it. It depends on external
//! crates only, so that all three can compile it.
#![allow(dead_code)]

use std::io::Write;

/// One ELF note.
#[derive(Clone, Debug)]
pub struct Note {
    pub name: Vec<u8>,
    pub ntype: u32,
    pub desc: Vec<u8>,
}

/// A `Xen` note holding a NUL-terminated string.
pub fn xen_str(ntype: u32, s: &str) -> Note {
    let mut desc = s.as_bytes().to_vec();
    desc.push(0);
    Note {
        name: b"Xen\0".to_vec(),
        ntype,
        desc,
    }
}

/// A `Xen` note holding a 64-bit integer.
pub fn xen_u64(ntype: u32, v: u64) -> Note {
    Note {
        name: b"Xen\0".to_vec(),
        ntype,
        desc: v.to_le_bytes().to_vec(),
    }
}

/// A `Xen` note holding a 32-bit integer.
pub fn xen_u32(ntype: u32, v: u32) -> Note {
    Note {
        name: b"Xen\0".to_vec(),
        ntype,
        desc: v.to_le_bytes().to_vec(),
    }
}

/// Encode notes the standard way (12-byte header, name and desc padded to 4).
pub fn encode_notes(notes: &[Note]) -> Vec<u8> {
    let mut out = Vec::new();
    for n in notes {
        out.extend_from_slice(&(n.name.len() as u32).to_le_bytes());
        out.extend_from_slice(&(n.desc.len() as u32).to_le_bytes());
        out.extend_from_slice(&n.ntype.to_le_bytes());
        out.extend_from_slice(&n.name);
        pad4(&mut out);
        out.extend_from_slice(&n.desc);
        pad4(&mut out);
    }
    out
}

fn pad4(v: &mut Vec<u8>) {
    while v.len() % 4 != 0 {
        v.push(0);
    }
}

/// What to put in a synthetic ELF.
#[derive(Clone, Debug)]
pub struct ElfSpec {
    pub class64: bool,
    pub machine: u16,
    pub entry: u64,
    /// PT_LOAD segments: (paddr, memsz), flags RWX.
    pub loads: Vec<(u64, u64)>,
    /// Note bytes (usually `encode_notes`); `None` for none.
    pub notes: Option<Vec<u8>>,
    /// Describe the notes with a PT_NOTE program header.
    pub notes_in_phdr: bool,
    /// Describe the notes with an SHT_NOTE section.
    pub notes_in_section: bool,
    /// A legacy `__xen_guest` section string.
    pub xen_guest: Option<String>,
    /// Bytes of body between the headers and the notes.
    pub filler: usize,
    /// Put the program header table at the end (after the notes).
    pub phdrs_at_end: bool,
    /// Bytes of body after everything else.
    pub tail: usize,
}

pub const AMD64_VIRT_BASE: u64 = 0xffff_ffff_8000_0000;
pub const AMD64_ENTRY: u64 = 0xffff_ffff_8300_0100;

/// Notes like Debian 12's amd64 kernel (PV and PVH).
pub fn amd64_notes() -> Vec<Note> {
    vec![
        xen_str(6, "linux"),
        xen_str(7, "2.6"),
        xen_str(5, "xen-3.0"),
        xen_u64(3, AMD64_VIRT_BASE),
        xen_u64(15, 0x80_0000_0000),
        xen_u64(1, AMD64_ENTRY),
        xen_str(10, "!writable_page_tables|pae_pgdir_above_4gb"),
        xen_u32(17, 0x8801),
        xen_str(9, "yes"),
        xen_str(8, "generic"),
        Note {
            name: b"Xen\0".to_vec(),
            ntype: 13,
            desc: [1u64.to_le_bytes(), 1u64.to_le_bytes()].concat(),
        },
        xen_u32(14, 1),
        xen_u64(12, 0xffff_8000_0000_0000),
        xen_u64(4, 0),
        Note {
            name: b"GNU\0".to_vec(),
            ntype: 3,
            desc: vec![0xab; 20],
        },
        Note {
            name: b"Linux\0".to_vec(),
            ntype: 0x100,
            desc: b"6.1.0-99-amd64\0".to_vec(),
        },
        xen_u64(18, 0x0100_0850),
    ]
}

/// Notes like Debian 12's 686-pae kernel: PVH only (no ENTRY).
pub fn pvh32_notes() -> Vec<Note> {
    vec![
        xen_str(6, "linux"),
        xen_str(7, "2.6"),
        xen_str(5, "xen-3.0"),
        xen_u32(3, 0xc000_0000),
        xen_str(10, "!writable_page_tables|pae_pgdir_above_4gb"),
        xen_str(9, "yes"),
        xen_str(8, "generic"),
        xen_u32(4, 0),
        xen_u32(18, 0x0100_02e0),
    ]
}

/// Notes of an old 32-bit PV kernel (2.6.32 pvops with PAE).
pub fn pv32_notes(pae: bool) -> Vec<Note> {
    let mut v = vec![
        xen_str(6, "linux"),
        xen_str(7, "2.6"),
        xen_str(5, "xen-3.0"),
        xen_u32(3, 0xc000_0000),
        xen_u32(1, 0xc100_0100),
        xen_str(8, "generic"),
        xen_u32(4, 0),
    ];
    if pae {
        v.push(xen_str(9, "yes"));
    }
    v
}

impl ElfSpec {
    /// A 64-bit x86 kernel laid out like Debian's, with the given notes in a PT_NOTE segment.
    pub fn amd64(notes: &[Note]) -> Self {
        ElfSpec {
            class64: true,
            machine: 62,
            entry: 0x0100_0000,
            loads: vec![(0x0100_0000, 0x3a0_0000)],
            notes: Some(encode_notes(notes)),
            notes_in_phdr: true,
            notes_in_section: false,
            xen_guest: None,
            filler: 4096,
            phdrs_at_end: false,
            tail: 4096,
        }
    }

    /// A 32-bit x86 kernel with the given notes in a PT_NOTE segment.
    pub fn i386(notes: &[Note]) -> Self {
        ElfSpec {
            class64: false,
            machine: 3,
            entry: 0x0100_0000,
            loads: vec![(0x0100_0000, 0x120_0000)],
            ..ElfSpec::amd64(notes)
        }
    }

    /// Serialise.
    pub fn build(&self) -> Vec<u8> {
        let c64 = self.class64;
        let (ehsize, phsize, shsize) = if c64 { (64, 56, 64) } else { (52, 32, 40) };
        let notes = self.notes.clone().unwrap_or_default();
        let mut phdrs: Vec<(u32, u64, u64, u64, u64)> = Vec::new(); // type, off, paddr, filesz, memsz
        for &(paddr, memsz) in &self.loads {
            phdrs.push((1, 0, paddr, 0, memsz));
        }
        let want_pt_note = self.notes_in_phdr && !notes.is_empty();
        let nph = phdrs.len() + usize::from(want_pt_note);

        let mut body = vec![0u8; ehsize];
        let phoff = if self.phdrs_at_end {
            0
        } else {
            let o = body.len();
            body.resize(o + nph * phsize, 0);
            o
        };
        body.extend((0..self.filler).map(|i| (i * 7 % 251) as u8));
        pad4(&mut body);
        let notes_off = body.len();
        body.extend_from_slice(&notes);
        pad4(&mut body);
        if want_pt_note {
            phdrs.push((
                4,
                notes_off as u64,
                0,
                notes.len() as u64,
                notes.len() as u64,
            ));
        }
        let guest_off = body.len();
        if let Some(g) = &self.xen_guest {
            body.extend_from_slice(g.as_bytes());
            body.push(0);
            pad4(&mut body);
        }
        let guest_len = body.len() - guest_off;
        body.extend((0..self.tail).map(|i| (i * 13 % 241) as u8));
        pad4(&mut body);

        // Sections: null, [.notes], [__xen_guest], .shstrtab
        let mut sections: Vec<(u32, u32, u64, u64)> = vec![(0, 0, 0, 0)]; // name, type, off, size
        let mut strtab = b"\0.shstrtab\0".to_vec();
        let add_name = |strtab: &mut Vec<u8>, n: &str| {
            let o = strtab.len() as u32;
            strtab.extend_from_slice(n.as_bytes());
            strtab.push(0);
            o
        };
        if self.notes_in_section && !notes.is_empty() {
            let n = add_name(&mut strtab, ".notes");
            sections.push((n, 7, notes_off as u64, notes.len() as u64));
        }
        if self.xen_guest.is_some() {
            let n = add_name(&mut strtab, "__xen_guest");
            sections.push((n, 1, guest_off as u64, guest_len as u64));
        }
        let with_sections = sections.len() > 1;
        let (mut shoff, mut shnum, mut shstrndx) = (0usize, 0usize, 0usize);
        if with_sections {
            let stroff = body.len();
            body.extend_from_slice(&strtab);
            pad4(&mut body);
            sections.push((1, 3, stroff as u64, strtab.len() as u64));
            shstrndx = sections.len() - 1;
        }
        let phoff = if self.phdrs_at_end {
            let o = body.len();
            body.resize(o + nph * phsize, 0);
            o
        } else {
            phoff
        };
        if with_sections {
            while body.len() % 8 != 0 {
                body.push(0);
            }
            shoff = body.len();
            shnum = sections.len();
            body.resize(shoff + shnum * shsize, 0);
        }

        // ELF header.
        body[..4].copy_from_slice(b"\x7fELF");
        body[4] = if c64 { 2 } else { 1 };
        body[5] = 1;
        body[6] = 1;
        put16(&mut body, 16, 2); // ET_EXEC
        put16(&mut body, 18, self.machine);
        put32(&mut body, 20, 1);
        if c64 {
            put64(&mut body, 24, self.entry);
            put64(&mut body, 32, if nph > 0 { phoff as u64 } else { 0 });
            put64(&mut body, 40, shoff as u64);
            put16(&mut body, 52, ehsize as u16);
            put16(&mut body, 54, phsize as u16);
            put16(&mut body, 56, nph as u16);
            put16(&mut body, 58, shsize as u16);
            put16(&mut body, 60, shnum as u16);
            put16(&mut body, 62, shstrndx as u16);
        } else {
            put32(&mut body, 24, self.entry as u32);
            put32(&mut body, 28, if nph > 0 { phoff as u32 } else { 0 });
            put32(&mut body, 32, shoff as u32);
            put16(&mut body, 40, ehsize as u16);
            put16(&mut body, 42, phsize as u16);
            put16(&mut body, 44, nph as u16);
            put16(&mut body, 46, shsize as u16);
            put16(&mut body, 48, shnum as u16);
            put16(&mut body, 50, shstrndx as u16);
        }
        for (i, &(t, off, paddr, filesz, memsz)) in phdrs.iter().enumerate() {
            let b = phoff + i * phsize;
            put32(&mut body, b, t);
            let flags = if t == 1 { 7 } else { 4 };
            if c64 {
                put32(&mut body, b + 4, flags);
                put64(&mut body, b + 8, off);
                put64(&mut body, b + 16, paddr.wrapping_add(0xffff_ffff_8000_0000));
                put64(&mut body, b + 24, paddr);
                put64(&mut body, b + 32, filesz);
                put64(&mut body, b + 40, memsz);
                put64(&mut body, b + 48, 4);
            } else {
                put32(&mut body, b + 4, off as u32);
                put32(&mut body, b + 8, (paddr as u32).wrapping_add(0xc000_0000));
                put32(&mut body, b + 12, paddr as u32);
                put32(&mut body, b + 16, filesz as u32);
                put32(&mut body, b + 20, memsz as u32);
                put32(&mut body, b + 24, flags);
                put32(&mut body, b + 28, 4);
            }
        }
        for (i, &(name, t, off, size)) in sections.iter().enumerate().take(shnum) {
            let b = shoff + i * shsize;
            put32(&mut body, b, name);
            put32(&mut body, b + 4, t);
            if c64 {
                put64(&mut body, b + 24, off);
                put64(&mut body, b + 32, size);
            } else {
                put32(&mut body, b + 16, off as u32);
                put32(&mut body, b + 20, size as u32);
            }
        }
        body
    }
}

pub fn put16(b: &mut [u8], off: usize, v: u16) {
    b[off..off + 2].copy_from_slice(&v.to_le_bytes());
}
pub fn put32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}
pub fn put64(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

/// Payload compressions, as Linux's `scripts/Makefile.lib` writes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comp {
    Gzip,
    Bzip2,
    Xz,
    Lzma,
    Zstd,
    Lz4,
}

pub const ALL_COMPS: [Comp; 6] = [
    Comp::Gzip,
    Comp::Bzip2,
    Comp::Xz,
    Comp::Lzma,
    Comp::Zstd,
    Comp::Lz4,
];

/// Raw compressed stream, without any size trailer.
pub fn compress_raw(c: Comp, data: &[u8]) -> Vec<u8> {
    match c {
        Comp::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Comp::Bzip2 => {
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Comp::Xz => {
            let mut e = xz2::write::XzEncoder::new(Vec::new(), 1);
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Comp::Lzma => {
            let opts = xz2::stream::LzmaOptions::new_preset(1).unwrap();
            let s = xz2::stream::Stream::new_lzma_encoder(&opts).unwrap();
            let mut e = xz2::write::XzEncoder::new_stream(Vec::new(), s);
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Comp::Zstd => zstd::stream::encode_all(data, 3).unwrap(),
        Comp::Lz4 => lz4_legacy(data, 8 << 20),
    }
}

/// The legacy LZ4 format, by hand: magic, then (u32 LE size, block) per chunk.
pub fn lz4_legacy(data: &[u8], chunk: usize) -> Vec<u8> {
    let mut out = 0x184C_2102u32.to_le_bytes().to_vec();
    for c in data.chunks(chunk) {
        let block = lz4_flex::block::compress(c);
        out.extend_from_slice(&(block.len() as u32).to_le_bytes());
        out.extend_from_slice(&block);
    }
    out
}

/// A bzImage payload as Linux builds it: the compressed stream, plus (except for gzip, whose
/// trailer already holds it) the uncompressed size as u32 LE.
pub fn payload(c: Comp, data: &[u8]) -> Vec<u8> {
    let mut p = compress_raw(c, data);
    if c != Comp::Gzip {
        p.extend_from_slice(&(data.len() as u32).to_le_bytes());
    }
    p
}

/// bzImage knobs.
#[derive(Clone, Debug)]
pub struct BzSpec {
    pub efi_stub: bool,
    pub protocol: u16,
    pub version: Option<String>,
    pub setup_sects: u8,
    pub payload_offset: u32,
    /// Bytes after the payload.
    pub tail: usize,
}

impl Default for BzSpec {
    fn default() -> Self {
        BzSpec {
            efi_stub: true,
            protocol: 0x020f,
            version: Some(
                "6.1.0-99-amd64 (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC Debian \
                 6.1.999-1 (2026-01-01)"
                    .into(),
            ),
            setup_sects: 3,
            payload_offset: 0x1c0,
            tail: 64,
        }
    }
}

/// Wrap a payload (see [`payload`]) into a bzImage.
pub fn bzimage(payload: &[u8], spec: &BzSpec) -> Vec<u8> {
    let setup = (usize::from(spec.setup_sects) + 1) * 512;
    let start = setup + spec.payload_offset as usize;
    let mut b = vec![0u8; start];
    if spec.efi_stub {
        b[0] = b'M';
        b[1] = b'Z';
    }
    b[0x1f1] = spec.setup_sects;
    put16(&mut b, 0x1fe, 0xaa55);
    b[0x202..0x206].copy_from_slice(b"HdrS");
    put16(&mut b, 0x206, spec.protocol);
    if let Some(v) = &spec.version {
        let kv = 0x100usize; // string at 0x300
        put16(&mut b, 0x20e, kv as u16);
        b[kv + 0x200..kv + 0x200 + v.len()].copy_from_slice(v.as_bytes());
    }
    put32(&mut b, 0x248, spec.payload_offset);
    put32(&mut b, 0x24c, payload.len() as u32);
    b.extend_from_slice(payload);
    b.extend(std::iter::repeat(0x5a).take(spec.tail));
    b
}

/// A bzImage of `elf` with payload compression `c` and default knobs.
pub fn bz(c: Comp, elf: &[u8]) -> Vec<u8> {
    bzimage(&payload(c, elf), &BzSpec::default())
}

/// Offset of the payload in a bzImage built with `spec`.
pub fn payload_start(spec: &BzSpec) -> usize {
    (usize::from(spec.setup_sects) + 1) * 512 + spec.payload_offset as usize
}

/// A newc cpio archive of `entries` (a path ending in `/` is a directory), then `TRAILER!!!`.
pub fn cpio_newc(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let with_modes: Vec<(&str, u32, &[u8])> = entries
        .iter()
        .map(|(name, data)| match name.strip_suffix('/') {
            Some(dir) => (dir, 0o40755, *data),
            None => (*name, 0o100644, *data),
        })
        .collect();
    cpio_newc_modes(&with_modes)
}

/// A newc cpio archive of `(path, mode, data)` entries (0o40755 makes a directory,
/// 0o100755 an executable), then `TRAILER!!!`.
pub fn cpio_newc_modes(entries: &[(&str, u32, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let trailer: (&str, u32, &[u8]) = ("TRAILER!!!", 0, b"");
    for (ino, (name, mode, data)) in entries.iter().chain(std::iter::once(&trailer)).enumerate() {
        out.extend_from_slice(
            format!(
                "070701{:08X}{mode:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}",
                ino + 1,
                0,
                0,
                1,
                0,
                data.len(),
                0,
                0,
                0,
                0,
                name.len() + 1,
                0
            )
            .as_bytes(),
        );
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        while out.len() % 4 != 0 {
            out.push(0);
        }
        out.extend_from_slice(data);
        while out.len() % 4 != 0 {
            out.push(0);
        }
    }
    out
}

/// A gzip initrd carrying `lib/modules/<release>/modules.dep`.
pub fn initrd_gz(release: &str) -> Vec<u8> {
    let dep = format!("lib/modules/{release}/modules.dep");
    compress_raw(
        Comp::Gzip,
        &cpio_newc(&[("init", b"#!/bin/sh\n"), (&dep, b"")]),
    )
}

fn named(release: &str, efi_stub: bool, protocol: u16) -> BzSpec {
    BzSpec {
        efi_stub,
        protocol,
        version: Some(format!(
            "{release} (builder@example.org) #1 SMP (synthetic)"
        )),
        ..BzSpec::default()
    }
}

/// A PV-capable amd64 bzImage (gzip payload) whose setup header names `release`.
pub fn pv_amd64_kernel(release: &str) -> Vec<u8> {
    bzimage(
        &payload(Comp::Gzip, &ElfSpec::amd64(&amd64_notes()).build()),
        &named(release, true, 0x020f),
    )
}

/// A 32-bit PAE PV bzImage like XenServer's 2.6.32 kernels.
pub fn pv_i386_kernel(release: &str) -> Vec<u8> {
    bzimage(
        &payload(Comp::Gzip, &ElfSpec::i386(&pv32_notes(true)).build()),
        &named(release, false, 0x020a),
    )
}

/// A current 32-bit kernel: PVH only (xz payload).
pub fn pvh_i386_kernel(release: &str) -> Vec<u8> {
    bzimage(
        &payload(Comp::Xz, &ElfSpec::i386(&pvh32_notes()).build()),
        &named(release, true, 0x020f),
    )
}

/// A 64-bit kernel without Xen support.
pub fn no_xen_kernel(release: &str) -> Vec<u8> {
    bzimage(
        &payload(Comp::Gzip, &ElfSpec::amd64(&[]).build()),
        &named(release, true, 0x020f),
    )
}
