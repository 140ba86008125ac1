// POST /query: a workspace's read-only SQL. JSON answers hold at most --query-max-rows rows; NDJSON and CSV
// stream every row, bounded by --query-stream-timeout-ms instead of a row cap.
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { Type } from '@sinclair/typebox';
import type { FastifyReply } from 'fastify';
import { errorBody, IntakeError } from '../../core/errors.ts';
import type { SqlColumn, SqlValue } from '../../store/types.ts';
import { requireScope } from '../auth.ts';
import type { RouteContext, TypedApp } from '../context.ts';
import { BEARER_SECURITY, errorResponses } from '../schemas.ts';

const Param = Type.Union([Type.String({ maxLength: 65_536 }), Type.Number(), Type.Boolean(), Type.Null()]);
type Format = 'json' | 'ndjson' | 'csv';

const FORMATS: Record<string, Format> = {
  'application/json': 'json',
  'application/x-ndjson': 'ndjson',
  'application/ndjson': 'ndjson',
  'text/csv': 'csv',
};

/** `?format=` wins; else the first Accept type we know; else JSON. */
function formatOf(query: { format?: string }, accept: string | undefined): Format {
  if (query.format) return query.format as Format;
  for (const part of (accept ?? '').split(',')) {
    const f = FORMATS[part.split(';')[0]?.trim().toLowerCase() ?? ''];
    if (f) return f;
  }
  return 'json';
}

function csvCell(v: SqlValue): string {
  if (v === null) return '';
  const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export function queryRoutes(app: TypedApp, ctx: RouteContext): void {
  const read = requireScope(ctx.keys, 'query');
  app.post(
    '/query',
    {
      preValidation: read,
      schema: {
        summary: 'Run one read-only SELECT over the workspace tables',
        description:
          'Tables: events, users, identities, groups, group_members, rejected (README "SQL"). JSON answers hold ' +
          'at most `limit` rows (`truncated` says when rows were cut); `?format=ndjson|csv` (or the Accept ' +
          'header) streams every row.',
        tags: ['query'],
        security: BEARER_SECURITY,
        querystring: Type.Object({
          format: Type.Optional(
            Type.Union([Type.Literal('json'), Type.Literal('ndjson'), Type.Literal('csv')]),
          ),
        }),
        body: Type.Object(
          {
            sql: Type.String({ minLength: 1, maxLength: 100_000 }),
            params: Type.Optional(Type.Array(Param, { maxItems: 1000 })),
            limit: Type.Optional(Type.Integer({ minimum: 1, description: 'Most rows (JSON); default 1000' })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            columns: Type.Array(Type.Object({ name: Type.String(), type: Type.String() })),
            rows: Type.Array(Type.Array(Type.Unknown())),
            rowCount: Type.Integer(),
            truncated: Type.Boolean(),
            elapsedMs: Type.Number(),
          }),
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      const started = performance.now();
      const { sql, params = [], limit } = req.body;
      const format = formatOf(req.query, req.headers.accept);
      const ws = req.auth.workspaceId;
      if (format === 'json') {
        const max = ctx.config.queryMaxRows;
        if (limit !== undefined && limit > max) {
          throw new IntakeError(
            'INTAKE_ERR_INVALID_PARAMETER',
            `limit is at most ${max} (stream with ?format=ndjson for more)`,
          );
        }
        const r = await ctx.store.sql.query(ws, {
          sql,
          params,
          limit: limit ?? Math.min(1000, max),
          timeoutMs: ctx.config.queryTimeoutMs,
        });
        return {
          columns: r.columns,
          rows: r.rows,
          rowCount: r.rows.length,
          truncated: r.truncated,
          elapsedMs: Math.round((performance.now() - started) * 10) / 10,
        };
      }
      const q = { sql, params, limit, timeoutMs: ctx.config.queryStreamTimeoutMs };
      return streamed(reply, format, (out) => ctx.store.sql.stream(ws, q, out));
    },
  );
}

type Sink = { onColumns(c: SqlColumn[]): void; onRows(r: SqlValue[][]): Promise<boolean> };

/**
 * Streams a query's rows as NDJSON (one object a row) or CSV (a header, then RFC 4180 rows). A query refused
 * before its first row answers the usual coded error; one that fails later ends an NDJSON stream with an
 * `{"error": ...}` line and cuts a CSV one short (CSV has no way to say it).
 */
async function streamed(reply: FastifyReply, format: 'ndjson' | 'csv', run: (out: Sink) => Promise<unknown>) {
  const body = new PassThrough();
  let closed = false;
  body.on('close', () => {
    closed = true;
  });
  let names: string[] = [];
  let ready = () => {};
  const columnsKnown = new Promise<void>((r) => {
    ready = r;
  });
  const running = run({
    onColumns(columns) {
      names = columns.map((c) => c.name);
      if (format === 'csv') body.write(`${names.map(csvCell).join(',')}\r\n`);
      ready();
    },
    async onRows(rows) {
      if (closed) return false;
      let text = '';
      for (const row of rows) {
        if (format === 'csv') text += `${row.map(csvCell).join(',')}\r\n`;
        else {
          const o: Record<string, SqlValue> = {};
          names.forEach((n, i) => {
            o[n] = row[i] ?? null;
          });
          text += `${JSON.stringify(o)}\n`;
        }
      }
      // Wait for the client to take what was written: a slow reader slows the query, not our memory.
      if (!body.write(text)) await Promise.race([once(body, 'drain'), once(body, 'close')]);
      return !closed;
    },
  });
  await Promise.race([columnsKnown, running]);
  running.then(
    () => body.end(),
    (err: unknown) => {
      if (format === 'ndjson' && err instanceof IntakeError) {
        body.end(`${JSON.stringify({ error: errorBody(err.code, err.message) })}\n`);
      } else body.destroy(err as Error);
    },
  );
  return reply.type(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson').send(body);
}
