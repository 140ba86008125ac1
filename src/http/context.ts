// What route modules are handed: the app's collaborators, nothing global.

import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import type { KeyRing } from '../auth/keys.ts';
import type { Config } from '../core/config.ts';
import type { Ingestor } from '../ingest/ingest.ts';
import type { IngestLog } from '../ingest/types.ts';
import type { PlanRing } from '../plans/ring.ts';
import type { Store } from '../store/types.ts';

export type TypedApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

export interface RouteContext {
  store: Store;
  keys: KeyRing;
  /** Tracking plans in force (plans/ring.ts); absent when the app was built without them. */
  plans?: PlanRing | undefined;
  /** The ingest log: durable acceptance (its contract: ingest/types.ts). */
  log: IngestLog;
  ingestor: Ingestor;
  now: () => Date;
  config: Pick<Config, 'queryTimeoutMs' | 'queryMaxRows' | 'queryStreamTimeoutMs'>;
}
