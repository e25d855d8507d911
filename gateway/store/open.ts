import type { Logger } from 'pino';
import type { StoreConfig } from './config.js';
import { dbPath, openDatabase } from './database.js';
import { SqliteDeviceSessions } from './device-sessions.js';
import { GroupCommit } from './group-commit.js';
import { SqliteInbox } from './inbox.js';
import { SqliteKvState } from './kv-state.js';
import type { OutboxLimits } from './limits.js';
import { SqliteOutbox } from './outbox.js';
import type { Store } from '../../contracts/store.js';

export interface OpenStoreOptions {
  /** State directory; created if missing. The database is dir/fieldgate.db. */
  dir: string;
  durability: StoreConfig['durability'];
  /** store.commit_interval (ms): how long an ack may wait for a commit that gathers more readings. */
  commitIntervalMs?: number;
  /** A StoreConfig fits here (its durability is ignored in favour of the option above). */
  limits: OutboxLimits;
  /** Give it a child naming the part (e.g. { part: 'store' }); the store adds no bindings. */
  logger: Logger;
  /** How often queued rows are checked for max_age besides at every flush (ms). */
  expireEveryMs?: number;
}

/** Opens the store synchronously: no table scans, so a large backlog does not delay start-up. */
export function openStore(opts: OpenStoreOptions): Store {
  const { logger } = opts;
  const db = openDatabase(opts.dir, logger);
  const commit = new GroupCommit(
    db,
    logger,
    opts.durability === 'power-loss' ? `${dbPath(opts.dir)}-wal` : undefined,
    opts.commitIntervalMs ?? 0,
  );
  const state = new SqliteKvState(db, commit);
  const outbox = new SqliteOutbox(db, commit, opts.limits, state, logger);
  commit.setHooks(outbox);
  const inbox = new SqliteInbox(db, commit, logger, state);
  const devices = new SqliteDeviceSessions(db, commit);
  const expiry = setInterval(() => commit.tick(), opts.expireEveryMs ?? 5000).unref();
  commit.schedule(); // expire what aged while the gateway was down
  let closed = false;

  return {
    outbox,
    inbox,
    state,
    devices,
    commits$: commit.commits$.asObservable(),
    writeHealth: () => commit.writeHealth(),
    setSenders: (senders) => commit.setSenders(senders),
    close() {
      if (closed) return;
      closed = true;
      clearInterval(expiry);
      outbox.closing = true;
      try {
        commit.close();
      } finally {
        outbox.close();
        inbox.close();
        db.close();
      }
    },
  };
}
