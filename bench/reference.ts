// The reference server: what a bare node:http ingest costs with no storage. It reads the body, parses it,
// counts the events and answers 200. Intake's figures are reported as a ratio of this one's.
import { createServer } from 'node:http';

let events = 0;
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    let n = 0;
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { batch?: unknown[] };
      n = Array.isArray(body.batch) ? body.batch.length : 1;
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"success":false}');
      return;
    }
    events += n;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"success":true}');
  });
});
// Same keep-alive as fastify's default, so idle benchmark connections behave alike.
server.keepAliveTimeout = 72_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const addr = server.address();
  process.stdout.write(`listening ${typeof addr === 'object' && addr ? addr.port : 0}\n`);
});
process.on('SIGTERM', () => {
  process.stderr.write(`reference: ${events} events counted\n`);
  process.exit(0);
});
