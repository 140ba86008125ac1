// Runs tasks one at a time, in call order: a task starts once the previous one settled (a failed one does not
// stop the next). The embedded store's writer connection, the ClickHouse store's loads and deletions, and a
// loader's hold of the profile lock each take one thing at a time this way.

export class Serial {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn);
    this.tail = next.catch(() => {});
    return next;
  }
}
