//! deb822 control paragraphs, kept byte for byte and written back in apt's order.
//!
//! A [`Paragraph`] remembers the exact bytes it was parsed from: field names in
//! their original case, raw values with their leading whitespace, continuation
//! lines (tabs, trailing spaces, CRs) untouched. Parsing follows apt's
//! `pkgTagSection::Scan` so that the same bytes give the same fields, including
//! the odd cases (CRLF, a blank line ending the paragraph, duplicated fields,
//! where the last occurrence is the one looked up).
//!
//! [`Paragraph::write`] renders the paragraph the way apt's
//! `pkgTagSection::Write` does: the fields of a fixed order list first (spelled
//! as the list spells them), then the other fields in their original order,
//! applying a list of [`Change`]s (rewrite or remove). This module does no I/O.

use std::collections::HashMap;
use std::ops::Range;

/// apt's `isspace_ascii`: space, `\t`, `\n`, `\v`, `\f`, `\r`.
pub(crate) fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Trims apt-style whitespace from both ends.
pub fn trim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !is_space(*first) {
            break;
        }
        s = rest;
    }
    trim_end(s)
}

/// Trims apt-style whitespace from the end.
pub fn trim_end(mut s: &[u8]) -> &[u8] {
    while let [rest @ .., last] = s {
        if !is_space(*last) {
            break;
        }
        s = rest;
    }
    s
}

#[derive(Debug, Clone)]
struct Field {
    /// The name as written (no trailing whitespace).
    name: Range<usize>,
    /// Everything after the colon up to the next field, trailing whitespace trimmed.
    raw: Range<usize>,
    /// Where apt's scanner says the value starts (leading whitespace skipped).
    value: Range<usize>,
}

/// One deb822 paragraph, kept exactly as written.
#[derive(Debug, Clone)]
pub struct Paragraph {
    data: Vec<u8>,
    fields: Vec<Field>,
}

/// One change applied while writing a paragraph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Write the field with this value instead of the original; an empty value
    /// drops the field.
    Rewrite(&'static str, Vec<u8>),
    /// Drop every occurrence of the field.
    Remove(&'static str),
}

impl Change {
    fn name(&self) -> &'static str {
        match self {
            Change::Rewrite(n, _) | Change::Remove(n) => n,
        }
    }
}

