// A sleep that another caller may end early: the loops that wait for work (the loaders, reads waiting for the
// loaders' acks) sleep on one, and whoever brings work wakes them.
export class Alarm {
  private ring: (() => void) | null = null;

  /** Resolves after `ms`, or as soon as wake() is called, whichever comes first. One sleeper at a time. */
  sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.ring = null;
        resolve();
      }, ms);
      this.ring = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  /** Ends the sleep in progress, if there is one. */
  wake(): void {
    const ring = this.ring;
    this.ring = null;
    ring?.();
  }
}
