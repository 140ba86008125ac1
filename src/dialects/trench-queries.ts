// Trench's POST /queries: read-only SQL as Trench's users write it (its `events` table, ClickHouse's JSON
// functions), on the same sandbox as POST /query, scoped to the key's workspace. 201 with one list of row objects
// per query, in order.
import { Type } from '@sinclair/typebox';
import { IntakeError } from '../core/errors.ts';
import { requireScope } from '../http/auth.ts';
import type { RouteContext, TypedApp } from '../http/context.ts';
import { BEARER_SECURITY, errorResponses } from '../http/schemas.ts';
import type { SqlValue } from '../store/types.ts';

/** Most queries in one request: each runs in turn, up to the query time limit. */
const MAX_QUERIES = 50;

const Row = Type.Record(Type.String(), Type.Unknown(), { description: 'One row: column name to value' });

export function trenchQueryRoutes(app: TypedApp, ctx: RouteContext): void {
  app.post(
    '/queries',
    {
      preValidation: requireScope(ctx.keys, 'query'),
      schema: {
        summary: 'Execute queries (Trench): read-only SQL over Trench’s events table',
        description: [
          "Each query is one SELECT over Trench's `events` table (`uuid, type, event, user_id, group_id, anonymous_id, instance_id, properties, traits, context, timestamp, parsed_at`; `userId` and the other camelCase names are accepted for their column), with ClickHouse's JSON functions (`JSONExtractString`, `JSONExtractInt`, `JSONExtractUInt`, `JSONExtractFloat`, `JSONExtractBool`, `JSONExtractRaw`, `JSONHas`, `JSONLength`, `JSONExtract(..., 'Type')`) and DuckDB's SQL otherwise.",
          '201 with `results`: one list of row objects per query, in order; `limit` is the most rows a query returns (`--query-max-rows`), `truncated` says which queries were cut at it, `total` is the number of queries. Any query refused or failing refuses the request with a coded 400 naming it (`queries[i]: ...`).',
        ].join('\n\n'),
        tags: ['trench', 'query'],
        security: BEARER_SECURITY,
        body: Type.Object({
          queries: Type.Array(Type.String({ minLength: 1, maxLength: 100_000 }), {
            minItems: 1,
            maxItems: MAX_QUERIES,
            description: 'The queries to execute',
          }),
        }),
        response: {
          201: Type.Object({
            results: Type.Array(Type.Array(Row), { description: "Each query's rows, in the order sent" }),
            limit: Type.Integer({ description: 'Most rows a query returns' }),
            offset: Type.Integer(),
            total: Type.Integer({ description: 'The number of queries' }),
            truncated: Type.Array(Type.Boolean(), { description: 'Per query: rows were cut at `limit`' }),
          }),
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      const { queries } = req.body;
      const limit = ctx.config.queryMaxRows;
      const results: Array<Array<Record<string, SqlValue>>> = [];
      const truncated: boolean[] = [];
      for (const [i, sql] of queries.entries()) {
        try {
          const r = await ctx.store.sql.query(req.auth.workspaceId, {
            sql,
            params: [],
            limit,
            timeoutMs: ctx.config.queryTimeoutMs,
            dialect: 'trench',
          });
          const names = r.columns.map((c) => c.name);
          results.push(r.rows.map((row) => Object.fromEntries(names.map((n, j) => [n, row[j] ?? null]))));
          truncated.push(r.truncated);
        } catch (err) {
          if (!(err instanceof IntakeError)) throw err;
          throw new IntakeError(err.code, `queries[${i}]: ${err.message}`, { query: i });
        }
      }
      return reply.code(201).send({ results, limit, offset: 0, total: queries.length, truncated });
    },
  );
}
