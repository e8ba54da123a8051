#!/bin/sh
# make install: the automatic DNS validation tests (tests/integration/test_dns_auto.py)
# start Debian's Knot DNS as the authoritative server of a test zone, updated over RFC 2136
# with a TSIG key. Installed with apt-get when missing and run as root, with RUNLEVEL=1 so
# that the package does not start its own server; otherwise says how, and the test is
# skipped (in CI, where CI is set, it fails).
set -eu
knotd=${CERTS_KNOTD:-/usr/sbin/knotd}
[ -x "$knotd" ] && exit 0
if [ "$knotd" = /usr/sbin/knotd ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "make install: installing Debian's Knot DNS for the automatic DNS validation tests (once)"
    export DEBIAN_FRONTEND=noninteractive RUNLEVEL=1
    apt-get update -qq || true
    if apt-get install -y -qq --no-install-recommends knot >/dev/null 2>&1 && [ -x "$knotd" ]; then
        echo "make install: $(dpkg-query -W -f '${Package} ${Version}' knot) installed"
        exit 0
    fi
    echo "make install: apt-get could not install knot: the Knot DNS tests fail in CI and are skipped elsewhere" >&2
    exit 0
fi
echo "make install: no $knotd: the Knot DNS tests are skipped here (in CI they fail); install Debian's with: sudo apt-get install knot" >&2
