#!/usr/bin/env bash
# Check elirepo's kernel inspector against Debian's current amd64 kernel.
#
#   scripts/check-real-kernel.sh [ELIREPO]     run "ELIREPO kernel <vmlinuz>": exit 0 + PV-capable
#   scripts/check-real-kernel.sh --library     run the #[ignore]d tests in tests/xen_kernels.rs
#
# ELIREPO is the command to test: the argument, else $ELIREPO, else target/release/elirepo
# (under $CARGO_TARGET_DIR if set) when it exists, else "cargo run --quiet --release --".
#
# The kernel comes from Debian's archive through apt: the linux-image-amd64 metapackage names
# the real linux-image-<abi>-amd64 package, whose boot/vmlinuz-* is extracted with dpkg-deb.
# With --library, a 686-pae kernel is checked too (it must be PVH-only) when the i386
# architecture is configured (dpkg --add-architecture i386 && apt-get update).
# Needs apt-get, dpkg-deb and tar; apt-get download is run as the current user (root works).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
mode=binary
if [[ ${1:-} == --library ]]; then
    mode=library
    shift
fi
if [[ ${1:-} == -h || ${1:-} == --help ]]; then
    sed -n '2,14p' "$0"
    exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"

log() { printf 'check-real-kernel: %s\n' "$*" >&2; }

# apt needs its package lists; fetch them once if they are missing.
if ! apt-cache show linux-image-amd64 >/dev/null 2>&1; then
    log "no apt lists for linux-image-amd64: running apt-get update"
    apt-get update -qq
fi

# download_kernel METAPACKAGE → prints the path of the extracted vmlinuz
download_kernel() {
    local meta=$1 dir="$work/$1" deps pkg
    mkdir -p "$dir"
    chmod 755 "$dir"
    (cd "$dir" && apt-get download -q "$meta" >/dev/null 2>&1) || {
        log "apt-get download $meta failed"
        return 1
    }
    deps=$(dpkg-deb -f "$dir"/*.deb Depends)
    pkg=$(printf '%s\n' "$deps" | tr ',' '\n' | sed 's/^ *//; s/ .*//' |
        grep -E '^linux-image-[0-9]' | head -n1)
    if [[ -z $pkg ]]; then
        log "$meta does not depend on a linux-image-<version> package (Depends: $deps)"
        return 1
    fi
    case $meta in *:*) pkg="$pkg:${meta#*:}" ;; esac
    log "$meta -> $pkg"
    rm -f "$dir"/*.deb
    (cd "$dir" && apt-get download -q "$pkg" >/dev/null 2>&1) || {
        log "apt-get download $pkg failed"
        return 1
    }
    dpkg-deb --fsys-tarfile "$dir"/*.deb | tar -x -C "$dir" --wildcards './boot/vmlinuz-*'
    ls "$dir"/boot/vmlinuz-* | head -n1
}

amd64=$(download_kernel linux-image-amd64)
log "kernel: $amd64 ($(stat -c %s "$amd64") bytes)"

if [[ $mode == library ]]; then
    export ELIREPO_REAL_KERNEL=$amd64
    if apt-cache show linux-image-686-pae:i386 >/dev/null 2>&1; then
        ELIREPO_REAL_KERNEL_PVH=$(download_kernel linux-image-686-pae:i386)
        export ELIREPO_REAL_KERNEL_PVH
        log "kernel: $ELIREPO_REAL_KERNEL_PVH"
    else
        log "i386 packages not available: skipping the 686-pae (PVH-only) check"
    fi
    cd "$here"
    cargo test --release --test xen_kernels -- --ignored --nocapture
    exit $?
fi

# Binary mode.
elirepo=${1:-${ELIREPO:-}}
if [[ -z $elirepo ]]; then
    bin=${CARGO_TARGET_DIR:-$here/target}/release/elirepo
    if [[ -x $bin ]]; then
        elirepo=$bin
    else
        elirepo="cargo run --quiet --release --manifest-path $here/Cargo.toml --"
    fi
fi
log "running: $elirepo kernel $amd64"
status=0
start=$(date +%s%N)
# shellcheck disable=SC2086 # $elirepo may be a command with arguments
$elirepo kernel "$amd64" >"$work/out" 2>"$work/err" || status=$?
end=$(date +%s%N)
cat "$work/out"
cat "$work/err" >&2
log "exit status $status, $(((end - start) / 1000000)) ms"
if [[ $status -ne 0 ]]; then
    log "FAIL: expected exit status 0"
    exit 1
fi
if ! grep -qiE 'pv-capable|pv_capable' "$work/out"; then
    log "FAIL: the output does not say PV-capable"
    exit 1
fi
log "OK: $(basename "$amd64") is PV-capable"
