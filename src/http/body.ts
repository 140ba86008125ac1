// One body parser for every content type SDKs send (application/json, text/plain from browsers, odd
// vendor types): decode Content-Encoding, enforce the decompressed size limit, parse JSON. And what happens
// to a body the server answers before reading it all (over the limit, or sent to an unknown route).
import { promisify } from 'node:util';
import { brotliDecompress, gunzip, inflate } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { IntakeError } from '../core/errors.ts';
import { admit } from '../core/turns.ts';

const decoders = {
  gzip: promisify(gunzip),
  'x-gzip': promisify(gunzip),
  deflate: promisify(inflate),
  br: promisify(brotliDecompress),
} as const;

/**
 * Decompresses `raw` with a Content-Encoding's decoder, at most `limit` bytes out; a coded 413 past it, a coded
 * 400 for data that does not decode. `what` names the bytes in the message ("body", "data= field").
 */
export async function decompress(enc: string, raw: Buffer, limit: number, what = 'body'): Promise<Buffer> {
  const decoder = decoders[enc as keyof typeof decoders];
  if (!decoder) {
    throw new IntakeError(
      'INTAKE_ERR_UNSUPPORTED_ENCODING',
      `Content-Encoding "${enc}" is not supported; use gzip, deflate, br or none`,
    );
  }
  try {
    return await decoder(raw, { maxOutputLength: limit });
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) {
      throw new IntakeError(
        'INTAKE_ERR_BODY_TOO_LARGE',
        `the decompressed ${what} is over the ${limit}-byte limit`,
      );
    }
    throw new IntakeError(
      'INTAKE_ERR_BAD_ENCODING',
      `the ${what} is not valid ${enc} data: ${(err as Error).message}`,
    );
  }
}

function decode(req: FastifyRequest, raw: Buffer, limit: number): Promise<Buffer> {
  const enc = String(req.headers['content-encoding'] ?? 'identity')
    .trim()
    .toLowerCase();
  if (enc === 'identity' || enc === '') return Promise.resolve(raw);
  return decompress(enc, raw, limit);
}

export function registerBodyParser(app: FastifyInstance, bodyLimit: number): void {
  app.removeAllContentTypeParsers();
  // Compressed bodies are smaller than their content; the raw limit only stops a client streaming forever.
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (req, raw, done) => {
    decode(req, raw as Buffer, bodyLimit).then(
      (buf) => {
        if (buf.length === 0) return done(null, undefined);
        // The parse and what follows it (the route's handler: an ingest's whole pipeline and log write) take a
        // turn of the event loop's (core/turns.ts), so a pile of ready requests cannot hold it in one go.
        admit(() => {
          let body: unknown;
          try {
            body = JSON.parse(buf.toString('utf8'));
          } catch (err) {
            return done(
              new IntakeError(
                'INTAKE_ERR_INVALID_JSON',
                `the body is not valid JSON: ${(err as Error).message}`,
              ),
              undefined,
            );
          }
          done(null, body);
        });
      },
      (err: unknown) => done(err as Error, undefined),
    );
  });
}

/**
 * How much of an unread body the server reads and discards after answering early: 8 times the body limit
 * (32 MiB by default), for at most 30 s, and at most 5 s without data (nginx's lingering_time and
 * lingering_timeout). Past any of them the connection is closed.
 */
export const DRAIN_FACTOR = 8;
const DRAIN_MS = 30_000;
const DRAIN_IDLE_MS = 5_000;

export interface Drainer {
  /**
   * Called with every error answer: when the request's body is not all read (a body over the limit, answered
   * as soon as its Content-Length or its first bytes over the limit are seen; a request to an unknown route),
   * keeps the connection and reads the rest of the body, discarding it, up to the bound above.
   */
  drain(req: FastifyRequest, reply: FastifyReply): void;
  /** The server is closing: connections being drained are closed rather than waited for. */
  close(): void;
}

/**
 * Why drain: fastify answers a body error with `Connection: close`, and Node then closes the socket while the
 * client is still sending. The client's next bytes meet a closed socket, its kernel gets a reset, and a reset
 * drops the answer it had not read yet: the SDK sees a network error (`fetch failed`, EPIPE) and retries the
 * same batch, where a 413 would have made it drop the batch. Reading to the end of the body lets every client
 * read the answer, whenever it reads it, and keeps its connection usable.
 */
export function createDrainer(bodyLimit: number): Drainer {
  let closing = false;
  const cuts = new Set<() => void>();
  return {
    drain(req, reply) {
      const raw = req.raw;
      // `complete` is false on a socket until the body's last byte is parsed; app.inject() has no such state.
      if (raw.complete !== false || closing) return;
      reply.removeHeader('connection');
      let left = DRAIN_FACTOR * bodyLimit;
      const stop = () => {
        clearTimeout(total);
        clearTimeout(idle);
        raw.off('data', onData);
        cuts.delete(cut);
      };
      const cut = () => {
        stop();
        raw.socket.destroy();
      };
      const onData = (chunk: Buffer) => {
        left -= chunk.length;
        if (left < 0) cut();
        else idle.refresh();
      };
      const total = setTimeout(cut, DRAIN_MS);
      const idle = setTimeout(cut, DRAIN_IDLE_MS);
      cuts.add(cut);
      // A preParsing stream (PostHog's) may still be piped from the request, and stopped reading when the
      // parser gave up: the request is read here instead.
      raw.unpipe();
      raw.on('data', onData);
      raw.once('end', stop);
      raw.once('close', stop);
      raw.resume();
    },
    close() {
      closing = true;
      for (const cut of [...cuts]) cut();
    },
  };
}

/**
 * The request's parsed body, detached from the request: an ingest route hands it on and waits for the log's
 * write with nothing left referencing it, so it is garbage before that wait (ingest/ingest.ts says why that
 * matters). Only for handlers that read nothing of the body after this call.
 */
export function takeBody<T>(req: { body: T }): T {
  const body = req.body;
  (req as { body: unknown }).body = undefined;
  return body;
}
