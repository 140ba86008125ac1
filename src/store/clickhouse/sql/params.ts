// A query's $1, $2, ... (or ?) parameters put in its checked parse tree as typed constants, so that the binder and
// the compiler see values, never text: a string is a VARCHAR constant, rendered by the compiler's one quoting
// function (http.ts lit), whatever it holds.
import { IntakeError } from '../../../core/errors.ts';

type Json = Record<string, unknown>;
type Param = string | number | boolean | null;

const invalid = (message: string) => new IntakeError('INTAKE_ERR_QUERY_INVALID', message);

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
export function inlineParameters(tree: Json, params: readonly Param[]): void {
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
      Object.assign(o, constantOf(params[n - 1] as Param), { alias: alias ?? '' });
      return;
    }
    Object.values(o).forEach(visit);
  };
  visit(tree);
  if (used.size !== params.length)
    throw invalid(`the parameters do not fit the query: it uses ${used.size}, ${params.length} given`);
}
