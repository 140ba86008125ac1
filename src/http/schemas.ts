// Shared TypeBox schemas for route documentation.
import { Type } from '@sinclair/typebox';
import { ERRORS } from '../core/errors.ts';

export const ErrorSchema = Type.Object(
  {
    statusCode: Type.Integer(),
    code: Type.Union(Object.keys(ERRORS).map((c) => Type.Literal(c))),
    error: Type.String(),
    message: Type.String(),
    details: Type.Optional(Type.Unknown()),
  },
  { $id: 'Error', description: 'Every error body has this shape.' },
);

export const EventSchema = Type.Object(
  {
    id: Type.String({ description: 'Server-assigned UUIDv7' }),
    workspaceId: Type.String(),
    messageId: Type.String(),
    type: Type.String(),
    event: Type.Union([Type.String(), Type.Null()]),
    name: Type.Union([Type.String(), Type.Null()]),
    category: Type.Union([Type.String(), Type.Null()]),
    userId: Type.Union([Type.String(), Type.Null()]),
    anonymousId: Type.Union([Type.String(), Type.Null()]),
    groupId: Type.Union([Type.String(), Type.Null()]),
    previousId: Type.Union([Type.String(), Type.Null()]),
    instanceId: Type.Union([Type.String(), Type.Null()]),
    timestamp: Type.String({ format: 'date-time' }),
    originalTimestamp: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    sentAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    receivedAt: Type.String({ format: 'date-time' }),
    properties: Type.Record(Type.String(), Type.Unknown()),
    traits: Type.Record(Type.String(), Type.Unknown()),
    context: Type.Record(Type.String(), Type.Unknown()),
    integrations: Type.Record(Type.String(), Type.Unknown()),
    source: Type.String(),
  },
  { description: 'A stored event (the Segment spec plus server fields).' },
);

export const ItemRejection = Type.Object({
  index: Type.Integer({ description: 'Position of the item in the request' }),
  messageId: Type.Union([Type.String(), Type.Null()]),
  code: Type.String(),
  message: Type.String(),
});

export const errorResponses = {
  400: ErrorSchema,
  401: ErrorSchema,
  403: ErrorSchema,
  429: ErrorSchema,
  // Any route with a body: over the body limit (or one event over the event limit), or an unknown encoding.
  413: ErrorSchema,
  415: ErrorSchema,
} as const;

type Security = Array<Record<string, string[]>>;
/** Where a key may be sent, for the OpenAPI document. */
export const WRITE_SECURITY: Security = [{ basic: [] }, { bearer: [] }, { writeKeyHeader: [] }];
export const BEARER_SECURITY: Security = [{ bearer: [] }];
