# syntax=docker/dockerfile:1
#
# One image for the node agent and the aggregator (`rstprobe agent`, `rstprobe
# aggregator`). Four stages:
#   toolchain  the Node image plus python3, make and g++ (node-gyp needs all three)
#   build      compiles TypeScript (tsc, a devDependency) and the capture addon
#   deps       production dependencies only; better-sqlite3 and raw-socket are
#              compiled from source here (no prebuilt binary is downloaded)
#   runtime    slim Node, production node_modules, dist/src and the addon; non-root
#
# test/ship/dockerfile.test.ts replays the deps and build stages' commands in a
# temporary directory and assembles the runtime tree from the COPY lines, so this
# file cannot rot without a failing test. Keep its commands plain `RUN` lines.
#
# Node 24 is the active LTS line; better-sqlite3 12.x supports 20.x-25.x and
# package.json asks for >= 20 (the test checks both).
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS toolchain
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src

FROM toolchain AS build
COPY package.json package-lock.json ./
# --ignore-scripts: the root package's own `install` (node-gyp) and `prepare` (tsc)
# need the sources, which are not copied yet; the build below runs both explicitly.
# Dependencies' native parts are not needed to compile: deps builds them.
RUN npm ci --ignore-scripts
COPY tsconfig.json ./
COPY native ./native
COPY src ./src
# `npm run build` = tsc -p tsconfig.json && node-gyp rebuild --directory native
RUN npm run build

FROM toolchain AS deps
COPY package.json package-lock.json ./
# Production dependencies only. `prepare` would run tsc (a devDependency), so no
# lifecycle scripts run here; the two native dependencies are rebuilt by name.
RUN npm ci --omit=dev --ignore-scripts
RUN npm rebuild better-sqlite3 raw-socket

FROM ${NODE_IMAGE} AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="rstprobe" \
      org.opencontainers.image.description="Finds who really sent each TCP RST, and why; measures path MTU between nodes" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
# iproute2: the path-MTU prober asks the kernel for the route and interface MTU
# towards each target with `ip -j route get` / `ip -j link` (src/pmtu/local-route.ts).
# nsenter and mount (util-linux, mount) are already in the base image.
RUN apt-get update \
 && apt-get install -y --no-install-recommends iproute2 \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /src/package.json ./package.json
COPY --from=deps /src/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
# The web UI's own files are served from the sources, not compiled (src/aggregator/ui/assets.ts).
COPY --from=build /src/src/aggregator/ui/static ./src/aggregator/ui/static
# The addon loader finds the package root by native/binding.gyp (src/capture/native.ts).
COPY --from=build /src/native/binding.gyp ./native/binding.gyp
COPY --from=build /src/native/build/Release/rstprobe_native.node ./native/build/Release/rstprobe_native.node
# Non-root by default (65532 is distroless' "nonroot"): the aggregator runs as is.
# The agent DaemonSet overrides this with uid 0, every capability dropped but
# NET_RAW (deploy/kubernetes/agent-daemonset.yaml). No HEALTHCHECK: Kubernetes
# probes /healthz.
USER 65532:65532
# Node flags: NODE_FLAGS in src/cli/main.ts.
ENTRYPOINT ["node", "--max-semi-space-size=8", "/app/dist/src/cli/main.js"]
CMD ["agent"]
