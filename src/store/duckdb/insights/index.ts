export { compileFunnels } from './funnels.ts';
export { compileRetention } from './retention.ts';
export { runInsight } from './run.ts';
export { compileTrends } from './trends.ts';
