# syntax=docker/dockerfile:1.7
# The GPU runner: `npm run runner` on CUDA 11.2 + cuDNN 8.1 with @tensorflow/tfjs-node-gpu 4.22.0.
#   docker build -f infra/docker/runner-gpu.Dockerfile -t clafusion-runner-gpu .   (context: the repository root)
#   docker run --gpus all -e REDIS_URL=… -e S3_BUCKET=… clafusion-runner-gpu
#
# Why CUDA 11.2 / cuDNN 8: tfjs-node-gpu 4.22.0's install script (scripts/deps-constants.js,
# LIBTENSORFLOW_VERSION = '2.9.1') downloads libtensorflow-gpu 2.9.1, which TensorFlow builds against
# CUDA 11.2 and cuDNN 8.1 (TF's tested build configurations). The runtime image has the CUDA runtime
# libraries, cuBLAS, cuFFT, cuRAND, cuSOLVER, cuSPARSE and cuDNN 8.1.1; the driver (libcuda) comes from
# the host through the NVIDIA container toolkit. Newer GPUs: see infra/README.md, "CUDA and cuDNN".
# Pin the base images by digest in your registry mirror once pulled if tags there are mutable.
ARG CUDA_IMAGE=nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

FROM ${NODE_IMAGE} AS node

FROM ${CUDA_IMAGE} AS deps
# Node from the official image (its binaries need glibc 2.28; Ubuntu 20.04 has 2.31).
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm
# tfjs-node-gpu's installer fetches a prebuilt addon and falls back to compiling it (node-pre-gyp
# --fallback-to-build), which needs a toolchain; only this stage has it.
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
# Production dependencies, optional ones included: @tensorflow/tfjs-node-gpu is an optional dependency of
# gpu-runner, and the root package.json's allowScripts approves its install script (it downloads
# libtensorflow-gpu 2.9.1 and the addon at build time). An optional package that fails to install is
# dropped without an error, so the next step checks that both files are really there.
RUN npm ci --omit=dev --no-audit --no-fund --foreground-scripts
RUN set -e; tf=node_modules/@tensorflow/tfjs-node-gpu; \
    ls $tf/lib/napi-v*/tfjs_binding.node; \
    ls $tf/deps/lib/libtensorflow.so.2.9.1 || ls $tf/lib/napi-v*/libtensorflow.so*; \
    test ! -d $tf/node_modules/@tensorflow/tfjs-core

FROM ${CUDA_IMAGE}
COPY --from=node /usr/local/bin/node /usr/local/bin/node
RUN groupadd --gid 10001 runner && useradd --uid 10001 --gid runner --create-home --shell /usr/sbin/nologin runner
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
# TF_FORCE_GPU_ALLOW_GROWTH: TensorFlow takes GPU memory as it needs it, not all of it at start.
# CUDA_CACHE_*: on GPUs newer than the kernels in libtensorflow (compute capability above 8.0) the driver
# JIT-compiles PTX at first use; keep the result so later jobs in this container start at once.
ENV NODE_ENV=production \
    CLAFUSION_BACKEND=node-gpu \
    TF_FORCE_GPU_ALLOW_GROWTH=true \
    TF_CPP_MIN_LOG_LEVEL=1 \
    CUDA_CACHE_PATH=/home/runner/.nv/ComputeCache \
    CUDA_CACHE_MAXSIZE=4294967296
USER runner
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 CMD ["node", "/app/infra/docker/healthcheck.mjs", "redis"]
ENTRYPOINT ["/app/infra/docker/runner-entrypoint.sh"]
# tsx, as `npm run runner` does: the runner's worker threads load the engine's .ts modules by URL.
CMD ["node", "--import", "tsx", "app/runner.ts"]
