import { databaseUrlFromEnv } from '../database.config';
import { ensureDatabase } from '../ensure-database';
import { migrate } from '../migrator';
import { createPool } from '../pool';

async function main(): Promise<void> {
  const url = databaseUrlFromEnv();
  await ensureDatabase(url);
  const pool = createPool(url, { max: 1 });
  try {
    const { applied, alreadyApplied, reapplied } = await migrate(pool);
    for (const name of applied) console.log(`applied  ${name}`);
    for (const name of reapplied) console.log(`applied  ${name} (repeatable)`);
    console.log(`${applied.length} applied, ${alreadyApplied.length} already applied, ${reapplied.length} repeatable applied`);
  } finally {
    await pool.end();
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
