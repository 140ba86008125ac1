// The tracking plan the benchmark measures (`--plan`, bench/plan-micro.ts): 50 events in Title Case, the 8 the
// load generator sends (bench/events.ts) with a schema of their properties, which every event it sends
// follows, and 42 more like them; every mode `allow`. So the run measures what checking costs when events
// pass, the common case, not what marking them costs.
import { NAMES } from './events.ts';

const PROPERTIES = {
  type: 'object',
  properties: {
    path: { type: 'string' },
    product_id: { type: 'string', pattern: '^prod-' },
    price: { type: 'number', minimum: 0 },
    currency: { type: 'string', enum: ['USD', 'EUR', 'GBP'] },
    quantity: { type: 'integer', minimum: 1 },
    category: { type: 'string' },
    plan: { type: 'string', enum: ['free', 'pro', 'enterprise'] },
    order_id: { type: 'string' },
  },
  required: ['path', 'product_id', 'price', 'currency'],
};

const OTHERS = ['Cart', 'Coupon', 'Wishlist', 'Review', 'Subscription', 'Invoice', 'Refund'].flatMap(
  (thing) =>
    ['Viewed', 'Created', 'Updated', 'Deleted', 'Shared', 'Exported'].map((action) => `${thing} ${action}`),
);

export function benchPlan(): Record<string, unknown> {
  const names = [...NAMES, ...OTHERS].slice(0, 50);
  if (names.length !== 50) throw new Error(`the bench plan has ${names.length} events, not 50`);
  return {
    naming: { case: 'Title Case' },
    common: { context: { type: 'object', properties: { ip: { type: 'string' } } } },
    events: Object.fromEntries(names.map((n) => [n, { properties: PROPERTIES }])),
  };
}
