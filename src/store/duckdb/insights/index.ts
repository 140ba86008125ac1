export { compileFunnels, type FunnelRow, shapeFunnels } from './funnels.ts';
export { compileRetention, type RetentionRow, shapeRetention } from './retention.ts';
export { runInsight } from './run.ts';
export { compileTrends, shapeTrends, type TrendsRow } from './trends.ts';
