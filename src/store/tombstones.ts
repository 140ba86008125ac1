// Who hears of a deletion's tombstones (Store.onTombstones: the log, which refuses the keys). A store resumes the
// deletions a crash interrupted as it opens, before anyone can listen; the runtime listens once its log is open,
// and the log rebuilt its memory from a store read that may have begun before such a deletion committed. So the
// keys handed over while nobody listened are kept for the first listener: without them a restart's log accepted
// a deleted person's messageIds again until the next restart.

export class TombstoneListeners {
  private readonly listeners: Array<(keys: string[]) => void> = [];
  /** Keys handed over before the first listener came (none once one has). */
  private unheard: string[][] = [];

  add(listener: (keys: string[]) => void): void {
    this.listeners.push(listener);
    for (const keys of this.unheard.splice(0)) listener(keys);
  }

  /** Hands a deletion's keys to every listener, or keeps them for the first one. */
  hand(keys: string[]): void {
    if (this.listeners.length === 0) this.unheard.push(keys);
    for (const l of this.listeners) l(keys);
  }
}
