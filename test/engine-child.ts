// A process the contract suites crash on purpose: it opens a test engine (test/engines.ts) on a directory, does
// one thing, writes what it was answered to stdout, and kills itself with SIGKILL: nothing is closed, flushed
// or finished, as in a real crash. Driven by crashChild() below.
//   delete <engine> <dir> <workspace> <id>   requests the deletion of a person; prints the job
//   submit <engine> <dir> <batches.json>     submits each batch in turn; prints each answer once it comes
//   load-and-die <engine> <dir> <batches.json>  submits them, then dies the moment the store has loaded a batch
//                                               (prints "loaded"): the log never hears that the load is done
import { spawn } from 'node:child_process';
import { readFileSync, writeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { IngestBatch } from '../src/ingest/types.ts';
import type { Store } from '../src/store/types.ts';
import { engineNamed } from './engines.ts';

const say = (v: unknown) => writeSync(1, `${JSON.stringify(v)}\n`); // synchronous: written before the kill

const readBatches = (file: string) =>
  JSON.parse(readFileSync(file, 'utf8'), (k, v) =>
    ['timestamp', 'receivedAt', 'originalTimestamp', 'sentAt'].includes(k) && typeof v === 'string'
      ? new Date(v)
      : v,
  ) as IngestBatch[];

async function main(argv: string[]): Promise<void> {
  const [what, name, dir, ...rest] = argv;
  const engine = engineNamed(String(name));
  const store = await engine.openStore(String(dir));
  if (what === 'delete') {
    const [ws, id] = rest;
    say(await store.erasure.requestDeletion(String(ws), String(id)));
  } else if (what === 'submit') {
    // A long delay: the log holds what it accepted, not yet loaded, when the process dies.
    const log = await engine.openLog(store, String(dir), { loadDelayMs: 60_000 });
    for (const b of readBatches(String(rest[0]))) say(await log.submit(b));
  } else if (what === 'load-and-die') {
    const sink = store.sink;
    const dying: Store = Object.create(store);
    Object.defineProperty(dying, 'sink', {
      value: {
        ...sink,
        load: async (b: Parameters<typeof sink.load>[0]) => {
          await sink.load(b);
          say('loaded');
          process.kill(process.pid, 'SIGKILL');
          await new Promise(() => {}); // never returns: the kill is on its way
        },
      },
    });
    const log = await engine.openLog(dying, String(dir), { loadDelayMs: 60_000 });
    for (const b of readBatches(String(rest[0]))) say(await log.submit(b));
    await log.settled();
  } else throw new Error(`unknown step ${what}`);
  process.kill(process.pid, 'SIGKILL');
}

/** Runs a step in a child process that crashes after it; resolves with the lines it printed. */
export function crashChild(args: string[]): Promise<unknown[]> {
  const self = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, ['--import', 'tsx', self, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    err += d;
  });
  return new Promise((resolve, reject) =>
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL')
        reject(new Error(`the child ended with ${code ?? signal}, not a crash: ${err}`));
      else
        resolve(
          out
            .split('\n')
            .filter((l) => l !== '')
            .map((l) => JSON.parse(l) as unknown),
        );
    }),
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main(process.argv.slice(2));
