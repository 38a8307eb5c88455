#!/usr/bin/env bash
# (Re)create the demo fixture that `elirepo build --config fixtures/demo/elirepo.toml`
# publishes (the README's first command).
#
# usage: scripts/make-demo.sh [--new-key]      (from anywhere)
#
# Writes fixtures/demo/debs/: tiny synthetic packages named like XenServer's
# xs-tools for Debian guests (their contents are placeholders):
#   xe-guest-utilities_5.6.0-578_{i386,amd64}.deb   one package, two architectures
#   xs-tools-common_5.6.0-578_all.deb                an Architecture: all helper
#   linux-image-2.6-xen_2.6.32+0.xs226_i386.deb      a metapackage depending on
#                                                    linux-image-2.6.32-4-686-bigmem
# The .debs are deterministic (fixed SOURCE_DATE_EPOCH, root owner, pinned mtimes).
#
# fixtures/demo/demo-signing-key.asc is a throwaway ed25519 secret key without a
# passphrase, uid "elirepo demo key (INSECURE, for the demo only)". It is
# generated only if missing, or with --new-key (keys are random: every new one
# changes the demo repository's signatures and keyring).
# Needs: bash, dpkg-deb, gpg (only to make a key).
set -euo pipefail

export SOURCE_DATE_EPOCH=1262304000   # 2010-01-01, about when these packages were current
export LC_ALL=C TZ=UTC
umask 022

root=$(cd "$(dirname "$0")/.." && pwd)
demo=$root/fixtures/demo
new_key=false
case "${1:-}" in
    --new-key) new_key=true ;;
    "") ;;
    *) echo "usage: $0 [--new-key]" >&2; exit 2 ;;
esac

command -v dpkg-deb >/dev/null || { echo "make-demo: dpkg-deb not found" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

rm -rf "$demo/debs"
mkdir -p "$demo/debs"

# pkg NAME VERSION ARCH EXTRA-CONTROL-FIELDS DESCRIPTION: one .deb from the tree
# that the caller filled in $tmp/tree (DEBIAN/control is written here).
pkg() {
    local name=$1 version=$2 arch=$3 extra=$4 desc=$5 d=$tmp/tree
    mkdir -p "$d/DEBIAN" "$d/usr/share/doc/$name"
    printf '%s (%s) is a synthetic package of the elirepo demo repository.\nIt only looks like the XenServer package of that name.\n' \
        "$name" "$version" > "$d/usr/share/doc/$name/README.demo"
    printf 'Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: elirepo demo <demo@example.org>\n%sDescription: %s\n This is a synthetic package of the elirepo demo repository: it only\n looks like the XenServer xs-tools package of the same name.\n' \
        "$name" "$version" "$arch" "$extra" "$desc" > "$d/DEBIAN/control"
    find "$d" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
    dpkg-deb --root-owner-group -Zxz --build "$d" "$demo/debs/${name}_${version#*:}_${arch}.deb" >/dev/null
    touch -d "@$SOURCE_DATE_EPOCH" "$demo/debs/${name}_${version#*:}_${arch}.deb"
    rm -rf "$d"
}

for arch in i386 amd64; do
    mkdir -p "$tmp/tree/usr/sbin"
    printf '#!/bin/sh\n# placeholder for the XenServer guest agent (%s)\nexit 0\n' "$arch" > "$tmp/tree/usr/sbin/xe-daemon"
    chmod 755 "$tmp/tree/usr/sbin/xe-daemon"
    pkg xe-guest-utilities 5.6.0-578 "$arch" \
        $'Section: admin\nPriority: optional\nInstalled-Size: 8\nDepends: xs-tools-common (= 5.6.0-578)\n' \
        'XenServer guest utilities (demo)'
done

mkdir -p "$tmp/tree/usr/share/xs-tools"
printf 'XenServer Tools 5.6.0-578 (elirepo demo)\n' > "$tmp/tree/usr/share/xs-tools/VERSION"
pkg xs-tools-common 5.6.0-578 all \
    $'Section: admin\nPriority: optional\nInstalled-Size: 4\n' \
    'architecture-independent files of the XenServer guest tools (demo)'

pkg linux-image-2.6-xen 2.6.32+0.xs226 i386 \
    $'Section: kernel\nPriority: optional\nInstalled-Size: 4\nDepends: linux-image-2.6.32-4-686-bigmem\n' \
    'Linux kernel for XenServer PV guests (demo metapackage)'

# A FAI-like nfsroot for each installer architecture: synthetic Xen PV kernels (a few
# KiB, they boot nothing but pass every check) with the initrd of the same version,
# linked the way fai-make-nfsroot links them (absolute and relative links).
synth() { (cd "$root" && cargo run --quiet --example synth_images -- "$@"); }
rm -rf "$demo/nfsroot-i386" "$demo/nfsroot-amd64"
for arch in i386 amd64; do
    nfs=$demo/nfsroot-$arch
    mkdir -p "$nfs/boot"
    : > "$nfs/.THIS_IS_THE_FAI_NFSROOT"
    case $arch in
        i386) rel=2.6.32-4-686-bigmem; kind=pv-i386 ;;
        amd64) rel=2.6.32-4-amd64; kind=pv-amd64 ;;
    esac
    synth "$kind" "$rel" "$nfs/boot/vmlinuz-$rel"
    synth initrd "$rel" "$nfs/boot/initrd.img-$rel"
    ln -s "boot/vmlinuz-$rel" "$nfs/vmlinuz"
    ln -s "/boot/initrd.img-$rel" "$nfs/initrd.img"
    find "$nfs" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
done

if $new_key || [ ! -e "$demo/demo-signing-key.asc" ]; then
    command -v gpg >/dev/null || { echo "make-demo: gpg not found" >&2; exit 1; }
    home=$tmp/gnupg
    mkdir -m 700 "$home"
    gpg --homedir "$home" --batch --quiet --passphrase '' \
        --quick-gen-key 'elirepo demo key (INSECURE, for the demo only)' ed25519 sign never
    gpg --homedir "$home" --batch --armor --export-secret-keys > "$demo/demo-signing-key.asc"
    gpgconf --homedir "$home" --kill gpg-agent 2>/dev/null || true
    echo "make-demo: new demo signing key written to fixtures/demo/demo-signing-key.asc"
fi

echo "demo: $(find "$demo/debs" -type f | wc -l) .debs, $(du -sk --apparent-size "$demo/debs" | cut -f1) KiB"
