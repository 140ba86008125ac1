// The embedded engine's log: segment files (segments.ts) that a loader (loader.ts) has the store's sink load in
// bulk, off the request path, with the dedupe memory (keyset.ts) in front. Opened together, so a restart first
// takes back what the previous run left in the log.
import { channel } from 'node:diagnostics_channel';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventSink } from '../../store/types.ts';
import type { IngestBatch, IngestLog, IngestResult } from '../types.ts';
import { DedupeMemory } from './dedupe.ts';
import { FOREVER } from './keyset.ts';
import { Loader, type LoaderOptions } from './loader.ts';
import { SegmentLog } from './segments.ts';

export interface FileLogOptions extends LoaderOptions {
  /** Most lines in one segment, so in one load. */
  segmentLines: number;
  /** The data directory (the log is its `log/` folder); ':memory:' puts the log in a temporary folder. */
  dataDir: string;
  /** Most lines accepted but not yet loaded; past it ingest answers 503 with Retry-After. */
  queueLimit: number;
  /** How long an accepted messageId is remembered, in hours. Default 48. */
  dedupeWindowHours?: number;
  /** Keys the dedupe memory holds exactly before it seals them into a run file (dedupe.ts). Default 1M. */
  dedupeSealKeys?: number;
}

const HOUR = 3_600_000;

/** Each opened log, for a benchmark's probe (bench/loop-probe.ts: dedupe bytes, lines waiting) when one subscribes. */
export const OPENED = channel('intake:file-log');

export class FileLog implements IngestLog {
  private constructor(
    readonly segments: SegmentLog,
    readonly loader: Loader,
    readonly dedupe: DedupeMemory,
    private readonly sink: EventSink,
  ) {}

  static async open(sink: EventSink, opts: FileLogOptions): Promise<FileLog> {
    const dir =
      opts.dataDir === ':memory:' ? mkdtempSync(join(tmpdir(), 'intake-log-')) : join(opts.dataDir, 'log');
    const dedupe = new DedupeMemory({ dir: join(dir, 'dedupe'), sealKeys: opts.dedupeSealKeys });
    const since = new Date(Date.now() - (opts.dedupeWindowHours ?? 48) * HOUR);
    const loadedThrough = await sink.checkpoint();
    let loader: Loader | undefined;
    let opened: ReturnType<typeof SegmentLog.open> | undefined;
    // The window's keys from the store, then those of the segments not yet loaded: sealed into runs as they come.
    await dedupe.rebuild(async () => {
      await sink.dedupeKeys(since, (key, seconds) => dedupe.addSeconds(key, seconds));
      opened = SegmentLog.open(
        {
          dir,
          dedupe,
          queueLimit: opts.queueLimit,
          segmentLines: opts.segmentLines,
          onWritten: () => loader?.written(),
        },
        loadedThrough,
      );
    });
    const { log, unloaded } = opened as ReturnType<typeof SegmentLog.open>;
    loader = new Loader(log, sink, opts, { unloaded, loadedThrough });
    loader.start();
    const fileLog = new FileLog(log, loader, dedupe, sink);
    if (OPENED.hasSubscribers) OPENED.publish(fileLog);
    return fileLog;
  }

  submit(batch: IngestBatch): Promise<IngestResult> {
    return this.segments.submit(batch);
  }

  get pending(): number {
    return this.segments.pending;
  }

  settled(): Promise<void> {
    return this.loader.settled();
  }

  forbid(keys: readonly string[]): void {
    for (const key of keys) this.dedupe.addSeconds(key, FOREVER);
  }

  async purge(before: Date): Promise<number> {
    await this.sink.purgeKeys(before);
    return this.dedupe.purge(before);
  }

  async close(): Promise<void> {
    await this.segments.close();
    await this.loader.close();
    this.segments.closeFiles();
    await this.dedupe.close();
  }
}
