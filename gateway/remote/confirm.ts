import type { Logger } from '../log.js';
import { bootMs } from './boot-clock.js';
import type { ConfigStore } from './config-store.js';
import type { PendingChange } from './records.js';
import { confirmChange, rollBack } from './start-config.js';

const POLL_MS = 250;

/**
 * The rollback watchdog of a change that went through a restart: confirmed once the uplink is
 * connected and every adapter is up; rolled back (previous config restored, then a restart) when
 * the deadline (on the boot clock) passes first. The deadline lives in the pending record on disk,
 * so a restart or power cut in between does not reset it (a reboot gives a full window again).
 */
export class ConfirmWatch {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: {
      store: ConfigStore;
      pending: PendingChange;
      /** Undefined when everything is up, else what is not (the rollback's reason). */
      notUp: () => string | undefined;
      onConfirmed: () => void;
      onRolledBack: (reason: string) => void;
      logger: Logger;
    },
  ) {}

  start(): void {
    const { pending, logger } = this.deps;
    logger.info(
      {
        changeId: pending.change_id,
        withinS: Math.max(0, Math.round((pending.deadline_boot_ms - bootMs()) / 1000)),
      },
      'config change awaits confirmation: uplink and adapters must come up',
    );
    this.timer = setInterval(() => this.check(), POLL_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private check(): void {
    if (!this.timer) return;
    const { store, pending, logger } = this.deps;
    const missing = this.deps.notUp();
    if (missing === undefined) {
      this.stop();
      confirmChange(store, pending, logger);
      this.deps.onConfirmed();
    } else if (bootMs() >= pending.deadline_boot_ms) {
      this.stop();
      const reason = `not confirmed within ${Math.round(pending.confirm_within_ms / 1000)} s: ${missing}`;
      rollBack(store, pending, reason, logger);
      this.deps.onRolledBack(reason);
    }
  }
}
