//! Xen's acceptance rules: would Xen's PV domain builder load this kernel, and start it?
//!
//! The rules of `libelf-dominfo.c` (`elf_xen_parse`, `elf_xen_addr_calc_check`) and
//! `xg_dom_elfloader.c`, applied to the notes (or the legacy `__xen_guest` string) found in the
//! image: the guest OS and Xen version, the PAE mode a 32-bit kernel needs, the required
//! FEATURES, the kernel's virtual address layout with Xen's wrapping arithmetic, and the PV
//! entry point. Each check adds a reason (`ok: ...` or `FAIL: ...`); together they give the
//! [`Verdict`] and the eliloader architecture.

use super::elf::{machine_name, Ehdr, EM_386, EM_X86_64};
use super::report::{
    hex_number, KernelReport, NoteSource, NoteValue, Pae, Verdict, XenNote, XenParams,
};

struct JudgeInput<'n> {
    machine: u16,
    class64: bool,
    e_entry: u64,
    /// Xen's `elf->pstart` / `pend` (`u64::MAX` / 0 without loadable segments).
    pstart: u64,
    pend: u64,
    source: NoteSource,
    notes: &'n [XenNote],
    guest_info: Option<&'n str>,
}

struct Judged {
    verdict: Verdict,
    reasons: Vec<String>,
    warnings: Vec<String>,
    params: Option<XenParams>,
}

/// Xen feature names and bits (`libelf-dominfo.c`, `elf_xen_feature_names`).
const FEATURES: [&str; 7] = [
    "writable_page_tables",
    "writable_descriptor_tables",
    "auto_translated_physmap",
    "supervisor_mode_kernel",
    "pae_pgdir_above_4gb",
    "hvm_callback_vector",
    "dom0",
];

#[derive(Default)]
struct FeatureCheck {
    unknown_required: Vec<String>,
    dom0_required: bool,
}

/// Split a FEATURES string as Xen does (`|`-separated, tokens of at most 63 bytes) and note
/// required (`!`) features Xen does not know, and a required `dom0`.
fn check_features(s: &str, out: &mut FeatureCheck) {
    let b = s.as_bytes();
    let mut pos = 0;
    while pos < b.len() {
        let mut len = 0;
        let mut token = Vec::new();
        loop {
            if len >= 63 || pos + len >= b.len() {
                break;
            }
            if b[pos + len] == b'|' {
                len += 1;
                break;
            }
            token.push(b[pos + len]);
            len += 1;
        }
        pos += len;
        if let Some(name) = token.strip_prefix(b"!") {
            let name = String::from_utf8_lossy(name).into_owned();
            if !FEATURES.contains(&name.as_str()) {
                out.unknown_required.push(name);
            } else if name == "dom0" {
                out.dom0_required = true;
            }
        }
    }
}

/// C's `strtoull(s, NULL, 0)`: decimal, `0x` hex or `0` octal prefix; stops at the first
/// invalid digit; saturates.
fn c_strtoull(s: &str) -> u64 {
    let t = s.trim_start();
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let lower = t.to_ascii_lowercase();
    let (radix, digits) = if lower.starts_with("0x")
        && lower[2..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_hexdigit())
    {
        (16, &t[2..])
    } else if t.starts_with('0') {
        (8, t)
    } else {
        (10, t)
    };
    let mut v: u64 = 0;
    for c in digits.chars() {
        let Some(d) = c.to_digit(radix) else { break };
        match v
            .checked_mul(u64::from(radix))
            .and_then(|v| v.checked_add(u64::from(d)))
        {
            Some(n) => v = n,
            None => return u64::MAX,
        }
    }
    if neg {
        v.wrapping_neg()
    } else {
        v
    }
}

/// Judge the notes found in the ELF with header `eh` (loadable range `pstart`..`pend`) and
/// record the verdict, the reasons, Xen's parameters and the eliloader architecture.
pub(super) fn judge_report(report: &mut KernelReport, eh: &Ehdr, pstart: u64, pend: u64) {
    let judged = judge(&JudgeInput {
        machine: eh.machine,
        class64: eh.class64,
        e_entry: eh.entry,
        pstart,
        pend,
        source: report.note_source,
        notes: &report.notes,
        guest_info: report.guest_info.as_deref(),
    });
    report.verdict = judged.verdict;
    report.reasons = judged.reasons;
    report.warnings.extend(judged.warnings);
    report.arch = eliloader_arch(eh.machine, eh.class64, judged.params.as_ref());
    report.xen = judged.params;
}

