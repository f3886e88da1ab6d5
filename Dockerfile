# syntax=docker/dockerfile:1
# One image for api, worker and the migration job; the command chooses (see README "Deploying to
# Kubernetes" and docker-compose.yml):
#   api     (default)  node dist/apps/api/apps/api/src/main.js --api-only
#   worker             node dist/apps/worker/apps/worker/src/main.js
#   migrate            node dist/apps/api/libs/database/src/cli/migrate.js
# Build: docker build -t saga-platform .      (CI builds it when a Docker engine answers: .ci/run)
ARG NODE_IMAGE=node:24-bookworm-slim

# 1. Compile TypeScript to JavaScript (nest build api && nest build worker -> dist/).
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# The repeatable migration migrations/R__event_store.ts re-exports SQL that libs/event-store
# defines in TypeScript. The runtime has no TypeScript loader, so its SQL is rendered here into
# R__event_store.sql: same name and same text, hence the same checksum in schema_repeatables as
# when the .ts is applied by `npm run migrate` (a database migrated either way is not re-applied).
RUN npm run build \
 && node apps/console/scripts/build.mjs \
 && mkdir -p /out/migrations \
 && cp migrations/*.sql /out/migrations/ \
 && node -r @swc-node/register -e "process.stdout.write(require('./migrations/R__event_store.ts').sql)" \
      > /out/migrations/R__event_store.sql \
 && test -s /out/migrations/R__event_store.sql

# 2. Production dependencies only.
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# 3. Runtime: compiled JS, production node_modules, tini as PID 1, non-root.
FROM ${NODE_IMAGE} AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
# Agent instances run as their own Deployments here (deploy/k8s/keda-agents), not as children of
# the worker: AGENT_RUNTIME=external (set AGENT_RUNTIME=local with an AGENT_RUNTIME_CONFIG to change).
ENV NODE_ENV=production \
    PORT=3000 \
    DATA_DIR=/tmp/saga-data \
    AGENT_RUNTIME=external
WORKDIR /app
# Everything owned by root and read-only for the app user; it writes nothing under /app.
COPY package.json package-lock.json ./
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /out/migrations ./migrations
# The web console (static files, served at /console).
COPY --from=build /app/apps/console/dist ./apps/console/dist
COPY deploy/docker/healthcheck.js ./healthcheck.js
# The node user of the official image (uid 1000); Kubernetes manifests pin runAsUser: 1000.
USER node
EXPOSE 3000
# api: GET /health; worker: its process is alive (healthcheck.js tells the role from the command).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "/app/healthcheck.js"]
# tini forwards SIGTERM/SIGINT to node (graceful stop: SHUTDOWN_TIMEOUT_MS) and reaps zombies.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/apps/api/apps/api/src/main.js", "--api-only"]
