#!/usr/bin/env bash
# Check elirepo's kernel inspector against two real Debian kernels: the current amd64 one
# (must be PV-capable) and Debian 12's 32-bit 686-pae one (built without CONFIG_XEN_PV:
# must be PVH-only).
#
#   scripts/check-real-kernel.sh [ELIREPO]     run "ELIREPO kernel [--json] <vmlinuz>" on both
#   scripts/check-real-kernel.sh --library     run the #[ignore]d tests in tests/xen_kernels.rs
#
# ELIREPO is the command to test: the argument, else $ELIREPO, else target/release/elirepo
# (under $CARGO_TARGET_DIR if set) when it exists, else "cargo run --quiet --release --".
#
# The kernels come from Debian's archive through apt: the linux-image-amd64 (resp.
# linux-image-686-pae) metapackage names the real linux-image-<abi>-<flavour> package, whose
# boot/vmlinuz-* is extracted with dpkg-deb. amd64 uses the machine's apt lists (running
# apt-get update if they lack it). i386 uses a private apt setup in a temporary directory
# (its own sources, lists and cache; the machine's apt and dpkg are not touched) reading
# $ELIREPO_PVH_MIRROR (default http://deb.debian.org/debian), suite $ELIREPO_PVH_SUITE
# (default bookworm: Debian 13 ships no i386 kernel), signed by $ELIREPO_PVH_KEYRING
# (default /usr/share/keyrings/debian-archive-keyring.gpg).
# Nothing is skipped: a kernel that cannot be fetched fails the script (exit 1).
# Needs apt-get, dpkg-deb, tar and python3; apt-get download is run as the current user.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
mode=binary
if [[ ${1:-} == --library ]]; then
    mode=library
    shift
fi
if [[ ${1:-} == -h || ${1:-} == --help ]]; then
    sed -n '2,21p' "$0"
    exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"

log() { printf 'check-real-kernel: %s\n' "$*" >&2; }
die() {
    log "FAIL: $*"
    exit 1
}

# apt needs its package lists; fetch them once if they are missing.
if ! apt-cache show linux-image-amd64 >/dev/null 2>&1; then
    log "no apt lists for linux-image-amd64: running apt-get update"
    apt-get update -qq
fi

