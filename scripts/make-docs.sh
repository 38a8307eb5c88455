#!/bin/sh
# Generate the manual pages and shell completions into target/doc/ from the CLI
# definition (src/cli/), as `elirepo man` and `elirepo completions` print them.
# `cargo deb` packages them from there: run this first (they are build products,
# not committed, so they can never be stale).
#
#   scripts/make-docs.sh [ELIREPO]     default: cargo run --quiet --
set -eu
cd "$(dirname "$0")/.."
if [ $# -gt 0 ]; then
    elirepo=$1
else
    elirepo=
fi
e() {
    if [ -n "$elirepo" ]; then "$elirepo" "$@"; else cargo run --quiet -- "$@"; fi
}
rm -rf target/doc/man target/doc/completions
mkdir -p target/doc/man target/doc/completions
e -q man --dir target/doc/man
e completions bash > target/doc/completions/elirepo.bash
e completions zsh > target/doc/completions/_elirepo
e completions fish > target/doc/completions/elirepo.fish
ls target/doc/man target/doc/completions
