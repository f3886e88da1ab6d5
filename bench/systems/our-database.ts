import { Pool } from 'pg';
import { createPool, migrate } from '@app/database';
import { numericTypes } from '../harness/pg-types';

/** A pool of our own on a benchmark database, migrated by our migrator (the pool is ended if that fails). */
export async function openMigratedPool(url: string, poolSize: number): Promise<Pool> {
  const pool = createPool(url, { max: poolSize, types: numericTypes });
  try {
    await migrate(pool);
  } catch (err) {
    await pool.end();
    throw err;
  }
  return pool;
}
