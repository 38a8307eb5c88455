#!/usr/bin/env bash
# (Re)create the .deb fixtures used by the packages compatibility tests.
#
# usage: scripts/make-fixtures.sh            (from anywhere)
#
# Writes, after deleting the old ones:
#   fixtures/packages/  good .debs in a sort-tricky tree (see the inventory
#                       in fixtures/README.md)
#   fixtures/broken/    one broken archive per file
#   fixtures/mixed/     a couple of good .debs plus copies of broken ones
#   fixtures/override   an override file for `packages DIR OVERRIDE`
#   fixtures/demo/      the demo's .debs (and its key, if missing), through
#                       scripts/make-demo.sh
# Needs: bash, python3 (stdlib), dpkg-deb, zstd.  The output is deterministic:
# SOURCE_DATE_EPOCH is fixed, dpkg-deb runs with --root-owner-group, file
# mtimes are pinned and scripts/debwriter.py fixes every header field.
# Run scripts/make-goldens.sh afterwards to refresh fixtures/golden/.
set -euo pipefail

export SOURCE_DATE_EPOCH=1700000000
export LC_ALL=C TZ=UTC
umask 022

root=$(cd "$(dirname "$0")/.." && pwd)
fx=$root/fixtures
W="python3 $root/scripts/debwriter.py"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for tool in dpkg-deb zstd python3; do
    command -v "$tool" >/dev/null || { echo "make-fixtures: $tool not found" >&2; exit 1; }
done

rm -rf "$fx/packages" "$fx/broken" "$fx/mixed" "$fx/override"
mkdir -p "$fx/packages" "$fx/broken" "$fx/mixed"
P=$fx/packages

# ctl NAME BYTES: write a control file to $tmp/NAME.control, byte for byte.
ctl() { printf '%s' "$2" > "$tmp/$1.control"; }

# dpkgdeb OUT COMP CONTROLFILE: build OUT with the real dpkg-deb from a tiny tree.
dpkgdeb() {
    local out=$1 comp=$2 control=$3 d
    d=$tmp/tree
    rm -rf "$d"
    mkdir -p "$d/DEBIAN" "$d/usr/share/doc/fixture"
    cp "$control" "$d/DEBIAN/control"
    printf 'fixture\n' > "$d/usr/share/doc/fixture/README"
    find "$d" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
    mkdir -p "$(dirname "$out")"
    dpkg-deb --root-owner-group -Z"$comp" --build "$d" "$out" >/dev/null
    touch -d "@$SOURCE_DATE_EPOCH" "$out"
    rm -rf "$d"
}

# std NAME VERSION ARCH [EXTRA-FIELDS]: a plain, well-formed control file.
std() {
    printf 'Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: Fixture Maker <fixtures@example.org>\n%sDescription: fixture package %s\n A small package built for the elirepo compatibility tests.\n .\n It has a long description of two paragraphs.\n' \
        "$1" "$2" "$3" "${4:-}" "$1"
}

############################################################################
# fixtures/packages: good .debs
############################################################################

# --- compressions via dpkg-deb (control member follows -Z) ----------------
std hello-gz 1.0-1 amd64 $'Installed-Size: 12\nPriority: optional\nSection: utils\n' > "$tmp/hello-gz.control"
dpkgdeb "$P/a/hello-gz_1.0-1_amd64.deb" gzip "$tmp/hello-gz.control"
std hello-xz 1.0-1 amd64 $'Installed-Size: 12\nSection: net\nPriority: optional\nDepends: libc6 (>= 2.36), hello-gz\nHomepage: https://example.org/hello\n' > "$tmp/hello-xz.control"
dpkgdeb "$P/a/hello-xz_1.0-1_amd64.deb" xz "$tmp/hello-xz.control"
std hello-zst 1.0-1 amd64 $'Multi-Arch: foreign\nSection: admin\n' > "$tmp/hello-zst.control"
dpkgdeb "$P/a/hello-zst_1.0-1_amd64.deb" zstd "$tmp/hello-zst.control"
std hello-none 1.0-1 amd64 $'Priority: extra\n' > "$tmp/hello-none.control"
dpkgdeb "$P/a/hello-none_1.0-1_amd64.deb" none "$tmp/hello-none.control"
std allpkg 2.0 all $'Section: doc\nPriority: optional\n' > "$tmp/allpkg.control"
dpkgdeb "$P/_x/allpkg_2.0_all.deb" xz "$tmp/allpkg.control"
std i386pkg 0.9 i386 $'Section: libs\nPriority: optional\nMulti-Arch: same\n' > "$tmp/i386pkg.control"
dpkgdeb "$P/B/i386pkg_0.9_i386.deb" xz "$tmp/i386pkg.control"
std epoch 1:2.0-1 amd64 $'Source: epoch-src (1:2.0-1)\nSection: misc\nPriority: optional\n' > "$tmp/epoch.control"
dpkgdeb "$P/a-b/epoch_1%3a2.0-1_amd64.deb" gzip "$tmp/epoch.control"

