#!/usr/bin/env node
// Container health checks, dependency-free (the slim and CUDA images have no
// curl or redis-cli):
//   node healthcheck.mjs http    GET http://127.0.0.1:$PORT/healthz must answer 200 (the API)
//   node healthcheck.mjs redis   the runner's queue must answer PING (REDIS_URL, plus REDIS_AUTH_TOKEN
//                                when ECS injects the token separately); redis:// and rediss:// (TLS)
// Exit 0 = healthy, 1 = unhealthy, with one line saying why.
import net from 'node:net';
import tls from 'node:tls';

const TIMEOUT_MS = Number(process.env.HEALTHCHECK_TIMEOUT_MS ?? 4000);

function fail(message) {
  console.error(`unhealthy: ${message}`);
  process.exit(1);
}

async function checkHttp() {
  const port = process.env.PORT || '8787';
  const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  if (res.status !== 200) fail(`/healthz answered ${res.status}`);
  console.log('healthy: /healthz 200');
}

/** RESP command encoding, so AUTH passwords with any characters are sent intact. */
const command = (...args) => `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;

function checkRedis() {
  const raw = process.env.REDIS_URL;
  if (!raw) fail('REDIS_URL is not set');
  const url = new URL(raw);
  const password = process.env.REDIS_AUTH_TOKEN || decodeURIComponent(url.password);
  const username = decodeURIComponent(url.username);
  const port = Number(url.port || 6379);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const socket = url.protocol === 'rediss:' ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host }) : net.connect({ host, port });
  const timer = setTimeout(() => fail(`no answer from ${host}:${port} within ${TIMEOUT_MS} ms`), TIMEOUT_MS);
  let received = '';
  socket.on('error', (err) => fail(`${host}:${port}: ${err.message}`));
  socket.once(url.protocol === 'rediss:' ? 'secureConnect' : 'connect', () => {
    const auth = password ? (username ? command('AUTH', username, password) : command('AUTH', password)) : '';
    socket.write(auth + command('PING'));
  });
  socket.on('data', (chunk) => {
    received += chunk.toString('utf8');
    const lines = received.split('\r\n').filter(Boolean);
    const error = lines.find((l) => l.startsWith('-'));
    if (error) fail(`Redis said ${error.slice(1)}`);
    if (lines.includes('+PONG')) {
      clearTimeout(timer);
      socket.end();
      console.log(`healthy: Redis ${host}:${port} answered PONG`);
      process.exit(0);
    }
  });
}

const mode = process.argv[2];
if (mode === 'http') await checkHttp().catch((err) => fail(err.message));
else if (mode === 'redis') checkRedis();
else fail(`usage: healthcheck.mjs http|redis (got ${mode ?? 'nothing'})`);
