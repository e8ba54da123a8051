#!/bin/sh
# make install: the browser tests (tests/browser/) drive Debian's Chromium; no browser
# download works on these machines. Installed with apt-get when missing and run as root;
# otherwise says how, and the browser tests are skipped (in CI, where CI is set, they fail).
set -eu
chromium=${CERTS_CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium" ] && exit 0
if [ "$chromium" = /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "make install: installing Debian's chromium for the browser tests (once; a minute or two)"
    export DEBIAN_FRONTEND=noninteractive
    if apt-get update -qq && apt-get install -y -qq chromium >/dev/null; then
        echo "make install: $(dpkg-query -W -f '${Package} ${Version}' chromium) installed"
        exit 0
    fi
    echo "make install: apt-get could not install chromium: the browser tests fail in CI and are skipped elsewhere" >&2
    exit 0
fi
echo "make install: no $chromium: the browser tests are skipped here (in CI they fail); install Debian's with: sudo apt-get install chromium" >&2
