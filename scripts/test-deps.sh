#!/usr/bin/env bash
# Installs the system packages the test suite drives for real (Chromium for the browser tests, curl for the
# README's examples, clickhouse-server for the ClickHouse store's suites, nats-server for the cluster log's), when
# missing.
# Runs before `npm test`; needs root and apt-get to install, and only says what is missing otherwise.
set -euo pipefail
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v curl >/dev/null || missing+=(curl) # test/docs/readme-examples.test.ts runs the README's curl examples
# test/cluster/clickhouse.ts starts a real server per test process (Debian's 18.16: the oldest SQL Intake targets)
[ -x /usr/sbin/clickhouse-server ] || missing+=(clickhouse-server clickhouse-client)
command -v nats-server >/dev/null || missing+=(nats-server) # scripts/cluster.ts: the NATS JetStream log's tests
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "test-deps: installing ${missing[*]} with apt-get"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "test-deps: ${missing[*]} not installed and cannot install here (need root + apt-get); those tests will skip (fail under CI=true)"
fi
