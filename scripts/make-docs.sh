#!/bin/sh
# Regenerate the manual pages and shell completions in doc/ from the CLI definition
# (src/main.rs), as `elirepo man` and `elirepo completions` print them. They are
# committed so that `cargo deb` packages them without a build step of its own;
# tests/cli.rs fails when they are stale and names this script.
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
rm -rf doc/man doc/completions
mkdir -p doc/man doc/completions
e -q man --dir doc/man
e completions bash > doc/completions/elirepo.bash
e completions zsh > doc/completions/_elirepo
e completions fish > doc/completions/elirepo.fish
ls doc/man doc/completions
