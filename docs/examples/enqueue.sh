#!/usr/bin/env bash
# Enqueue a few jobs with curl, one scheduled a minute from now.
set -euo pipefail
base=${ZIZQ_URL:-http://127.0.0.1:7890}
for i in 1 2 3; do
  curl -s "$base/jobs" -H 'content-type: application/json' \
    -d "{\"queue\":\"emails\",\"type\":\"send_welcome\",\"payload\":{\"user\":$i}}"
  echo
done
later=$(( $(date +%s) * 1000 + 60000 ))
curl -s "$base/jobs" -H 'content-type: application/json' \
  -d "{\"queue\":\"emails\",\"type\":\"digest\",\"payload\":null,\"ready_at\":$later}"
echo