# --- compressions dpkg-deb does not write, and ar name styles ---------------
std ctlnone 1.0 amd64 $'Section: misc\n' > "$tmp/ctlnone.control"
$W "$P/a.b/ctlnone_1.0_amd64.deb" --control "$tmp/ctlnone.control" --ctrl-comp none --data-comp xz --ar-names bsd
std ctlxz 1.0 amd64 $'Section: misc\n' > "$tmp/ctlxz.control"
$W "$P/a.b/ctlxz_1.0_amd64.deb" --control "$tmp/ctlxz.control" --ctrl-comp xz --data-comp none --ar-names gnu
std ctlzst 1.0 i386 $'Section: misc\n' > "$tmp/ctlzst.control"
$W "$P/a.b/ctlzst_1.0_i386.deb" --control "$tmp/ctlzst.control" --ctrl-comp zst --data-comp zst --ar-names gnu
std databz2 1.0 all $'Section: misc\n' > "$tmp/databz2.control"
$W "$P/_x/databz2_1.0_all.deb" --control "$tmp/databz2.control" --ctrl-comp gz --data-comp bz2 --ar-names gnu
std datalzma 3:0.1 amd64 $'Section: misc\n' > "$tmp/datalzma.control"
$W "$P/_x/datalzma_3%3a0.1_amd64.deb" --control "$tmp/datalzma.control" --ctrl-comp gz --data-comp lzma --ar-names bsd
std datagz 1.0 amd64 > "$tmp/datagz.control"
$W "$P/a/datagz_1.0_amd64.deb" --control "$tmp/datagz.control" --ctrl-comp xz --data-comp gz --ar-names gnu
# A control tar entry named `control` (no ./) and an extra ar member after
# data.tar: apt accepts both; dpkg-deb never writes them.
std ctlname 1.0 amd64 > "$tmp/ctlname.control"
$W "$P/a/ctlname_1.0_amd64.deb" --control "$tmp/ctlname.control" --control-name control \
    --control-entry ./md5sums=/dev/null
std extramember 1.0 amd64 > "$tmp/extramember.control"
$W "$P/a/extramember_1.0_amd64.deb" --control "$tmp/extramember.control" \
    --members debian-binary,control,data,extra --extra-member _gpgbuilder=signed-by-nobody\\n

# --- odd control files -------------------------------------------------------
# Unknown fields out of order; duplicated known and unknown fields.
ctl odd-order $'Package: odd-order\nX-Custom-Field: custom\nVersion: 1.0\nZzz-Last: z\nDepends: first-dep\nArchitecture: amd64\nAaa-First: a\nZ-Dup: first\nMaintainer: Odd <odd@example.org>\nDepends: second-dep\nDescription: unknown fields and duplicates\nZ-Dup: second\nBuilt-Using: foo (= 1)\nArchitecture-Variant: amd64v3\nHomepage: https://example.org/odd\n'
$W "$P/a.b/odd-order_1.0_amd64.deb" --control "$tmp/odd-order.control" --ar-names gnu

