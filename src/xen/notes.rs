//! The ELF notes: finding them (PT_NOTE segments, else SHT_NOTE sections, else a legacy
//! `__xen_guest` section), parsing them within their segment, and decoding `Xen` notes the way
//! Xen reads each type (`public/elfnote.h`).

use super::elf::{check_range, read_ranges, ElfSource, Phdr, Shdr, PT_NOTE, SHT_NOTE};
use super::report::{NoteSource, NoteValue, XenNote};
use super::{
    c_string, u16le, u32le, u64le, Ctx, XenError, MAX_GUEST_INFO_BYTES, MAX_NOTES, MAX_NOTE_BYTES,
    MAX_STRTAB_BYTES,
};

/// Notes found while scanning.
#[derive(Default)]
pub(super) struct NoteScan {
    /// The `Xen` notes, in file order.
    pub(super) xen: Vec<XenNote>,
    /// All notes seen (Xen caps the count).
    total: u64,
    /// Linux's build-salt note, the first non-empty one.
    pub(super) build_salt: Option<String>,
}

fn align4(n: u64) -> u64 {
    (n + 3) & !3 // n < 2^32 + 3
}

/// Parse the notes of one segment or section; returns how many `Xen` notes it held.
pub(super) fn parse_notes(
    ctx: Ctx<'_>,
    data: &[u8],
    scan: &mut NoteScan,
    what: &str,
) -> Result<u32, XenError> {
    let len = data.len() as u64;
    let mut pos = 0u64;
    let mut xen = 0;
    while pos < len {
        let p = pos as usize;
        if len - pos < 12 {
            if data[p..].iter().all(|&b| b == 0) {
                break;
            }
            return Err(ctx.note(format!(
                "{what}: {} stray bytes at offset {pos}, too few for a note header",
                len - pos
            )));
        }
        let namesz = u64::from(u32le(data, p));
        let descsz = u64::from(u32le(data, p + 4));
        let ntype = u32le(data, p + 8);
        let name_at = pos + 12;
        let desc_at = name_at + align4(namesz);
        let desc_end = desc_at + descsz; // all below 2^35: no overflow
        if desc_end > len || name_at + namesz > len {
            return Err(ctx.note(format!(
                "{what}: the note at offset {pos} (name {namesz} bytes, value {descsz} bytes) \
                 runs past the end of its {len} bytes"
            )));
        }
        scan.total += 1;
        if scan.total > MAX_NOTES {
            return Err(ctx.limit("the number of ELF notes", MAX_NOTES));
        }
        let name = &data[name_at as usize..(name_at + namesz) as usize];
        let name = &name[..name.iter().position(|&c| c == 0).unwrap_or(name.len())];
        let desc = &data[desc_at as usize..desc_end as usize];
        if name == b"Xen" {
            scan.xen.push(decode_note(ntype, desc));
            xen += 1;
        } else if name == b"Linux" && ntype == 0x100 && scan.build_salt.is_none() {
            let salt = c_string(desc);
            if !salt.is_empty() {
                scan.build_salt = Some(salt);
            }
        }
        pos = desc_at + align4(descsz);
    }
    Ok(xen)
}

/// Lowercase hex of the first 64 bytes of `b`, then "..." if there are more.
fn hex_preview(b: &[u8]) -> String {
    let mut s = crate::hash::hex(&b[..b.len().min(64)]);
    if b.len() > 64 {
        s.push_str("...");
    }
    s
}

/// Xen's name for a note type (`public/elfnote.h`).
pub fn note_type_name(t: u32) -> Option<&'static str> {
    const NAMES: [&str; 20] = [
        "INFO",
        "ENTRY",
        "HYPERCALL_PAGE",
        "VIRT_BASE",
        "PADDR_OFFSET",
        "XEN_VERSION",
        "GUEST_OS",
        "GUEST_VERSION",
        "LOADER",
        "PAE_MODE",
        "FEATURES",
        "BSD_SYMTAB",
        "HV_START_LOW",
        "L1_MFN_VALID",
        "SUSPEND_CANCEL",
        "INIT_P2M",
        "MOD_START_PFN",
        "SUPPORTED_FEATURES",
        "PHYS32_ENTRY",
        "PHYS32_RELOC",
    ];
    NAMES.get(t as usize).copied()
}