/// The eliloader `install-arch` of a kernel: "amd64" for x86-64, "i386" for 32-bit x86 with
/// PAE, else none.
fn eliloader_arch(machine: u16, class64: bool, params: Option<&XenParams>) -> Option<&'static str> {
    match params {
        _ if machine == EM_X86_64 && class64 => Some("amd64"),
        Some(p) if machine == EM_386 && !class64 && p.pae != Pae::None => Some("i386"),
        _ => None,
    }
}

/// The reasons so far, in order; a failed check is prefixed `FAIL: ` and remembered.
#[derive(Default)]
struct Reasons {
    list: Vec<String>,
    failed: bool,
}

impl Reasons {
    /// A reason as it is (`ok: ...`, or a `FAIL: ...` that decides the verdict by itself).
    fn push(&mut self, reason: String) {
        self.list.push(reason);
    }

    /// A failed check.
    fn fail(&mut self, reason: String) {
        self.failed = true;
        self.list.push(format!("FAIL: {reason}"));
    }
}

/// Xen's parameters as the notes (in order: a later note of a type wins) or the legacy
/// `__xen_guest` string give them.
struct Gathered {
    loader: Option<String>,
    guest_os: Option<String>,
    guest_version: Option<String>,
    xen_version: Option<String>,
    pae: Pae,
    features: Option<String>,
    virt_base: Option<u64>,
    virt_entry: Option<u64>,
    paddr_offset: Option<u64>,
    p2m_base: Option<u64>,
    phys32_entry: Option<u64>,
    entry_note: bool,
    feat: FeatureCheck,
}

impl Gathered {
    fn new() -> Self {
        Gathered {
            loader: None,
            guest_os: None,
            guest_version: None,
            xen_version: None,
            pae: Pae::None,
            features: None,
            virt_base: None,
            virt_entry: None,
            paddr_offset: None,
            p2m_base: None,
            phys32_entry: None,
            entry_note: false,
            feat: FeatureCheck::default(),
        }
    }

    /// From a legacy `__xen_guest` string: `NAME=value` pairs separated by commas.
    fn from_guest_info(info: &str) -> Self {
        let mut g = Gathered::new();
        for pair in info.split(',') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            match name {
                "LOADER" => g.loader = Some(value.to_owned()),
                "GUEST_OS" => g.guest_os = Some(value.to_owned()),
                "GUEST_VER" => g.guest_version = Some(value.to_owned()),
                "XEN_VER" => g.xen_version = Some(value.to_owned()),
                "PAE" if value == "yes[extended-cr3]" => g.pae = Pae::ExtendedCr3,
                "PAE" if value.starts_with("yes") => g.pae = Pae::Yes,
                "VIRT_BASE" => g.virt_base = Some(c_strtoull(value)),
                "VIRT_ENTRY" => g.virt_entry = Some(c_strtoull(value)),
                "ELF_PADDR_OFFSET" => g.paddr_offset = Some(c_strtoull(value)),
                "FEATURES" => {
                    check_features(value, &mut g.feat);
                    g.features = Some(value.to_owned());
                }
                _ => {}
            }
        }
        g
    }

    /// From the `Xen` notes; an address note of an odd size adds a warning.
    fn from_notes(notes: &[XenNote], warnings: &mut Vec<String>) -> Self {
        let mut g = Gathered::new();
        for n in notes {
            g.take_note(n, warnings);
        }
        g
    }

    fn take_note(&mut self, n: &XenNote, warnings: &mut Vec<String>) {
        let text = match &n.value {
            NoteValue::String(s) => s.clone(),
            _ => String::new(),
        };
        let num = match n.value {
            NoteValue::Integer(v) => v,
            _ => {
                // Notes whose value Xen uses as an address (arrays such as
                // L1_MFN_VALID and SUPPORTED_FEATURES are fine).
                if matches!(n.note_type, 1..=4 | 12 | 15 | 18) {
                    warnings.push(format!(
                        "Xen note {} ({}) has a value of an odd size; Xen reads it as 0",
                        n.note_type,
                        n.name.unwrap_or("?")
                    ));
                }
                0
            }
        };
        match n.note_type {
            1 => {
                self.virt_entry = Some(num);
                self.entry_note = true;
            }
            3 => self.virt_base = Some(num),
            4 => self.paddr_offset = Some(num),
            5 => self.xen_version = Some(text),
            6 => self.guest_os = Some(text),
            7 => self.guest_version = Some(text),
            8 => self.loader = Some(text),
            9 => {
                if text == "yes" {
                    self.pae = Pae::ExtendedCr3;
                }
                if text.contains("bimodal") {
                    self.pae = Pae::Bimodal;
                }
            }
            10 => {
                check_features(&text, &mut self.feat);
                self.features = Some(text);
            }
            15 => self.p2m_base = Some(num),
            // Xen keeps PHYS32_ENTRY in 32 bits.
            18 => self.phys32_entry = Some(num & 0xffff_ffff),
            _ => {}
        }
    }
}

