/**
 * The container images, checked from their Dockerfiles (no Docker engine
 * runs in CI): multi-stage, pinned base images, non-root user, a health
 * check, no secrets in ENV/ARG, every COPY source present in the repository
 * and let through by the image's .dockerignore, and the runner images
 * installing the tfjs backend their CLAFUSION_BACKEND names.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BACKEND_NAMES } from '../../gpu-runner/src/runtime/backend.ts';
import { type Dockerfile, contextCopies, execForm, includedByDockerignore, parseDockerfile } from './support/dockerfile.ts';

const ROOT = join(import.meta.dirname, '../..');
const DOCKER = join(ROOT, 'infra/docker');
const IMAGES = ['api', 'runner-gpu', 'runner-cpu'] as const;
const parsed = Object.fromEntries(IMAGES.map((name) => [name, parseDockerfile(join(DOCKER, `${name}.Dockerfile`))])) as Record<(typeof IMAGES)[number], Dockerfile>;
const json = (path: string) => JSON.parse(readFileSync(join(ROOT, path), 'utf8')) as Record<string, Record<string, unknown>>;
const finalStage = (f: Dockerfile) => f.stages.at(-1)!.instructions;
const envOf = (f: Dockerfile) =>
  Object.fromEntries(
    finalStage(f)
      .filter((i) => i.keyword === 'ENV')
      .flatMap((i) => [...i.args.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1], m[2]])),
  );

describe.each(IMAGES)('%s image', (name) => {
  const file = parsed[name];

  it('is multi-stage, and every base image is pinned to an exact version or digest', () => {
    expect(file.stages.length).toBeGreaterThanOrEqual(2);
    const stageNames = new Set<string>();
    for (const stage of file.stages) {
      if (!stageNames.has(stage.image)) {
        expect(stage.image, 'base image').toMatch(/^[\w./-]+(:[\w.-]*\d[\w.-]*|@sha256:[0-9a-f]{64})$/);
        expect(stage.image).not.toMatch(/:(latest|lts|current|stable)$/);
      }
      if (stage.name) stageNames.add(stage.name);
    }
  });

  it('runs as a non-root user, with a health check and exec-form commands', () => {
    const last = finalStage(file);
    const users = last.filter((i) => i.keyword === 'USER').map((i) => i.args);
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^(root|0)(:|$)/);
    const health = last.filter((i) => i.keyword === 'HEALTHCHECK');
    expect(health).toHaveLength(1);
    const check = execForm(health[0].args)!;
    expect(check.slice(0, 2)).toEqual(['node', '/app/infra/docker/healthcheck.mjs']);
    expect(check[2]).toBe(name === 'api' ? 'http' : 'redis');
    for (const kw of ['CMD', 'ENTRYPOINT']) for (const i of last.filter((x) => x.keyword === kw)) expect(execForm(i.args), `${kw} ${i.args}`).not.toBeNull();
  });

  it('bakes in no secrets', () => {
    for (const i of file.instructions.filter((x) => x.keyword === 'ENV' || x.keyword === 'ARG')) {
      for (const m of i.args.matchAll(/(\w+)=(\S*)/g)) expect(m[1], `${i.keyword} ${m[1]}`).not.toMatch(/SECRET|PASSWORD|TOKEN|ACCESS_KEY|API_KEY/i);
    }
    expect(file.instructions.some((i) => /--mount=type=secret|\.env\b|id_rsa|credentials/.test(i.args))).toBe(false);
  });

  it('copies only files that exist and that its .dockerignore lets into the build context', () => {
    const ignore = join(DOCKER, `${name}.Dockerfile.dockerignore`);
    expect(existsSync(ignore)).toBe(true);
    const rules = readFileSync(ignore, 'utf8').split('\n');
    const sources = contextCopies(file);
    expect(sources.length).toBeGreaterThan(0);
    for (const src of sources) {
      expect(existsSync(join(ROOT, src)), `COPY ${src}`).toBe(true);
      expect(includedByDockerignore(rules, src.replace(/\/$/, '')), `${src} is in the build context`).toBe(true);
    }
    // The context leaves out what the host has installed or generated.
    for (const path of ['node_modules', 'api/node_modules', 'infra/cdk/node_modules', '.data', 'api/src/lambda.test.ts', 'README.md', '.git']) {
      expect(includedByDockerignore(rules, path), path).toBe(false);
    }
  });
});

describe('API image', () => {
  it('runs the bundled server on all interfaces without an in-process runner', () => {
    const f = parsed.api;
    expect(f.instructions.some((i) => i.keyword === 'RUN' && i.args.includes('infra/bundle/api-bundle.ts server /out'))).toBe(true);
    expect(envOf(f)).toMatchObject({ HOST: '0.0.0.0', PORT: '8787', RUNNERS: '0', NODE_ENV: 'production' });
    expect(execForm(finalStage(f).find((i) => i.keyword === 'CMD')!.args)).toEqual(['node', '/app/api.mjs']);
    // Only the API workspace's dependencies are installed to build it (not tfjs).
    expect(f.instructions.some((i) => i.keyword === 'RUN' && /npm ci --workspace=@clafusion\/api/.test(i.args))).toBe(true);
  });
});

describe('runner images', () => {
  const gpuRunner = json('gpu-runner/package.json');
  const rootAllow = json('package.json').allowScripts as Record<string, boolean>;
  const tfjsVersion = gpuRunner.dependencies['@tensorflow/tfjs'] as string;

  it('GPU: CUDA 11.2 + cuDNN 8 base (libtensorflow 2.9.1), tfjs-node-gpu installed with its script allowed and checked', () => {
    const f = parsed['runner-gpu'];
    expect(f.stages.at(-1)!.image).toMatch(/^nvidia\/cuda:11\.2\.\d+-cudnn8-runtime-ubuntu\d+\.\d+$/);
    expect(gpuRunner.optionalDependencies['@tensorflow/tfjs-node-gpu']).toBe(tfjsVersion);
    expect(rootAllow['@tensorflow/tfjs-node-gpu']).toBe(true);
    const runs = f.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
    const ci = runs.find((r) => r.includes('npm ci'))!;
    expect(ci).toContain('--omit=dev');
    expect(ci).not.toMatch(/--omit=optional|--ignore-scripts/);
    expect(runs.some((r) => r.includes('tfjs-node-gpu') && r.includes('tfjs_binding.node') && r.includes('libtensorflow'))).toBe(true);
    expect(envOf(f).CLAFUSION_BACKEND).toBe('node-gpu');
    expect(finalStage(f).some((i) => i.keyword === 'USER' && i.args === 'runner')).toBe(true);
  });

  it('CPU: tfjs-node at the locked tfjs version, with its script allowed, and without the GPU package', () => {
    const f = parsed['runner-cpu'];
    expect(rootAllow['@tensorflow/tfjs-node']).toBe(true);
    const runs = f.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args).join('\n');
    expect(runs).toContain(`@tensorflow/tfjs-node@${tfjsVersion}`);
    expect(runs).toContain('--omit=optional');
    expect(runs).toContain('test ! -d node_modules/@tensorflow/tfjs-node-gpu');
    expect(envOf(f).CLAFUSION_BACKEND).toBe('node');
  });

  it('run the runner entry point through the entrypoint that adds the Redis token', () => {
    for (const name of ['runner-gpu', 'runner-cpu'] as const) {
      const last = finalStage(parsed[name]);
      expect(execForm(last.find((i) => i.keyword === 'ENTRYPOINT')!.args)).toEqual(['/app/infra/docker/runner-entrypoint.sh']);
      const cmd = execForm(last.find((i) => i.keyword === 'CMD')!.args)!;
      expect(cmd).toEqual(['node', '--import', 'tsx', 'app/runner.ts']);
      expect(existsSync(join(ROOT, cmd[3]))).toBe(true);
      expect(BACKEND_NAMES).toContain(envOf(parsed[name]).CLAFUSION_BACKEND);
    }
    expect(json('package.json').scripts.runner).toBe('node --import tsx app/runner.ts');
  });
});
