import { randomBytes } from 'node:crypto';
import {
  BrokerRefused,
  BrokerUnreachable,
  NoAnswer,
  OperatorSession,
  type Received,
} from '../../upstream/operator-session.js';
import { EXIT } from './exit-codes.js';
import { type RemoteFlags, type RemoteSettings, remoteSettings, SettingsError } from './settings.js';
import { changeTopic, infoTopic, isGatewayId, replyTopic, requestTopic } from './topics.js';

/** A gateway's one answer to a request (docs/remote-management.md, "Answers"). */
export interface Answer {
  request: string;
  code: string;
  message: string;
  body?: unknown;
}

/** Requests to gateways, by name, over one operator session. */
export class Admin {
  /** Names this run's reply topics, so two operators' answers never mix. */
  private readonly run = randomBytes(6).toString('hex');

  constructor(
    readonly session: OperatorSession,
    readonly settings: RemoteSettings,
  ) {}

  get prefix(): string {
    return this.settings.prefix;
  }

  async request(
    gateway: string,
    name: string,
    args: Record<string, unknown> = {},
    timeoutMs?: number,
  ): Promise<Answer> {
    const s = this.settings;
    const wait = timeoutMs ?? s.timeoutMs;
    const raw = await this.session.request(
      requestTopic(s.prefix, gateway, name),
      // sent_at lets the gateway refuse a request the broker held too long (remote.max_age), also over 3.1.1.
      // actor in the JSON too: over 3.1.1 there are no user properties (over MQTT 5 the property wins).
      { ...args, sent_at: new Date().toISOString(), actor: s.actor },
      {
        responseTopic: replyTopic(s.prefix, gateway, this.run),
        timeoutMs: wait,
        userProperties: { actor: s.actor },
        expirySeconds: Math.max(1, Math.ceil(wait / 1000)),
      },
    );
    return parseAnswer(raw, name);
  }

  /** The gateway's retained info, or undefined when it has none. */
  async retainedInfo(gateway: string): Promise<Record<string, unknown> | undefined> {
    const got = await this.session.retained(infoTopic(this.prefix, gateway), 300, this.settings.timeoutMs);
    const last = got.at(-1);
    return last?.payload.length ? parseObject(last.payload) : undefined;
  }

  /** Every message on the gateway's change topic (the retained latest first). */
  watchChanges(gateway: string, onChange: (m: Received) => void): Promise<() => Promise<void>> {
    return this.session.watch(changeTopic(this.prefix, gateway), onChange);
  }
}

function parseObject(payload: Buffer): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(payload.toString());
    return typeof v === 'object' && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

export function parseAnswer(raw: Buffer, request: string): Answer {
  const v = parseObject(raw);
  if (!v || typeof v.code !== 'string')
    return { request, code: 'error', message: `unreadable answer: ${raw.toString().slice(0, 200)}` };
  return {
    request: typeof v.request === 'string' ? v.request : request,
    code: v.code,
    message: typeof v.message === 'string' ? v.message : '',
    ...(v.body !== undefined && { body: v.body }),
  };
}

/**
 * Run one `fieldgate remote` command: settings, connect, the command, close. Failures that are not
 * the command's own become their exit code with one line on stderr.
 */
export async function withAdmin(
  flags: RemoteFlags,
  gateway: string | undefined,
  command: (admin: Admin) => Promise<number>,
): Promise<number> {
  if (gateway !== undefined && !isGatewayId(gateway)) {
    console.error(`fieldgate remote: not a gateway id: ${JSON.stringify(gateway)} (letters, digits, _ . -)`);
    return EXIT.usage;
  }
  let settings: RemoteSettings;
  try {
    settings = remoteSettings(flags);
  } catch (err) {
    if (!(err instanceof SettingsError)) throw err;
    console.error(`fieldgate remote: ${err.message}`);
    return EXIT.usage;
  }
  let session: OperatorSession;
  try {
    session = await OperatorSession.connect(settings.session);
  } catch (err) {
    if (!(err instanceof BrokerUnreachable)) throw err;
    console.error(`fieldgate remote: ${err.message}`);
    return EXIT.broker;
  }
  try {
    return await command(new Admin(session, settings));
  } catch (err) {
    if (err instanceof NoAnswer) {
      console.error(
        `fieldgate remote: ${gateway ?? 'gateway'}: ${err.message} (offline, remote.enabled off, or the ACL does not let it hear ${settings.prefix}/${gateway ?? '+'}/admin/req/#)`,
      );
      return EXIT.noAnswer;
    }
    if (err instanceof BrokerRefused) {
      console.error(`fieldgate remote: ${err.message}`);
      return EXIT.broker;
    }
    throw err;
  } finally {
    await session.close();
  }
}
