#!/usr/bin/env bash
# Run everything skynet checks, the one command the README gives:
#   bash install/test.sh [pytest arguments...]
# Installs tox if missing, starts the loopback servers the integration tests need
# (install/servers.sh: MariaDB, PostgreSQL, Redis, RabbitMQ, moto; install/sshd.sh: OpenSSH +
# supervisor), then runs the lint checks, the test suite (tox's local environment) and the
# Airflow DAG tests (tox's airflow environment), one after the other. Arguments go to pytest in
# local and airflow. Without arguments the suite runs as two pytest processes side by side
# (see whole_suite below: 21 minutes instead of 31 on the 2-core CI machine).
#
# pytest exits 5 when it ran no test. With arguments that is normal for an environment the
# arguments select nothing in (`-k storage` selects nothing in airflow), so it counts as a
# pass there, unless no environment ran a test at all. Without arguments, 5 is a failure.
# Any other non-zero exit fails the run; every environment still runs, so one report shows all.
set -uo pipefail
cd "$(dirname "$0")/.."

log() { echo "[test] $*" >&2; }

PYTHON=${PYTHON:-python3.11}
if ! "$PYTHON" -m tox --version >/dev/null 2>&1; then
  log "installing tox"
  "$PYTHON" -m pip install -q 'tox==4.67.15' || exit 1
fi

servers=$(bash install/servers.sh) || { log "install/servers.sh failed"; exit 1; }
eval "$servers"
sshd=$(bash install/sshd.sh) || { log "install/sshd.sh failed"; exit 1; }
eval "$sshd"

# tox's environments live outside the checkout, in a cache kept between runs (like pip's): a new
# clone reuses them when the pinned requirements have not changed (tox compares them and
# reinstalls what changed) and reinstalls only skynet itself, editable, from this checkout.
# That saves the minutes of installing every pin on each CI run. SKYNET_TOX_WORKDIR moves it.
TOX_WORKDIR=${SKYNET_TOX_WORKDIR:-$HOME/.cache/skynet-test/tox}
tox() { "$PYTHON" -m tox --workdir "$TOX_WORKDIR" "$@"; }

failed=()
ran_tests=0
# The lint checks (tox.ini's [testenv:lint] commands) run in the local environment: the same
# pinned requirements, installed once rather than twice (about 2.5 minutes of CI). `tox exec`
# creates or updates the environment first, then runs the command in it.
lint_ok=1
checks=0
while IFS= read -r check; do
  [ -n "$check" ] || continue
  checks=$((checks + 1))
  log "lint: $check"
  # shellcheck disable=SC2086  # each check is a command line of tox.ini, split on spaces as tox does
  tox exec -q -e local -- $check </dev/null || lint_ok=0
done < <(sed -n '/^\[testenv:lint\]/,/^\[/{/^    /p}' tox.ini)
[ "$checks" -gt 0 ] || { log "lint: no check found in tox.ini's [testenv:lint]"; lint_ok=0; }
[ "$lint_ok" = 1 ] || failed+=(lint)
# The whole suite (no arguments) runs as two pytest processes side by side, in the local
# environment: the tests that mostly wait (BESIDE: skynet/tests/deploy on SSH, fab, the PEX and
# the services it starts; skynet/tests/tasks on Celery workers and RabbitMQ) with databases of
# their own (skynet_test_beside, Redis db 14, RabbitMQ vhost skynet_test_beside), and
# everything else. Each writes its coverage data; the floor of tox.ini's [testenv:local]
# applies to the two combined. The second process's output follows the first's.
BESIDE=(skynet/tests/deploy skynet/tests/tasks)
whole_suite() {
  local urls logs rest beside cover floor rc ignore=()
  urls=$(SKYNET_TEST_DB_NAME=skynet_test_beside bash install/servers.sh 2>/dev/null) || {
    log "install/servers.sh (skynet_test_beside) failed"; return 1; }
  floor=$(sed -n 's/.*--cov-fail-under=\([0-9.]*\).*/\1/p' tox.ini | head -1)
  logs=$(mktemp -d)
  rm -f .coverage .coverage.rest .coverage.beside
  log "local: ${BESIDE[*]} run beside the rest (their output follows)"
  (
    eval "$urls"
    export SKYNET_TEST_REDIS_URL='redis://127.0.0.1:6379/14' COVERAGE_FILE="$PWD/.coverage.beside"
    tox exec -q -e local -- pytest -p no:cacheprovider --cov --cov-report= "${BESIDE[@]}" </dev/null
  ) >"$logs/beside.log" 2>&1 &
  local pid=$!
  for path in "${BESIDE[@]}"; do ignore+=("--ignore=$path"); done
  COVERAGE_FILE="$PWD/.coverage.rest" tox exec -q -e local -- pytest --cov --cov-report= "${ignore[@]}" </dev/null
  rest=$?
  wait "$pid"
  beside=$?
  log "local: ${BESIDE[*]} (exit $beside):"
  cat "$logs/beside.log"
  rm -rf "$logs"
  if ! tox exec -q -e local -- coverage combine .coverage.rest .coverage.beside; then
    log "local: coverage combine .coverage.rest .coverage.beside failed"
    return 1
  fi
  log "local: coverage of the whole suite (floor ${floor:-none} %)"
  tox exec -q -e local -- coverage report ${floor:+--fail-under=$floor}
  cover=$?
  # the first failure: a test's exit code before the coverage floor's
  for rc in "$rest" "$beside" "$cover"; do [ "$rc" = 0 ] || return "$rc"; done
}

for env in local airflow; do
  # no `--` without arguments: tox would take it as empty arguments and drop tox.ini's default
  # ones (the coverage floor of the whole suite)
  if [ $# -gt 0 ]; then tox -e "$env" -- "$@"
  elif [ "$env" = local ]; then whole_suite
  else tox -e "$env"; fi
  rc=$?
  if [ "$rc" = 0 ]; then
    ran_tests=1
  elif [ "$rc" = 5 ] && [ $# -gt 0 ]; then
    log "$env: the arguments selected no test there"
  else
    failed+=("$env (exit $rc)")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  log "FAILED: ${failed[*]}"
  exit 1
fi
if [ "$ran_tests" = 0 ]; then
  log "FAILED: no environment ran a test"
  exit 1
fi
log "all passed"
