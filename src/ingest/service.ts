// The ingest side of the server assembled: the log (durable acceptance) and the loader (bulk loads into the
// store), opened together so a restart first recovers what the previous run left in the log.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Store } from '../store/types.ts';
import { Loader, type LoaderOptions } from './loader.ts';
import { IngestLog } from './log.ts';

export interface IngestOptions extends LoaderOptions {
  /** Most lines in one segment, so in one load. */
  segmentLines: number;
  /** The data directory (the log is its `log/` folder); ':memory:' puts the log in a temporary folder. */
  dataDir: string;
  /** Most lines accepted but not yet loaded; past it ingest answers 503 with Retry-After. */
  queueLimit: number;
}

export class Ingest {
  private constructor(
    readonly log: IngestLog,
    readonly loader: Loader,
  ) {}

  static async open(store: Store, opts: IngestOptions): Promise<Ingest> {
    const dir =
      opts.dataDir === ':memory:' ? mkdtempSync(join(tmpdir(), 'intake-log-')) : join(opts.dataDir, 'log');
    const loadedThrough = await store.loadedSegment();
    let loader: Loader | undefined;
    const { log, unloaded } = IngestLog.open(
      {
        dir,
        dedupe: store.dedupe,
        queueLimit: opts.queueLimit,
        segmentLines: opts.segmentLines,
        onWritten: () => loader?.written(),
      },
      loadedThrough,
    );
    loader = new Loader(log, store, opts, { unloaded, loadedThrough });
    loader.start();
    return new Ingest(log, loader);
  }

  /** Lines accepted and not yet loaded. */
  get pending(): number {
    return this.log.pending;
  }

  /** Stops accepting, writes what was accepted, loads everything the log holds, and closes the log. */
  async close(): Promise<void> {
    await this.log.close();
    await this.loader.close();
    this.log.closeFiles();
  }
}