fn decode_note(t: u32, desc: &[u8]) -> XenNote {
    let int = || match desc.len() {
        1 => Some(u64::from(desc[0])),
        2 => Some(u64::from(u16le(desc, 0))),
        4 => Some(u64::from(u32le(desc, 0))),
        8 => Some(u64le(desc, 0)),
        _ => None,
    };
    let printable = |d: &[u8]| {
        d.last() == Some(&0)
            && d.len() > 1
            && d[..d.len() - 1].iter().all(|&c| (0x20..0x7f).contains(&c))
    };
    let value = match t {
        // Xen decodes these as strings.
        5..=11 => NoteValue::String(c_string(desc)),
        // Xen decodes the rest of its table as integers (1, 2, 4 or 8 bytes; else 0).
        1..=4 | 12..=19 => match int() {
            Some(v) => NoteValue::Integer(v),
            None => NoteValue::Bytes(hex_preview(desc)),
        },
        // Unknown to Xen: show what it looks like.
        _ if printable(desc) => NoteValue::String(c_string(desc)),
        _ => match int() {
            Some(v) => NoteValue::Integer(v),
            None => NoteValue::Bytes(hex_preview(desc)),
        },
    };
    XenNote {
        note_type: t,
        name: note_type_name(t),
        value,
    }
}

/// Scan the notes of the PT_NOTE segments (Xen skips those with `p_offset` 0): the source is
/// [`NoteSource::PtNote`] when they hold `Xen` notes, else [`NoteSource::None`].
pub(super) fn scan_segments(
    ctx: Ctx<'_>,
    s: &mut dyn ElfSource,
    phdrs: &[Phdr],
    scan: &mut NoteScan,
) -> Result<NoteSource, XenError> {
    let size = s.size();
    let mut segs = Vec::new();
    for (i, p) in phdrs.iter().enumerate() {
        if p.p_type == PT_NOTE && p.offset != 0 {
            check_range(
                ctx,
                p.offset,
                p.filesz,
                size,
                &format!("PT_NOTE segment {i}"),
            )?;
            segs.push((i, (p.offset, p.filesz)));
        }
    }
    let ranges: Vec<(u64, u64)> = segs.iter().map(|&(_, r)| r).collect();
    let datas = read_ranges(ctx, s, &ranges, "the PT_NOTE segments", MAX_NOTE_BYTES)?;
    let mut xen_notes = 0;
    for ((i, _), data) in segs.iter().zip(&datas) {
        xen_notes += parse_notes(ctx, data, scan, &format!("PT_NOTE segment {i}"))?;
    }
    Ok(if xen_notes > 0 {
        NoteSource::PtNote
    } else {
        NoteSource::None
    })
}

