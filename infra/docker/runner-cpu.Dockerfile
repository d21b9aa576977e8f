# syntax=docker/dockerfile:1.7
# The CPU runner: `npm run runner` with @tensorflow/tfjs-node 4.22.0 (libtensorflow 2.9.1, CPU) on Node 20.
#   docker build -f infra/docker/runner-cpu.Dockerfile -t clafusion-runner-cpu .   (context: the repository root)
# For machines without an NVIDIA GPU, and for the local compose stack. Same code and entrypoint as the
# GPU image.
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

FROM ${NODE_IMAGE} AS deps
# Toolchain for node-pre-gyp's fallback build of the tfjs-node addon (this stage only).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY api/package.json api/
COPY api/contract/package.json api/contract/
COPY sdk/package.json sdk/
COPY gpu-runner/package.json gpu-runner/
COPY gpu-runner/model-format/package.json gpu-runner/model-format/
# The lock has the GPU package as gpu-runner's optional dependency; leave it out here, then add the CPU
# package at the same version. It joins the locked tree (its @tensorflow/tfjs 4.22.0 is the locked one, so
# the engine and the backend share one tfjs-core); its own small helpers are resolved at build time.
# allowScripts in the root package.json approves its install script (libtensorflow download).
RUN npm ci --omit=dev --omit=optional --no-audit --no-fund \
 && npm install --no-save --omit=dev --omit=optional --no-audit --no-fund --foreground-scripts @tensorflow/tfjs-node@4.22.0
RUN set -e; tf=node_modules/@tensorflow/tfjs-node; \
    ls $tf/lib/napi-v*/tfjs_binding.node; \
    test ! -d node_modules/@tensorflow/tfjs-node-gpu; \
    test ! -d $tf/node_modules/@tensorflow/tfjs-core

FROM ${NODE_IMAGE}
WORKDIR /app
COPY --from=deps /app/node_modules /app/node_modules
COPY package.json ./
COPY api/package.json api/
COPY api/src api/src
COPY api/contract/package.json api/contract/
COPY api/contract/src api/contract/src
COPY gpu-runner/package.json gpu-runner/
COPY gpu-runner/src gpu-runner/src
COPY gpu-runner/model-format/package.json gpu-runner/model-format/
COPY gpu-runner/model-format/src gpu-runner/model-format/src
COPY app app
COPY infra/docker/healthcheck.mjs infra/docker/runner-entrypoint.sh infra/docker/
ENV NODE_ENV=production \
    CLAFUSION_BACKEND=node
USER node
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 CMD ["node", "/app/infra/docker/healthcheck.mjs", "redis"]
ENTRYPOINT ["/app/infra/docker/runner-entrypoint.sh"]
CMD ["node", "--import", "tsx", "app/runner.ts"]
