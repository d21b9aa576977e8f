/**
 * `npm run keys -- create --tenant T [--label L]`: makes an API key for a
 * tenant in the configured store (same env as the API) and prints it once;
 * only its hash is kept.
 */
import { parseArgs } from 'node:util';
import { createStore } from '../adapters.ts';
import { createApiKey } from '../auth/api-keys.ts';
import { configFromEnv } from '../config.ts';

const USAGE = 'usage: npm run keys -- create --tenant TENANT [--label LABEL]';

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { tenant: { type: 'string' }, label: { type: 'string' }, help: { type: 'boolean' } } });
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const { positionals, values } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals[0] !== 'create' || positionals.length !== 1 || !values.tenant) {
    console.error(USAGE);
    return 2;
  }
  const store = await createStore(configFromEnv());
  try {
    const { token, record } = await createApiKey(store, values.tenant, values.label ?? null);
    console.log(token);
    console.error(`created key ${record.key_id} for tenant ${record.tenant}; it is shown only now`);
    return 0;
  } catch (err) {
    console.error((err as Error).message);
    return 2;
  }
}

process.exitCode = await main(process.argv.slice(2));
