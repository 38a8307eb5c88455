#!/usr/bin/env bash
# Compare `elirepo packages` with `apt-ftparchive packages` on a real pool of
# Debian packages, byte for byte.
#
# usage: scripts/compare-real-pool.sh [POOL_DIR]
#
#   POOL_DIR      cache dir (default: ${ELIREPO_POOL:-/var/tmp/elirepo-pool}).
#                 It is reused when it holds a finished download for the same
#                 ELIREPO_POOL_N (POOL_DIR/.complete) with every package of
#                 POOL_DIR/packages.list still present; otherwise the
#                 selection is made again and the packages it lacks are fetched
#                 with `apt-get download` into POOL_DIR/pool/main/<x>/<name>/
#                 (a partial pool is extended, not restarted).
#   ELIREPO       binary under test (default: target/release/elirepo).
#   ELIREPO_POOL_N  how many packages to fetch (default 450): all of them
#                 must be obtained, else the script fails (exit 2) and
#                 .complete is not written.
#   ELIREPO_POOL_DOWNLOAD_ONLY=1  only download, compare nothing.
#
# The selection is deterministic for a given apt list: the current kernel
# image (linux-image-*-amd64), lib* packages, Architecture: all packages,
# packages with an epoch, a few i386 ones, and others, all picked by a fixed
# stride over the sorted list.  A name that cannot be downloaded is retried
# once on its own; if any is still missing the script fails.
# Exit status: 0 if every comparison passed, 1 otherwise, 2 on setup error.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
POOL=${1:-${ELIREPO_POOL:-/var/tmp/elirepo-pool}}
ELIREPO=${ELIREPO:-$here/target/release/elirepo}
case $ELIREPO in /*) ;; */*) ELIREPO=$PWD/$ELIREPO ;; esac   # the comparison runs in the pool directory
N=${ELIREPO_POOL_N:-450}

command -v apt-ftparchive >/dev/null || { echo "apt-ftparchive not installed (apt-get install apt-utils)" >&2; exit 2; }