impl Paragraph {
    /// Parses the first paragraph of `text`, as apt does with a control file:
    /// scanning stops at the first blank line (`\n\n`, also with CRs between),
    /// a line starting with whitespace continues the previous field, and a field
    /// name runs up to the next colon.
    pub fn parse(text: &[u8]) -> Paragraph {
        // apt appends "\n\n" to the control member before scanning it.
        let mut data = Vec::with_capacity(text.len() + 2);
        data.extend_from_slice(text);
        data.extend_from_slice(b"\n\n");
        let end = data.len();
        // (start of name, end of name, colon, start of value)
        let mut tags: Vec<(usize, usize, usize, usize)> = Vec::new();
        let mut last: Option<(usize, usize, usize, usize)> = None;
        let mut stop = 0usize;
        let mut sentinel = end;
        'scan: while stop < end {
            if !is_space(data[stop]) {
                if let Some(t) = last.take() {
                    tags.push(t);
                }
                let Some(colon) = memchr(b':', &data[stop..end]).map(|i| stop + i) else {
                    sentinel = stop;
                    break 'scan;
                };
                let mut end_tag = colon;
                while end_tag > stop && is_space(data[end_tag - 1]) {
                    end_tag -= 1;
                }
                let start_tag = stop;
                stop = colon + 1;
                while stop < end && is_space(data[stop]) {
                    if data[stop] == b'\n' && data.get(stop + 1) != Some(&b' ') {
                        break;
                    }
                    stop += 1;
                }
                if stop >= end {
                    last = Some((start_tag, end_tag, colon, stop.min(end)));
                    sentinel = end;
                    break 'scan;
                }
                last = Some((start_tag, end_tag, colon, stop));
            }
            match memchr(b'\n', &data[stop..end]) {
                None => {
                    sentinel = end;
                    break 'scan;
                }
                Some(i) => stop += i,
            }
            while stop + 1 < end && data[stop + 1] == b'\r' {
                stop += 1;
            }
            if stop + 1 < end && data[stop + 1] == b'\n' {
                sentinel = stop;
                break 'scan;
            }
            stop += 1;
        }
        if let Some(t) = last.take() {
            tags.push(t);
        }
        let mut fields = Vec::with_capacity(tags.len());
        for (i, &(start_tag, end_tag, colon, start_value)) in tags.iter().enumerate() {
            let next = tags
                .get(i + 1)
                .map(|t| t.0)
                .unwrap_or(sentinel.max(colon + 1));
            let raw_end = colon + 1 + trim_end(&data[colon + 1..next]).len();
            let value_start = start_value.min(raw_end).max(colon + 1);
            let value_end = value_start + trim_end(&data[value_start..raw_end]).len();
            fields.push(Field {
                name: start_tag..end_tag,
                raw: colon + 1..raw_end,
                value: value_start..value_end,
            });
        }
        Paragraph { data, fields }
    }

    /// The text the paragraph was parsed from, exactly.
    pub fn source(&self) -> &[u8] {
        &self.data[..self.data.len() - 2]
    }

    /// Number of fields (duplicates counted).
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// True when the paragraph has no field at all.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The fields in their original order: name as written and raw value.
    pub fn fields(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.fields
            .iter()
            .map(|f| (&self.data[f.name.clone()], &self.data[f.raw.clone()]))
    }

    fn find_field(&self, name: &str) -> Option<&Field> {
        self.fields
            .iter()
            .rev()
            .find(|f| self.data[f.name.clone()].eq_ignore_ascii_case(name.as_bytes()))
    }

    /// True if the paragraph has the field (case-insensitive).
    pub fn has(&self, name: &str) -> bool {
        self.find_field(name).is_some()
    }

    /// The raw value of the last occurrence of `name` (case-insensitive): all
    /// bytes after the colon, leading whitespace kept, trailing whitespace trimmed.
    pub fn raw(&self, name: &str) -> Option<&[u8]> {
        self.find_field(name).map(|f| &self.data[f.raw.clone()])
    }

    /// The value of the last occurrence of `name` with surrounding whitespace
    /// removed (apt's `FindS`).
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.find_field(name).map(|f| &self.data[f.value.clone()])
    }

    /// [`Paragraph::get`] as a string, lossily decoded; empty if absent.
    pub fn get_str(&self, name: &str) -> String {
        String::from_utf8_lossy(self.get(name).unwrap_or_default()).into_owned()
    }

    /// Writes the paragraph as apt's `pkgTagSection::Write` does, without the
    /// terminating blank line.
    ///
    /// 1. Each name of `order` in turn: its change if one applies, else the
    ///    field if present, spelled as `order` spells it.
    /// 2. Every other field in original order and original case, each
    ///    occurrence with the value of the last occurrence.
    /// 3. Rewrites of fields neither in `order` nor in the paragraph.
    pub fn write(&self, out: &mut Vec<u8>, order: &[&str], changes: &[Change]) {
        let change_for = |name: &[u8]| {
            changes
                .iter()
                .find(|c| c.name().as_bytes().eq_ignore_ascii_case(name))
        };
        for name in order {
            match change_for(name.as_bytes()) {
                Some(Change::Remove(_)) => {}
                Some(Change::Rewrite(_, v)) if v.is_empty() => {}
                Some(Change::Rewrite(_, v)) => write_field(out, name.as_bytes(), v),
                None => {
                    if let Some(raw) = self.raw(name) {
                        write_field(out, name.as_bytes(), raw);
                    }
                }
            }
        }
        let in_order = |name: &[u8]| {
            order
                .iter()
                .any(|o| o.as_bytes().eq_ignore_ascii_case(name))
        };
        // The last occurrence of each name, found once: looking it up for each field made
        // writing n distinct fields take n²/2 comparisons (hours for a 4 MiB control file).
        // Made only when a field is not in `order` (most paragraphs have none).
        let mut last: Option<HashMap<Vec<u8>, Range<usize>>> = None;
        for f in &self.fields {
            let name = &self.data[f.name.clone()];
            if in_order(name) {
                continue;
            }
            let last = last.get_or_insert_with(|| {
                let mut last = HashMap::new();
                for f in &self.fields {
                    let name = self.data[f.name.clone()].to_ascii_lowercase();
                    last.insert(name, f.raw.clone());
                }
                last
            });
            match change_for(name) {
                Some(Change::Remove(_)) => {}
                Some(Change::Rewrite(_, v)) if v.is_empty() => {}
                Some(Change::Rewrite(_, v)) => write_field(out, name, v),
                None => {
                    let raw = last.get(&name.to_ascii_lowercase()).unwrap_or(&f.raw);
                    write_field(out, name, &self.data[raw.clone()]);
                }
            }
        }
        for c in changes {
            if let Change::Rewrite(name, v) = c {
                if !v.is_empty() && !self.has(name) && !in_order(name.as_bytes()) {
                    write_field(out, name.as_bytes(), v);
                }
            }
        }
    }
}

/// apt's `WriteTag`: `Name: value`, or `Name:value` when the value is empty or
/// starts with whitespace. Rewrites with an empty value are dropped by the caller.
fn write_field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    if value.is_empty() || is_space(value[0]) {
        out.push(b':');
    } else {
        out.extend_from_slice(b": ");
    }
    out.extend_from_slice(value);
    out.push(b'\n');
}

