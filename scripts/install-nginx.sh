#!/bin/sh
# make install: the download tests (tests/integration/test_nginx_bundle.py) start Debian's
# nginx with an NGINX bundle, as a user's server would. Installed with apt-get when missing
# and run as root (nginx-light, else nginx), with RUNLEVEL=1 so that the package does not
# start its own server on port 80; otherwise says how, and the test is skipped (in CI,
# where CI is set, it fails).
set -eu
nginx=${CERTS_NGINX:-/usr/sbin/nginx}
[ -x "$nginx" ] && exit 0
if [ "$nginx" = /usr/sbin/nginx ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "make install: installing Debian's nginx for the download tests (once)"
    export DEBIAN_FRONTEND=noninteractive RUNLEVEL=1
    apt-get update -qq || true
    for package in nginx-light nginx; do
        if apt-get install -y -qq --no-install-recommends "$package" >/dev/null 2>&1 && [ -x "$nginx" ]; then
            echo "make install: $(dpkg-query -W -f '${Package} ${Version}' "$package") installed"
            exit 0
        fi
    done
    echo "make install: apt-get could not install nginx: the nginx test fails in CI and is skipped elsewhere" >&2
    exit 0
fi
echo "make install: no $nginx: the nginx test is skipped here (in CI it fails); install Debian's with: sudo apt-get install nginx-light" >&2
