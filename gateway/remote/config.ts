import { z } from 'zod';
import { bytes, duration } from '../../contracts/units.js';

/** `remote:` — management over the broker (docs/remote-management.md). Off unless enabled. */
export const remoteConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    /** Topics are `<prefix>/<gateway.id>/admin/…`. */
    prefix: z
      .string()
      .regex(/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/, 'expected topic levels of letters, digits, _ or -')
      .default('fieldgate'),
    /** The retained `info` is republished this often (and on connect and on change). */
    info_interval: duration().default(300_000),
    /** After a change that needs a restart: uplink and adapters must be up within this, else rollback. */
    confirm_within: duration().default(300_000),
    /** A request whose `sent_at` is older than this is refused (MQTT 5 Message Expiry is honoured too). */
    max_age: duration().default(600_000),
    /** Larger requests are refused unread. */
    max_request_size: bytes().default(256 * 1024),
    /**
     * Where a config set remotely is written. Default: `remote-config.yaml` in gateway.state_dir (the
     * one place the systemd unit lets the service write); used in preference to the `-c` file at start.
     */
    config_file: z.string().min(1).optional(),
  })
  .prefault({});

export type RemoteConfig = z.output<typeof remoteConfigSchema>;
