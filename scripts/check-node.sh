#!/bin/sh
# make install: GraphiQL is built from the npm packages pinned in graphiql/ (package.json,
# package-lock.json) with Node.js and npm. Says plainly what is missing, and stops.
set -eu
missing=""
command -v node >/dev/null 2>&1 || missing="node"
command -v npm >/dev/null 2>&1 || missing="${missing:+$missing and }npm"
if [ -n "$missing" ]; then
    cat >&2 <<MSG
make install: $missing not found. GraphiQL (served at /graphql) is built from pinned npm
packages in graphiql/ with Node.js 18 or later and npm: install them (Debian:
apt-get install nodejs npm; or https://nodejs.org) and run make install again.
MSG
    exit 1
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 18 ]; then
    echo "make install: Node.js $(node --version) is too old to build GraphiQL (graphiql/): 18 or later is needed." >&2
    exit 1
fi
