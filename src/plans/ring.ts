// Every workspace's tracking plan, compiled once per version and held in memory (as the key ring holds keys and
// settings): the ingest path asks `of(workspaceId)` for each request and never waits for the store. A plan saved
// through the ring is compiled before it is stored (a schema that does not compile is refused, and nothing is
// saved), and replaces the old one in memory once stored: it applies from the next request.

import { IntakeError } from '../core/errors.ts';
import { Poller } from '../core/poll.ts';
import { CompiledPlan } from '../pipeline/plan/check.ts';
import { PlanError } from '../pipeline/plan/format.ts';
import type { Store, StoredPlan } from '../store/types.ts';

export class PlanRing {
  private compiled = new Map<string, CompiledPlan>();
  /** Plans stored that did not compile at start (a dependency upgrade that reads a schema differently). */
  readonly failed = new Map<string, string>();
  private version: string | null = null;
  private readonly poller = new Poller(() => this.refresh());

  constructor(private readonly store: Store) {}

  /** Compiles every workspace's current plan. One that no longer compiles is left out and listed in `failed`. */
  async load(): Promise<void> {
    // Read before the plans: a save in between moves it again, and the next check reloads.
    const version = await this.store.plans.plansVersion();
    const compiled = new Map<string, CompiledPlan>();
    this.failed.clear();
    for (const p of await this.store.plans.currentPlans()) {
      try {
        compiled.set(p.workspaceId, CompiledPlan.of(p.plan, p.version));
      } catch (err) {
        this.failed.set(p.workspaceId, (err as Error).message);
      }
    }
    this.compiled = compiled;
    this.version = version;
  }

  /**
   * Checks the store's plans version every `ms` and recompiles when another node saved a plan (a store shared
   * by a cluster); a plan saved here is in force at once without it.
   */
  watch(ms = 1000): void {
    this.poller.start(ms);
  }

  /** Recompiles when the store's plans version moved since the last load; true when it did. */
  async refresh(): Promise<boolean> {
    if ((await this.store.plans.plansVersion()) === this.version) return false;
    await this.load();
    return true;
  }

  /** Stops watching; resolves once a check in flight is done (the store may then be closed). */
  stop(): Promise<void> {
    return this.poller.stop();
  }

  /** The workspace's plan; CompiledPlan.NONE when it has none. */
  of(workspaceId: string): CompiledPlan {
    return this.compiled.get(workspaceId) ?? CompiledPlan.NONE;
  }

  /**
   * Checks and compiles `doc`, stores it as the workspace's next version and puts it in force. A document that
   * is not a plan, or a schema that does not compile, is a 400 INTAKE_ERR_INVALID_BODY naming the field.
   */
  async save(workspaceId: string, doc: unknown, at: Date): Promise<StoredPlan> {
    const plan = compileOrRefuse(doc);
    const stored = await this.store.plans.savePlan(workspaceId, doc as Record<string, unknown>, at);
    this.compiled.set(workspaceId, plan.withVersion(stored.version));
    this.failed.delete(workspaceId);
    return stored;
  }

  /** Forgets a deleted workspace's plan. */
  forget(workspaceId: string): void {
    this.compiled.delete(workspaceId);
  }
}

/** Compiles a plan document, or throws the coded 400 that names what is wrong with it. */
export function compileOrRefuse(doc: unknown): CompiledPlan {
  try {
    return CompiledPlan.of(doc, 0);
  } catch (err) {
    if (err instanceof PlanError)
      throw new IntakeError('INTAKE_ERR_INVALID_BODY', err.message, { field: err.field });
    throw err;
  }
}
