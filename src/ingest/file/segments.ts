// The ingest log: where an accepted event becomes durable. Requests that arrive while a write is in flight
// are gathered into the next one (group commit): their lines are appended to the open segment file with one
// write and one fdatasync, and each request is answered only after that. Duplicates are decided here, against
// the dedupe memory, before a line is written. The loader (loader.ts) closes segments and has the store load
// them in bulk, off the request path; a restart finds the segments not yet loaded and hands them back.
import {
  closeSync,
  fdatasync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  unlink,
  writeSync,
} from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { dedupeKey } from '../../core/dedupe.ts';
import { IntakeError } from '../../core/errors.ts';
import type { CanonicalEvent, EventRecord, Rejection } from '../../core/event.ts';
import { makeDir } from '../../core/fs.ts';
import { DictionaryBatch } from '../../pipeline/dictionary/observe.ts';
import type { LogBatch } from '../../store/types.ts';
import type { IngestBatch, IngestResult } from '../types.ts';
import type { DedupeSet } from './keyset.ts';
import { decodeLine, LineWriter } from './lines.ts';
import { NameTable, ProfileViews } from './views.ts';

const fdatasyncAsync = promisify(fdatasync);

/** A closed segment: a batch for the store, with its file as the fast-path hint. */
export class Segment implements LogBatch {
  constructor(
    readonly seq: number,
    /** The segment file: one line per event or rejection (lines.ts). */
    readonly path: string,
    /** Its events, for their profile effects: the profile fields, type and event only (views.ts). */
    readonly events: ProfileViews = new ProfileViews(),
    /** How many of its lines are rejections. */
    public rejected = 0,
    /** The data dictionary's summary of its events, made as they were written (a hint: LogBatch.dictionary). */
    readonly dictionary: DictionaryBatch = new DictionaryBatch(),
  ) {}

  get file(): string {
    return this.path;
  }

  async entries(): Promise<{ events: CanonicalEvent[]; rejected: Rejection[] }> {
    const out = { events: [] as CanonicalEvent[], rejected: [] as Rejection[] };
    for (const line of (await readFile(this.path, 'utf8')).split('\n')) {
      if (line === '') continue;
      const d = decodeLine(line);
      if (d.kind === 'event') out.events.push(d.event);
      else out.rejected.push(d.rejection);
    }
    return out;
  }
}

export interface SegmentLogOptions {
  /** The directory of segment files. */
  dir: string;
  /** The dedupe memory, filled from the store at open. */
  dedupe: DedupeSet;
  /** Most lines (events and rejections) accepted but not yet loaded; past it submit() throws OVERLOADED. */
  queueLimit: number;
  /** A segment is closed once it holds this many lines (one load's worth; a load holds its rows in memory). */
  segmentLines: number;
  /** Called after each write with the open segment's line count (the loader decides when to close it). */
  onWritten?(lines: number): void;
}

interface Waiting {
  rejected: number;
  /** What the request is answered once the write is durable. */
  result: IngestResult;
  resolve(result: IngestResult): void;
  reject(err: unknown): void;
}

interface OpenSegment {
  seq: number;
  path: string;
  fd: number;
  events: ProfileViews;
  rejected: number;
  dictionary: DictionaryBatch;
  /** When its first line was written (Date.now()), 0 while empty. */
  firstAt: number;
  /**
   * The fsync of the folder that makes its name durable, on the thread pool (null, or the error it failed
   * with): no line in it is acknowledged before it is done, as none is before its own fdatasync.
   */
  named: Promise<Error | null>;
}

const SEGMENT = /^(\d{12})\.ndjson$/;
const segmentName = (seq: number) => `${String(seq).padStart(12, '0')}.ndjson`;

export class SegmentLog {
  private current: OpenSegment;
  private waiting: Waiting[] = [];
  /**
   * The data dictionary's walk of the waiting requests' events, made at submit (so their bodies need not wait
   * with them) and merged into the segment their group write lands in, once it is durable.
   */
  private waitingDictionary = new DictionaryBatch();
  /** The names every view of this log shares (views.ts). */
  private readonly names = new NameTable();
  /** The waiting requests' events as the load will read them (views.ts), added to their segment the same way. */
  private waitingViews = new ProfileViews(this.names);
  /**
   * The waiting requests' lines (lines.ts), encoded at submit into one buffer, which the group write writes and
   * then reuses: the request's strings are garbage before it waits for the write (see ingest/ingest.ts on what
   * waiting objects cost the GC), and no request has a buffer of its own (a 100-event batch's ~50 KB were
   * copied out of the writer, then freed by the GC after the write, a malloc and a free each in Node's heap).
   */
  private readonly lines = new LineWriter();
  private closeRequests: Array<(s: Segment | null) => void> = [];
  /** Segments closed because they were full, oldest first, not yet handed out by next(). */
  private fullSegments: Segment[] = [];
  private running = false;
  private idle: Promise<void> = Promise.resolve();
  private failure: Error | null = null;
  private closed = false;
  /** Lines accepted (waiting for their write, written, or in closed segments) and not yet loaded. */
  private backlog = 0;
  /** Group writes (write + fdatasync) so far. */
  private groupWrites = 0;