/// The paragraphs of a file of several (a Packages index), as apt steps through them:
/// each ends where [`Paragraph::parse`] stops (a newline, then a blank line, also with CRs
/// between), the blank lines between paragraphs are skipped, and a stretch of whitespace
/// only is no paragraph. A stretch without any field (a line without a colon) is one, and
/// its [`Paragraph`] is empty.
pub fn paragraphs(text: &[u8]) -> impl Iterator<Item = Paragraph> + '_ {
    let mut rest = text;
    std::iter::from_fn(move || loop {
        let start = rest.iter().position(|&b| b != b'\n' && b != b'\r')?;
        let (paragraph, next) = rest[start..].split_at(paragraph_end(&rest[start..]));
        rest = next;
        if !paragraph.iter().all(|&b| is_space(b)) {
            return Some(Paragraph::parse(paragraph));
        }
    })
}

/// Where the first paragraph of `text` ends: just after the newline a blank line follows
/// (`\n`, any CRs, `\n`), else at the end.
fn paragraph_end(text: &[u8]) -> usize {
    let mut from = 0;
    while let Some(i) = memchr(b'\n', &text[from..]) {
        let after = from + i + 1;
        let blank = text[after..]
            .iter()
            .find(|&&b| b != b'\r')
            .is_some_and(|&b| b == b'\n');
        if blank {
            return after;
        }
        from = after;
    }
    text.len()
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_are_split_at_blank_lines() {
        let text = b"\n\nPackage: a\nDescription: x\n Package: not-a-field\n\r\n\n\nPackage: b\r\nVersion: 2\n\nPackage: c";
        let got: Vec<(String, String)> = paragraphs(text)
            .map(|p| (p.get_str("Package"), p.get_str("Version")))
            .collect();
        assert_eq!(
            got,
            [
                ("a".to_string(), String::new()),
                ("b".to_string(), "2".to_string()),
                ("c".to_string(), String::new())
            ]
        );
        assert_eq!(paragraphs(b"").count(), 0);
        assert_eq!(paragraphs(b"\n\r\n").count(), 0);
    }

    #[test]
    fn paragraphs_split_on_blank_lines() {
        assert_eq!(paragraphs(b"A: 1\n\nB: 2\n\n").count(), 2);
        assert_eq!(paragraphs(b"").count(), 0);
        let got: Vec<String> =
            paragraphs(b"\n\nA: 1\n\n\n\nB: 2\n \n\r\n\r\nC: 3\r\n\r\r\nno colon\n\n  \t\n\n")
                .map(|p| String::from_utf8_lossy(p.source()).into_owned())
                .collect();
        // A line of spaces continues a field; CR-only lines are blank, as apt reads them.
        assert_eq!(got, ["A: 1\n", "B: 2\n \n", "C: 3\r\n", "no colon\n"]);
        let last = paragraphs(b"Package: a\nSize: 1\n\nno colon\n")
            .last()
            .unwrap();
        assert!(last.is_empty());
    }

    fn render(text: &[u8], order: &[&str], changes: &[Change]) -> String {
        let mut out = Vec::new();
        Paragraph::parse(text).write(&mut out, order, changes);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn values_are_kept_raw_and_names_take_the_order_spelling() {
        let t = b"package: foo\nversion:1.0\nArchitecture:\tamd64\nmaintainer:   Spaced   Maint <s@x>   \nX-Empty:\nX-Custom: a\n";
        let got = render(
            t,
            &["Package", "Architecture", "Version", "Maintainer"],
            &[],
        );
        assert_eq!(
            got,
            "Package: foo\nArchitecture:\tamd64\nVersion: 1.0\nMaintainer:   Spaced   Maint <s@x>\nX-Empty:\nX-Custom: a\n"
        );
    }

    #[test]
    fn continuation_lines_are_copied_byte_for_byte() {
        let t = b"Package: p\nConffiles:\n /etc/a 123  \n\t/etc/b 456\nDescription: short\n long  \n .\n";
        let p = Paragraph::parse(t);
        assert_eq!(
            p.raw("conffiles").unwrap(),
            b"\n /etc/a 123  \n\t/etc/b 456"
        );
        assert_eq!(p.raw("Description").unwrap(), b" short\n long  \n .");
        assert_eq!(p.get("Description").unwrap(), b"short\n long  \n .");
        assert_eq!(
            render(t, &["Package", "Conffiles"], &[]).lines().nth(1),
            Some("Conffiles:")
        );
    }

    #[test]
    fn duplicates_take_the_last_value() {
        let t = b"Package: p\nDepends: a\nZ-Dup: first\nDepends: b\nz-dup: second\n";
        let got = render(t, &["Package", "Depends"], &[]);
        assert_eq!(
            got,
            "Package: p\nDepends: b\nZ-Dup: second\nz-dup: second\n"
        );
    }

    #[test]
    fn parsing_stops_at_the_first_blank_line_even_with_crlf() {
        let p = Paragraph::parse(b"Package: p\r\nVersion: 1\r\n\r\nAfter: x\r\n");
        assert_eq!(p.len(), 2);
        assert_eq!(p.raw("Version").unwrap(), b" 1");
        let p = Paragraph::parse(b"Package: p\n\nAfter: x\n");
        assert!(!p.has("After"));
    }

    #[test]
    fn crlf_inside_a_multiline_value_is_kept() {
        let p = Paragraph::parse(b"Package: p\r\nDescription: d\r\n x\r\n");
        assert_eq!(p.raw("Description").unwrap(), b" d\r\n x");
    }

    #[test]
    fn rewrites_and_removals() {
        let t = b"Package: p\nStatus: install ok\nSize: 1\nPriority:   optional   \nOptional: yes\nX-A: 1\n";
        let changes = vec![
            Change::Rewrite("Size", b"42".to_vec()),
            Change::Remove("Status"),
            Change::Remove("Optional"),
            Change::Rewrite("Priority", b"optional".to_vec()),
            Change::Rewrite("Section", Vec::new()),
        ];
        let got = render(
            t,
            &["Package", "Status", "Priority", "Section", "Size"],
            &changes,
        );
        assert_eq!(got, "Package: p\nPriority: optional\nSize: 42\nX-A: 1\n");
    }

    /// Odd input gives the fields apt gives, and writes what apt writes. The expected
    /// values are libapt-pkg 2.6.2's (`apt_pkg.TagSection(text + b"\n\n")`, then
    /// `write(f, ["Package"], [TagRewrite("Size", "1")])`), except for `a`, which apt
    /// refuses to scan (no colon), and the NUL case, which python-apt cannot pass.
    #[test]
    fn hostile_input_gives_apts_fields_and_output() {
        type Fields<'a> = &'a [(&'a [u8], &'a [u8])];
        let cases: &[(&[u8], Fields, &[u8])] = &[
            (b"", &[], b"Size: 1\n"),
            (b":", &[(b"", b"")], b":\nSize: 1\n"),
            (b"\n", &[], b"Size: 1\n"),
            (b" \n:", &[(b"", b"")], b":\nSize: 1\n"),
            (b"::::", &[(b"", b":::")], b": :::\nSize: 1\n"),
            (b"a", &[], b"Size: 1\n"),
            (b"a:\n", &[(b"a", b"")], b"a:\nSize: 1\n"),
            (b"\r\r\r", &[], b"Size: 1\n"),
            (b"x: \n \n \n", &[(b"x", b"")], b"x:\nSize: 1\n"),
            (
                b"no colon here\nFoo: bar",
                &[(b"no colon here\nFoo", b" bar")],
                b"no colon here\nFoo: bar\nSize: 1\n",
            ),
            (
                b"\xff\xfe: \x00",
                &[(b"\xff\xfe", b" \x00")],
                b"\xff\xfe: \x00\nSize: 1\n",
            ),
            (b"A:\n\n", &[(b"A", b"")], b"A:\nSize: 1\n"),
            (b" leading: space\n", &[], b"Size: 1\n"),
        ];
        for &(t, fields, written) in cases {
            let shown = String::from_utf8_lossy(t);
            let p = Paragraph::parse(t);
            assert_eq!(p.source(), t, "{shown:?}");
            assert_eq!(p.len(), fields.len(), "{shown:?}");
            assert_eq!(p.is_empty(), fields.is_empty(), "{shown:?}");
            let got: Vec<(&[u8], &[u8])> = p.fields().collect();
            assert_eq!(got, fields, "{shown:?}");
            for &(name, raw) in fields {
                if let Ok(name) = std::str::from_utf8(name) {
                    assert_eq!(p.raw(name), Some(raw), "{shown:?}: {name}");
                    assert_eq!(p.get(name), Some(trim(raw)), "{shown:?}: {name}");
                }
            }
            assert_eq!(p.get("Package"), None, "{shown:?}");
            let mut out = Vec::new();
            p.write(
                &mut out,
                &["Package"],
                &[Change::Rewrite("Size", b"1".to_vec())],
            );
            assert_eq!(
                out.escape_ascii().to_string(),
                written.escape_ascii().to_string(),
                "{shown:?}"
            );
        }
    }

    #[test]
    fn a_name_runs_to_the_next_colon_like_apt() {
        let p = Paragraph::parse(b"garbage line\nFoo: bar\n");
        assert_eq!(p.len(), 1);
        assert!(p.has("garbage line\nFoo"));
    }
}
