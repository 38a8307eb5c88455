#!/usr/bin/env bash
# Run the real apt-ftparchive over fixtures/ and record what it prints.
#
# usage: scripts/make-goldens.sh        (after scripts/make-fixtures.sh)
#
# Writes fixtures/golden/:
#   VERSION          `apt-ftparchive --version` and `dpkg-query -W apt-utils`
#   cases.tsv        one line per case:
#                    <name> TAB <cwd relative to fixtures/> TAB <args> TAB <exit code>
#                    <args> is one string of shell words: what follows
#                    `apt-ftparchive` (and so what follows `elirepo`).
#   <name>.stdout    apt-ftparchive's stdout, byte for byte
#   <name>.stderr    apt-ftparchive's stderr (for reading: the tests use it
#                    only to learn which files apt reported as broken)
# Absolute paths make output machine-specific, so no case uses one; the live
# tests in tests/packages_compat.rs cover them.
set -euo pipefail
export LC_ALL=C TZ=UTC

root=$(cd "$(dirname "$0")/.." && pwd)
fx=$root/fixtures
g=$fx/golden
command -v apt-ftparchive >/dev/null || { echo "make-goldens: apt-ftparchive not installed (apt-get install apt-utils)" >&2; exit 1; }
[ -d "$fx/packages" ] || { echo "make-goldens: run scripts/make-fixtures.sh first" >&2; exit 1; }

rm -rf "$g"
mkdir -p "$g"
{
    apt-ftparchive --version
    dpkg-query -W -f='apt-utils ${Version}\n' apt-utils 2>/dev/null || true
} > "$g/VERSION"

# name | cwd | args      (args are shell words, evaluated by bash here and by
#                         the tests' splitter there: keep to "", '' and plain words)
cases=$(cat <<'EOF'
dir-plain|.|packages packages
dir-slash|.|packages packages/
dir-dotslash|.|packages ./packages
dir-dot-inside|packages|packages .
dir-dotslash-inside|packages/a.b|packages ./
dir-double-slash|.|packages packages/a.b//
dir-parent|packages/a|packages ..
dir-dotdot-mid|.|packages packages/a/../B
dir-dotdot-end|packages/a/b|packages c/d/..
dir-subtree|.|packages packages/a
dir-dotdir|.|packages packages/.hidden
dir-single-file|.|packages packages/a/Abc.deb
prefix-plain|.|packages packages/a.b "" deb
prefix-slash|.|packages packages/a.b "" deb/
prefix-double-slash|.|packages packages/a.b "" deb//
prefix-absolute|.|packages packages/a.b "" /srv/deb
prefix-empty|.|packages packages/a.b "" ""
prefix-dotslash-dir|.|packages ./packages/a.b "" deb
prefix-dot-inside|packages/a.b|packages . "" deb
prefix-parent|packages/a/b|packages .. "" deb
override|.|packages packages override
override-inside|packages|packages . ../override
override-dotslash|.|packages packages/a.b ./override
override-prefix|.|packages packages/a override deb/
override-nosha512-prefix|.|--no-sha512 packages packages/a override deb
override-longdesc|.|-o APT::FTPArchive::LongDescription=false packages packages/a override
override-arch-i386|.|-a i386 packages packages override
override-extra-arg|.|packages packages/a.b override deb extra-ignored
no-md5|.|--no-md5 packages packages/a.b
no-sha1|.|--no-sha1 packages packages/a.b
no-sha256|.|--no-sha256 packages packages/a.b
no-sha512|.|--no-sha512 packages packages/a.b
no-hashes|.|--no-md5 --no-sha1 --no-sha256 --no-sha512 packages packages
no-md5-after|.|packages --no-md5 packages/a.b
no-sha1-last|.|packages packages/a.b --no-sha1
no-hashes-after|packages/a.b|packages --no-md5 --no-sha1 . --no-sha256 --no-sha512
sha256-eq-no|.|--sha256=no packages packages/a.b
o-md5|.|-o APT::FTPArchive::MD5=false packages packages/a.b
o-sha1|.|-o APT::FTPArchive::SHA1=false packages packages/a.b
o-sha256|.|-o APT::FTPArchive::SHA256=false packages packages/a.b
o-sha512|.|-o APT::FTPArchive::SHA512=false packages packages/a.b
o-all-off|.|-o APT::FTPArchive::MD5=false -o APT::FTPArchive::SHA1=false -o APT::FTPArchive::SHA256=false -o APT::FTPArchive::SHA512=false packages packages/a.b
o-packages-sha512|.|-o APT::FTPArchive::Packages::SHA512=false packages packages/a.b
o-packages-md5-after|.|packages packages/a.b -o APT::FTPArchive::Packages::MD5=false
o-release-md5-noop|.|-o APT::FTPArchive::Release::MD5=false packages packages/a.b
o-md5-zero|.|-o APT::FTPArchive::MD5=0 packages packages/a.b
o-long-option|.|--option APT::FTPArchive::SHA1=false packages packages/a.b
arch-amd64|.|-a amd64 packages packages
arch-i386|.|-a i386 packages packages
arch-amd64-no-all|.|-a amd64 -o APT::FTPArchive::IncludeArchitectureAll=false packages packages
arch-i386-no-all-inside|packages|-a i386 -o APT::FTPArchive::IncludeArchitectureAll=false packages .
arch-long-after|.|packages --arch i386 packages
arch-o|.|-o APT::FTPArchive::Architecture=i386 packages packages
arch-none-match|.|-a arm64 -o APT::FTPArchive::IncludeArchitectureAll=false packages packages
longdesc-false|packages|-o APT::FTPArchive::LongDescription=false packages .
longdesc-false-after|.|packages packages/a -o APT::FTPArchive::LongDescription=false
longdesc-true|.|-o APT::FTPArchive::LongDescription=true packages packages/a.b
longdesc-nohash-arch|.|-a amd64 --no-md5 --no-sha1 -o APT::FTPArchive::LongDescription=false packages ./packages/a.b "" deb
quiet|.|-q packages packages/a.b
syntax|.|packages packages/a/syntax
syntax-longdesc|packages/a|-o APT::FTPArchive::LongDescription=false packages syntax
syntax-override|packages/a/syntax|packages . ../../../override
mixed|.|packages mixed
mixed-inside|mixed|packages .
mixed-override|.|packages mixed override pool
mixed-good-only|.|packages mixed/good
missing-dir|.|packages does-not-exist
missing-override|.|packages packages/a.b does-not-exist.override
EOF
)

: > "$g/cases.tsv"
n=0
while IFS='|' read -r name cwd args; do
    [ -n "$name" ] || continue
    eval "set -- $args"
    rc=0
    (cd "$fx/$cwd" && apt-ftparchive "$@") > "$g/$name.stdout" 2> "$g/$name.stderr" || rc=$?
    printf '%s\t%s\t%s\t%s\n' "$name" "$cwd" "$args" "$rc" >> "$g/cases.tsv"
    n=$((n + 1))
done <<< "$cases"
echo "goldens: $n cases in $g ($(head -1 "$g/VERSION"))"