  private constructor(
    private readonly opts: SegmentLogOptions,
    seq: number,
  ) {
    this.current = this.create(seq);
  }

  /**
   * Opens the log in `opts.dir`: segments at or below `loadedThrough` are deleted, the others are read back
   * (their keys go into the dedupe memory) and returned, oldest first, to be loaded before anything newer.
   */
  static open(opts: SegmentLogOptions, loadedThrough: number): { log: SegmentLog; unloaded: Segment[] } {
    makeDir(opts.dir); // not mkdirSync's recursive option, which can spin forever (core/fs.ts)
    const found = readdirSync(opts.dir)
      .map((f) => SEGMENT.exec(f))
      .filter((m) => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    const unloaded: Segment[] = [];
    for (const seq of found) {
      const path = join(opts.dir, segmentName(seq));
      if (seq <= loadedThrough) rmSync(path, { force: true });
      else {
        const seg = recover(path, seq, opts.dedupe, seq === found.at(-1));
        if (seg.events.length + seg.rejected > 0) unloaded.push(seg);
        else rmSync(path, { force: true });
      }
    }
    // Numbered right after the last segment that will be loaded, not after the last file found: readers wait
    // for `open.seq - 1` (Loader.settled), and the segment open at a crash is usually empty and deleted just
    // above, so numbering after it left every read after such a restart waiting for a load that never came.
    const log = new SegmentLog(opts, Math.max(loadedThrough, unloaded.at(-1)?.seq ?? 0) + 1);
    for (const s of unloaded) log.backlog += s.events.length + s.rejected;
    return { log, unloaded };
  }

  /** Lines accepted and not yet loaded. */
  get pending(): number {
    return this.backlog;
  }

  /** Group writes (one write and one fdatasync each) since the log was opened. */
  get writes(): number {
    return this.groupWrites;
  }

  /** The open segment: its seq, its line count and when its first line was written (0: empty). */
  get open(): { seq: number; lines: number; firstAt: number } {
    const c = this.current;
    return { seq: c.seq, lines: c.events.length + c.rejected, firstAt: c.firstAt };
  }

  /** Full segments closed and waiting for next(). */
  get full(): number {
    return this.fullSegments.length;
  }

  /**
   * Makes the batch's new events and its rejections durable; resolves once they are. Events whose key the
   * dedupe memory holds are duplicates (not written); the others' keys are added at once, so a copy in the
   * same batch or in a request arriving while this one is written is a duplicate too. A duplicate is only
   * reported after the write that follows it, so it is never acknowledged before the copy it stands for.
   * A refusal is a rejected promise, never a throw: a caller that starts two submits in one expression
   * (dialects/shared.ts) would otherwise leave the first one's rejection unhandled, which ends the process.
   */
  submit(batch: IngestBatch): Promise<IngestResult> {
    if (this.failure) return Promise.reject(unavailable());
    if (this.closed) {
      return Promise.reject(
        new IntakeError('INTAKE_ERR_SHUTTING_DOWN', 'the server is shutting down; retry'),
      );
    }
    const size = batch.events.length + batch.rejected.length;
    if (size === 0) return Promise.resolve({ duplicate: [] });
    if (this.backlog > 0 && this.backlog + size > this.opts.queueLimit) {
      return Promise.reject(
        new IntakeError(
          'INTAKE_ERR_OVERLOADED',
          `${this.backlog} events are waiting to be loaded (limit ${this.opts.queueLimit}); retry shortly`,
          undefined,
          { 'retry-after': '1' },
        ),
      );
    }
    const { dedupe } = this.opts;
    const duplicate = new Array<boolean>(batch.events.length);
    const dictionary = this.waitingDictionary;
    const views = this.waitingViews;
    const lines = this.lines;
    let added = 0;
    for (let i = 0; i < batch.events.length; i++) {
      const rec = batch.events[i] as EventRecord;
      const key = dedupeKey(rec.event.workspaceId, rec.event.messageId);
      duplicate[i] = !dedupe.addNew(key, rec.event.receivedAt);
      if (duplicate[i]) continue;
      lines.event(rec, key);
      views.add(rec.event);
      dictionary.add(rec.event);
      added++;
    }
    for (const r of batch.rejected) lines.rejection(r);
    this.backlog += added + batch.rejected.length;
    return this.wait(batch.rejected.length, duplicate);
  }

  /**
   * The request's place in the next group write. A method of its own: a closure made in submit() would hold
   * submit's whole scope, and with it the batch (every canonical event with its properties and context) until
   * the write is durable, which had the GC copy and promote ~1 KB per event (ingest/ingest.ts).
   */
  private wait(rejected: number, duplicate: boolean[]): Promise<IngestResult> {
    // No closure of its own either: under tsx (esbuild's keepNames) a named arrow made per call is wrapped in
    // __name(), an Object.defineProperty per request (~2 µs of a single event's ~100).
    return new Promise<IngestResult>((resolve, reject) => {
      this.waiting.push({ rejected, result: { duplicate }, resolve, reject });
      this.kick();
    });
  }

  /**
   * The next segment to load: the oldest full one, else the open one, closed after the write in flight; null
   * when there is nothing to load.
   */
  next(): Promise<Segment | null> {
    const full = this.fullSegments.shift();
    if (full) return Promise.resolve(full);
    return new Promise((resolve) => {
      this.closeRequests.push(resolve);
      this.kick();
    });
  }

  /** A loaded segment: its lines no longer count against the queue limit. Its file stays until discard(). */
  loaded(seg: Segment): void {
    this.backlog -= seg.events.length + seg.rejected;
  }

  /** Deletes a loaded segment's file, once the store holds its rows durably (sink.durableThrough). */
  discard(path: string): void {
    unlink(path, () => {}); // at or below loaded_through: a leftover is deleted at the next start
  }

  /** loaded() and discard() at once: for a store whose loads are durable when they resolve. */
  release(seg: Segment): void {
    this.loaded(seg);
    this.discard(seg.path);
  }

  /** Refuses new batches and waits until every accepted one is written. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.running) await this.idle;
  }

  /** After close() and the last load: closes the open segment's file, deleting it if it is empty. */
  closeFiles(): void {
    const c = this.current;
    closeQuietly(c.fd);
    if (c.events.length + c.rejected === 0) rmSync(c.path, { force: true });
  }

  private kick(): void {
    if (this.running) return;
    this.running = true;
    // Yield once so requests parsed in the same tick join this first write.
    this.idle = new Promise<void>((done) => setImmediate(() => this.run().finally(done)));
  }

  private async run(): Promise<void> {
    while (this.waiting.length > 0 || this.closeRequests.length > 0) {
      if (this.waiting.length > 0) {
        const dictionary = this.waitingDictionary;
        const views = this.waitingViews;
        this.waitingDictionary = new DictionaryBatch();
        this.waitingViews = new ProfileViews(this.names);
        await this.flush(this.waiting.splice(0), dictionary, views);
      }
      if (this.closeRequests.length > 0) {
        // A segment that filled up meanwhile goes first.
        const seg = this.fullSegments.shift() ?? this.closeOpen();
        for (const r of this.closeRequests.splice(0)) r(seg);
      }
    }
    this.running = false;
  }

  /** Writes the group's lines (every line in `this.lines`: submit() writes them with the group's requests). */
  private async flush(group: Waiting[], dictionary: DictionaryBatch, views: ProfileViews): Promise<void> {
    if (this.failure) {
      this.lines.clear();
      for (const w of group) w.reject(unavailable());
      return;
    }
    const seg = this.current;
    try {
      const bytes = this.lines.bytes();
      const size = bytes.length;
      if (size > 0) {
        // One write of every request's lines, then the writer's memory is free for the next group. On the main
        // thread: it only copies the group's bytes (tens of KB) into the page cache, where an async write
        // handed the same copy to the thread pool and paid a hand-off and a completion on each side (main thread
        // 88.4 -> 79.4 and 81.7 -> 78.1 µs per single event, process 127.6 -> 106.3 and 117.7 -> 104.4,
        // alternated). The wait for the disk, fdatasync, stays off the main thread. What could block this write
        // is the kernel throttling a writer for dirty pages; every group is fdatasync'ed before the next is
        // written, so the log never has more than one group's bytes dirty (a 100-event batch group: ~0.4 MB).
        // Measured with another process writing 12 GB at 365 MB/s beside 100-event batches (dd, 30 s): this
        // write took 0.1-0.6 ms on average per 2 s and 8.8 ms at most, 7 of ~3,800 over 5 ms.
        let off = 0;
        try {
          while (off < size) off += writeSync(seg.fd, bytes, off, size - off);
        } finally {
          this.lines.clear();
        }
        const [, unnamed] = await Promise.all([fdatasyncAsync(seg.fd), seg.named]);
        if (unnamed) throw unnamed;
        this.groupWrites++;
      }
    } catch (err) {
      // What reached the disk is unknown, and the dedupe memory already holds these keys: accept nothing
      // more until a restart rebuilds it from what is durable (as PostgreSQL does after a failed fsync).
      this.failure = err as Error;
      for (const w of group) w.reject(unavailable());
      return;
    }
    const before = seg.events.length + seg.rejected;
    // The dictionary sees what was written, once: no duplicate, nothing of a failed write.
    if (seg.dictionary.events === 0) seg.dictionary = dictionary;
    else if (dictionary.events > 0) seg.dictionary.merge(dictionary);
    seg.events.append(views);
    for (const w of group) {
      seg.rejected += w.rejected;
      w.resolve(w.result);
    }
    const lines = seg.events.length + seg.rejected;
    if (before === 0 && lines > 0) seg.firstAt = Date.now();
    if (lines >= this.opts.segmentLines) this.fullSegments.push(this.closeOpen() as Segment);
    if (lines > before) this.opts.onWritten?.(lines);
  }

  /** Swaps in a new segment; the old one, if it has lines, is returned for loading. */
  private closeOpen(): Segment | null {
    const c = this.current;
    if (c.events.length + c.rejected === 0) return null;
    this.current = this.create(c.seq + 1);
    closeQuietly(c.fd);
    return new Segment(c.seq, c.path, c.events, c.rejected, c.dictionary);
  }

  private create(seq: number): OpenSegment {
    const path = join(this.opts.dir, segmentName(seq));
    const fd = openSync(path, 'wx');
    return {
      seq,
      path,
      fd,
      events: new ProfileViews(this.names),
      rejected: 0,
      dictionary: new DictionaryBatch(),
      firstAt: 0,
      named: this.syncDir(),
    };
  }

  /**
   * fsyncs the log's folder, so a new segment's name survives a crash as surely as the lines written into it.
   * Off the main thread: done there it blocked the event loop for a journal commit at every new segment (1-4
   * ms on this machine's disk when idle, far longer behind another process's writes).
   */
  private async syncDir(): Promise<Error | null> {
    try {
      const dir = await open(this.opts.dir, 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
      return null;
    } catch (err) {
      return err as Error;
    }
  }
}

/** Closing a segment whose lines were all fdatasync'ed: a failure here loses nothing. */
function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed or invalid
  }
}

