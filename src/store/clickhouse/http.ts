// ClickHouse's HTTP interface over fetch: statements, JSON rows back, JSONEachRow inserts. Not @clickhouse/client:
// it talks to 18.16 (Debian's) for plain queries and inserts, but its bound parameters (`{name:Type}`, sent as
// `param_name`) fail there ("Unknown setting param_a"), so every value must be quoted here anyway (`lit`), and
// what is left (a POST and a JSON parse) needs no dependency.

import { IntakeError } from '../../core/errors.ts';

export class ClickHouseError extends Error {
  constructor(
    message: string,
    /** The statement, for the logs. */
    readonly sql: string,
    /** ClickHouse's error code (Code: N), when it gave one. */
    readonly chCode: number | null,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * ClickHouse cannot be reached (refused, reset, or no answer to a SELECT in time): a coded 503 that a client
 * retries (reads) and the loader retries with the same batch. The statement and the cause are kept for the log;
 * the message a client sees names neither the server's address nor the SQL.
 */
export class ClickHouseUnavailable extends IntakeError {
  constructor(
    readonly why: string,
    readonly sql: string,
    options?: ErrorOptions,
  ) {
    super(
      'INTAKE_ERR_STORE_UNAVAILABLE',
      `the store (ClickHouse) cannot be reached: ${why}; retry`,
      undefined,
      {
        'retry-after': '1',
      },
    );
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

export interface ClickHouseOptions {
  /** Base URL of the HTTP interface, e.g. http://127.0.0.1:8123. */
  url: string;
  database: string;
  user?: string;
  password?: string;
  /**
   * Longest a SELECT waits for its answer, in ms; past it the read fails with ClickHouseUnavailable (503). A server
   * that is stopped (SIGSTOP, a frozen VM) still accepts connections and never answers: without it a read hangs.
   * Writes have none: a write given up on could still land after the load's cleanup (load.ts). Default 30000.
   */
  timeoutMs?: number;
}

export type ChRow = Record<string, unknown>;

/** A ClickHouse string literal: backslash and quote escaped (ClickHouse reads C-style escapes in literals). */
export function lit(v: string | number | boolean | null): string {
  if (v === null) return 'NULL';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`not a finite number: ${v}`);
    return String(v);
  }
  if (typeof v === 'boolean') return v ? '1' : '0';
  return `'${v.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

/** A list literal for IN: ('a', 'b'); never empty (an empty list matches nothing through a NULL). */
export const litList = (vs: Iterable<string>): string => {
  const items = [...vs].map(lit);
  return items.length === 0 ? '(NULL)' : `(${items.join(', ')})`;
};

/** fetch's error for a connection that closed or reset under the request. */
function isClosedConnection(err: unknown): boolean {
  const cause = (err as { cause?: { code?: string } }).cause;
  return ['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE', 'UND_ERR_CLOSED'].includes(cause?.code ?? '');
}

const DEFAULT_TIMEOUT_MS = 30_000;

/** The largest statement text sent: 64 MiB. */
const MAX_QUERY_BYTES = 64 * 1024 * 1024;

export class ClickHouse {
  private readonly base: string;
  private readonly headers: Record<string, string>;

  constructor(readonly opts: ClickHouseOptions) {
    this.base = opts.url.replace(/\/$/, '');
    this.headers = {
      'X-ClickHouse-User': opts.user ?? 'default',
      'X-ClickHouse-Key': opts.password ?? '',
    };
  }

  private async post(
    sql: string,
    body: string,
    settings: Record<string, string | number> = {},
    database: string | null = this.opts.database,
    timeoutMs?: number,
  ): Promise<string> {
    const params = new URLSearchParams();
    if (database !== null) params.set('database', database);
    // Statements carry their values in their text (18.16 binds no parameters), so a load's IN list of 10,000
    // messageIds is ~400 KB: past the default 256 KiB max_query_size, which failed every such load and left the
    // loader retrying (bench/cluster.ts found it). An INSERT's data is not counted against it.
    params.set('max_query_size', String(MAX_QUERY_BYTES));
    for (const [k, v] of Object.entries(settings)) params.set(k, String(v));
    const signal = timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs);
    let res: Response;
    let text: string;
    for (let attempt = 0; ; attempt++) {
      try {
        res = await fetch(`${this.base}/?${params}`, { method: 'POST', headers: this.headers, body, signal });
        text = await res.text();
        break;
      } catch (cause) {
        // A kept-alive connection the server closed meanwhile (its keep_alive_timeout is 3 s by default) fails
        // the next request on it: tried again once, on a new connection. Safe for every statement here: a
        // load's rows are idempotent (load.ts), a document version written twice is the same version.
        if (attempt === 0 && isClosedConnection(cause)) continue;
        if ((cause as Error).name === 'TimeoutError')
          throw new ClickHouseUnavailable(`no answer within ${timeoutMs} ms`, sql, { cause });
        const why = (cause as Error & { cause?: Error }).cause?.message ?? (cause as Error).message;
        throw new ClickHouseUnavailable(why.replaceAll(/\d+\.\d+\.\d+\.\d+:\d+/g, '').trim(), sql, { cause });
      }
    }
    if (!res.ok) {
      const code = /Code: (\d+)/.exec(text);
      throw new ClickHouseError(
        `clickhouse: ${text.trim().slice(0, 2000)}`,
        sql,
        code ? Number(code[1]) : null,
      );
    }
    return text;
  }

  /** Runs a statement that answers nothing (DDL, ALTER, INSERT ... SELECT). */
  async exec(
    sql: string,
    settings?: Record<string, string | number>,
    database?: string | null,
  ): Promise<void> {
    await this.post(sql, sql, settings, database);
  }

  /** Runs a SELECT in `format`, 64-bit integers as numbers, bounded by timeoutMs. */
  private select(sql: string, format: string, settings: Record<string, string | number>): Promise<string> {
    const text = `${sql}\nFORMAT ${format}`;
    return this.post(
      text,
      text,
      { output_format_json_quote_64bit_integers: 0, ...settings },
      this.opts.database,
      this.opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    );
  }

  /** Runs a SELECT; rows as objects, 64-bit integers as numbers. */
  async rows(sql: string, settings: Record<string, string | number> = {}): Promise<ChRow[]> {
    const text = await this.select(sql, 'JSONEachRow', settings);
    const out: ChRow[] = [];
    for (const line of text.split('\n')) if (line !== '') out.push(JSON.parse(line) as ChRow);
    return out;
  }

  /** Runs a SELECT with FORMAT JSONCompact: its columns (name, type) and rows as arrays. */
  async compact(
    sql: string,
    settings: Record<string, string | number> = {},
  ): Promise<{ meta: Array<{ name: string; type: string }>; data: unknown[][] }> {
    const text = await this.select(sql, 'JSONCompact', settings);
    return JSON.parse(text) as { meta: Array<{ name: string; type: string }>; data: unknown[][] };
  }

  /**
   * Runs a SELECT and hands its answer to `onLine` line by line as it arrives (the body of a long answer is never
   * held whole); onLine returning false stops reading and closes the connection. `signal` aborts it.
   */
  async lines(
    sql: string,
    settings: Record<string, string | number>,
    onLine: (line: string) => boolean | Promise<boolean>,
    signal?: AbortSignal,
  ): Promise<void> {
    const params = new URLSearchParams({ database: this.opts.database });
    for (const [k, v] of Object.entries(settings)) params.set(k, String(v));
    let res: Response;
    try {
      res = await fetch(`${this.base}/?${params}`, {
        method: 'POST',
        headers: this.headers,
        body: sql,
        signal,
      });
    } catch (cause) {
      if (signal?.aborted) throw cause;
      const why = (cause as Error & { cause?: Error }).cause?.message ?? (cause as Error).message;
      throw new ClickHouseError(`clickhouse unreachable at ${this.base}: ${why}`, sql, null, { cause });
    }
    if (!res.ok || res.body === null) {
      const text = await res.text();
      const code = /Code: (\d+)/.exec(text);
      throw new ClickHouseError(
        `clickhouse: ${text.trim().slice(0, 2000)}`,
        sql,
        code ? Number(code[1]) : null,
      );
    }
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let rest = '';
    try {
      for (;;) {
        const { done, value } = await reader.read();
        rest += done ? decoder.decode() : decoder.decode(value, { stream: true });
        let nl = rest.indexOf('\n');
        while (nl >= 0) {
          const line = rest.slice(0, nl);
          rest = rest.slice(nl + 1);
          if (!(await onLine(line))) return;
          nl = rest.indexOf('\n');
        }
        if (done) {
          if (rest !== '') await onLine(rest);
          return;
        }
      }
    } finally {
      await reader.cancel().catch(() => {});
    }
  }

  /** Inserts rows (objects keyed by column) in one block: one INSERT, atomic per partition it touches. */
  async insert(table: string, rows: readonly object[]): Promise<void> {
    if (rows.length === 0) return;
    const sql = `INSERT INTO ${table} FORMAT JSONEachRow`;
    let body = `${sql}\n`;
    for (const r of rows) body += `${JSON.stringify(r)}\n`;
    await this.post(sql, body);
  }
}
