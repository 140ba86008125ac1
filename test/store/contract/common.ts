// What the parts of the store contract share: the query defaults, readers of the store's answers, and the
// handmade profile data several parts load.
import assert from 'node:assert/strict';
import type { CanonicalEvent } from '../../../src/core/event.ts';
import {
  type ApiKey,
  DEFAULT_WORKSPACE_SETTINGS,
  type EventQuery,
  type Page,
  type Store,
  type Workspace,
} from '../../../src/store/types.ts';
import type { ContractTest, StoreOptions, TestEngine } from '../../engines.ts';
import { at, event } from '../../fixtures.ts';

/** What each part of the contract registers its tests with. */
export interface Part {
  engine: TestEngine;
  test: ContractTest;
  /** Runs `fn` on a fresh store in its own directory, closed and removed afterwards. */
  withStore(fn: (store: Store, dir: string) => Promise<void>, opts?: StoreOptions): Promise<void>;
}

export const query = (q: Partial<EventQuery> = {}): EventQuery => ({
  json: [],
  orderBy: 'timestamp',
  direction: 'ASC',
  limit: 100,
  offset: 0,
  ...q,
});

export const ids = (page: Pick<Page<CanonicalEvent>, 'results'>) => page.results.map((e) => e.messageId);
export const seconds = (d: Date) => Math.floor(d.getTime() / 1000);

/** Polls a deletion job until it is done or failed. */
export async function finished(store: Store, workspaceId: string, jobId: string) {
  for (let i = 0; i < 600; i++) {
    const job = await store.profiles.getDeletion(workspaceId, jobId);
    assert.ok(job, `deletion ${jobId} exists`);
    if (job.status === 'done' || job.status === 'failed') return job;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`deletion ${jobId} did not finish`);
}

/** Every key dedupeKeys gives since `since`, as sorted [key, seconds] pairs (a key given twice shows twice). */
export async function keysSince(store: Store, since: Date): Promise<Array<[string, number]>> {
  const out: Array<[string, number]> = [];
  await store.sink.dedupeKeys(since, (key, s) => out.push([key, s]));
  return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]));
}

export const sortPairs = (pairs: Array<[string, number]>) =>
  [...pairs].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]));

/** The profile data: Ada (three ids, merged by identify and alias), an anonymous visitor, and Bob. */
export function profileEvents(ws: string): CanonicalEvent[] {
  return [
    event(ws, 'p1', {
      type: 'identify',
      anonymousId: 'anon-1',
      traits: { email: 'ada@x.io', plan: 'free' },
      timestamp: at(1),
    }),
    event(ws, 'p2', {
      type: 'identify',
      userId: 'ada',
      anonymousId: 'anon-1',
      traits: { name: 'Ada Lovelace', plan: 'pro' },
      timestamp: at(2),
    }),
    event(ws, 'p3', { event: 'Paid', userId: 'ada', timestamp: at(3) }),
    event(ws, 'p4', { type: 'alias', previousId: 'old-ada', userId: 'ada', timestamp: at(4) }),
    event(ws, 'p5', {
      type: 'group',
      userId: 'ada',
      groupId: 'acme',
      traits: { name: 'Acme', size: 10 },
      timestamp: at(5),
    }),
    event(ws, 'p6', { type: 'page', anonymousId: 'anon-2', timestamp: at(6) }),
    event(ws, 'p7', {
      type: 'group',
      anonymousId: 'anon-2',
      groupId: 'acme',
      traits: { size: 12 },
      timestamp: at(7),
    }),
    event(ws, 'p8', {
      type: 'identify',
      userId: 'bob',
      traits: { email: 'bob@y.io', plan: 'pro', age: 42, tags: ['a'] },
      timestamp: at(8),
    }),
  ];
}

export const workspace = (id: string, s = 0): Workspace => ({
  id,
  name: `name of ${id}`,
  createdAt: at(s),
  settings: { ...DEFAULT_WORKSPACE_SETTINGS },
  properties: {},
});
export const apiKey = (id: string, workspaceId: string, s = 0): ApiKey => ({
  id,
  workspaceId,
  kind: 'write',
  scopes: ['ingest'],
  name: `key ${id}`,
  prefix: `iwk_${id}`.slice(0, 8),
  hash: `hash-of-${id}`,
  createdAt: at(s),
  revokedAt: null,
  allowedOrigins: [],
  allowedIps: [],
  rateLimit: null,
});
