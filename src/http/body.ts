// One body parser for every content type SDKs send (application/json, text/plain from browsers, odd
// vendor types): decode Content-Encoding, enforce the decompressed size limit, parse JSON.
import { promisify } from 'node:util';
import { brotliDecompress, gunzip, inflate } from 'node:zlib';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { IntakeError } from '../core/errors.ts';

const decoders = {
  gzip: promisify(gunzip),
  'x-gzip': promisify(gunzip),
  deflate: promisify(inflate),
  br: promisify(brotliDecompress),
} as const;

async function decode(req: FastifyRequest, raw: Buffer, limit: number): Promise<Buffer> {
  const enc = String(req.headers['content-encoding'] ?? 'identity')
    .trim()
    .toLowerCase();
  if (enc === 'identity' || enc === '') return raw;
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
        `the decompressed body is over the ${limit}-byte body limit`,
      );
    }
    throw new IntakeError(
      'INTAKE_ERR_BAD_ENCODING',
      `the body is not valid ${enc} data: ${(err as Error).message}`,
    );
  }
}

export function registerBodyParser(app: FastifyInstance, bodyLimit: number): void {
  app.removeAllContentTypeParsers();
  // Compressed bodies are smaller than their content; the raw limit only stops a client streaming forever.
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (req, raw, done) => {
    decode(req, raw as Buffer, bodyLimit).then(
      (buf) => {
        if (buf.length === 0) return done(null, undefined);
        const text = buf.toString('utf8');
        try {
          done(null, JSON.parse(text));
        } catch (err) {
          done(
            new IntakeError(
              'INTAKE_ERR_INVALID_JSON',
              `the body is not valid JSON: ${(err as Error).message}`,
            ),
            undefined,
          );
        }
      },
      (err: unknown) => done(err as Error, undefined),
    );
  });
}
