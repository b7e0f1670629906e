import type { TelemetryStore } from './store';
import type { ClusterSnapshot } from './snapshot';

/**
 * Keeps a read-only snapshot of the store for the hot path. Writers call
 * `changed()`; the snapshot is rebuilt at most every `refreshMs` (immediately
 * for inventory changes via `refresh()`), so decisions never wait on ingest
 * and ingest never pays a rebuild per sample.
 */
export class SnapshotCollector {
  private snap: ClusterSnapshot;
  private builtAt = -Infinity;
  private builtChange = -1;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: TelemetryStore,
    private readonly refreshMs: number,
    private readonly clock: () => number = Date.now,
  ) {
    this.snap = store.snapshot();
    this.builtChange = store.changeCount;
  }

  /** The current snapshot; never blocks. */
  current(): ClusterSnapshot {
    return this.snap;
  }

  /** Rebuilds now if anything changed since the last build. */
  refresh(): ClusterSnapshot {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.store.changeCount !== this.builtChange) {
      this.builtChange = this.store.changeCount;
      this.snap = this.store.snapshot();
      this.builtAt = this.clock();
    }
    return this.snap;
  }

  /** Telemetry changed: rebuild now if the last build is old enough, else soon. */
  changed(): void {
    const wait = this.builtAt + this.refreshMs - this.clock();
    if (wait <= 0) this.refresh();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.refresh(), wait);
      this.timer.unref();
    }
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
