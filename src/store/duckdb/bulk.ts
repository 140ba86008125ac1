// Bulk path for benchmarks and demos: generates realistic Segment track events inside DuckDB with one
// INSERT ... SELECT per chunk (no per-row round trip through JavaScript), in time order like real ingest.
// It writes events only, not dedupe keys: the synthetic messageIds are unique by construction.
import { type DuckDBConnection, listValue } from '@duckdb/node-api';
import { ts } from './db.ts';
import { insertEvents } from './schema.ts';

export interface SyntheticEventsOptions {
  workspaceId: string;
  /** How many events to generate. */
  events: number;
  /** Distinct users (user-0 ... user-(n-1)). */
  users: number;
  /** Event names; the first ones are the most frequent (a skewed, realistic mix). */
  eventNames: string[];
  /** The events spread evenly over this many days before `end`. */
  days: number;
  end: Date;
  /** Rows per INSERT statement. Default 1,000,000. */
  chunk?: number;
  /** Called after each chunk with the number of rows written so far. */
  onProgress?(done: number): void;
}

/** Fifty plausible product-analytics event names, most frequent first. */
export const EVENT_NAMES: string[] = [
  'Page Viewed',
  'Product Viewed',
  'Button Clicked',
  'Search Performed',
  'Product Added',
  'Cart Viewed',
  'Signed In',
  'Checkout Started',
  'Product List Viewed',
  'Product Clicked',
  'Order Completed',
  'Payment Info Entered',
  'Coupon Applied',
  'Product Removed',
  'Signed Up',
  'Signed Out',
  'Video Playback Started',
  'Video Playback Completed',
  'Email Opened',
  'Email Link Clicked',
  'Form Submitted',
  'File Downloaded',
  'Feature Used',
  'Report Exported',
  'Invite Sent',
  'Invite Accepted',
  'Subscription Started',
  'Subscription Cancelled',
  'Trial Started',
  'Trial Ended',
  'Plan Upgraded',
  'Plan Downgraded',
  'Notification Clicked',
  'Settings Updated',
  'Profile Updated',
  'Comment Posted',
  'Item Shared',
  'Wishlist Product Added',
  'Review Submitted',
  'Filter Applied',
  'Sort Applied',
  'Promotion Viewed',
  'Promotion Clicked',
  'Order Refunded',
  'Checkout Step Viewed',
  'Checkout Step Completed',
  'Application Opened',
  'Application Backgrounded',
  'Push Enabled',
  'Error Shown',
];

/** User u's anonymousId, over a column `u` of user numbers. */
const ANONYMOUS_ID = "'anon-' || lower(lpad(to_hex(hash(u, 5) % 4294967296), 8, '0'))";

