#!/bin/sh
# Runner entrypoint. On ECS the Redis AUTH token arrives as its own variable
# (REDIS_AUTH_TOKEN, from Secrets Manager) so that it never sits in the task
# definition; the settings module reads one REDIS_URL, so put it there.
# Then exec the command, so the runner is PID 1 and gets SIGTERM itself
# (it stops taking jobs and finishes the running one).
set -eu
if [ -n "${REDIS_AUTH_TOKEN:-}" ] && [ -n "${REDIS_URL:-}" ]; then
  REDIS_URL="$(node -e 'const u = new URL(process.env.REDIS_URL); u.username = ""; u.password = process.env.REDIS_AUTH_TOKEN; process.stdout.write(u.href)')"
  export REDIS_URL
fi
exec "$@"
