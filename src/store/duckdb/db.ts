// A thin wrapper over a DuckDB connection: bound parameters only, and driver errors wrapped once with the query.
import {
  type DuckDBConnection,
  DuckDBTimestampValue,
  type DuckDBType,
  type DuckDBValue,
} from '@duckdb/node-api';

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

export const ts = (d: Date): DuckDBTimestampValue => new DuckDBTimestampValue(BigInt(d.getTime()) * 1000n);

export class Db {
  constructor(readonly conn: DuckDBConnection) {}

  /**
   * `types` gives the parameters' types where their values cannot: the driver types a list by its first item,
   * so a list of text starting with null would otherwise bind as a list of NULLs.
   */
  async run(sql: string, params: DuckDBValue[] = [], types?: DuckDBType[]): Promise<number> {
    try {
      const r = await this.conn.run(sql, params, types);
      return r.rowsChanged;
    } catch (cause) {
      throw new StoreError(`duckdb: ${(cause as Error).message}`, sql, { cause });
    }
  }

  async all(sql: string, params: DuckDBValue[] = []): Promise<Row[]> {
    try {
      const reader = await this.conn.runAndReadAll(sql, params);
      return reader.getRowObjectsJS() as Row[];
    } catch (cause) {
      throw new StoreError(`duckdb: ${(cause as Error).message}`, sql, { cause });
    }
  }
}

/** DuckDB TIMESTAMP values come back as Date through getRowObjectsJS. */
export const date = (v: unknown): Date => (v instanceof Date ? v : new Date(String(v)));
export const dateOrNull = (v: unknown): Date | null => (v === null || v === undefined ? null : date(v));
export const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
