#!/bin/sh
# make install: GraphiQL (graphiql/) and the web console (console/) are built from npm
# packages pinned in their package-lock.json files, with Node.js and npm. Says plainly
# what is missing, and stops.
#   sh scripts/check-node.sh            GraphiQL: Node.js 18 or later
#   sh scripts/check-node.sh console    the web console: Node.js 20.19 or later (Vite 8)
set -eu
what="GraphiQL (served at /graphql) is built from pinned npm packages in graphiql/"
need_major=18
need_minor=0
if [ "${1:-}" = "console" ]; then
    what="The web console (served at /console) is built with Vite 8 from pinned npm packages in console/"
    need_major=20
    need_minor=19
fi
missing=""
command -v node >/dev/null 2>&1 || missing="node"
command -v npm >/dev/null 2>&1 || missing="${missing:+$missing and }npm"
if [ -n "$missing" ]; then
    cat >&2 <<MSG
make install: $missing not found. $what
with Node.js $need_major.$need_minor or later and npm: install them (Debian: apt-get install nodejs npm;
or https://nodejs.org) and run make install again.
MSG
    exit 1
fi
major=$(node -p 'process.versions.node.split(".")[0]')
minor=$(node -p 'process.versions.node.split(".")[1]')
if [ "$major" -lt "$need_major" ] || { [ "$major" -eq "$need_major" ] && [ "$minor" -lt "$need_minor" ]; }; then
    echo "make install: Node.js $(node --version) is too old. $what with Node.js $need_major.$need_minor or later." >&2
    exit 1
fi
