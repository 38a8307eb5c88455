#!/usr/bin/env bash
# What `elirepo publish` costs: files, bytes and (S3) HTTP requests, from --json, for
# a repository built from a pool of .debs, published to S3 (moto on 127.0.0.1, as in
# the tests) and to a local path: the first publish, a rerun with nothing changed,
# one new package, and a new kernel.
#
# usage: scripts/publish-cost.sh [POOL_DIR]
#   POOL_DIR: a directory of .debs (default: 80 real Debian packages fetched by
#   scripts/compare-real-pool.sh into target/real-pool; else 200 generated .debs).
#   A linux-image-*-amd64 .deb in the pool is published as the eliloader kernel (with a
#   synthetic initrd for its version).
# Needs: python3 with moto[server] (see .ci/run). Not a test: it prints figures.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
POOL=${1:-target/real-pool/pool}
cargo build --release --quiet --bin elirepo --example gen_debs --example synth_images
ELI=$PWD/target/release/elirepo
WORK=$(mktemp -d /var/tmp/elirepo-cost.XXXXXX)
trap 'kill "$S3_PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
S3_PID=

if [ ! -d "$POOL" ] || [ -z "$(find "$POOL" -name '*.deb' -print -quit)" ]; then
    echo "cost: no .debs in $POOL: generating 200" >&2
    POOL=$WORK/gen-pool
    target/release/examples/gen_debs "$POOL" 200 >/dev/null
fi
mkdir -p "$WORK/debs"
find "$POOL" -name '*.deb' -exec cp {} "$WORK/debs/" \;
echo "pool: $(ls "$WORK/debs" | wc -l) .debs, $(du -sb "$WORK/debs" | cut -f1) bytes" >&2

netboot=
kdeb=$(ls "$WORK/debs"/linux-image-*-amd64_*_amd64.deb 2>/dev/null | grep -v -- -dbg | head -1 || true)
if [ -n "$kdeb" ]; then
    rel=$(basename "$kdeb" | sed 's/^linux-image-\(.*\)_.*_amd64.deb$/\1/')
    target/release/examples/synth_images initrd "$rel" "$WORK/initrd.img-$rel"
    netboot="[[netboot]]
arch = \"amd64\"
kernel-deb = \"$kdeb\"
initrd = \"$WORK/initrd.img-$rel\""
fi
ARCHS='"amd64"'
if ls "$WORK/debs" | grep -q '_i386\.deb$'; then ARCHS='"amd64", "i386"'; fi
cat > "$WORK/elirepo.toml" <<EOF
repo = "$WORK/repo"
suite = "bookworm"
architectures = [$ARCHS]
debs = ["$WORK/debs"]
origin = "cost"
[sign]
key-file = "$PWD/fixtures/demo/demo-signing-key.asc"
$netboot
EOF
build() { "$ELI" build --config "$WORK/elirepo.toml" -q; }

# moto, as the tests start it.
coproc S3 { python3 tests/common/s3server.py 2>/dev/null; }
S3_PID=$S3_PID
read -r line <&"${S3[0]}"
get() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$line" "$1"; }
export AWS_ACCESS_KEY_ID=$(get key) AWS_SECRET_ACCESS_KEY=$(get secret)
ENDPOINT=$(get endpoint) BUCKET=$(get bucket)

cat > "$WORK/row.py" <<'PY'
import json, sys
label, r = sys.argv[1], json.loads(sys.argv[2])
sent, deleted = r["sent"], r["deleted"]
line = "%-28s sent %4d files %10d B  deleted %3d  unchanged %4d" % (
    label, sent["count"], sent["bytes"], deleted["count"], r["unchanged"])
gens = [g for g in r["generations"] if g["send"]]
if r["generations"]:
    line += "  generations sent %d" % len(gens)
t = r.get("transferred")
if t:
    line += "  transferred %d files %d B" % (t["files"], t["bytes"])
if r.get("requests") is not None:
    line += "  requests %d" % r["requests"]
print(line)
PY
row() { python3 "$WORK/row.py" "$1" "$2"; }
pub() { # label
    row "S3    $1" "$("$ELI" publish "$WORK/repo" "s3://$BUCKET/debian" --endpoint "$ENDPOINT" --jobs 8 --json -q)"
    row "local $1" "$("$ELI" publish "$WORK/repo" "$WORK/www" --json -q)"
}

build
echo "repository: $(find -L "$WORK/repo" -path "$WORK/repo/.elirepo" -prune -o -path "$WORK/repo/dists/.generations" -prune -o -type f -print | wc -l) files a client can fetch" >&2
pub "first publish"
pub "no change"
# Package 200 of the generator: a name no pool above holds.
target/release/examples/gen_debs "$WORK/new" 201 >/dev/null
find "$WORK/new" -name '*_1.0-200_*.deb' -exec cp {} "$WORK/debs/" \;
build
pub "one new package"
if [ -n "$kdeb" ]; then
    # A new initrd for the same kernel (other gzip header bytes): a new netboot version.
    python3 -c 'import gzip, sys; p = sys.argv[1]; d = gzip.decompress(open(p, "rb").read()); open(p, "wb").write(gzip.compress(d, mtime=1))' "$WORK/initrd.img-$rel"
    build
    pub "new initrd (netboot)"
fi
