#!/usr/bin/env bash
# elirepo benchmark: elirepo against apt-ftparchive, dpkg-scanpackages and reprepro,
# measured side by side in one run on the same machine, medians of several runs.
#
# usage: scripts/bench.sh [RUNS]             (default 5 runs per measurement)
#        scripts/bench.sh --large [N] [RUNS] (N generated packages, default 50000;
#                                             default 3 runs per measurement)
#
# Corpora (built or fetched once, then reused):
#   real  : a pool of ~450 real Debian packages (a linux-image kernel among them),
#           fetched with apt-get download by scripts/compare-real-pool.sh into
#           ${ELIREPO_POOL:-/var/tmp/elirepo-pool}
#   small : 5,000 small generated .debs (scripts/gen_debs.rs) in
#           ${ELIREPO_SMALL:-/var/tmp/elirepo-small}
#   large : N small generated .debs in ${ELIREPO_LARGE:-/var/tmp/elirepo-large} (with
#           --large; generated once, N must match)
# Every input is page-cached before timing ("cold" means no per-file cache/db).
#
# --large measures whole builds of the large corpus, side by side: the first build
# against `cp -r` + `apt-ftparchive generate` (Packages . gzip xz, no Contents, xz -6
# both sides) + `apt-ftparchive release`; adding one package against a warm
# `generate` (its --db); a no-change rebuild against a warm `apt-ftparchive --db
# packages`; `packages` CPU-seconds (user+sys) of both; peak RSS (/usr/bin/time).
# Needs: apt-utils (apt-ftparchive), dpkg-dev (dpkg-scanpackages), reprepro,
# /usr/bin/time. Benchmarks are not tests: nothing here fails on a slow result.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
if [ "${1:-}" = --large ]; then
    LARGE=${2:-50000}
    RUNS=${3:-3}
    exec bash scripts/bench-large.sh "$LARGE" "$RUNS"
fi
RUNS=${1:-5}
REAL=${ELIREPO_POOL:-/var/tmp/elirepo-pool}
SMALL=${ELIREPO_SMALL:-/var/tmp/elirepo-small}
WORK=$(mktemp -d /var/tmp/elirepo-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

for t in apt-ftparchive dpkg-scanpackages reprepro; do
    command -v "$t" >/dev/null || { echo "bench: $t not installed (apt-get install apt-utils dpkg-dev reprepro)" >&2; exit 2; }
done
cargo build --release --quiet --bin elirepo --example gen_debs
ELI=$PWD/target/release/elirepo

if [ ! -e "$REAL/.complete" ]; then
    echo "bench: fetching the real pool into $REAL" >&2
    ELIREPO_POOL_DOWNLOAD_ONLY=1 ELIREPO_POOL="$REAL" bash scripts/compare-real-pool.sh "$REAL" >&2
fi
if [ ! -d "$SMALL/pool" ]; then
    echo "bench: generating 5000 small .debs into $SMALL" >&2
    mkdir -p "$SMALL"
    target/release/examples/gen_debs "$SMALL/pool" 5000
fi
cat "$REAL"/pool/*/*/*/*.deb "$SMALL"/pool/*/*.deb > /dev/null 2>&1 || true

# median wall seconds of RUNS runs of "$@" (after PREP, if set, before each run)
median() {
    local times=() i s e
    for ((i = 0; i < RUNS; i++)); do
        [ -n "${PREP:-}" ] && eval "$PREP"
        s=$(date +%s.%N)
        "$@" > /dev/null 2>&1
        e=$(date +%s.%N)
        times+=("$(echo "$e - $s" | bc -l)")
    done
    printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.3f", m}'
}

row() { # label, seconds, reference seconds
    printf '%-58s %8s s %8s\n' "$1" "$2" "$(echo "$2 / $3" | bc -l | xargs printf '%.2fx')"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -r)"
echo "real pool: $(find "$REAL/pool" -name '*.deb' | wc -l) .debs, $(du -sh "$REAL/pool" | cut -f1); small: $(find "$SMALL/pool" -name '*.deb' | wc -l) .debs; $RUNS runs each"
echo
printf '%-58s %10s %9s\n' "measurement" "median" "ratio"

cd "$REAL"
A=$(median apt-ftparchive packages pool)
row "real pool, cold: apt-ftparchive packages" "$A" "$A"
row "real pool, cold: elirepo packages" "$(median "$ELI" packages pool)" "$A"
row "real pool: dpkg-scanpackages" "$(median dpkg-scanpackages pool /dev/null)" "$A"
mkdir -p "$WORK/rr/conf"
printf 'Codename: bench\nArchitectures: amd64 i386\nComponents: main\n' > "$WORK/rr/conf/distributions"
debs=$(find pool -name '*_amd64.deb' -o -name '*_all.deb' | sort)
R=$(PREP="rm -rf '$WORK/rr/db' '$WORK/rr/dists' '$WORK/rr/pool'" median reprepro -b "$WORK/rr" includedeb bench $debs)
row "real pool: reprepro includedeb (amd64+all)" "$R" "$A"
apt-ftparchive packages --db "$WORK/apt-real.db" pool > /dev/null 2>&1
"$ELI" packages --db "$WORK/eli-real.db" pool > /dev/null 2>&1
AW=$(median apt-ftparchive packages --db "$WORK/apt-real.db" pool)
row "real pool, warm db: apt-ftparchive packages --db" "$AW" "$AW"
row "real pool, warm db: elirepo packages --db" "$(median "$ELI" packages --db "$WORK/eli-real.db" pool)" "$AW"
MEM=$( { /usr/bin/time -f '%M' "$ELI" packages pool > /dev/null; } 2>&1 | tail -1)
echo "real pool: elirepo packages peak RSS $((MEM / 1024)) MiB"

cd "$SMALL"
S=$(median apt-ftparchive packages pool)
row "5000 small, cold: apt-ftparchive packages" "$S" "$S"
row "5000 small, cold: elirepo packages" "$(median "$ELI" packages pool)" "$S"
apt-ftparchive packages --db "$WORK/apt-small.db" pool > /dev/null 2>&1
SW=$(median apt-ftparchive packages --db "$WORK/apt-small.db" pool)
row "5000 small, warm db: apt-ftparchive packages --db" "$SW" "$SW"
"$ELI" build -q --unsigned --repo "$WORK/repo" --suite bench --arch amd64 --arch i386 --deb pool
row "5000 small, no-change elirepo build (2 archs, Release)" "$(median "$ELI" build -q --unsigned --repo "$WORK/repo" --suite bench --arch amd64 --arch i386 --deb pool)" "$SW"