# Whitespace: lower-case names, no space, TAB after colon, leading and
# trailing spaces, empty value, padded Priority/Section, spaced Maintainer.
ctl odd-space $'package: odd-space\nversion:1.0\narchitecture:\tamd64\nmaintainer:   Spaced   Maint <s@example.org>   \nPriority:   optional   \nSection:  utils  \nX-Empty:\nX-Blank:    \nInstalled-Size:\t42\nsOuRcE: odd-src (1.2-1)\nDescription:  leading spaces in the short description  \n  and in the long one  \n'
$W "$P/a.b/odd-space_1.0_amd64.deb" --control "$tmp/odd-space.control"

# Multi-line values: Conffiles with the value on the next line, tab-indented
# continuation, trailing spaces on continuation lines, a multi-line unknown
# field and a multi-line Depends.
ctl odd-multiline $'Package: odd-multiline\nVersion: 2:1.0~rc1+dfsg-3\nArchitecture: amd64\nMaintainer: Multi <m@example.org>\nDepends: a,\n b (>= 1),\n\tc\nConffiles:\n /etc/odd/one.conf 0123456789abcdef0123456789abcdef\n /etc/odd/two.conf fedcba9876543210fedcba9876543210 obsolete\nX-Multi: first line\n second line   \n\ttabbed line\t\n third\nDescription: multi-line things   \n trailing spaces here   \n .\n\ttab-indented line\n last line   \n'
$W "$P/a/odd-multiline_1.0_amd64.deb" --control "$tmp/odd-multiline.control" --ctrl-comp xz

# CRLF line endings throughout.
ctl odd-crlf $'Package: odd-crlf\r\nVersion: 1.0\r\nArchitecture: amd64\r\nMaintainer: Crlf <crlf@example.org>\r\nX-Crlf: yes\r\nDescription: d\r\n x\r\n y\r\n'
$W "$P/a/odd-crlf_1.0_amd64.deb" --control "$tmp/odd-crlf.control"

# Non-UTF-8 (latin-1) bytes.
ctl odd-latin1 $'Package: odd-latin1\nVersion: 1.0\nArchitecture: i386\nMaintainer: Andr\xe9 Fran\xe7ois <af@example.org>\nDescription: caf\xe9 cr\xe8me br\xfbl\xe9e\n na\xefve \xa9 \xff\n'
$W "$P/B/odd-latin1_1.0_i386.deb" --control "$tmp/odd-latin1.control"

# Fields apt writes itself must be overwritten or dropped; Description-md5
# kept; Status removed; fields after a blank line dropped.
ctl odd-overwrite $'Package: odd-overwrite\nStatus: install ok installed\nVersion: 1.0\nArchitecture: amd64\nFilename: pool/wrong/path.deb\nSize: 1\nMD5sum: 00000000000000000000000000000000\nSHA1: 0000000000000000000000000000000000000000\nSHA256: 0000000000000000000000000000000000000000000000000000000000000000\nSHA512: 00\nMaintainer: Over <over@example.org>\nDescription: pre-existing apt fields\n long text\nDescription-md5: 0123456789abcdef0123456789abcdef\nTag: role::program, use::testing\n\nPackage: after-blank\nX-After-Blank: dropped\n'
$W "$P/a.b/odd-overwrite_1.0_amd64.deb" --control "$tmp/odd-overwrite.control" --ar-names gnu

# No Description, no Maintainer, no Version: apt only needs Package.
ctl odd-minimal $'Package: odd-minimal\nX-Only: this\n'
$W "$P/a/odd-minimal.deb" --control "$tmp/odd-minimal.control" --ctrl-comp none --data-comp none

