# syntax=docker/dockerfile:1
# One image for the node agent and the aggregator.
# Build stage: compiles TypeScript and the native capture addon (node-gyp, g++).
FROM node:20-bookworm AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.json ./
COPY native ./native
COPY src ./src
COPY test ./test
COPY bench ./bench
RUN npm ci && npm run build && npm prune --omit=dev

# Runtime stage: production dependencies, compiled JavaScript and the addon only.
FROM node:20-bookworm-slim
LABEL org.opencontainers.image.title="rstprobe" \
      org.opencontainers.image.description="Finds who really sent each TCP RST, and why; measures path MTU between nodes" \
      org.opencontainers.image.licenses="Apache-2.0"
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
COPY --from=build /src/native/build/Release/rstprobe_native.node ./native/build/Release/
# Non-root by default; the DaemonSet runs the agent as uid 0 with only the
# capabilities it names (deploy/kubernetes).
USER 65532:65532
ENTRYPOINT ["node", "/app/dist/src/cli/main.js"]
CMD ["agent"]
