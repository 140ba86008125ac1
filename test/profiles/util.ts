// Helpers shared by the profile tests: post Segment batches, read the users API.
import assert from 'node:assert/strict';
import type { App } from '../../src/http/app.ts';
import { basic, bearer, KEYS } from '../helpers.ts';

export type Item = Record<string, unknown>;

export const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 12, 0, s)).toISOString();

export async function send(app: App, batch: Item[], writeKey: string = KEYS.write): Promise<void> {
  const res = await app.inject({
    method: 'POST',
    url: '/v1/batch',
    headers: { authorization: basic(writeKey) },
    payload: { batch },
  });
  assert.equal(res.statusCode, 200, res.body);
  assert.deepEqual(res.json().rejected, [], res.body);
}

export async function get(app: App, url: string, key: string = KEYS.read) {
  const res = await app.inject({ method: 'GET', url, headers: { authorization: bearer(key) } });
  return { status: res.statusCode, body: res.json() as Record<string, unknown> & { results?: Item[] } };
}

export function permutations<T>(xs: T[]): T[][] {
  if (xs.length <= 1) return [xs];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
}