# --- control syntax corner cases (packages/a/syntax/) -------------------------
# Each is what apt 2.6.2 accepts; the comments say what it prints.
syn() { ctl "syn-$1" "$2"; $W "$P/a/syntax/$1_1.0_amd64.deb" --control "$tmp/syn-$1.control"; }
syn nocolon $'Package: nocolon\nthis line has no colon\nVersion: 1\n'       # printed as an unknown "field" without a colon
syn spacecolon $'Package: spacecolon\nFoo : bar\nVersion : 2\n'             # name trimmed: "Foo: bar", "Version: 2"
syn contfirst $' leading continuation\nPackage: contfirst\nVersion: 1\n'    # the leading continuation line is dropped
syn nonl $'Package: nonl\nVersion: 1\nDescription: no final newline'       # no trailing newline at all
syn pkgspace $'Package:   pkgspace   \nVersion: 1\n'                       # "Package:   pkgspace"
syn duppkg $'Package: first\nVersion: 1\nPackage: second\n'                # last Package wins
syn descempty $'Package: descempty\nDescription:\n line one\n line two\n'   # short description on the next line
syn desconly $'Package: desconly\nDescription:    \n'                      # empty Description
syn oddname $'Package: oddname\nX_Under.Dot: v\nX-Colon:: double\n:empty-name\n'  # "X-Colon: : double", ": empty-name"
syn leadblank $'\nPackage: leadblank\nVersion: 1\n'                        # ONE leading blank line is skipped
syn leadspace $' \nPackage: leadspace\nVersion: 1\n'                       # a leading space-only line too
syn tabcont $'Package: tabcont\nDescription: a\n\tb\n'                     # tab continuation right after the first line

# --- names and places -------------------------------------------------------
std Zcow 1.0 amd64 $'Section: misc\n' > "$tmp/Zcow.control"
$W "$P/Zcow.deb" --control "$tmp/Zcow.control"                 # no _arch in the name
std abc 1.0 amd64 > "$tmp/Abc.control"
$W "$P/a/Abc.deb" --control "$tmp/Abc.control"
std dotdir 1.0 amd64 > "$tmp/dotdir.control"
$W "$P/.hidden/dotdir_1.0_amd64.deb" --control "$tmp/dotdir.control"
std dup 1.0 amd64 > "$tmp/dup.control"                          # same package twice
$W "$P/a/dup_1.0_amd64.deb" --control "$tmp/dup.control"
$W "$P/a-b/dup_1.0_amd64.deb" --control "$tmp/dup.control" --ar-names gnu
std mislabel 1.0 amd64 > "$tmp/mislabel.control"                # -a filters on the name
$W "$P/B/mislabel_1.0_i386.deb" --control "$tmp/mislabel.control"
std installer 1.0 amd64 $'Package-Type: udeb\nSection: debian-installer\nPriority: standard\n' > "$tmp/udeb.control"
$W "$P/a/installer_1.0_amd64.udeb" --control "$tmp/udeb.control"
std hello-dbgsym 1.0-1 amd64 $'Package-Type: ddeb\nAuto-Built-Package: debug-symbols\nSection: debug\nPriority: optional\nBuild-Ids: 0123abcd\n' > "$tmp/ddeb.control"
$W "$P/a/hello-dbgsym_1.0-1_amd64.ddeb" --control "$tmp/ddeb.control"
std nested 1.0 all > "$tmp/nested.control"
$W "$P/a/b/c/d/nested_1.0_all.deb" --control "$tmp/nested.control"
# Skipped by the *.deb/*.udeb/*.ddeb match (case-sensitive, whole name).
std skipped 1.0 amd64 > "$tmp/skipped.control"
$W "$P/a/X.DEB" --control "$tmp/skipped.control"
$W "$P/a/x.deb.bak" --control "$tmp/skipped.control"
$W "$P/a/y.deb.d" --control "$tmp/skipped.control"
printf 'not a package\n' > "$P/a/notes.txt"

