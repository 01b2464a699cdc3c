#!/bin/sh
# Entry point of berth's container image (see the Dockerfile): writes the config and the token
# file the task definition carries into the data dir, then runs berth. Values are only ever
# written to files or passed as single arguments, never evaluated.
set -eu
umask 077
mkdir -p "$BERTH_HOME"
if [ -n "${BERTH_CONFIG:-}" ]; then
  printf '%s\n' "$BERTH_CONFIG" > "$BERTH_HOME/berth.config.yaml"
fi
if [ -n "${BERTH_TOKENS:-}" ]; then
  printf '%s\n' "$BERTH_TOKENS" > "$BERTH_HOME/tokens.json"
fi
if [ "${1:-up}" = "up" ]; then
  [ "$#" -gt 0 ] && shift
  # `berth up` on every interface of the task, answering to the ALB's host names.
  set -- up --host "${BERTH_API_HOST:-0.0.0.0}" --port "${BERTH_API_PORT:-4000}" "$@"
  set -f
  old_ifs=$IFS
  IFS=,
  for host in ${BERTH_ALLOW_HOSTS:-}; do
    IFS=$old_ifs
    [ -n "$host" ] && set -- "$@" --allow-host "$host"
  done
  IFS=$old_ifs
fi
exec node /app/bin/berth.js "$@"
