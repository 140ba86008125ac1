// Every wire format the server speaks. Biteral has no entry of its own: it shares POST /events with Trench,
// whose route (trench.ts) tells the two apart by the body's shape and hands Biteral bodies to biteral.ts.
import { bento } from './bento.ts';
import { posthog } from './posthog.ts';
import { segment } from './segment.ts';
import { sequence } from './sequence.ts';
import { trench } from './trench.ts';
import type { Dialect } from './types.ts';
import { userflux } from './userflux.ts';

export const DIALECTS: Dialect[] = [segment, trench, sequence, bento, userflux, posthog];
