#!/bin/sh
# docker-compose entry point: waits for the deployment's credentials (made by the `credentials`
# service), then starts one role with them. Secrets go through files and the environment, never argv.
#   compose-entry.sh nats ARGS...     nats-server in operator mode with the generated accounts
#   compose-entry.sh harness          the harness, as the `harness` NATS user (JWT + seed), pinning the runners' keys,
#                                     with the signing key the credentials service made (AIRLOCK_HARNESS_KEY_FILE)
#   compose-entry.sh runner           a runner with the first runner identity no live runner holds
set -eu
creds="${AIRLOCK_DATA:-/var/lib/airlock}/credentials"
wait_for() { i=0; until [ -s "$1" ]; do i=$((i + 1)); [ "$i" -lt 600 ] || { echo "no $1 after 60 s" >&2; exit 1; }; sleep 0.1; done; }
role="$1"; shift
case "$role" in
  nats)
    wait_for "$creds/nats/auth.conf"
    exec nats-server -c "$creds/nats/auth.conf" "$@" ;;
  harness)
    # The credentials service makes the signing key before the runners file (never two makers of it).
    wait_for "$AIRLOCK_HARNESS_KEY_FILE"
    wait_for "$creds/harness/runners.json"
    login="$(cat "$creds/harness/nats.login")"
    AIRLOCK_NATS_URL="$(printf '%s' "$AIRLOCK_NATS_SERVERS" | sed "s#nats://#nats://$login@#g")"
    AIRLOCK_RUNNERS_FILE="$creds/harness/runners.json"
    # Operator mode: the harness mints each run's log grant for the runner that holds it, and revokes it.
    system="$(cat "$creds/harness/system.login")"
    AIRLOCK_NATS_SYSTEM_URL="$(printf '%s' "$AIRLOCK_NATS_SERVERS" | sed "s#nats://#nats://$system@#g")"
    AIRLOCK_NATS_AUTHORITY_FILE="$creds/harness/nats-authority.json"
    export AIRLOCK_NATS_URL AIRLOCK_RUNNERS_FILE AIRLOCK_NATS_SYSTEM_URL AIRLOCK_NATS_AUTHORITY_FILE
    exec node --liftoff-only --max-semi-space-size=4 --conditions=airlock-source harness/src/main.ts "$@" ;;  # flags: proto/src/node-flags.ts
  runner)
    wait_for "$creds/runners/READY"
    AIRLOCK_NATS_URL="$AIRLOCK_NATS_SERVERS" AIRLOCK_RUNNER_IDENTITY_DIR="$creds/runners"
    export AIRLOCK_NATS_URL AIRLOCK_RUNNER_IDENTITY_DIR
    exec node --liftoff-only --max-semi-space-size=4 --conditions=airlock-source runner/src/main.ts "$@" ;;
  *) echo "unknown role $role" >&2; exit 2 ;;
esac