/// The fallbacks when no segment holds a `Xen` note: the notes of the SHT_NOTE sections, else
/// the string of a `__xen_guest` section (stored in `guest_info`). `shstrndx` is the index of
/// the section-name table, read in the same pass when it is small enough.
pub(super) fn scan_sections(
    ctx: Ctx<'_>,
    s: &mut dyn ElfSource,
    shdrs: &[Shdr],
    shstrndx: u16,
    scan: &mut NoteScan,
    guest_info: &mut Option<String>,
) -> Result<NoteSource, XenError> {
    let size = s.size();
    let mut wanted = Vec::new();
    let mut note_secs = Vec::new();
    for (i, sh) in shdrs.iter().enumerate().skip(1) {
        if sh.sh_type == SHT_NOTE {
            check_range(
                ctx,
                sh.offset,
                sh.size,
                size,
                &format!("SHT_NOTE section {i}"),
            )?;
            note_secs.push(i);
            wanted.push((sh.offset, sh.size));
        }
    }
    let strndx = usize::from(shstrndx);
    let strtab = shdrs
        .get(strndx)
        .filter(|_| strndx != 0)
        .filter(|sh| sh.size <= MAX_STRTAB_BYTES)
        .filter(|sh| check_range(ctx, sh.offset, sh.size, size, "").is_ok())
        .map(|sh| (sh.offset, sh.size));
    if let Some(r) = strtab {
        wanted.push(r);
    }
    let mut datas = read_ranges(
        ctx,
        s,
        &wanted,
        "the SHT_NOTE sections and section names",
        MAX_NOTE_BYTES + MAX_STRTAB_BYTES,
    )?;
    let names = if strtab.is_some() { datas.pop() } else { None };
    let mut xen_notes = 0;
    for (i, data) in note_secs.iter().zip(&datas) {
        xen_notes += parse_notes(ctx, data, scan, &format!("SHT_NOTE section {i}"))?;
    }
    if xen_notes > 0 {
        return Ok(NoteSource::ShtNote);
    }
    let Some(names) = names else {
        return Ok(NoteSource::None);
    };
    let found = shdrs.iter().find(|sh| {
        names
            .get(sh.name as usize..)
            .is_some_and(|n| n.starts_with(b"__xen_guest\0"))
    });
    let Some(sh) = found else {
        return Ok(NoteSource::None);
    };
    let len = sh.size.min(MAX_GUEST_INFO_BYTES);
    check_range(ctx, sh.offset, len, size, "__xen_guest section")?;
    let raw = s.read_at(sh.offset, len, "__xen_guest section")?;
    *guest_info = Some(c_string(&raw));
    Ok(NoteSource::XenGuest)
}

#[cfg(test)]
mod tests {
    use super::super::synth;
    use super::*;
    use std::path::Path;

    fn ctx() -> Ctx<'static> {
        Ctx {
            path: Path::new("k"),
        }
    }

    #[test]
    fn notes_parse_and_decode() {
        let bytes = synth::encode_notes(&synth::amd64_notes());
        let mut scan = NoteScan::default();
        let n = parse_notes(ctx(), &bytes, &mut scan, "seg").unwrap();
        assert_eq!(n, 15);
        assert_eq!(scan.total, 17);
        assert_eq!(scan.build_salt.as_deref(), Some("6.1.0-99-amd64"));
        assert_eq!(scan.xen[0].name, Some("GUEST_OS"));
        assert_eq!(scan.xen[0].value, NoteValue::String("linux".into()));
        assert_eq!(
            decode_note(1, &0x1234u32.to_le_bytes()).value,
            NoteValue::Integer(0x1234)
        );
        assert_eq!(
            decode_note(1, &[1, 2, 3]).value,
            NoteValue::Bytes("010203".into())
        );
        assert_eq!(
            decode_note(99, b"hello\0").value,
            NoteValue::String("hello".into())
        );
        assert_eq!(decode_note(99, &[5]).value, NoteValue::Integer(5));
        assert_eq!(
            decode_note(99, &[0xff; 3]).value,
            NoteValue::Bytes("ffffff".into())
        );
        assert_eq!(decode_note(99, &[]).name, None);
        let long = decode_note(13, &[0xaa; 100]);
        assert!(matches!(long.value, NoteValue::Bytes(ref s) if s.len() == 128 + 3));
        // A note named "Xenophobe" is not a Xen note.
        let other = synth::encode_notes(&[synth::Note {
            name: b"Xenophobe\0".to_vec(),
            ntype: 1,
            desc: vec![0; 8],
        }]);
        assert_eq!(
            parse_notes(ctx(), &other, &mut NoteScan::default(), "s").unwrap(),
            0
        );
    }
}