// Per-row values come from hash(i, k): deterministic, independent for each k, and cheap in DuckDB.
// The names list is bound as a parameter; every other literal below is a constant of this file.
const INSERT = insertEvents(`
WITH base AS (
  SELECT i,
    $start::TIMESTAMP + to_microseconds((i * $step)::BIGINT + (hash(i, 1) % 1000000)::BIGINT) AS t,
    hash(i, 2) % $users AS u,
    $names::VARCHAR[] AS names,
    hash(i, 3) AS h3,
    hash(i, 4) AS h4
  FROM range($from, $to) r(i)
), rows AS (
  SELECT *,
    -- squaring a uniform draw skews towards the first names
    names[1 + floor(pow((h3 % 1000000) / 1000000.0, 2) * len(names))::INTEGER] AS ev,
    md5(i::VARCHAR) AS m,
    (['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
      'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
      'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
      'Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0',
      'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36'])[1 + (u % 5)::INTEGER] AS ua,
    (['/', '/pricing', '/products', '/products/shoes', '/products/shirts', '/cart', '/checkout', '/blog',
      '/docs/getting-started', '/account', '/search', '/about'])[1 + (h4 % 12)::INTEGER] AS path,
    (['en-US', 'en-GB', 'de-DE', 'fr-FR', 'es-ES', 'ja-JP', 'pt-BR'])[1 + (u % 7)::INTEGER] AS locale
  FROM base
)
SELECT
  -- a UUIDv7-shaped id: 48-bit millisecond time, then random bits
  concat_ws('-', substr(hx, 1, 8), substr(hx, 9, 4), '7' || substr(m, 1, 3), substr(m, 4, 4), substr(m, 8, 12)) AS id,
  $workspace::VARCHAR AS workspace_id,
  concat_ws('-', substr(m, 13, 8), substr(m, 21, 4), '4' || substr(m, 25, 3), '8' || substr(m, 28, 3), substr(md5(m), 1, 12)) AS message_id,
  'track' AS type, ev AS event, NULL::VARCHAR AS name, NULL::VARCHAR AS category,
  'user-' || u::VARCHAR AS user_id,
  ${ANONYMOUS_ID} AS anonymous_id,
  NULL::VARCHAR AS group_id, NULL::VARCHAR AS previous_id, NULL::VARCHAR AS instance_id,
  t AS timestamp, t - INTERVAL 200 MILLISECOND AS original_timestamp, t - INTERVAL 50 MILLISECOND AS sent_at,
  t AS received_at,
  json_object(
    'path', path,
    'product_id', 'prod-' || (h4 % 5000)::VARCHAR,
    'price', round((h4 % 20000) / 100.0, 2),
    'currency', 'USD',
    'quantity', 1 + (h3 % 4)::INTEGER,
    'plan', (['free', 'starter', 'pro', 'enterprise'])[1 + (u % 4)::INTEGER],
    'experiment', 'exp-' || (u % 3)::VARCHAR
  ) AS properties,
  '{}' AS traits,
  json_object(
    'ip', concat_ws('.', 10 + (u % 200), (u // 200) % 256, (u // 51200) % 256, 1 + h4 % 254),
    'library', json_object('name', 'analytics.js', 'version', '5.2.1'),
    'locale', locale,
    'timezone', (['America/New_York', 'Europe/London', 'Europe/Berlin', 'Asia/Tokyo'])[1 + (u % 4)::INTEGER],
    'userAgent', ua,
    'page', json_object('path', path, 'referrer', 'https://www.google.com/', 'title', 'Acme Store',
      'url', 'https://shop.example.com' || path),
    'screen', json_object('width', 1920 - (u % 3) * 530, 'height', 1080 - (u % 3) * 240)
  ) AS context,
  '{}' AS integrations,
  'segment' AS source
FROM (SELECT *, lower(lpad(to_hex(epoch_ms(t)), 12, '0')) AS hx FROM rows)
`);

/** Generates `opts.events` track events into the events table; returns rows written. */
export async function loadSyntheticEvents(
  conn: DuckDBConnection,
  opts: SyntheticEventsOptions,
): Promise<number> {
  const chunk = opts.chunk ?? 1_000_000;
  const spanUs = opts.days * 86_400_000_000;
  const start = new Date(opts.end.getTime() - opts.days * 86_400_000);
  // Microseconds between consecutive events, so the last one lands one second before `end`.
  const step = Math.max(1, Math.floor((spanUs - 1_000_000) / Math.max(1, opts.events)));
  let done = 0;
  while (done < opts.events) {
    const to = Math.min(opts.events, done + chunk);
    await conn.run(INSERT, {
      start: ts(start),
      step,
      users: opts.users,
      names: listValue(opts.eventNames),
      from: done,
      to,
      workspace: opts.workspaceId,
    });
    done = to;
    opts.onProgress?.(done);
  }
  return done;
}

/**
 * The identities of the synthetic users: user-u with its anonymousId, one person each (person user-u), as the
 * profile step would have linked them; what GET /users/:id/events reads. An anonymousId two users share (its
 * 32-bit hash collides) stays with the first.
 */
export async function loadSyntheticIdentities(
  conn: DuckDBConnection,
  opts: Pick<SyntheticEventsOptions, 'workspaceId' | 'users'>,
): Promise<void> {
  await conn.run(
    `INSERT OR IGNORE INTO identities (workspace_id, id, person_id, is_user)
     SELECT $workspace, 'user-' || u::VARCHAR, 'user-' || u::VARCHAR, true FROM range($users) r(u)
     UNION ALL
     SELECT $workspace, ${ANONYMOUS_ID}, 'user-' || u::VARCHAR, false FROM range($users) r(u)`,
    { workspace: opts.workspaceId, users: opts.users },
  );
}
