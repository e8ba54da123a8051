# The certreissue service, for docker-compose.yml (which supplies MONGODB_URI, so no
# embedded database is started here: the secantusdb package comes with the dependencies
# but never runs, and FerretDB is not built).

# GraphiQL's files, built from graphiql/'s pinned npm packages as `make install` does.
FROM node:20-slim AS graphiql
WORKDIR /build
COPY graphiql/package.json graphiql/package-lock.json graphiql/.npmrc graphiql/build.mjs ./
COPY graphiql/src/ src/
RUN npm ci --no-progress && npm run --silent build

# The web console's files, built from console/'s pinned npm packages as `make install` does;
# graphql-codegen types its operations from the schema the service serves.
FROM node:20-slim AS console
WORKDIR /build
COPY schema.graphql ./
COPY console/package.json console/package-lock.json console/.npmrc console/index.html console/codegen.ts \
     console/tsconfig.json console/vite.config.ts console/
COPY console/scripts/ console/scripts/
COPY console/src/ console/src/
RUN cd console && npm ci --no-progress --loglevel=error && npm run --silent build

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CERTS_DATA_DIR=/data \
    CERTS_GRAPHIQL_ASSETS=/opt/certreissue/graphiql \
    CERTS_CONSOLE_ASSETS=/opt/certreissue/console

RUN groupadd --system --gid 10001 certreissue \
 && useradd --system --uid 10001 --gid certreissue --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin certreissue \
 && mkdir /data \
 && chown certreissue:certreissue /data

WORKDIR /src
COPY pyproject.toml README.md ./
COPY domain/ domain/
COPY adapters/ adapters/
COPY schema/ schema/
COPY resolvers/ resolvers/
COPY certreissue/ certreissue/
RUN pip install --no-cache-dir . \
 && rm -rf build *.egg-info
COPY --from=graphiql /build/dist/ /opt/certreissue/graphiql/
COPY --from=console /build/console/dist/ /opt/certreissue/console/

# /data is owned by the service user, so a fresh named volume mounted there is too.
VOLUME ["/data"]
WORKDIR /data
USER certreissue:certreissue

EXPOSE 8000
CMD ["certreissue", "serve", "--host", "0.0.0.0", "--port", "8000"]
