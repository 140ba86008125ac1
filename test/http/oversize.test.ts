// A body over the limit is always answered with a 413 the client can read, never a reset connection: the
// server reads and discards the rest of the body (up to DRAIN_FACTOR times the limit) instead of closing
// while the client is still sending. Against the real `intake start` process: client and server in one
// event loop hide the race.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { DRAIN_FACTOR } from '../../src/http/body.ts';
import { bearer, KEYS, type ServerProcess, startServerProcess, tempDir } from '../helpers.ts';

const LIMIT = 1024 * 1024;
let s: ServerProcess;
before(async () => {
  s = await startServerProcess(tempDir(), { INTAKE_BODY_LIMIT: '1mb', LOG_LEVEL: 'error' });
});
after(async () => {
  s.proc.kill('SIGTERM');
  await s.exited;
});

const json = { authorization: bearer(KEYS.write), 'content-type': 'application/json' };
/** A well-formed batch body of about `bytes` bytes. */
const batchOf = (bytes: number) => Buffer.from(JSON.stringify({ batch: [], pad: 'x'.repeat(bytes) }));
const formOf = (bytes: number) =>
  Buffer.from(
    `data=${Buffer.from(JSON.stringify({ api_key: KEYS.write, pad: 'x'.repeat(bytes) })).toString('base64')}`,
  );
const form = { 'content-type': 'application/x-www-form-urlencoded' };

function assertTooLarge(status: number, body: string, what: string) {
  assert.equal(status, 413, `${what}: ${status} ${body.slice(0, 200)}`);
  assert.equal(JSON.parse(body).code, 'INTAKE_ERR_BODY_TOO_LARGE', what);
}

interface Sent {
  status: number;
  body: string;
  /** Bytes of the body the client had written when the exchange ended. */
  written: number;
  /** The error the request ended with after the answer, if any (the server closed the connection). */
  error?: string;
}

/**
 * Posts `body` through node:http in `chunk`-byte writes, each after the previous one is flushed and a pause
 * of `pauseMs`; with a Content-Length, or chunked. Resolves once the answer is read and the request closed.
 * Through a keep-alive agent: without one, node:http stops sending as soon as it has read the answer, and
 * the server's side of the story (reading the rest) would go untested.
 */
function postSlowly(
  url: string,
  body: Buffer,
  opts: { chunk: number; pauseMs: number; chunked: boolean; headers: Record<string, string> },
): Promise<Sent> {
  const agent = new http.Agent({ keepAlive: true });
  return new Promise<Sent>((resolve, reject) => {
    let written = 0;
    let answer: { status: number; body: string } | undefined;
    let error: string | undefined;
    const req = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: opts.chunked ? opts.headers : { ...opts.headers, 'content-length': String(body.length) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => {
          text += d;
        });
        res.on('end', () => {
          answer = { status: res.statusCode ?? 0, body: text };
        });
      },
    );
    req.on('error', (e) => {
      error = e.message;
    });
    req.on('close', () => {
      // Closed before the answer was read: the reset this file is about.
      if (!answer) reject(new Error(`no answer: ${error ?? 'closed'} after ${written} bytes`));
      else resolve({ ...answer, written, error });
    });
    const step = () => {
      if (error) return;
      if (written >= body.length) {
        req.end();
        return;
      }
      const part = body.subarray(written, written + opts.chunk);
      written += part.length;
      req.write(part, () => setTimeout(step, opts.pauseMs));
    };
    step();
  }).finally(() => agent.destroy());
}

async function postFast(url: string, body: Buffer, headers: Record<string, string>) {
  const r = await fetch(url, { method: 'POST', headers, body });
  return { status: r.status, body: await r.text() };
}

test('a body 5 times the limit sent in one go gets its 413, every time, on every kind of route', async () => {
  const big = batchOf(5 * LIMIT);
  for (const [path, body, headers] of [
    ['/v1/batch', big, json],
    ['/events', big, json],
    ['/batch/', big, json],
    ['/e/', formOf(5 * LIMIT), { ...json, ...form }],
  ] as const) {
    for (let i = 0; i < 5; i++) {
      const r = await postFast(`${s.url}${path}`, body, headers);
      assertTooLarge(r.status, r.body, `${path} #${i}`);
    }
  }
});

test('a body 5 times the limit sent slowly gets its 413, with a Content-Length or chunked', async () => {
  const big = batchOf(5 * LIMIT);
  for (const [path, body, headers] of [
    ['/v1/batch', big, json],
    ['/e/', formOf(5 * LIMIT), { ...json, ...form }],
  ] as const) {
    for (const chunked of [false, true]) {
      for (let i = 0; i < 3; i++) {
        const r = await postSlowly(`${s.url}${path}`, body, {
          chunk: 128 * 1024,
          pauseMs: 2,
          chunked,
          headers,
        });
        assertTooLarge(r.status, r.body, `${path} chunked=${chunked} #${i}`);
        // Read to the end: the upload finished without the server closing on it.
        assert.equal(r.written, body.length);
        assert.equal(r.error, undefined);
      }
    }
  }
});

test('the connection stays usable after a drained 413', async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const send = (body: Buffer) =>
    new Promise<{ status: number; socket: unknown }>((resolve, reject) => {
      const req = http.request(
        `${s.url}/v1/batch`,
        { method: 'POST', agent, headers: { ...json, 'content-length': String(body.length) } },
        (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, socket: req.socket }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const first = await send(batchOf(3 * LIMIT));
  assert.equal(first.status, 413);
  const second = await send(Buffer.from(JSON.stringify({ batch: [] })));
  assert.equal(second.status, 200);
  assert.equal(second.socket, first.socket, 'the same connection answered both');
  agent.destroy();
});

test(`past ${DRAIN_FACTOR} times the limit the server stops reading and closes, after the 413 was read`, async () => {
  const huge = batchOf((DRAIN_FACTOR + 4) * LIMIT);
  const r = await postSlowly(`${s.url}/v1/batch`, huge, {
    chunk: 256 * 1024,
    pauseMs: 1,
    chunked: true,
    headers: json,
  });
  assertTooLarge(r.status, r.body, 'huge');
  assert.ok(r.error, 'the upload was cut');
  assert.ok(r.written < huge.length, `${r.written} of ${huge.length} bytes written`);
});

test('a compressed body small on the wire but over the limit once decompressed is a 413', async () => {
  const bomb = gzipSync(batchOf(20 * LIMIT));
  assert.ok(bomb.length < LIMIT);
  for (let i = 0; i < 3; i++) {
    const r = await postFast(`${s.url}/v1/batch`, bomb, { ...json, 'content-encoding': 'gzip' });
    assertTooLarge(r.status, r.body, `gzip #${i}`);
  }
  const r = await postSlowly(`${s.url}/v1/batch`, bomb, {
    chunk: 4096,
    pauseMs: 1,
    chunked: false,
    headers: { ...json, 'content-encoding': 'gzip' },
  });
  assertTooLarge(r.status, r.body, 'gzip, slowly');
});
