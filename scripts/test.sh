#!/usr/bin/env bash
# The whole test suite, from a fresh clone. Installs what the tests need
# (Redis 7.0 and redis-sentinel 7.0 from the distribution, for the
# differential and interop tests, and redis-py from PyPI for the client
# tests: they fail rather than skip when one is missing), then checks
# formatting and lints and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

need_redis() {
    ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1 ||
        ! command -v redis-sentinel >/dev/null 2>&1 ||
        ! redis-server --version | grep -q 'v=7\.0\.'
}
if need_redis; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server redis-sentinel redis-tools >/dev/null
fi
redis-server --version

# redis-py, for the client-discovery tests (tests/clients/).
if ! python3 -c 'import redis.sentinel' >/dev/null 2>&1; then
    python3 -m pip install --quiet --disable-pip-version-check 'redis>=5,<6'
fi
python3 -c 'import redis; print("redis-py", redis.__version__)'

cargo fmt --check
cargo clippy --all-targets --quiet -- -D warnings
cargo test --quiet
