/**
 * infra/compose/compose.yaml, parsed (with YAML merge keys, as compose does):
 * every service health-checked, pinned images, start order by health,
 * replicas for the runners, only settings the service actually reads, ports
 * on loopback only, and the settings BullMQ needs from Redis.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const ROOT = join(import.meta.dirname, '../..');
const COMPOSE_DIR = join(ROOT, 'infra/compose');

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[]; interval: string; timeout: string; retries: number };
  deploy?: { replicas: number | string; resources?: { reservations?: { devices?: { driver: string; count: number; capabilities: string[] }[] } } };
  profiles?: string[];
  user?: string;
  init?: boolean;
}
const compose = parse(readFileSync(join(COMPOSE_DIR, 'compose.yaml'), 'utf8'), { merge: true }) as { services: Record<string, Service>; volumes: Record<string, unknown> };
const services = Object.entries(compose.services);
/** Every variable the settings module reads (api/src/config.ts), plus the ones the images themselves read. */
const readByService = new Set([
  ...[...readFileSync(join(ROOT, 'api/src/config.ts'), 'utf8').matchAll(/env, '([A-Z0-9_]+)'/g)].map((m) => m[1]),
  'CLAFUSION_BACKEND',
  'REDIS_AUTH_TOKEN',
]);

describe('compose stack', () => {
  it('has the API, runners (CPU, and GPU behind a profile), Redis and MinIO', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['api', 'minio', 'redis', 'runner', 'runner-gpu']);
    expect(compose.services['runner-gpu'].profiles).toEqual(['gpu']);
  });

  it('health-checks every service', () => {
    for (const [name, s] of services) {
      expect(s.healthcheck?.test?.[0], name).toMatch(/^CMD(-SHELL)?$/);
      expect(s.healthcheck!.interval, name).toMatch(/^\d+s$/);
    }
  });

  it('pins every image: exact tags for pulled images, local tags for the ones it builds from this repo', () => {
    for (const [name, s] of services) {
      if (s.build) {
        expect(existsSync(join(COMPOSE_DIR, s.build.context, s.build.dockerfile)), `${name} Dockerfile`).toBe(true);
        expect(s.image, name).toMatch(/^clafusion-[\w-]+:local$/);
      } else {
        expect(s.image, name).toMatch(/^[\w./-]+:(?!latest$)[\w.-]*\d[\w.-]*$/);
      }
    }
  });

  it('starts services only after what they need is healthy', () => {
    for (const [name, s] of services) for (const [dep, d] of Object.entries(s.depends_on ?? {})) {
      expect(d.condition, `${name} → ${dep}`).toBe('service_healthy');
      expect(compose.services[dep], dep).toBeDefined();
    }
    expect(Object.keys(compose.services.api.depends_on!).sort()).toEqual(['minio', 'redis']);
    expect(Object.keys(compose.services.runner.depends_on!).sort()).toEqual(['api', 'minio', 'redis']);
  });

  it('runs N CPU runners and reserves one NVIDIA GPU per GPU runner', () => {
    expect(compose.services.runner.deploy!.replicas).toBe('${RUNNER_REPLICAS:-2}');
    expect(compose.services['runner-gpu'].deploy!.resources!.reservations!.devices).toEqual([{ driver: 'nvidia', count: 1, capabilities: ['gpu'] }]);
  });

  it('points the API and the runners at the same bucket, endpoint and queue, with settings the service reads', () => {
    const shared = ['S3_BUCKET', 'S3_ENDPOINT', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY', 'S3_FORCE_PATH_STYLE', 'REDIS_URL', 'QUEUE_NAME'];
    for (const name of ['api', 'runner', 'runner-gpu']) {
      const env = compose.services[name].environment!;
      for (const key of Object.keys(env)) expect(readByService.has(key), `${name}: ${key} is a setting the service reads`).toBe(true);
      for (const key of shared) expect(env[key], `${name} ${key}`).toBe(compose.services.api.environment![key]);
    }
    expect(compose.services.api.environment!.S3_ENDPOINT).toBe('http://minio:9000');
    expect(compose.services.api.environment!.REDIS_URL).toBe('redis://redis:6379');
    expect(compose.services.api.environment!.RUNNERS).toBe('0');
    // MinIO's admin credentials are the services' S3 keys.
    expect(compose.services.minio.environment!.MINIO_ROOT_USER).toBe(compose.services.api.environment!.S3_ACCESS_KEY_ID);
    expect(compose.services.minio.environment!.MINIO_ROOT_PASSWORD).toBe(compose.services.api.environment!.S3_SECRET_ACCESS_KEY);
  });

  it('publishes ports on 127.0.0.1 only', () => {
    for (const [name, s] of services) for (const p of s.ports ?? []) expect(p, name).toMatch(/^127\.0\.0\.1:/);
  });

  it('keeps data in named volumes and runs Redis with noeviction and an append-only file', () => {
    const named = Object.keys(compose.volumes);
    for (const [name, s] of services) for (const v of s.volumes ?? []) expect(named, `${name}: ${v}`).toContain(v.split(':')[0]);
    expect(compose.services.redis.command).toEqual(expect.arrayContaining(['--maxmemory-policy', 'noeviction', '--appendonly', 'yes']));
  });

  it('has npm scripts that start and stop it', () => {
    const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    expect(scripts['stack:up']).toBe('node infra/compose/stack.mjs up');
    expect(scripts['stack:down']).toBe('node infra/compose/stack.mjs down');
    expect(readFileSync(join(COMPOSE_DIR, 'stack.mjs'), 'utf8')).toContain("'compose', '-f', composeFile, 'up', '--detach', '--build', '--wait'");
  });
});
