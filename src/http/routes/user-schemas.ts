// TypeBox schemas of the users, groups and deletion routes (users.ts, profile.ts).
import { Type } from '@sinclair/typebox';

const Time = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);
const Traits = Type.Record(Type.String(), Type.Unknown());

export const UserSummarySchema = Type.Object(
  {
    id: Type.String({
      description: 'Canonical person id: its smallest userId, else its smallest anonymousId',
    }),
    userIds: Type.Array(Type.String()),
    anonymousIds: Type.Array(Type.String()),
    traits: Traits,
    firstSeen: Time,
    lastSeen: Time,
    eventCount: Type.Integer(),
  },
  { description: 'A person: every linked id, merged traits and activity.' },
);

export const UserProfileSchema = Type.Object({
  ...UserSummarySchema.properties,
  groups: Type.Array(Type.String()),
  refusedMerges: Type.Array(
    Type.Object({
      a: Type.String(),
      b: Type.String(),
      messageId: Type.String(),
      at: Type.String({ format: 'date-time' }),
      reason: Type.String(),
    }),
    { description: 'Links to these ids refused by the ids-per-person cap (latest 100)' },
  ),
});

export const GroupSchema = Type.Object({
  id: Type.String(),
  traits: Traits,
  firstSeen: Type.String({ format: 'date-time' }),
  lastSeen: Type.String({ format: 'date-time' }),
  memberCount: Type.Integer({ description: 'Distinct persons who joined the group' }),
});

export const DeletionSchema = Type.Object({
  id: Type.String(),
  status: Type.Union(['pending', 'running', 'done', 'failed'].map((s) => Type.Literal(s))),
  requestedAt: Type.String({ format: 'date-time' }),
  startedAt: Time,
  finishedAt: Time,
  eventsDeleted: Type.Integer(),
  idsDeleted: Type.Integer(),
  error: Type.Union([Type.String(), Type.Null()]),
  erasedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
    description:
      "When the deleted rows' bytes left the database file (the purge after the deletion); null until then",
  }),
});

export const UserFluxProfileSchema = Type.Object({
  userId: Type.String({ description: 'The canonical person id' }),
  userIds: Type.Array(Type.String()),
  anonymousIds: Type.Array(Type.String()),
  properties: Traits,
  groups: Type.Array(Type.String()),
  firstSeen: Time,
  lastSeen: Time,
  eventCount: Type.Integer(),
});

export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 512 }) });
export const Limit = Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 }));
export const Offset = Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000_000, default: 0 }));

export const pageOf = <T extends ReturnType<typeof Type.Object>>(item: T) =>
  Type.Object({
    results: Type.Array(item),
    limit: Type.Integer(),
    offset: Type.Integer(),
    total: Type.Integer(),
  });