# i386_apt → sets up apt for Debian's i386 archive in $work and prints its APT_CONFIG file.
i386_apt() {
    local a=$work/apt-i386
    local mirror=${ELIREPO_PVH_MIRROR:-http://deb.debian.org/debian}
    local suite=${ELIREPO_PVH_SUITE:-bookworm}
    local keyring=${ELIREPO_PVH_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}
    if [[ ! -r $keyring ]]; then
        log "no keyring $keyring (apt-get install debian-archive-keyring)"
        return 1
    fi
    mkdir -p "$a/sources.list.d" "$a/preferences.d" "$a/lists/partial" "$a/cache/archives/partial"
    chmod -R 755 "$a"
    : >"$a/status"
    printf 'deb [arch=i386 signed-by=%s] %s %s main\n' "$keyring" "$mirror" "$suite" \
        >"$a/sources.list"
    cat >"$a/apt.conf" <<CONF
Dir::Etc::SourceList "$a/sources.list";
Dir::Etc::SourceParts "$a/sources.list.d";
Dir::Etc::Preferences "$a/preferences";
Dir::Etc::PreferencesParts "$a/preferences.d";
Dir::State::Lists "$a/lists";
Dir::State::status "$a/status";
Dir::Cache "$a/cache";
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT::Architecture "i386";
APT::Architectures { "i386"; };
CONF
    log "apt-get update for i386 ($mirror $suite main, lists in $a)"
    if ! APT_CONFIG=$a/apt.conf apt-get update -q >"$a/update.log" 2>&1; then
        cat "$a/update.log" >&2
        log "apt-get update for i386 failed"
        return 1
    fi
    # apt-get update can exit 0 without an index it could not fetch: require the one we need.
    if ! APT_CONFIG=$a/apt.conf apt-cache show linux-image-686-pae >/dev/null 2>&1; then
        cat "$a/update.log" >&2
        log "linux-image-686-pae is not in the i386 lists of $mirror $suite"
        return 1
    fi
    printf '%s\n' "$a/apt.conf"
}

# download_kernel METAPACKAGE → prints the path of the extracted vmlinuz (uses $APT_CONFIG
# if set).
download_kernel() {
    local meta=$1 dir="$work/$1" deps pkg
    mkdir -p "$dir"
    chmod 755 "$dir"
    if ! (cd "$dir" && apt-get download -q "$meta" >"$work/download.log" 2>&1); then
        cat "$work/download.log" >&2
        log "apt-get download $meta failed"
        return 1
    fi
    deps=$(dpkg-deb -f "$dir"/*.deb Depends)
    pkg=$(printf '%s\n' "$deps" | tr ',' '\n' | sed 's/^ *//; s/ .*//' |
        grep -E '^linux-image-[0-9]' | head -n1) || true
    if [[ -z $pkg ]]; then
        log "$meta does not depend on a linux-image-<version> package (Depends: $deps)"
        return 1
    fi
    case $meta in *:*) pkg="$pkg:${meta#*:}" ;; esac
    log "$meta -> $pkg"
    rm -f "$dir"/*.deb
    if ! (cd "$dir" && apt-get download -q "$pkg" >"$work/download.log" 2>&1); then
        cat "$work/download.log" >&2
        log "apt-get download $pkg failed"
        return 1
    fi
    if ! dpkg-deb --fsys-tarfile "$dir"/*.deb | tar -x -C "$dir" --wildcards './boot/vmlinuz-*'
    then
        log "cannot extract boot/vmlinuz-* from $pkg"
        return 1
    fi
    ls "$dir"/boot/vmlinuz-* | head -n1
}

amd64=$(download_kernel linux-image-amd64) || die "cannot fetch Debian's amd64 kernel"
log "kernel: $amd64 ($(stat -c %s "$amd64") bytes)"
apt_conf=$(i386_apt) || die "cannot set up apt for Debian's i386 archive"
pvh=$(APT_CONFIG=$apt_conf download_kernel linux-image-686-pae) ||
    die "cannot fetch Debian's 686-pae kernel"
log "kernel: $pvh ($(stat -c %s "$pvh") bytes)"

if [[ $mode == library ]]; then
    export ELIREPO_REAL_KERNEL=$amd64 ELIREPO_REAL_KERNEL_PVH=$pvh
    # Both tests must run: an unset variable is then a failure, not a skip.
    export ELIREPO_REQUIRE_TOOLS=1
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

# check KERNEL EXIT_STATUS LABEL JSON_VERDICT ARCH: `elirepo kernel` must exit with
# EXIT_STATUS and print "verdict: LABEL"; with --json, "verdict" and "arch" must match.
check() {
    local kernel=$1 want=$2 label=$3 verdict=$4 arch=$5 status=0 start end
    log "running: $elirepo kernel $kernel"
    start=$(date +%s%N)
    # shellcheck disable=SC2086 # $elirepo may be a command with arguments
    $elirepo kernel "$kernel" >"$work/out" 2>"$work/err" || status=$?
    end=$(date +%s%N)
    cat "$work/out"
    cat "$work/err" >&2
    log "exit status $status, $(((end - start) / 1000000)) ms"
    [[ $status -eq $want ]] || die "$(basename "$kernel"): expected exit status $want, got $status"
    grep -qxF "verdict: $label" "$work/out" ||
        die "$(basename "$kernel"): the output has no line 'verdict: $label'"
    status=0
    # shellcheck disable=SC2086
    $elirepo kernel --json "$kernel" >"$work/json" 2>"$work/err" || status=$?
    cat "$work/err" >&2
    [[ $status -eq $want ]] ||
        die "$(basename "$kernel"): --json: expected exit status $want, got $status"
    python3 - "$work/json" "$verdict" "$arch" <<'PY' || die "$(basename "$kernel"): --json"
import json, sys
r = json.load(open(sys.argv[1]))
got, want = (r.get("verdict"), r.get("arch")), (sys.argv[2], sys.argv[3])
if got != want:
    sys.exit(f"check-real-kernel: --json gives verdict {got[0]!r}, arch {got[1]!r}; "
             f"expected {want[0]!r}, {want[1]!r}")
PY
    log "OK: $(basename "$kernel") is $label ($arch; --json verdict $verdict)"
}

check "$amd64" 0 PV-capable pv_capable amd64
check "$pvh" 1 PVH-only pvh_only i386
