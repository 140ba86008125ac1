// The one place that wires a server: the engine's store and log, read-your-writes over them, the key ring, the
// geolocation database and the HTTP app. The CLI, the tests and the benchmark all start Intake through it.
import type { FastifyBaseLogger } from 'fastify';
import { type BootstrapResult, bootstrap, KeyRing } from '../auth/keys.ts';
import type { Config } from '../core/config.ts';
import type { Preset } from '../core/model.ts';
import { type App, buildApp } from '../http/app.ts';
import { readYourWrites } from '../ingest/read-your-writes.ts';
import type { IngestLog } from '../ingest/types.ts';
import { type GeoReader, openGeoReader } from '../pipeline/enrich/index.ts';
import { PlanRing } from '../plans/ring.ts';
import type { Store } from '../store/types.ts';
import { ENGINES, type EngineHooks, type EngineName, type StoreHooks } from './engines.ts';

export type RuntimeConfig = Omit<Config, 'port' | 'host' | 'logLevel' | 'keys'>;

export interface RuntimeOptions extends EngineHooks {
  /** Default `embedded`. */
  engine?: EngineName;
  /** Tests only: hooks of the embedded store. */
  storeHooks?: StoreHooks;
  /** Keys the default workspace must have (created when missing); absent: none is created. */
  bootstrapKeys?: Partial<Record<Preset, string>>;
  /** The clock; tests pass a fixed one. */
  now?: () => Date;
  logger?: FastifyBaseLogger | boolean;
  /** An opened geolocation database, to share one between runtimes (tests); default: per config.geoipDir. */
  geo?: GeoReader | null;
  /** How often the key and plan rings check the store for changes made by other nodes, in ms. Default 1000. */
  keysRefreshMs?: number;
}

export interface Runtime {
  app: App;
  /** The store as readers see it (reads wait for the log). */
  store: Store;
  log: IngestLog;
  keys: KeyRing;
  /** What bootstrap did: the default workspace and the keys generated now (to print once, after listening). */
  bootstrap: BootstrapResult | null;
  /** Stops the app, loads what the log holds, closes the store. */
  close(): Promise<void>;
}

export async function openRuntime(config: RuntimeConfig, opts: RuntimeOptions = {}): Promise<Runtime> {
  const engine = ENGINES[opts.engine ?? 'embedded'];
  const raw = await engine.openStore(config, opts.storeHooks);
  let log: IngestLog;
  try {
    log = await engine.openLog(raw, config, opts);
  } catch (err) {
    await raw.close().catch(() => {});
    throw err;
  }
  // A deleted person's messageIds are refused from the moment the deletion commits.
  raw.onTombstones((keys) => log.forbid(keys));
  const store = readYourWrites(raw, () => log.settled());
  const keys = new KeyRing(store);
  await keys.load();
  const boot = opts.bootstrapKeys ? await bootstrap(keys, opts.bootstrapKeys) : null;
  // Only a store other nodes also write can change keys behind this ring's back.
  if (engine.shared) keys.watch(opts.keysRefreshMs);
  // Loaded once, before listening: the ingest path only reads it from memory.
  const geo =
    opts.geo !== undefined
      ? opts.geo
      : config.geoipDir === null
        ? null
        : await openGeoReader(config.geoipDir);
  // Compiled once, before listening: the ingest path asks for a workspace's plan from memory.
  const plans = new PlanRing(store);
  await plans.load();
  // Plans saved on another node are polled for the same reason as keys.
  if (engine.shared) plans.watch(opts.keysRefreshMs);
  const app = await buildApp({ config, store, keys, plans, log, now: opts.now, logger: opts.logger, geo });
  return {
    app,
    store,
    log,
    keys,
    bootstrap: boot,
    async close() {
      await keys.stop();
      await plans.stop();
      await app.close(); // waits for in-flight requests, which wait for their log writes
      await log.close();
      await store.close();
      if (opts.geo === undefined) geo?.close(); // opened here; one handed in belongs to its opener
    },
  };
}
