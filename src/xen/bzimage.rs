//! The containers around the kernel ELF: a bzImage (also behind an `MZ` EFI stub) and a
//! whole-file gzip of an ELF (2.6.18-era Xen kernels).
//!
//! For a bzImage it reads the setup header (boot protocol, kernel version string) and finds the
//! compressed payload and its size trailer, as `xg_dom_bzimageloader.c` does; the payload is
//! then examined as a stream ([`StreamElf`]), never held in memory.

use super::elf::StreamElf;
use super::report::{KernelReport, PayloadInfo, Verdict};
use super::{c_string, examine_elf, u16le, u32le, Ctx, InspectOptions, XenError, MAX_KERNEL_SIZE};
use crate::compress::{read_at_most, Compression, Shared};
use crate::hash::hex;

/// Examine a bzImage whose first 0x250 bytes are `head`.
pub(super) fn bzimage(
    ctx: Ctx<'_>,
    src: &Shared<'_>,
    head: &[u8],
    report: &mut KernelReport,
    opts: &InspectOptions,
) -> Result<(), XenError> {
    read_setup_header(ctx, src, head, report)?;
    if u16le(head, 0x206) < 0x0208 {
        report.verdict = Verdict::NotBootable;
        report.reasons.push(format!(
            "FAIL: boot protocol {} is older than 2.08: Xen only loads bzImages that carry an ELF \
             payload (Linux 2.6.26 and later)",
            report.boot_protocol.as_deref().unwrap_or("?")
        ));
        return Ok(());
    }
    let (start, end) = payload_range(ctx, head, report.file_size)?;
    let length = end - start;
    let magic = read_at_most(src, start, 8).map_err(|e| ctx.io(e))?;
    let compression = match Compression::sniff(&magic) {
        Some(c) if c != Compression::Lz4Frame => c,
        _ => {
            return Err(ctx.bzimage(format!(
                "unknown payload compression (starts with {})",
                hex(&magic)
            )))
        }
    };
    if length <= 8 {
        return Err(ctx.payload(
            compression,
            format!("only {length} bytes: too short for data and a size trailer"),
        ));
    }
    let trailer = read_at_most(src, end - 4, 4).map_err(|e| ctx.io(e))?;
    let declared = u64::from(u32le(&trailer, 0));
    report.payload = Some(unread_payload(compression, start, length, declared));
    if !matches!(compression, Compression::Gzip | Compression::Xz) {
        report.warnings.push(format!(
            "Xen decompresses {compression} kernels only when its toolstack was built with \
             {compression} support; gzip or xz are safe"
        ));
    }
    if !compression.decodable() {
        report.verdict = Verdict::CannotCheck;
        report.reasons.push(format!(
            "the payload is {compression}-compressed and elirepo has no {compression} decoder: \
             its ELF notes cannot be checked"
        ));
        return Ok(());
    }
    if declared > MAX_KERNEL_SIZE {
        return Err(ctx.payload(
            compression,
            format!("its size trailer declares {declared} bytes, above Xen's 1 GiB limit"),
        ));
    }
    // Xen hands gzip the whole payload (its trailer holds the size) and the other decoders
    // the payload without the 4-byte size trailer.
    let input_end = if compression == Compression::Gzip {
        end
    } else {
        end - 4
    };
    let mut s = StreamElf::new(ctx, src.clone(), compression, start, input_end, declared);
    examine_payload(ctx, &mut s, report, opts)
}

/// The setup header: EFI stub, boot protocol, kernel version string.
fn read_setup_header(
    ctx: Ctx<'_>,
    src: &Shared<'_>,
    head: &[u8],
    report: &mut KernelReport,
) -> Result<(), XenError> {
    report.efi_stub = head.starts_with(b"MZ");
    let protocol = u16le(head, 0x206);
    report.boot_protocol = Some(format!("{}.{:02}", protocol >> 8, protocol & 0xff));
    let kv = u16le(head, 0x20e);
    if kv != 0 {
        let raw = read_at_most(src, u64::from(kv) + 0x200, 256).map_err(|e| ctx.io(e))?;
        let v = c_string(&raw);
        let v = v.trim();
        if !v.is_empty() {
            report.kernel_version = Some(v.to_owned());
        }
    }
    Ok(())
}

/// Where the payload lies in the file, `[start, end)`: after the setup sectors, at the setup
/// header's `payload_offset`, `payload_length` bytes long.
fn payload_range(ctx: Ctx<'_>, head: &[u8], file_size: u64) -> Result<(u64, u64), XenError> {
    let setup_sects = u64::from(head[0x1f1]);
    let start = (setup_sects + 1) * 512 + u64::from(u32le(head, 0x248));
    let length = u64::from(u32le(head, 0x24c));
    if start >= file_size {
        return Err(ctx.bzimage(format!(
            "payload offset {start} is past the end of the {file_size}-byte file"
        )));
    }
    let end = start + length; // both below 2^34: no overflow
    if end > file_size {
        return Err(ctx.bzimage(format!(
            "payload of {length} bytes at offset {start} runs past the end of the \
             {file_size}-byte file (truncated?)"
        )));
    }
    Ok((start, end))
}

/// A payload found but not decompressed yet.
fn unread_payload(
    compression: Compression,
    offset: u64,
    length: u64,
    declared: u64,
) -> PayloadInfo {
    PayloadInfo {
        compression,
        offset,
        length,
        declared_size: declared,
        decompressed_bytes: 0,
        passes: 0,
        size_verified: false,
        trailing_bytes: None,
    }
}

/// Examine a gzip-compressed ELF (the whole file is one gzip stream).
pub(super) fn gzip_elf(
    ctx: Ctx<'_>,
    src: &Shared<'_>,
    report: &mut KernelReport,
    opts: &InspectOptions,
) -> Result<(), XenError> {
    let size = report.file_size;
    if size < 18 {
        return Err(ctx.payload(Compression::Gzip, "too short for a gzip stream"));
    }
    let trailer = read_at_most(src, size - 4, 4).map_err(|e| ctx.io(e))?;
    let declared = u64::from(u32le(&trailer, 0));
    report.payload = Some(unread_payload(Compression::Gzip, 0, size, declared));
    if declared > MAX_KERNEL_SIZE {
        return Err(ctx.payload(
            Compression::Gzip,
            format!("its ISIZE declares {declared} bytes, above Xen's 1 GiB limit"),
        ));
    }
    let mut s = StreamElf::new(ctx, src.clone(), Compression::Gzip, 0, size, declared);
    match examine_payload(ctx, &mut s, report, opts) {
        Err(XenError::BadElf { reason, .. }) if reason.starts_with("not an ELF image") => {
            Err(ctx.not_kernel(format!("gzip-compressed, but {reason}")))
        }
        other => other,
    }
}

/// Examine the ELF streamed out of a payload, then (for a PV-capable kernel, unless
/// [`InspectOptions::verify_payload`] is off) read the stream to its end to check its size as
/// Xen does; record in the report's payload what the decompression did.
fn examine_payload(
    ctx: Ctx<'_>,
    s: &mut StreamElf<'_, '_>,
    report: &mut KernelReport,
    opts: &InspectOptions,
) -> Result<(), XenError> {
    let result = examine_elf(ctx, s, report);
    let verify = result.is_ok() && report.verdict.is_pv_capable() && opts.verify_payload;
    let trailing = if verify { Some(s.finish()?) } else { None };
    if let Some(p) = report.payload.as_mut() {
        p.decompressed_bytes = s.total;
        p.passes = s.passes;
        p.size_verified = verify;
        p.trailing_bytes = trailing;
    }
    result
}