fn judge(input: &JudgeInput<'_>) -> Judged {
    let mut reasons = Reasons::default();
    let mut warnings = Vec::new();
    check_machine(input, &mut reasons);
    if input.source == NoteSource::None {
        reasons.push(
            "FAIL: no `Xen` ELF notes and no __xen_guest section: Xen refuses it as \"Not a \
             Xen-ELF image\" (a kernel built without Xen guest support)"
                .into(),
        );
        return Judged {
            verdict: Verdict::NoXen,
            reasons: reasons.list,
            warnings,
            params: None,
        };
    }
    let legacy = input.source == NoteSource::XenGuest;
    let g = if legacy {
        Gathered::from_guest_info(input.guest_info.unwrap_or(""))
    } else {
        Gathered::from_notes(input.notes, &mut warnings)
    };
    check_required_features(&g.feat, &mut reasons);
    check_guest_os_and_version(&g, &mut reasons);
    check_pae(input.class64, g.pae, &mut reasons);
    let addr = check_addresses(input, &g, legacy, &mut reasons);
    let verdict = entry_verdict(input, &g, legacy, addr.entry, &mut reasons);
    Judged {
        verdict,
        reasons: reasons.list,
        warnings,
        params: Some(XenParams {
            guest_os: g.guest_os,
            xen_version: g.xen_version,
            loader: g.loader,
            guest_version: g.guest_version,
            pae: g.pae,
            features: g.features,
            virt_base: addr.base,
            paddr_offset: addr.paddr_offset,
            virt_kstart: addr.kstart,
            virt_kend: addr.kend,
            virt_entry: addr.entry,
            entry_note: g.entry_note,
            phys32_entry: g.phys32_entry,
        }),
    }
}

/// Xen's x86 PV loader takes x86 only, with a class that matches the machine.
fn check_machine(input: &JudgeInput<'_>, reasons: &mut Reasons) {
    let x86 = matches!(input.machine, EM_386 | EM_X86_64);
    if !x86 {
        reasons.fail(format!(
            "machine {} ({}) is not x86: Xen's x86 PV loader does not take it",
            input.machine,
            machine_name(input.machine).unwrap_or("unknown")
        ));
    } else if (input.machine == EM_X86_64) != input.class64 {
        reasons.fail(format!(
            "a {}-bit ELF for machine {}: not a consistent x86 kernel",
            if input.class64 { 64 } else { 32 },
            input.machine
        ));
    }
}

/// Xen refuses a kernel requiring (`!`) a feature it does not know, or `dom0`.
fn check_required_features(feat: &FeatureCheck, reasons: &mut Reasons) {
    for f in &feat.unknown_required {
        reasons.fail(format!(
            "FEATURES requires \"!{f}\", a feature Xen does not know: Xen refuses it"
        ));
    }
    if feat.dom0_required {
        reasons.fail(
            "FEATURES requires \"!dom0\": the kernel only runs as dom0, Xen refuses it as a guest"
                .into(),
        );
    }
}

/// GUEST_OS "linux*" or LOADER "generic*"; XEN_VERSION "xen-3.0*".
fn check_guest_os_and_version(g: &Gathered, reasons: &mut Reasons) {
    let starts = |v: &Option<String>, p: &str| v.as_deref().is_some_and(|s| s.starts_with(p));
    if starts(&g.guest_os, "linux") {
        reasons.push(format!(
            "ok: GUEST_OS {:?}",
            g.guest_os.as_deref().unwrap_or("")
        ));
    } else if starts(&g.loader, "generic") {
        reasons.push(format!(
            "ok: LOADER {:?}",
            g.loader.as_deref().unwrap_or("")
        ));
    } else {
        reasons.fail(format!(
            "Xen wants GUEST_OS starting with \"linux\" or LOADER starting with \"generic\"; \
             found GUEST_OS {:?}, LOADER {:?}",
            g.guest_os.as_deref().unwrap_or("(none)"),
            g.loader.as_deref().unwrap_or("(none)")
        ));
    }
    if starts(&g.xen_version, "xen-3.0") {
        reasons.push(format!(
            "ok: XEN_VERSION {:?}",
            g.xen_version.as_deref().unwrap_or("")
        ));
    } else {
        reasons.fail(format!(
            "XEN_VERSION {:?} does not start with \"xen-3.0\"",
            g.xen_version.as_deref().unwrap_or("(none)")
        ));
    }
}

