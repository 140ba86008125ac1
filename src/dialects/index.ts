// Every wire format the server speaks.
import { bento } from './bento.ts';
import { segment } from './segment.ts';
import { sequence } from './sequence.ts';
import { trench } from './trench.ts';
import type { Dialect } from './types.ts';
import { userflux } from './userflux.ts';

export const DIALECTS: Dialect[] = [segment, trench, sequence, bento, userflux];
