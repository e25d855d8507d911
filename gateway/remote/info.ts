import { statfsSync } from 'node:fs';
import type { StatusJson } from '../status/board.js';
import type { ChangeState, PendingChange } from './records.js';

/** What `info` says about the running config. */
export interface RunningConfig {
  hash: string;
  source: 'seed' | 'remote';
  /** Wall time this process began running it (ISO). */
  applied_at: string;
}

export interface InfoSources {
  status: StatusJson;
  config: RunningConfig;
  bootCount: number;
  stateDir: string;
  lastChange: ChangeState | undefined;
  pending: PendingChange | undefined;
}

/** The retained `info` object (docs/remote-management.md, "The info object"). */
export function buildInfo(s: InfoSources) {
  const { status } = s;
  const iso = (ms: number) => new Date(ms).toISOString();
  const { diff: _d, reported: _r, ...last } = s.lastChange ?? ({} as Partial<ChangeState>);
  return {
    id: status.gateway.id,
    version: status.gateway.version,
    node: process.version,
    at: iso(status.gateway.now),
    uptime_s: status.gateway.uptime_s,
    boot_count: s.bootCount,
    config: s.config,
    uplink: {
      state: status.uplink.state,
      broker: status.uplink.broker,
      since: iso(status.uplink.since),
      protocol: status.uplink.protocol,
      last_error: status.uplink.last_error?.message ?? null,
    },
    outbox: {
      rows: status.outbox.rows,
      bytes: status.outbox.bytes,
      oldest_age_s: status.outbox.oldest_age_s,
    },
    set_aside: status.outbox.set_aside,
    devices: status.devices,
    clock: { synchronized: status.clock.synchronized, steps: status.clock.steps },
    disk_free_bytes: diskFree(s.stateDir),
    last_change: s.lastChange ? last : null,
    pending_change: s.pending
      ? { change_id: s.pending.change_id, hash: s.pending.hash, actor: s.pending.actor, at: s.pending.at }
      : null,
  };
}

export type Info = ReturnType<typeof buildInfo>;

function diskFree(dir: string): number | null {
  try {
    const f = statfsSync(dir);
    return f.bavail * f.bsize;
  } catch {
    return null;
  }
}
