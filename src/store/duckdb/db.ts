// A thin wrapper over a DuckDB connection: bound parameters only, and driver errors wrapped once with the query.
import {
  type DuckDBConnection,
  type DuckDBDataChunk,
  type DuckDBInstance,
  type DuckDBPendingResult,
  type DuckDBResult,
  DuckDBTimestampValue,
  type DuckDBType,
  type DuckDBValue,
} from '@duckdb/node-api';
import bindings from '@duckdb/node-bindings';

export class StoreError extends Error {
  constructor(
    message: string,
    readonly sql: string,
    options: { cause: unknown },
  ) {
    super(message, options);
  }
}

export type Row = Record<string, unknown>;

/**
 * Where a query's own connection comes from: the store's database, already in use on it (the store attaches its
 * file to an in-memory instance, index.ts, so a bare `instance.connect()` would land in the empty one).
 */
export type Connector = Pick<DuckDBInstance, 'connect'>;

export const ts = (d: Date): DuckDBTimestampValue => new DuckDBTimestampValue(BigInt(d.getTime()) * 1000n);

/**
 * Why a connection may leave its statements to DuckDB's threads. The driver runs a statement on one of libuv's
 * threads, which DuckDB makes execute tasks until the statement is done; when the only task (a load's INSERT
 * from read_json, its COMMIT, a CHECKPOINT) was taken by DuckDB's own worker thread, that thread does not wait:
 * it asks again in a loop (PendingQueryResult::ExecuteInternal busy-waits on NO_TASKS_AVAILABLE) for as long as
 * the task runs. Started instead (the pending result made on the event loop) and checked every millisecond (a
 * check executes nothing), the statement costs its own work only. But making the pending result plans a
 * statement with bound parameters again with their values, and initializes its operators, on the event loop:
 * so only statements without parameters go this way. Measured on 10,000-event segments in process
 * (bench/capacity.ts, threads=2, the three variants alternated load by load, machine busy): the load's CPU
 * 25.2 us/event all on the driver's path, 14.8 with parameterless statements watched (0.5 us/event of event
 * loop, at most 14 ms for one statement), 12.3 with the dictionary's prepared MERGEs watched too (but 3.3
 * us/event of event loop, up to 78 ms at once: not kept). On a quiet machine, 18.0 -> 11.0 us/event (threads=1:
 * 10.0); threads=1 would also take the second thread from every query.
 */
const READY = bindings.PendingState.RESULT_READY;
const RUNNING = new Set([bindings.PendingState.RESULT_NOT_READY, bindings.PendingState.NO_TASKS_AVAILABLE]);
const tick = () => new Promise<void>((r) => setTimeout(r, 1));

/** The driver's handle of a pending result (a private field of the node API's wrapper). */
const handleOf = (p: DuckDBPendingResult): bindings.PendingResult =>
  (p as unknown as { pending_result: bindings.PendingResult }).pending_result;

/**
 * The result of a started statement once DuckDB's threads have run it, checked every millisecond. An error
 * found while it ran is thrown as the driver would report it; any other state but running (ready, a statement
 * with nothing to schedule) hands over to the driver's own execution, which then finishes at once.
 */
async function watched(p: DuckDBPendingResult): Promise<DuckDBResult> {
  const h = handleOf(p);
  for (;;) {
    const s = bindings.pending_execute_check_state(h);
    if (s === bindings.PendingState.ERROR) {
      // A statement with nothing to schedule (SET, DDL) reports ERROR without a message: the driver runs it.
      const message = bindings.pending_error(h);
      if (message) throw new Error(message);
      break;
    }
    if (s === READY || !RUNNING.has(s)) break;
    await tick();
  }
  return p.getResult();
}

export interface DbOptions {
  /**
   * Parameterless statements run on DuckDB's own threads and this connection only watches them (see
   * `watched`): for the connection that loads, whose statements are mostly one task each. Needs threads >= 2
   * (with one thread, only the caller executes tasks). Default false: the caller works on the statement's
   * tasks too, as queries want.
   */
  background?: boolean;
}

export class Db {
  private readonly background: boolean;
  /** The end of the stream each() has open or is about to open on this connection, null when none. */
  private streaming: Promise<void> | null = null;
  /** run() and all() statements under way, which a stream waits for before it opens. */
  private running = 0;
  /** each() waiting for those statements to end. */
  private quiet: Array<() => void> = [];

