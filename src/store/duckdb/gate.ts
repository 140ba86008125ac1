// When the store's calls may run. Reads run at any time but the moment the database file is swapped; a purge
// (purge.ts) copies the file while reads and segment loads go on, so every other write waits for it to end,
// or the copy would miss what it wrote.

/** Readers, writers, a freeze of the writers (a purge's copy), and exclusive sections (the file swap). */
export class Gate {
  /** Calls inside shared() or mutating(). */
  private running = 0;
  /** Calls inside mutating(). */
  private mutators = 0;
  private closed: Promise<void> | null = null;
  private frozen: Promise<void> | null = null;
  /** Woken whenever a call ends; each re-checks what it waits for. */
  private waiting: Array<() => void> = [];

  /** A call the purge lets through: waits only for an exclusive section. */
  async shared<T>(fn: () => Promise<T>): Promise<T> {
    while (this.closed) await this.closed;
    this.running++;
    try {
      return await fn();
    } finally {
      this.running--;
      this.wake();
    }
  }

  /** A call that writes what a purge's copy must hold: waits while the gate is frozen, too. */
  async mutating<T>(fn: () => Promise<T>): Promise<T> {
    while (this.closed || this.frozen) await (this.closed ?? this.frozen);
    this.running++;
    this.mutators++;
    try {
      return await fn();
    } finally {
      this.running--;
      this.mutators--;
      this.wake();
    }
  }

  /** Runs fn once the mutating calls in flight have ended, with new ones waiting until it returns. */
  async freeze<T>(fn: () => Promise<T>): Promise<T> {
    while (this.frozen) await this.frozen;
    const release = this.hold((p) => {
      this.frozen = p;
    });
    try {
      await this.until(() => this.mutators === 0);
      return await fn();
    } finally {
      this.frozen = null;
      release();
    }
  }

  /** Runs fn alone: new calls wait, the ones in flight end first. */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    while (this.closed) await this.closed;
    const release = this.hold((p) => {
      this.closed = p;
    });
    try {
      await this.until(() => this.running === 0);
      return await fn();
    } finally {
      this.closed = null;
      release();
    }
  }

  private hold(set: (p: Promise<void>) => void): () => void {
    let release = () => {};
    set(
      new Promise<void>((r) => {
        release = r;
      }),
    );
    return release;
  }

  private async until(done: () => boolean): Promise<void> {
    while (!done()) await new Promise<void>((r) => this.waiting.push(r));
  }

  private wake(): void {
    for (const w of this.waiting.splice(0)) w();
  }
}

/**
 * Every own method of `target` (arrow-function fields) runs through the gate: those named in `duringPurge` as
 * shared calls, the rest as mutating ones, so a method added later waits for a purge unless someone decided
 * it need not. Those in `skip` are left alone.
 */
export function gateMethods(
  target: object,
  gate: Gate,
  opts: { duringPurge: readonly string[]; skip: readonly string[] },
): void {
  const t = target as Record<string, unknown>;
  for (const key of Object.keys(t)) {
    const fn = t[key];
    if (typeof fn !== 'function' || opts.skip.includes(key)) continue;
    const call = (...args: unknown[]) => (fn as (...a: unknown[]) => Promise<unknown>)(...args);
    t[key] = opts.duringPurge.includes(key)
      ? (...args: unknown[]) => gate.shared(() => call(...args))
      : (...args: unknown[]) => gate.mutating(() => call(...args));
  }
}
