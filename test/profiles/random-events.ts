// Random events for the profile tests: small id pools, so merges, first-time userIds, aliases, refusals at a
// small cap, traits and groups all happen, in two workspaces.
import { rng } from '../../bench/events.ts';
import type { CanonicalEvent, EventType } from '../../src/core/event.ts';

export function randomEvents(seed: number, n: number): CanonicalEvent[] {
  const r = rng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const maybe = (p: number, v: string): string | null => (r() < p ? v : null);
  const types: EventType[] = ['track', 'track', 'track', 'identify', 'page', 'alias', 'group'];
  return Array.from({ length: n }, (_, i) => {
    const type = pick(types);
    const u = Math.floor(r() * 12);
    // Now and then an id first seen as an anonymousId comes as a userId (its person's id may change).
    const userId = maybe(0.8, r() < 0.1 ? `anon-${u}` : `user-${u}`);
    const t = Date.UTC(2026, 0, 1) + Math.floor(r() * 20) * 1000;
    const traits = r() < 0.5 ? { plan: pick(['free', 'pro', null]), n: Math.floor(r() * 3) } : {};
    return {
      id: `e${seed}-${i}`,
      workspaceId: pick(['w1', 'w1', 'w2']),
      messageId: `m${seed}-${i}`,
      type,
      event: type === 'track' ? 'Clicked' : null,
      name: null,
      category: null,
      userId,
      // Mostly each user's own device, sometimes a shared one (merges persons, hits the cap).
      anonymousId: userId === null || r() < 0.6 ? `anon-${r() < 0.85 ? u : 99}` : null,
      groupId: type === 'group' ? pick(['g1', 'g2']) : null,
      previousId: type === 'alias' ? `crm-${Math.floor(r() * 8)}` : null,
      instanceId: null,
      timestamp: new Date(t),
      originalTimestamp: null,
      sentAt: null,
      receivedAt: new Date(t),
      properties: {},
      traits,
      context: r() < 0.2 ? { traits: { seen: Math.floor(r() * 5) } } : {},
      integrations: {},
      source: 'segment',
    };
  });
}