/// A 64-bit Xen runs 64-bit kernels and 32-bit PAE kernels only.
fn check_pae(class64: bool, pae: Pae, reasons: &mut Reasons) {
    if class64 {
        reasons.push("ok: 64-bit kernel (xen-3.0-x86_64; PAE_MODE does not matter)".into());
    } else if pae == Pae::None {
        reasons.fail(
            "32-bit kernel without PAE: a 64-bit Xen only offers xen-3.0-x86_32p, so Xen \
             refuses it"
                .into(),
        );
    } else {
        reasons.push(format!(
            "ok: 32-bit PAE kernel ({}; xen-3.0-x86_32p)",
            match pae {
                Pae::Yes => "PAE=yes",
                Pae::ExtendedCr3 => "PAE_MODE yes",
                _ => "PAE_MODE bimodal",
            }
        ));
    }
}

/// The kernel's virtual layout as Xen computes it.
struct Addresses {
    base: u64,
    paddr_offset: u64,
    kstart: u64,
    kend: u64,
    entry: u64,
}

/// `elf_xen_addr_calc_check`, with Xen's wrapping u64 arithmetic.
fn check_addresses(
    input: &JudgeInput<'_>,
    g: &Gathered,
    legacy: bool,
    reasons: &mut Reasons,
) -> Addresses {
    if g.paddr_offset.is_some() && g.virt_base.is_none() {
        reasons.fail("ELF_PADDR_OFFSET is set but VIRT_BASE is not".into());
    }
    let base = g.virt_base.unwrap_or(0);
    let poff = g.paddr_offset.unwrap_or(if legacy { base } else { 0 });
    let offset = base.wrapping_sub(poff);
    let kstart = input.pstart.wrapping_add(offset);
    let kend = input.pend.wrapping_add(offset);
    let entry = g.virt_entry.unwrap_or(input.e_entry);
    if kstart > kend || entry < kstart || entry > kend || base > kstart {
        reasons.fail(format!(
            "addresses out of bounds: Xen needs virt_base <= kernel start <= entry <= \
             kernel end; have virt_base {}, start {}, entry {}, end {}",
            hex_number(base),
            hex_number(kstart),
            hex_number(entry),
            hex_number(kend)
        ));
    } else {
        reasons.push(format!(
            "ok: virt_base {} <= kernel start {} <= entry {} <= kernel end {}",
            hex_number(base),
            hex_number(kstart),
            hex_number(entry),
            hex_number(kend)
        ));
    }
    if let Some(p) = g.p2m_base {
        if p >= kstart && p < kend {
            reasons.fail(format!("INIT_P2M {} lies inside the kernel", hex_number(p)));
        }
    }
    Addresses {
        base,
        paddr_offset: poff,
        kstart,
        kend,
        entry,
    }
}

/// The verdict: a PV entry point (ENTRY note, or a legacy kernel) and no failed check.
fn entry_verdict(
    input: &JudgeInput<'_>,
    g: &Gathered,
    legacy: bool,
    entry: u64,
    reasons: &mut Reasons,
) -> Verdict {
    let pv = |reasons: &Reasons| {
        if reasons.failed {
            Verdict::NotBootable
        } else {
            Verdict::PvCapable
        }
    };
    if legacy {
        reasons.push(format!(
            "ok: legacy __xen_guest kernel: Xen starts it at {}",
            hex_number(entry)
        ));
        pv(reasons)
    } else if g.entry_note {
        reasons.push(format!(
            "ok: ENTRY note: PV entry point {}",
            hex_number(entry)
        ));
        pv(reasons)
    } else if let Some(p) = g.phys32_entry {
        reasons.push(format!(
            "FAIL: PHYS32_ENTRY {} but no ENTRY note: a PVH-only kernel (built without \
             CONFIG_XEN_PV); Xen's PV domain builder finds no PV entry point and refuses it \
             (Debian's Xen 4.17: \"xc_dom_find_loader: no loader found\")",
            hex_number(p)
        ));
        Verdict::PvhOnly
    } else {
        reasons.push(format!(
            "FAIL: no ENTRY note (and no PHYS32_ENTRY): no Xen PV entry point; Xen would jump \
             to e_entry {}",
            hex_number(input.e_entry)
        ));
        Verdict::NotBootable
    }
}

