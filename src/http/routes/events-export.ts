// GET /events?format=ndjson (or Accept: application/x-ndjson): every event the filters match, streamed as one
// JSON line each (the event as GET /events returns it), in storage order, from one snapshot. Bounded by
// --query-stream-timeout-ms, not by a row cap; a slow reader slows the export, not the server's memory.
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { errorBody, IntakeError } from '../../core/errors.ts';
import { TRENCH_SHAPE } from '../../dialects/trench-shape.ts';
import type { EventFilter } from '../../store/types.ts';
import type { RouteContext } from '../context.ts';

/** Parameters of a page that an export of every event has no use for: given, they are a 400 naming them. */
const PAGE_ONLY = ['limit', 'offset', 'after', 'cursor', 'orderByField', 'orderByDirection', 'total'];

/** `?format=` wins; else an Accept that names NDJSON before JSON. */
export function wantsNdjson(format: unknown, accept: string | undefined): boolean {
  if (format !== undefined) return format === 'ndjson';
  for (const part of (accept ?? '').split(',')) {
    const type = part.split(';')[0]?.trim().toLowerCase();
    if (type === 'application/x-ndjson' || type === 'application/ndjson') return true;
    if (type === 'application/json') return false;
  }
  return false;
}

export async function exportEvents(
  reply: FastifyReply,
  ctx: RouteContext,
  workspaceId: string,
  url: string,
  filter: EventFilter,
): Promise<FastifyReply> {
  const given = new URL(url, 'http://x').searchParams;
  for (const name of PAGE_ONLY) {
    if (given.has(name)) {
      throw new IntakeError(
        'INTAKE_ERR_INVALID_PARAMETER',
        `${name} does not apply to format=ndjson, which streams every matching event`,
      );
    }
  }
  const body = new PassThrough();
  let closed = false;
  body.on('close', () => {
    closed = true;
  });
  let started = () => {};
  const firstLines = new Promise<void>((r) => {
    started = r;
  });
  const running = ctx.store.events.exportEvents(
    workspaceId,
    filter,
    async (text) => {
      started();
      if (closed) return false;
      // Wait for the client to take what was written before reading on.
      if (!body.write(text)) await Promise.race([once(body, 'drain'), once(body, 'close')]);
      return !closed;
    },
    ctx.config.queryStreamTimeoutMs,
    TRENCH_SHAPE,
  );
  // A failure before the first line (a read that cannot wait for the log, say) is answered as usual.
  await Promise.race([firstLines, running]);
  running.then(
    () => body.end(),
    (err: unknown) => {
      const e =
        err instanceof IntakeError ? err : new IntakeError('INTAKE_ERR_INTERNAL', 'the export failed');
      if (!(err instanceof IntakeError)) reply.log.error({ err }, 'export failed');
      body.end(`${JSON.stringify({ error: errorBody(e.code, e.message) })}\n`);
    },
  );
  return reply.type('application/x-ndjson').send(body);
}