  constructor(
    readonly conn: DuckDBConnection,
    opts: DbOptions = {},
  ) {
    this.background = opts.background === true;
  }

  /**
   * `types` gives the parameters' types where their values cannot: the driver types a list by its first item,
   * so a list of text starting with null would otherwise bind as a list of NULLs.
   */
  async run(sql: string, params: DuckDBValue[] = [], types?: DuckDBType[]): Promise<number> {
    if (this.streaming) await this.streamed();
    this.running++;
    try {
      const r =
        this.background && params.length === 0
          ? await watched(await this.conn.start(sql))
          : await this.conn.run(sql, params, types);
      return r.rowsChanged;
    } catch (cause) {
      throw new StoreError(`duckdb: ${(cause as Error).message}`, sql, { cause });
    } finally {
      this.ended();
    }
  }

  async all(sql: string, params: DuckDBValue[] = []): Promise<Row[]> {
    if (this.streaming) await this.streamed();
    this.running++;
    try {
      const reader = await this.conn.runAndReadAll(sql, params);
      return reader.getRowObjectsJS() as Row[];
    } catch (cause) {
      throw new StoreError(`duckdb: ${(cause as Error).message}`, sql, { cause });
    } finally {
      this.ended();
    }
  }

  /**
   * Runs `sql` and hands its rows to `each`, a chunk at a time, without holding them all. The one way to stream
   * on a connection that other code also uses: DuckDB ends a connection's open stream, without an error, when
   * the next statement starts on it, and a reader then saw the rows fetched so far as the whole answer (the
   * log's dedupe keys were cut short that way, 565559a). So the stream opens once the run() and all() under way
   * have ended (one of them prepared but not yet run would otherwise run on top of it), and run(), all() and
   * each() started meanwhile wait for its end. `each` must not wait on another statement of this Db (it would
   * wait for itself). Statements made directly on `conn` (prepare, appenders) are not held back.
   */
  async each(sql: string, params: DuckDBValue[], each: (chunk: DuckDBDataChunk) => void): Promise<void> {
    if (this.streaming) await this.streamed();
    let end = () => {};
    this.streaming = new Promise<void>((resolve) => {
      end = resolve;
    });
    try {
      if (this.running > 0) await new Promise<void>((resolve) => this.quiet.push(resolve));
      for await (const chunk of chunks(await this.conn.stream(sql, params))) each(chunk);
    } catch (cause) {
      throw new StoreError(`duckdb: ${(cause as Error).message}`, sql, { cause });
    } finally {
      this.streaming = null;
      end();
    }
  }

  /** Waits until no stream is open on this connection. */
  private async streamed(): Promise<void> {
    while (this.streaming) await this.streaming;
  }

  private ended(): void {
    if (--this.running === 0) for (const resolve of this.quiet.splice(0)) resolve();
  }
}

/** A streamed result's chunks, until the empty one that ends it. */
export async function* chunks(result: DuckDBResult): AsyncGenerator<DuckDBDataChunk> {
  for (
    let chunk = await result.fetchChunk();
    chunk && chunk.rowCount > 0;
    chunk = await result.fetchChunk()
  ) {
    yield chunk;
  }
}

/**
 * Begins a transaction on a read's own connection, before its statement is prepared; the connection's close
 * ends it. DuckDB plans a prepared statement (the driver prepares every statement given parameters, and every
 * stream) with the table's statistics of that moment and drops a filter they prove always true: a load committed
 * between the prepare and the run then added rows the filter excludes to the answer (a count over
 * `timestamp >= '2020-01-01'` counted a late event of 2019; test/store/duckdb-sql-snapshot.test.ts). In a
 * transaction begun before the prepare, the run reads the table as the plan saw it.
 */
export async function snapshot(conn: DuckDBConnection): Promise<void> {
  await conn.run('BEGIN TRANSACTION');
}

/** DuckDB TIMESTAMP values come back as Date through getRowObjectsJS. */
export const date = (v: unknown): Date => (v instanceof Date ? v : new Date(String(v)));
export const dateOrNull = (v: unknown): Date | null => (v === null || v === undefined ? null : date(v));
export const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
