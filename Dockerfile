# syntax=docker/dockerfile:1
# The ledger server in a container: `docker build -t evledger .`, then see README "Running in a container".
# Debian (glibc) images, never alpine: @nxtedition/rocksdb ships prebuilt binaries for linux-x64 glibc
# only, and on musl it would have to compile RocksDB. Build and runtime use the same Node major and the
# same Debian release, so the native modules installed in one load in the other.
ARG NODE_VERSION=24

# Production dependencies only: tsx (which runs the TypeScript sources) and vite (which builds the demo)
# are dependencies, not devDependencies. The full image has python3, make and g++, should a native
# module have no prebuilt binary for this platform and need compiling.
FROM node:${NODE_VERSION}-bookworm AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# The web demo, built once here so the server never has to build it at start (as `npm start` does on a
# fresh clone): the runtime image holds only its output.
FROM deps AS web
COPY web-demo ./web-demo
RUN npm run build:web

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
# HOST=0.0.0.0 so the port can be published; the server then refuses to start without authentication
# (JWT_SECRET or JWT_PUBLIC_KEY) unless INSECURE=1 says something in front of it authenticates.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=4000 \
    DATA_DIR=/data
WORKDIR /app
# The code stays owned by root: the server's user can write its store and nothing else.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY src ./src
COPY schema ./schema
COPY --from=web /app/web-demo/dist ./web-demo/dist
# Made before VOLUME and owned by the server's user, so a new named volume starts out writable by it.
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 4000
# Ready = the store is open and the writer takes commands (/readyz); a probe through node, as the
# slim image has no curl. It asks 127.0.0.1, which HOST=0.0.0.0 includes.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 4000) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node itself is PID 1 (exec form, no shell or npm in between), so `docker stop`'s SIGTERM reaches the
# server's handler: it finishes in-flight commands and closes the store within docker's 10 s grace.
STOPSIGNAL SIGTERM
CMD ["node", "--import", "tsx", "src/cli.ts", "serve"]
