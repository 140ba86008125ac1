// Helpers of the insights HTTP tests: a fixed clock, Segment batches, and POST /insights/*.
import assert from 'node:assert/strict';
import type { App } from '../../../src/http/app.ts';
import { basic, bearer, KEYS } from '../../helpers.ts';

/** The tests' present: Thursday 2026-01-15, noon UTC. */
export const NOW = new Date('2026-01-15T12:00:00.000Z');

let seq = 0;
/** A track event of `who` (userId, or anonymousId when it starts with "anon-") at `at`. */
export function track(who: string, event: string, at: string, properties: Record<string, unknown> = {}) {
  const id = who.startsWith('anon-') ? { anonymousId: who } : { userId: who };
  return { type: 'track', event, ...id, timestamp: at, properties, messageId: `t${seq++}` };
}

export function identify(
  userId: string,
  anonymousId: string,
  at: string,
  traits: Record<string, unknown> = {},
) {
  return { type: 'identify', userId, anonymousId, timestamp: at, traits, messageId: `i${seq++}` };
}

export async function send(app: App, batch: unknown[]): Promise<void> {
  const res = await app.inject({
    method: 'POST',
    url: '/v1/batch',
    headers: { authorization: basic(KEYS.write) },
    payload: { batch },
  });
  assert.equal(res.statusCode, 200, res.body);
  assert.deepEqual(res.json().rejected, [], res.body);
}

export async function insight(app: App, kind: string, body: unknown, key: string = KEYS.read) {
  const res = await app.inject({
    method: 'POST',
    url: `/insights/${kind}`,
    headers: { authorization: bearer(key) },
    payload: body as Record<string, unknown>,
  });
  return { status: res.statusCode, body: res.json() as Record<string, unknown> };
}

/** The answer without what changes from run to run. */
export function stable(body: Record<string, unknown>): Record<string, unknown> {
  const { elapsedMs, sql, ...rest } = body;
  assert.equal(typeof elapsedMs, 'number');
  void sql;
  return rest;
}

export const HOUR = 3_600_000;
