import type { Change } from './diff.js';

/** A change written and applied, awaiting confirmation (`pending.json`). Survives restarts and power cuts. */
export interface PendingChange {
  change_id: string;
  hash: string;
  previous_hash: string;
  actor: string;
  /** Wall time of the request (shown only; never used for the deadline). */
  at: string;
  apply: 'hot' | 'restart';
  confirm_within_ms: number;
  /** bootMs() when it was written, and the deadline on that scale (a lower value now means a reboot). */
  written_boot_ms: number;
  deadline_boot_ms: number;
  /** Gateway starts with this config not yet confirmed: a crash loop ends in a rollback. */
  starts: number;
  /** `rolling_back` once a rollback began: a cut in the middle finishes it at the next start. */
  state: 'pending' | 'rolling_back';
  reason?: string;
  diff: Change[];
  user_properties?: Record<string, string | string[]>;
}

/** The state of the latest change, as published retained on `admin/change` (`last-change.json`). */
export interface ChangeState {
  change_id: string;
  state: 'pending' | 'confirmed' | 'rolled_back' | 'failed';
  reason?: string;
  hash: string;
  previous_hash: string;
  at: string;
  actor: string;
  diff?: Change[];
  /** Published on `admin/change` and `admin/audit` already (else: once connected). */
  reported?: boolean;
}
