import { CustomTypesConfig, types } from 'pg';

/**
 * Per-pool type parsers. Two libraries in one process fight over node-postgres' global parsers:
 * our @app/database sets int8 -> Number at import, while Emmett's dumbo sets int8 -> BigInt and
 * jsonb -> its own BigInt-aware parser the first time an Emmett store is created. Pools of `ours`
 * and `pg` therefore carry their own parsers (the ones production uses: int8 -> Number, jsonb ->
 * JSON.parse), and Emmett keeps the globals it installs for itself.
 */
const INT8 = 20;
const JSON_OID = 114;
const JSONB = 3802;

const toNumber = (v: string) => Number(v);

export const numericTypes: CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (format !== 'binary') {
      if (oid === INT8) return toNumber;
      if (oid === JSONB || oid === JSON_OID) return JSON.parse;
    }
    return types.getTypeParser(oid, format as 'text');
  }) as CustomTypesConfig['getTypeParser'],
};
