// A check run every so often, one run at a time, whose failures are left to the next run: how key and plan rings
// on nodes sharing a store notice changes made by other nodes.
export class Poller {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;

  constructor(private readonly check: () => Promise<unknown>) {}

  /** Runs the check every `ms` (a run still going when the next is due is not doubled); does not keep Node alive. */
  start(ms: number): void {
    this.timer = setInterval(() => {
      this.running ??= this.check()
        .catch(() => {})
        .finally(() => {
          this.running = null;
        });
    }, ms);
    this.timer.unref();
  }

  /** Stops; resolves once a run in flight is done. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}