#[cfg(test)]
mod tests {
    use super::super::notes::{parse_notes, NoteScan};
    use super::super::synth;
    use super::super::Ctx;
    use super::*;
    use std::path::Path;

    fn ctx() -> Ctx<'static> {
        Ctx {
            path: Path::new("k"),
        }
    }

    #[test]
    fn features_like_xen() {
        let mut f = FeatureCheck::default();
        check_features("!writable_page_tables|pae_pgdir_above_4gb", &mut f);
        assert!(f.unknown_required.is_empty() && !f.dom0_required);
        check_features("!dom0", &mut f);
        assert!(f.dom0_required);
        let mut f = FeatureCheck::default();
        check_features("|!|!bogus||x", &mut f);
        assert_eq!(f.unknown_required, vec!["".to_string(), "bogus".into()]);
        // Tokens are cut at 63 bytes, as Xen's buffer does.
        let mut f = FeatureCheck::default();
        let long = format!("!{}dom0", "a".repeat(62));
        check_features(&long, &mut f);
        assert_eq!(f.unknown_required, vec!["a".repeat(62)]);
    }

    #[test]
    fn strtoull_like_c() {
        assert_eq!(c_strtoull("0xC0000000"), 0xc000_0000);
        assert_eq!(c_strtoull("  42,"), 42);
        assert_eq!(c_strtoull("010"), 8);
        assert_eq!(c_strtoull("0x"), 0);
        assert_eq!(c_strtoull("zz"), 0);
        assert_eq!(c_strtoull("-1"), u64::MAX);
        assert_eq!(c_strtoull("99999999999999999999999"), u64::MAX);
    }

    fn judge_notes(notes: &[synth::Note], class64: bool, machine: u16) -> Judged {
        let mut scan = NoteScan::default();
        parse_notes(ctx(), &synth::encode_notes(notes), &mut scan, "s").unwrap();
        judge(&JudgeInput {
            machine,
            class64,
            e_entry: 0x0100_0000,
            pstart: 0x0100_0000,
            pend: 0x0400_0000,
            source: NoteSource::PtNote,
            notes: &scan.xen,
            guest_info: None,
        })
    }

    #[test]
    fn judge_classifies() {
        let j = judge_notes(&synth::amd64_notes(), true, EM_X86_64);
        assert_eq!(j.verdict, Verdict::PvCapable, "{:?}", j.reasons);
        assert!(j.reasons.iter().all(|r| r.starts_with("ok: ")));
        let j = judge_notes(&synth::pvh32_notes(), false, EM_386);
        assert_eq!(j.verdict, Verdict::PvhOnly);
        // 64-bit ELF claiming EM_386 is inconsistent.
        let j = judge_notes(&synth::amd64_notes(), true, EM_386);
        assert_eq!(j.verdict, Verdict::NotBootable);
        // PAE bimodal counts as PAE.
        let mut n = synth::pv32_notes(false);
        n.push(synth::xen_str(9, "yes,bimodal"));
        let j = judge_notes(&n, false, EM_386);
        assert_eq!(j.params.unwrap().pae, Pae::Bimodal);
        assert_eq!(j.verdict, Verdict::PvCapable);
        // PAE_MODE "no" is not PAE.
        let mut n = synth::pv32_notes(false);
        n.push(synth::xen_str(9, "no"));
        assert_eq!(judge_notes(&n, false, EM_386).verdict, Verdict::NotBootable);
    }

    #[test]
    fn judge_uses_wrapping_arithmetic_like_xen() {
        // PADDR_OFFSET above VIRT_BASE wraps around and back, as in C.
        let notes = vec![
            synth::xen_str(6, "linux"),
            synth::xen_str(5, "xen-3.0"),
            synth::xen_u64(3, 0x1000),
            synth::xen_u64(4, 0x2000),
            synth::xen_u64(1, 0x0100_0000 - 0x1000),
        ];
        let j = judge_notes(&notes, true, EM_X86_64);
        let p = j.params.unwrap();
        assert_eq!(p.virt_kstart, 0x0100_0000 - 0x1000);
        assert_eq!(j.verdict, Verdict::PvCapable, "{:?}", j.reasons);
    }

    #[test]
    fn odd_sized_address_notes_warn() {
        let mut n = synth::amd64_notes();
        n.push(synth::Note {
            name: b"Xen\0".to_vec(),
            ntype: 3,
            desc: vec![0; 3],
        });
        let j = judge_notes(&n, true, EM_X86_64);
        assert!(j.warnings.iter().any(|w| w.contains("VIRT_BASE")));
        assert_eq!(j.params.unwrap().virt_base, 0);
    }
}
