// A query's $1, $2, ... (or ?) parameters put in its checked parse tree as typed constants, so that the binder and
// the compiler see values, never text: a string is a VARCHAR constant, rendered by the compiler's one quoting
// function (http.ts lit), whatever it holds.
import { IntakeError } from '../../../core/errors.ts';
import { INTEGERS } from './functions.ts';

type Json = Record<string, unknown>;
type Param = string | number | boolean | null;

const invalid = (message: string) => new IntakeError('INTAKE_ERR_QUERY_INVALID', message);

const FRACTIONAL = new Set(['FLOAT', 'DOUBLE']);

/**
 * A parameter's value as the type DuckDB inferred for it (`type`, from binding the statement), as DuckDB converts a
 * value bound to a parameter: '1' for an INTEGER parameter is 1. A value that does not convert is a coded 400.
 */
export function converted(n: number, v: Param, type: string | undefined): Param {
  if (type === undefined || v === null) return v;
  const refuse = () =>
    invalid(`the parameters do not fit the query: $${n} (${JSON.stringify(v)}) is not a ${type}`);
  if (INTEGERS.has(type) || FRACTIONAL.has(type) || type.startsWith('DECIMAL')) {
    if (typeof v === 'number') return v;
    const x = typeof v === 'boolean' ? Number(v) : Number(String(v).trim());
    if (String(v).trim() === '' || !Number.isFinite(x) || (INTEGERS.has(type) && !Number.isInteger(x)))
      throw refuse();
    return x;
  }
  if (type === 'BOOLEAN') {
    if (typeof v === 'boolean') return v;
    const t = String(v).trim().toLowerCase();
    if (t === 'true' || t === 't' || t === '1') return true;
    if (t === 'false' || t === 'f' || t === '0') return false;
    throw refuse();
  }
  if (type === 'VARCHAR' && typeof v !== 'string') return String(v);
  return v;
}

/** The constant node for a parameter's value. */
function constantOf(v: Param): Json {
  const typed = (id: string, value: unknown) => ({ type: { id, type_info: null }, is_null: false, value });
  let value: Json;
  if (v === null) value = { type: { id: 'NULL', type_info: null }, is_null: true };
  else if (typeof v === 'string') value = typed('VARCHAR', v);
  else if (typeof v === 'boolean') value = typed('BOOLEAN', v);
  else if (Number.isInteger(v) && Math.abs(v) <= 2 ** 31 - 1) value = typed('INTEGER', v);
  else if (Number.isSafeInteger(v)) value = typed('BIGINT', v);
  else if (Number.isFinite(v)) value = typed('DOUBLE', v);
  else throw invalid(`a parameter is not a finite number: ${v}`);
  return { class: 'CONSTANT', type: 'VALUE_CONSTANT', alias: '', query_location: 0, value };
}

/** Replaces every PARAMETER node of `tree` by its value; throws a coded 400 when they do not fit. */
export function inlineParameters(
  tree: Json,
  params: readonly Param[],
  types: ReadonlyMap<string, string> = new Map(),
): void {
  const used = new Set<number>();
  const visit = (v: unknown): void => {
    if (v === null || typeof v !== 'object') return;
    if (Array.isArray(v)) {
      v.forEach(visit);
      return;
    }
    const o = v as Json;
    if (o.class === 'PARAMETER') {
      const id = String(o.identifier ?? '');
      const n = Number(id);
      if (!/^\d+$/.test(id) || n < 1)
        throw invalid(`the parameters do not fit the query: $${id} is not $1, $2, ...`);
      if (n > params.length)
        throw invalid(`the parameters do not fit the query: it uses $${n}, ${params.length} given`);
      used.add(n);
      const alias = o.alias;
      for (const k of Object.keys(o)) delete o[k];
      Object.assign(o, constantOf(converted(n, params[n - 1] as Param, types.get(id))), {
        alias: alias ?? '',
      });
      return;
    }
    Object.values(o).forEach(visit);
  };
  visit(tree);
  if (used.size !== params.length)
    throw invalid(`the parameters do not fit the query: it uses ${used.size}, ${params.length} given`);
}
