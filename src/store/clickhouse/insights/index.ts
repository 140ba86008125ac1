// Insights on the ClickHouse store: the engine-neutral descriptions (core/insights.ts) compiled to SQL that runs
// on 18.16 and current releases, answered in the row formats core/insight-shapes.ts turns into answers, as the
// embedded store's are. Each answer carries the statement it ran (?explain=true); its values are in its text.
import {
  type RetentionRow,
  shapeFunnels,
  shapeRetention,
  shapeTrends,
  type TrendsRow,
} from '../../../core/insight-shapes.ts';
import type { InsightReads } from '../../types.ts';
import type { ClickHouse } from '../http.ts';
import { compileFunnels, funnelRows } from './funnels.ts';
import { compileRetention } from './retention.ts';
import { runInsight } from './run.ts';
import { compileTrends } from './trends.ts';

export { compileFunnels, compileRetention, compileTrends };

export function clickhouseInsights(ch: ClickHouse): InsightReads {
  return {
    trends: async (ws, q, opts) => {
      const sql = compileTrends(ws, q);
      const data = await runInsight(ch, sql, opts.timeoutMs);
      const rows = data.map(
        ([series, cur, whole, b, rank, value, v]) =>
          [Number(series), cur === 1, whole === 1, Number(b), Number(rank), value, v] as TrendsRow,
      );
      return { result: shapeTrends(q, rows), sql: [sql] };
    },
    funnels: async (ws, q, opts) => {
      const sql = compileFunnels(ws, q);
      const data = await runInsight(ch, sql, opts.timeoutMs);
      return { result: shapeFunnels(q, funnelRows(q, data)), sql: [sql] };
    },
    retention: async (ws, q, opts) => {
      const sql = compileRetention(ws, q);
      const data = await runInsight(ch, sql, opts.timeoutMs);
      return { result: shapeRetention(q, data as RetentionRow[]), sql: [sql] };
    },
  };
}
