import { constants, openSync } from 'node:fs';
import tty from 'node:tty';
import pino, { type Logger } from 'pino';
import { Subject } from 'rxjs';
import { SerialAdapter } from '../../adapters/serial/adapter.js';
import { type SerialPortConfig, serialPortConfigSchema } from '../../adapters/serial/config.js';
import type { Reading } from '../../adapters/types.js';
import type { Inbox, InboxPut, InboxRow } from '../../contracts/store.js';
import type { PtyPair } from '../harness/socat.js';
import { waitFor } from '../harness/wait.js';

/** A port config as the YAML loader would produce it, with fast reopen for tests. */
export function portConfig(input: Record<string, unknown>): SerialPortConfig {
  return serialPortConfigSchema.parse({
    name: 'bench',
    path: '/dev/null',
    reopen: { min: '50ms', max: '200ms' },
    ...input,
  });
}

/** pino logger whose JSON lines land in an array, so tests can count log lines. */
export function memoryLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { logger, lines };
}

/** Tiny in-memory Inbox: the InboxRow contract without SQLite (the real store is used where it matters). */
export class MemoryInbox implements Inbox {
  rows: InboxRow[] = [];
  readonly expired$ = new Subject<InboxRow[]>();
  private next = 1;
  async put(cmd: InboxPut): Promise<number> {
    const id = this.next++;
    this.rows.push({
      ...cmd,
      id,
      createdAt: Date.now(),
      commandId: cmd.commandId ?? null,
      meta: cmd.meta ?? null,
    });
    return id;
  }
  async putAll(cmds: InboxPut[]): Promise<number[]> {
    const ids: number[] = [];
    for (const c of cmds) ids.push(await this.put(c));
    return ids;
  }
  deviceTotals(target: string, device: string): { rows: number; bytes: number } {
    const mine = this.rows.filter((r) => r.target === target && r.device === device);
    return {
      rows: mine.length,
      bytes: mine.reduce((n, r) => n + r.payload.length + Buffer.byteLength(r.topic), 0),
    };
  }
  totalsUnder(prefix: string): { rows: number; bytes: number } {
    const mine = this.rows.filter((r) => r.target.startsWith(prefix));
    return {
      rows: mine.length,
      bytes: mine.reduce((n, r) => n + r.payload.length + Buffer.byteLength(r.topic), 0),
    };
  }
  async removeDeviceTraffic(target: string, device: string): Promise<number> {
    const before = this.rows.length;
    this.rows = this.rows.filter(
      (r) => !(r.target === target && r.device === device && r.commandId === null),
    );
    return before - this.rows.length;
  }
  devices(prefix: string): { target: string; device: string }[] {
    const seen = new Map<string, { target: string; device: string }>();
    for (const r of this.rows)
      if (r.target.startsWith(prefix))
        seen.set(`${r.target}\0${r.device}`, { target: r.target, device: r.device });
    return [...seen.values()];
  }
  pending(target: string, device: string, limit = 100): InboxRow[] {
    const now = Date.now();
    this.rows = this.rows.filter((r) => r.expiresAt === null || r.expiresAt > now);
    return this.rows.filter((r) => r.target === target && r.device === device).slice(0, limit);
  }
  async remove(ids: number[]): Promise<void> {
    this.rows = this.rows.filter((r) => !ids.includes(r.id));
  }
  async expire(now = Date.now()): Promise<InboxRow[]> {
    const gone = this.rows.filter((r) => r.expiresAt !== null && r.expiresAt <= now);
    this.rows = this.rows.filter((r) => !gone.includes(r));
    return gone;
  }
  count(): number {
    return this.rows.length;
  }
}

/** An adapter on the pty's device end, with its readings collected. */
export async function startAdapter(
  pty: PtyPair,
  config: Record<string, unknown>,
  inbox: Inbox = new MemoryInbox(),
) {
  const { logger, lines } = memoryLogger();
  const adapter = new SerialAdapter({ config: portConfig({ path: pty.device, ...config }), logger, inbox });
  const readings: Reading[] = [];
  adapter.readings$.subscribe((r) => readings.push(r));
  await adapter.start();
  await waitFor(() => adapter.state$.value === 'open', 'adapter port open', 5000);
  return { adapter, readings, lines, inbox };
}

/**
 * The sensor board at the other end of the pty: writes frames, collects what the gateway sends it.
 * Opened with fs + tty.ReadStream, not serialport: serialport's open flushes the tty (TCIOFLUSH),
 * which would throw away a command the gateway wrote just before the test opened this end.
 */
export class Sensor {
  received = Buffer.alloc(0);
  private constructor(private readonly stream: tty.ReadStream) {
    stream.on('data', (b: Buffer) => {
      this.received = Buffer.concat([this.received, b]);
    });
    stream.on('error', () => {}); // EIO when unplugged under us
  }

  static async open(path: string): Promise<Sensor> {
    return new Sensor(new tty.ReadStream(openSync(path, constants.O_RDWR | constants.O_NOCTTY)));
  }

  write(bytes: Buffer | string): Promise<void> {
    return new Promise((resolve, reject) =>
      this.stream.write(bytes, (err) => (err ? reject(err) : resolve())),
    );
  }

  text(): string {
    return this.received.toString('latin1');
  }

  async close(): Promise<void> {
    this.stream.destroy();
  }
}

export const logsWith = (lines: Record<string, unknown>[], msg: string) => lines.filter((l) => l.msg === msg);