select_packages() {
    # Prints "name:arch" lines.  Reads the local apt cache only.
    apt-cache dumpavail | python3 -c '
import sys, re
n = int(sys.argv[1])
pkgs = {}
for para in sys.stdin.read().split("\n\n"):
    f = {}
    for line in para.splitlines():
        m = re.match(r"([A-Za-z0-9-]+):\s*(.*)", line)
        if m:
            f[m.group(1)] = m.group(2)
    if "Package" not in f or "Filename" not in f:
        continue
    key = (f["Package"], f.get("Architecture", ""))
    pkgs[key] = (int(f.get("Size", "0")), f.get("Version", ""))
names = sorted(pkgs)
def pick(pred, count, maxsize=5_000_000):  # by a fixed stride over the sorted names
    c = [k for k in names if pred(k) and 0 < pkgs[k][0] <= maxsize]
    if not c:
        return []
    stride = max(1, len(c) // count)
    return c[::stride][:count]
chosen = []
def add(lst):
    for k in lst:
        if k not in chosen:
            chosen.append(k)
kern = [k for k in names if re.fullmatch(r"linux-image-[0-9.]+-[0-9]+-amd64", k[0]) and k[1] == "amd64"]
add(kern[-1:])                                   # newest kernel image
add(pick(lambda k: k[0].startswith("lib") and k[1] == "amd64", n * 30 // 100))
add(pick(lambda k: k[1] == "all", n * 25 // 100))
add(pick(lambda k: ":" in pkgs[k][1] and k[1] != "i386", n * 15 // 100))
add(pick(lambda k: k[1] == "i386", n * 5 // 100))
big = [k for k in names if k[1] == "amd64" and 5_000_000 < pkgs[k][0] <= 60_000_000]
add(big[:: max(1, len(big) // (n * 6 // 100))][: n * 6 // 100])                  # some big ones
rest = n - len(chosen)
add(pick(lambda k: k not in chosen and k[1] != "i386", max(rest, 0)))
for name, arch in chosen:
    print(f"{name}:{arch}" if arch != "all" else name)
' "$N"
}

# missing_packages: prints the entries of packages.list with no .deb in the pool.
missing_packages() {
    local entry name arch d
    while read -r entry; do
        name=${entry%%:*}
        arch=all
        case $entry in *:*) arch=${entry#*:} ;; esac
        case $name in lib?*) d=${name:0:4} ;; *) d=${name:0:1} ;; esac
        compgen -G "$POOL/pool/main/$d/$name/${name}_*_$arch.deb" >/dev/null || echo "$entry"
    done < "$POOL/packages.list"
}

download_pool() {
    rm -f "$POOL/.complete"
    mkdir -p "$POOL/incoming" "$POOL/pool"
    select_packages > "$POOL/packages.list.new"
    mv "$POOL/packages.list.new" "$POOL/packages.list"
    local listed
    listed=$(wc -l < "$POOL/packages.list")
    if [ "$listed" -lt "$N" ]; then
        echo "the selection has only $listed packages, fewer than ELIREPO_POOL_N=$N" \
            "(no apt lists? run 'apt-get update' first)" >&2
        exit 2
    fi
    missing_packages > "$POOL/missing.list"
    echo "downloading $(wc -l < "$POOL/missing.list") of $listed packages into $POOL ..." >&2
    chmod 755 "$POOL/incoming"   # apt-get download runs as _apt when started as root
    (
        cd "$POOL/incoming"
        # Batches first; a batch with one name that fails fails whole, so retry
        # its names one by one.
        xargs -r -n 40 < ../missing.list sh -c '
            apt-get -q download "$@" >/dev/null 2>&1 && exit 0
            for p in "$@"; do
                apt-get -q download "$p" >/dev/null 2>&1 || echo "cannot download $p" >&2
            done
            exit 0' sh
    )
    # Lay the files out like a Debian pool: pool/main/<l|libx>/<name>/.
    local f b name d
    for f in "$POOL"/incoming/*.deb; do
        [ -e "$f" ] || continue
        b=$(basename "$f"); name=${b%%_*}
        case $name in lib?*) d=${name:0:4} ;; *) d=${name:0:1} ;; esac
        mkdir -p "$POOL/pool/main/$d/$name"
        mv "$f" "$POOL/pool/main/$d/$name/"
    done
    rmdir "$POOL/incoming" 2>/dev/null || true
    missing_packages > "$POOL/missing.list"
    if [ -s "$POOL/missing.list" ]; then
        echo "FAIL: obtained $((listed - $(wc -l < "$POOL/missing.list"))) of the $listed" \
            "packages selected (ELIREPO_POOL_N=$N); missing:" >&2
        sed 's/^/  /' "$POOL/missing.list" >&2
        echo "the pool is left incomplete (no $POOL/.complete): the next run fetches" \
            "what is missing" >&2
        exit 2
    fi
    rm -f "$POOL/missing.list"
    # Only now is the pool complete for this N.
    echo "n=$N" > "$POOL/.complete.new"
    mv "$POOL/.complete.new" "$POOL/.complete"
}

if [ "$(cat "$POOL/.complete" 2>/dev/null)" = "n=$N" ] && [ -s "$POOL/packages.list" ] &&
    [ -z "$(missing_packages)" ]; then
    echo "reusing the complete pool in $POOL (n=$N)" >&2
else
    download_pool
fi
count=$(find -L "$POOL/pool" -name '*.deb' | wc -l)
bytes=$(du -sh "$POOL/pool" | cut -f1)
echo "pool: $POOL/pool: $count .deb files, $bytes"
[ "${ELIREPO_POOL_DOWNLOAD_ONLY:-0}" = 1 ] && exit 0

if [ ! -x "$ELIREPO" ]; then
    echo "no binary at $ELIREPO: run 'cargo build --release' or set ELIREPO" >&2
    exit 2
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail=0
run_case() { # name, args...
    local name=$1; shift
    (cd "$POOL" && apt-ftparchive "$@" > "$out/$name.apt" 2> "$out/$name.apt.err") || true
    local rc=0
    (cd "$POOL" && "$ELIREPO" "$@" > "$out/$name.eli" 2> "$out/$name.eli.err") || rc=$?
    local n
    n=$(grep -c '^Package: ' "$out/$name.apt" || true)
    if [ "$rc" = 0 ] && cmp -s "$out/$name.apt" "$out/$name.eli"; then
        echo "PASS $name ($n packages)"
    else
        echo "FAIL $name ($n packages, elirepo exit $rc)"
        cmp "$out/$name.apt" "$out/$name.eli" || true
        diff "$out/$name.apt" "$out/$name.eli" | head -20 || true
        head -5 "$out/$name.eli.err"
        fail=1
    fi
}
run_case plain packages pool
run_case longdesc-false -o APT::FTPArchive::LongDescription=false packages pool
run_case arch-i386 -a i386 packages pool/ "" deb
# An override for every third package, maintainer rewrites included.
awk '/^Package: /{n++; if (n % 3 == 0) print $2 " important admin"; if (n % 7 == 0) print $2 "/amd64 extra net New Maint <new@example.org>"}' \
    "$out/plain.apt" > "$out/override"
run_case override-dotslash-nohash --no-md5 --no-sha1 packages ./pool "$out/override" deb
exit $fail
