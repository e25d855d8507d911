import { loadConfig } from '../config/load.js';
import { lockStateDir, StateDirBusyError } from '../lifecycle/instance-lock.js';
import { listStoredSessions, purgeStoredSessions } from '../store/device-sessions.js';
import { confirm } from './queue.js';

interface SessionsOptions {
  config: string;
  /** Client ids to purge. */
  id?: string[];
  /** Purge every session last seen at this address. */
  source?: string;
  json?: boolean;
  yes?: boolean;
}

/**
 * `fieldgate sessions list|purge`: the MQTT-SN sessions (clean-session=false devices) in the store.
 * list reads beside a running gateway; purge needs it stopped (a running gateway would write its
 * sessions back), so it takes the state directory's lock for the time it deletes.
 */
export async function sessionsCommand(action: string, opts: SessionsOptions): Promise<number> {
  const dir = loadConfig(opts.config).gateway.state_dir;
  switch (action) {
    case 'list': {
      const rows = listStoredSessions(dir);
      if (opts.json) {
        for (const r of rows) console.log(JSON.stringify(r));
        return 0;
      }
      console.log(
        'client id               source                 state    last seen                 topics   subs      bytes',
      );
      for (const r of rows)
        console.log(
          [
            r.clientId.padEnd(23),
            (r.address ?? '-').padEnd(22),
            (r.live ? 'live' : 'offline').padEnd(8),
            new Date(r.lastSeen).toISOString().padEnd(25),
            String(r.topics).padStart(6),
            String(r.subs).padStart(6),
            String(r.bytes).padStart(10),
          ].join(' '),
        );
      console.log(`${rows.length} stored session${rows.length === 1 ? '' : 's'}`);
      return 0;
    }
    case 'purge': {
      const ids = opts.id ?? [];
      if (ids.length === 0 && opts.source === undefined) {
        console.error('sessions purge: name what to delete: --id <client id>... and/or --source <address>');
        return 2;
      }
      const what = [
        ...(ids.length ? [`client id ${ids.join(', ')}`] : []),
        ...(opts.source !== undefined ? [`every session last seen at ${opts.source}`] : []),
      ].join(' and ');
      if (!opts.yes && !(await confirm(`Delete the stored sessions of ${what} in ${dir}? Type "yes": `))) {
        console.error('not purged');
        return 1;
      }
      let unlock: () => void;
      try {
        unlock = lockStateDir(dir);
      } catch (err) {
        if (!(err instanceof StateDirBusyError)) throw err;
        console.error(`${err.message} (systemctl stop fieldgate), then purge`);
        return 1;
      }
      try {
        const gone = purgeStoredSessions(dir, { ids, address: opts.source });
        console.log(
          `purged ${gone.length} stored session${gone.length === 1 ? '' : 's'}${gone.length ? `: ${gone.join(', ')}` : ''}`,
        );
        return 0;
      } finally {
        unlock();
      }
    }
    default:
      console.error(`unknown action "${action}": expected list or purge`);
      return 2;
  }
}
