#!/bin/sh
# make install: the ACME tests (tests/integration/test_acme_issuance.py) run Debian's pebble,
# Let's Encrypt's ACME test server. Installed with apt-get when missing and run as root;
# otherwise says how, and those tests are skipped (in CI, where CI is set, they fail).
set -eu
pebble=${CERTS_PEBBLE:-/usr/bin/pebble}
[ -x "$pebble" ] && exit 0
if [ "$pebble" = /usr/bin/pebble ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "make install: installing Debian's pebble for the ACME tests (once)"
    export DEBIAN_FRONTEND=noninteractive
    if { apt-get install -y -qq pebble >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq pebble >/dev/null; }; }; then
        echo "make install: $(dpkg-query -W -f '${Package} ${Version}' pebble) installed"
        exit 0
    fi
    echo "make install: apt-get could not install pebble: the ACME tests fail in CI and are skipped elsewhere" >&2
    exit 0
fi
echo "make install: no $pebble: the ACME tests are skipped here (in CI they fail); install Debian's with: sudo apt-get install pebble" >&2
