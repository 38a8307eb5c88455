#!/usr/bin/env bash
# The --large rows of scripts/bench.sh (run through it: scripts/bench.sh --large [N] [RUNS]).
#
# N generated .debs (scripts/gen_debs.rs) in ${ELIREPO_LARGE:-/var/tmp/elirepo-large}, made
# once and reused while they number N. Every figure is the median of RUNS runs from
# /usr/bin/time: wall seconds, CPU-seconds (user+sys) and peak RSS; the ratio is elirepo's
# over the alternative's, measured side by side in this run. Both sides write gzip and
# xz -6 (apt's default xz level, elirepo's default --xz-preset) and no Contents. Benchmarks are not
# tests: nothing here fails on a slow result.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
N=${1:-50000}
RUNS=${2:-3}
LARGE=${ELIREPO_LARGE:-/var/tmp/elirepo-large}
REAL=${ELIREPO_POOL:-/var/tmp/elirepo-pool}
WORK=$(mktemp -d /var/tmp/elirepo-bench-large.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

for t in apt-ftparchive /usr/bin/time bc; do
    command -v "$t" >/dev/null || { echo "bench: $t not installed (apt-get install apt-utils time bc)" >&2; exit 2; }
done
cargo build --release --quiet --bin elirepo --example gen_debs
ELI=$PWD/target/release/elirepo
GEN=$PWD/target/release/examples/gen_debs

if [ "$(cat "$LARGE/.count" 2>/dev/null)" != "$N" ]; then
    echo "bench: generating $N .debs into $LARGE (once)" >&2
    rm -rf "$LARGE.tmp" && mkdir -p "$LARGE.tmp"
    "$GEN" "$LARGE.tmp/pool" "$N"
    echo "$N" > "$LARGE.tmp/.count"
    rm -rf "$LARGE" && mv "$LARGE.tmp" "$LARGE"
fi
# The package added by the add-one rows: number N, not in the corpus.
"$GEN" "$WORK/one" "$((N + 1))" "$N"
find "$LARGE/pool" -name "*.deb" -exec cat {} + > /dev/null

# measure LABEL CMD...: runs CMD RUNS times (PREP, if set, evaluated before each run, and a
# sync, not timed); sets $LABEL_wall, $LABEL_cpu, $LABEL_rss (MiB) to the medians.
median_of() { sort -g | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f", m}'; }
measure() {
    local label=$1 i out=$WORK/time.$1
    shift
    : > "$out"
    for ((i = 0; i < RUNS; i++)); do
        [ -n "${PREP:-}" ] && eval "$PREP" > /dev/null 2>&1
        # The last run's (or PREP's) dirty pages written back now, not during this run.
        sync
        /usr/bin/time -f '%e %U %S %M' -a -o "$out" "$@" > "$WORK/out.$label" 2>&1 ||
            { echo "bench: $label failed: $*" >&2; tail -5 "$WORK/out.$label" >&2; exit 1; }
    done
    printf -v "${label}_wall" '%s' "$(awk '{print $1}' "$out" | median_of)"
    printf -v "${label}_cpu" '%s' "$(awk '{print $2 + $3}' "$out" | median_of)"
    printf -v "${label}_rss" '%s' "$(awk '{print $4 / 1024}' "$out" | median_of)"
}
ratio() { if [ "$(echo "$2 > 0" | bc)" = 1 ]; then echo "$1 / $2" | bc -l | xargs printf '%.2fx'; else echo -; fi; }
# row WHAT ELIREPO-LABEL OTHER-LABEL OTHER-DESCRIPTION
row() {
    local e=$2 o=$3 ew ec er ow oc or
    ew=${e}_wall ec=${e}_cpu er=${e}_rss ow=${o}_wall oc=${o}_cpu or=${o}_rss
    printf '%-22s %8s %8s %7s | %8s %8s %7s | %6s %6s  %s\n' "$1" \
        "${!ew}" "${!ec}" "${!er}" "${!ow}" "${!oc}" "${!or}" \
        "$(ratio "${!ew}" "${!ow}")" "$(ratio "${!ec}" "${!oc}")" "$4"
}

# apt-ftparchive generate: one tree, the same suite and architectures as elirepo's.
APT=$WORK/apt
mkdir -p "$APT/cache"
cat > "$WORK/generate.conf" <<EOF
Dir { ArchiveDir "$APT"; CacheDir "$APT/cache"; };
Default { Packages::Compress ". gzip xz"; Packages::Extensions ".deb"; };
TreeDefault { Directory "pool/"; };
Tree "dists/bench" { Sections "main"; Architectures "amd64 i386"; };
APT::FTPArchive::Release { Origin "bench"; Suite "bench"; Architectures "amd64 i386"; Components "main"; };
EOF
REPO=$WORK/repo
# The commands timed, as scripts (/usr/bin/time counts every process of one).
cat > "$WORK/eli-build" <<EOF
#!/bin/sh
exec "$ELI" build -q --unsigned --repo "$REPO" --suite bench --arch amd64 --arch i386 --deb "$LARGE/pool" "\$@"
EOF
cat > "$WORK/apt-generate" <<EOF
#!/bin/sh
set -e
mkdir -p "$APT/dists/bench/main/binary-amd64" "$APT/dists/bench/main/binary-i386"
apt-ftparchive -q=2 --no-contents generate "$WORK/generate.conf"
apt-ftparchive -q=2 -c "$WORK/generate.conf" release "$APT/dists/bench" > "$WORK/Release"
mv "$WORK/Release" "$APT/dists/bench/Release"
EOF
cat > "$WORK/apt-first" <<EOF
#!/bin/sh
set -e
cp -r "$LARGE/pool" "$APT/pool"
exec "$WORK/apt-generate"
EOF
chmod +x "$WORK/eli-build" "$WORK/apt-generate" "$WORK/apt-first"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -r), $(free -g | awk '/Mem:/ {print $2}') GiB"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "large: $(find "$LARGE/pool" -name '*.deb' | wc -l) .debs, $(du -sh "$LARGE/pool" | cut -f1); $RUNS runs each; medians"
echo
printf '%-22s %8s %8s %7s | %8s %8s %7s | %6s %6s  %s\n' "" "wall s" "cpu s" "MiB" "wall s" "cpu s" "MiB" "wall" "cpu" ""
printf '%-22s %25s | %25s | %13s  %s\n' "" "elirepo" "alternative" "ratio" "alternative"

# 1. First build: a fresh repository each run.
PREP="rm -rf '$REPO'" measure e_first "$WORK/eli-build"
PREP="rm -rf '$APT/pool' '$APT/dists' '$APT/cache'/*" measure a_first "$WORK/apt-first"
row "first build" e_first a_first "cp -r + apt-ftparchive generate + release"
# The same at --xz-preset 1, the user's choice (never the default), beside the same
# alternative at xz -6: what the setting buys.
PREP="rm -rf '$REPO'" measure e_first1 "$WORK/eli-build" --xz-preset 1
row "first build, xz -1" e_first1 a_first "(the same alternative, at xz -6)"

# 2. Add one package to the built repository: each run adds it, the build that
#    removes it again between runs is not timed. The alternative: generate with its
#    warm --db, and release.
PREP="'$WORK/eli-build'" measure e_add "$WORK/eli-build" --deb "$WORK/one"
ONE=$(find "$WORK/one" -name '*.deb')
PREP="rm -f '$APT/pool/$(basename "$ONE")'; '$WORK/apt-generate'" \
    measure a_add sh -c "cp '$ONE' '$APT/pool/' && exec '$WORK/apt-generate'"
row "add one package" e_add a_add "apt-ftparchive generate (warm db) + release"

# 3. Nothing changed. The alternative: apt-ftparchive packages with its warm --db.
"$WORK/eli-build"
apt-ftparchive packages --db "$WORK/packages.db" "$LARGE/pool" > /dev/null 2>&1
unset PREP
measure e_same "$WORK/eli-build"
measure a_same apt-ftparchive packages --db "$WORK/packages.db" "$LARGE/pool"
row "no-change rebuild" e_same a_same "apt-ftparchive --db packages (warm)"

# 4. Packages of the whole corpus (and of the real pool, when fetched), no db.
measure e_pk "$ELI" packages "$LARGE/pool"
measure a_pk apt-ftparchive packages "$LARGE/pool"
row "packages, large" e_pk a_pk "apt-ftparchive packages"
if [ -e "$REAL/.complete" ]; then
    cat "$REAL"/pool/*/*/*/*.deb > /dev/null 2>&1 || true
    measure e_rpk "$ELI" packages "$REAL/pool"
    measure a_rpk apt-ftparchive packages "$REAL/pool"
    row "packages, real pool" e_rpk a_rpk "apt-ftparchive packages"
    RREPO=$WORK/real-repo
    PREP="rm -rf '$RREPO'" measure e_rfirst "$ELI" build -q --unsigned --repo "$RREPO" --suite bench --arch amd64 --arch i386 --deb "$REAL/pool"
    echo "real pool: first elirepo build peak RSS ${e_rfirst_rss} MiB, ${e_rfirst_cpu} cpu s"
fi
echo
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