############################################################################
# fixtures/broken: one broken archive per file
############################################################################
B=$fx/broken
std broken 1.0 amd64 > "$tmp/broken.control"
printf 'This is not an ar archive.\n' > "$B/bad-magic_1.0_amd64.deb"
: > "$B/empty_1.0_amd64.deb"
# ar header of control.tar.gz says more bytes than are left.
$W "$B/truncated_1.0_amd64.deb" --control "$tmp/broken.control" --truncate 200
$W "$B/no-control-member_1.0_amd64.deb" --control "$tmp/broken.control" --members debian-binary,data
$W "$B/no-data-member_1.0_amd64.deb" --control "$tmp/broken.control" --members debian-binary,control
$W "$B/no-debian-binary_1.0_amd64.deb" --control "$tmp/broken.control" --members control,data
$W "$B/control-bz2_1.0_amd64.deb" --control "$tmp/broken.control" --ctrl-comp bz2
$W "$B/control-lzma_1.0_amd64.deb" --control "$tmp/broken.control" --ctrl-comp lzma
$W "$B/control-not-xz_1.0_amd64.deb" --control "$tmp/broken.control" --ctrl-comp gz --member-name control=control.tar.xz
printf 'x  ./usr/share/doc/fixture/README\n' > "$tmp/md5sums"
$W "$B/no-control-file_1.0_amd64.deb" --no-control-file --control-entry "./md5sums=$tmp/md5sums"
printf 'Version: 1.0\nArchitecture: amd64\nMaintainer: No Name <n@example.org>\nDescription: no package field\n' > "$tmp/nopkg.control"
$W "$B/no-package-field_1.0_amd64.deb" --control "$tmp/nopkg.control"
# Control files apt cannot read a Package field from.
printf '\n\nPackage: leading-blanks\nVersion: 1.0\n' > "$tmp/b1.control"   # one blank line is fine, two are not
$W "$B/control-two-leading-blanks_1.0_amd64.deb" --control "$tmp/b1.control"
printf '# comment\nPackage: comment-first\nVersion: 1.0\n' > "$tmp/b2.control"
$W "$B/control-comment-first_1.0_amd64.deb" --control "$tmp/b2.control"
: > "$tmp/b3.control"
$W "$B/control-empty_1.0_amd64.deb" --control "$tmp/b3.control"
printf 'Package:\nVersion: 1.0\nDescription: empty package name\n' > "$tmp/b4.control"
$W "$B/package-empty-value_1.0_amd64.deb" --control "$tmp/b4.control"
$W "$B/debian-binary-3.0_1.0_amd64.deb" --control "$tmp/broken.control" --debian-binary '3.0\n'
$W "$B/size-too-large_1.0_amd64.deb" --control "$tmp/broken.control" --lie-size 999999

############################################################################
# fixtures/mixed: good and broken together
############################################################################
M=$fx/mixed
mkdir -p "$M/good" "$M/bad"
cp "$P/a/hello-gz_1.0-1_amd64.deb" "$M/good/"
cp "$P/_x/allpkg_2.0_all.deb" "$M/good/"
cp "$P/B/i386pkg_0.9_i386.deb" "$M/"
cp "$B/bad-magic_1.0_amd64.deb" "$B/empty_1.0_amd64.deb" "$M/bad/"
cp "$B/no-package-field_1.0_amd64.deb" "$M/"

############################################################################
# fixtures/override
############################################################################
cat > "$fx/override" <<'EOF'
# Override file for the packages compatibility tests.
# Format: package priority section [maintainer-spec]
hello-gz	extra	admin
hello-xz    important    net    New Maintainer <new@example.org>
hello-zst optional utils fixture maker <FIXTURES@example.org> => Replaced Maint <r@example.org>
hello-none optional utils Nobody <n@example.org> // Other <o@example.org> => Never Used <x@example.org>
allpkg optional doc Someone <s@example.org> // FIXTURE MAKER <fixtures@example.org> => Second Alt <alt@example.org>
i386pkg/i386 required libs
i386pkg optional oldlibs
mislabel/amd64 standard admin
odd-space standard base Spaced   Maint <s@example.org> => Unspaced <u@example.org>
odd-minimal optional misc
odd-crlf optional misc Crlf <crlf@example.org> => Fixed Crlf <fc@example.org>
# a comment line, then malformed ones
lonely
two-words  optional
epoch important games   # trailing comment
installer important debian-installer
nonexistent optional misc
EOF
touch -d "@$SOURCE_DATE_EPOCH" "$fx/override"

echo "fixtures: $(find "$fx/packages" "$fx/broken" "$fx/mixed" -type f | wc -l) files, $(du -sk --apparent-size "$fx/packages" "$fx/broken" "$fx/mixed" "$fx/override" | awk '{s+=$1} END {print s}') KiB"

"$root/scripts/make-demo.sh"
