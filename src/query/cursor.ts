// GET /events page tokens: the position after a page (store/types.ts EventCursor) in an opaque string, bound to
// the workspace, filters and order it was made for, and carrying the total counted when paging began.
import { createHash } from 'node:crypto';
import { IntakeError } from '../core/errors.ts';
import { EQUALITY_FILTERS, type EventCursor, type EventQuery, TIME_ORDER_FIELDS } from '../store/types.ts';

/** What a token holds besides its binding: where the next page starts, and the total of the first page. */
export interface PageToken {
  after: EventCursor;
  /** The number of matching events when paging began (null: it was not counted). */
  total: number | null;
}

const VERSION = 1;

/**
 * A digest of what a token is valid for: the workspace, every filter and the order. A token handed back with
 * other filters would start a page at a position of another sequence, which would silently skip or repeat.
 */
function binding(workspaceId: string, q: EventQuery): string {
  const json = q.json.map((f) => JSON.stringify([f.column, f.path, f.value])).sort();
  const what = [
    workspaceId,
    EQUALITY_FILTERS.map((f) => q[f] ?? null),
    q.startDate?.getTime() ?? null,
    q.endDate?.getTime() ?? null,
    json,
    q.orderBy,
    q.direction,
  ];
  return createHash('sha256').update(JSON.stringify(what)).digest('base64url').slice(0, 16);
}

export function encodeToken(workspaceId: string, q: EventQuery, token: PageToken): string {
  const body = [VERSION, token.after.value, token.after.id, binding(workspaceId, q), token.total];
  return Buffer.from(JSON.stringify(body)).toString('base64url');
}

const bad = (name: string, why: string) =>
  new IntakeError(
    'INTAKE_ERR_INVALID_CURSOR',
    `${name} ${why}: pass on the \`next\` of the previous page as is`,
  );

/** The position and total a token holds; a coded 400 naming `name` when it is not a token of this query. */
export function decodeToken(name: string, text: string, workspaceId: string, q: EventQuery): PageToken {
  let body: unknown;
  try {
    body = /^[A-Za-z0-9_-]{1,1024}$/.test(text)
      ? JSON.parse(Buffer.from(text, 'base64url').toString())
      : null;
  } catch {
    body = null;
  }
  if (!Array.isArray(body) || body.length !== 5 || body[0] !== VERSION)
    throw bad(name, 'is not a page token');
  const [, value, id, bound, total] = body as unknown[];
  const time = TIME_ORDER_FIELDS.includes(q.orderBy);
  const valueOk = time
    ? Number.isSafeInteger(value)
    : value === null || (typeof value === 'string' && value.length <= 4096);
  const totalOk = total === null || (Number.isSafeInteger(total) && (total as number) >= 0);
  if (!valueOk || typeof id !== 'string' || id.length > 64 || !totalOk)
    throw bad(name, 'is not a page token');
  if (bound !== binding(workspaceId, q)) {
    throw bad(
      name,
      'belongs to another query (other filters, another orderByField or orderByDirection, or another workspace)',
    );
  }
  return { after: { value: value as EventCursor['value'], id }, total: total as number | null };
}

function flag(name: string, v: unknown): boolean | undefined {
  if (v === undefined || v === '') return undefined;
  if (v === true || v === 'true') return true;
  if (v === false || v === 'false') return false;
  throw new IntakeError('INTAKE_ERR_INVALID_PARAMETER', `${name} must be true or false`);
}

/**
 * Reads GET /events' paging parameters into `q`: `after` (or its alias `cursor`), a token of the previous page,
 * and `total`, whether to count. Without a token the total is counted unless total=false; with one it is not,
 * unless total=true, and the token's own total (counted on the first page) is answered instead.
 */
export function readPaging(
  raw: Record<string, unknown>,
  workspaceId: string,
  q: EventQuery,
): PageToken | null {
  const count = flag('total', raw.total);
  const given = (['after', 'cursor'] as const).filter((n) => raw[n] !== undefined && raw[n] !== '');
  if (given.length > 1) throw bad('after', 'and cursor name the same token: give one');
  const name = given[0];
  if (name === undefined) {
    q.count = count ?? true;
    return null;
  }
  if (q.offset > 0) {
    throw new IntakeError(
      'INTAKE_ERR_INVALID_PARAMETER',
      `offset cannot be used with ${name}: the token is the position`,
    );
  }
  const token = decodeToken(name, String(raw[name]), workspaceId, q);
  q.after = token.after;
  q.count = count ?? false;
  return token;
}

/** The answer's `total` and `next` for a page read with `q`, `token` being what readPaging gave. */
export function pagingAnswer(
  workspaceId: string,
  q: EventQuery,
  page: { total: number | null; next: EventCursor | null },
  token: PageToken | null,
): { total: number | null; next: string | null } {
  const total = page.total ?? token?.total ?? null;
  return { total, next: page.next ? encodeToken(workspaceId, q, { after: page.next, total }) : null };
}
