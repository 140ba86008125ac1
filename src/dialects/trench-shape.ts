// Trench's event as its API answers it (Create Events, Get Events): Trench's fields under Trench's names, then
// Intake's own. Trench's `uuid` is the messageId (a Trench client's own uuid, else the one assigned) and its
// `parsedAt` the time Intake received the event.
import { type TProperties, Type } from '@sinclair/typebox';
import type { CanonicalEvent } from '../core/event.ts';
import { EventSchema } from '../http/schemas.ts';

const str = (description: string) => Type.Union([Type.String(), Type.Null()], { description });
const TRENCH_FIELDS = {
  uuid: Type.String({
    description: "Trench's event id: the messageId (the client's uuid, when it sent one)",
  }),
  type: Type.String(),
  event: str('Track event name'),
  userId: str('User id'),
  groupId: str('Group id'),
  anonymousId: str('Anonymous id'),
  instanceId: str('Instance id'),
  properties: Type.Record(Type.String(), Type.Unknown()),
  traits: Type.Record(Type.String(), Type.Unknown()),
  context: Type.Record(Type.String(), Type.Unknown()),
  timestamp: Type.String({ format: 'date-time' }),
  parsedAt: Type.String({ format: 'date-time', description: 'When Intake received it (receivedAt)' }),
} satisfies TProperties;

const intakeOnly = Object.fromEntries(
  Object.entries(EventSchema.properties).filter(([k]) => !(k in TRENCH_FIELDS)),
) as Omit<typeof EventSchema.properties, keyof typeof TRENCH_FIELDS>;

export const TrenchEventSchema = Type.Object(
  { ...TRENCH_FIELDS, ...intakeOnly },
  { description: "A stored event: Trench's fields, then Intake's (id, messageId, receivedAt, source, ...)" },
);

export type TrenchEvent = CanonicalEvent & { uuid: string; parsedAt: Date };

/**
 * The fields of a Trench event in the schema's order, each with the CanonicalEvent key it holds: `uuid` is the
 * messageId, `parsedAt` the receivedAt. GET /events writes its results with JSON.stringify in this order (the
 * text the schema's serializer would write) and the NDJSON export has DuckDB write its lines in it.
 */
export const TRENCH_SHAPE: readonly (readonly [string, keyof CanonicalEvent])[] = Object.keys(
  TrenchEventSchema.properties,
).map((name) => [
  name,
  (name === 'uuid' ? 'messageId' : name === 'parsedAt' ? 'receivedAt' : name) as keyof CanonicalEvent,
]);

export const trenchEvent = (e: CanonicalEvent): TrenchEvent => {
  const out: Record<string, unknown> = {};
  for (const [name, key] of TRENCH_SHAPE) if (e[key] !== undefined) out[name] = e[key];
  return out as unknown as TrenchEvent;
};