const unavailable = () =>
  new IntakeError(
    'INTAKE_ERR_STORE_UNAVAILABLE',
    'the ingest log could not be written; nothing more is accepted until the server restarts',
  );

/**
 * Reads a segment left by a previous run. Every acknowledged line was fdatasync'ed, so in the segment that was
 * open at a crash whatever follows the last good line (a line cut short, or blocks never written) was never
 * acknowledged: the file is truncated there. An unreadable line anywhere else is corruption, and the server
 * refuses to start rather than lose or invent events.
 */
function recover(path: string, seq: number, dedupe: DedupeSet, wasOpen: boolean): Segment {
  const text = readFileSync(path, 'utf8');
  const seg = new Segment(seq, path);
  let at = 0;
  for (let n = 1; at < text.length; n++) {
    const nl = text.indexOf('\n', at);
    let d: ReturnType<typeof decodeLine> | null = null;
    let problem = 'no newline at its end';
    if (nl >= 0) {
      try {
        d = decodeLine(text.slice(at, nl));
      } catch (err) {
        problem = (err as Error).message;
      }
    }
    if (d === null) {
      if (!wasOpen) throw new Error(`ingest log ${path} line ${n} is unreadable: ${problem}`);
      truncate(path, Buffer.byteLength(text.slice(0, at)));
      break;
    }
    at = nl + 1;
    if (d.kind === 'rejected') seg.rejected++;
    else {
      dedupe.add(d.key, d.event.receivedAt);
      seg.events.add(d.event);
      seg.dictionary.add(d.event);
    }
  }
  return seg;
}

function truncate(path: string, bytes: number): void {
  const fd = openSync(path, 'r+');
  try {
    ftruncateSync(fd, bytes);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
