# syntax=docker/dockerfile:1.7
# The API image: the esbuild bundle of api/src/main.ts on Node 20, nothing else.
#   docker build -f infra/docker/api.Dockerfile -t clafusion-api .      (context: the repository root)
#
# Why a bundle and not tsx: the runtime image then holds one .mjs file and no
# node_modules, no TypeScript loader and no compiler (smaller, fewer CVEs to
# patch, faster start), and it is the same bundle the Lambda function runs
# (infra/bundle/api-bundle.ts), tested as built in infra/test/api-bundle.test.ts.
# The engine is not in it: run jobs with a runner image (RUNNERS=0, REDIS_URL).
#
# Base image: an exact Node 20 release on Debian 12 (the version CI runs). Pin it by digest in your registry
# mirror once pulled (docker buildx imagetools inspect) if tags there are mutable.
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
# Manifests first, so the dependency layer is cached until the lock changes.
COPY package.json package-lock.json .npmrc ./
COPY api/package.json api/
COPY api/contract/package.json api/contract/
COPY sdk/package.json sdk/
COPY gpu-runner/package.json gpu-runner/
COPY gpu-runner/model-format/package.json gpu-runner/model-format/
# Only the API workspace and the root tools (tsx and esbuild bundle it); not tfjs.
RUN npm ci --workspace=@clafusion/api --include-workspace-root --no-audit --no-fund
COPY api/src api/src
COPY api/contract/src api/contract/src
# The API reads safetensors headers with the pure parsers of gpu-runner/model-format (no tfjs).
COPY gpu-runner/model-format/src gpu-runner/model-format/src
COPY infra/bundle infra/bundle
RUN node --import tsx infra/bundle/api-bundle.ts server /out

FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8787 \
    DATA_DIR=/data \
    RUNNERS=0
WORKDIR /app
COPY --from=build /out/index.mjs /app/api.mjs
COPY infra/docker/healthcheck.mjs /app/infra/docker/healthcheck.mjs
# /data: the local folder store when S3_BUCKET is unset (a volume in compose). Owned by the image's non-root user.
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 8787
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 CMD ["node", "/app/infra/docker/healthcheck.mjs", "http"]
CMD ["node", "/app/api.mjs"]
