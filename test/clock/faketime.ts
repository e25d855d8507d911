import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { GatewayProcess } from '../harness/gateway-process.js';
import { waitFor } from '../harness/wait.js';

/** Debian's libfaketime (package `faketime`), looked up in the usual library directories. */
export function faketimeLibrary(): string {
  const roots = ['/usr/lib', '/usr/local/lib', '/usr/lib64'];
  for (const root of roots) {
    const dirs = [join(root, 'faketime')];
    try {
      for (const d of readdirSync(root)) if (d.includes('-linux-')) dirs.push(join(root, d, 'faketime'));
    } catch {
      // no such root
    }
    for (const dir of dirs) {
      const lib = join(dir, 'libfaketime.so.1');
      if (existsSync(lib)) return lib;
    }
  }
  throw new Error('libfaketime not found: install the Debian package `faketime` (.ci/run does)');
}

/**
 * A wall clock for the gateway process alone, stepped as NTP steps it: libfaketime with a timestamp
 * file the test rewrites ("-35d", "+0"), re-read on every call (FAKETIME_NO_CACHE), and the
 * monotonic clock left alone (FAKETIME_DONT_FAKE_MONOTONIC). The kernel's NTP state is a flag file
 * the gateway is told to read (gateway.clock_sync: file).
 */
export class FakeClock {
  readonly file: string;
  readonly syncFlag: string;

  constructor(dir: string, offset: string, synced: boolean) {
    this.file = join(dir, 'faketime');
    this.syncFlag = join(dir, 'ntp-synchronized');
    this.set(offset);
    this.synced(synced);
  }

  /** libfaketime's relative form: "-35d", "+0", "-1d". */
  set(offset: string): void {
    writeFileSync(this.file, `${offset}\n`);
  }

  synced(yes: boolean): void {
    if (yes) writeFileSync(this.syncFlag, '');
    else rmSync(this.syncFlag, { force: true });
  }

  /** NTP reaches its server: the clock steps to the true time and is synchronized. */
  ntpSync(): void {
    this.set('+0');
    this.synced(true);
  }

  env(): NodeJS.ProcessEnv {
    return {
      LD_PRELOAD: faketimeLibrary(),
      FAKETIME_TIMESTAMP_FILE: this.file,
      FAKETIME_NO_CACHE: '1',
      FAKETIME_DONT_FAKE_MONOTONIC: '1',
    };
  }

  /** The gateway config lines that make it read this clock's sync flag. */
  gatewayKeys(): string {
    return `clock_sync: file, clock_sync_file: "${this.syncFlag}"`;
  }

  start(configFile: string): GatewayProcess {
    return GatewayProcess.start(['run', '-c', configFile], this.env());
  }
}

/** GET a path of the gateway's HTTP listener as text. */
export async function http(port: number, path: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return res.text();
}

/** The value of one metric line (exact labels as printed), 0 when absent. */
export function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.slice(name.length + 1)) : 0;
}

export interface V5Message {
  topic: string;
  payload: string;
  at: number;
  expiry: number | undefined;
  user: Record<string, string | string[]>;
}

/** An MQTT 5 subscriber that keeps its session across broker restarts and records message properties. */
export async function v5Subscriber(url: string, topic: string, clientId: string) {
  const messages: V5Message[] = [];
  const client = mqtt.connect(url, {
    protocolVersion: 5,
    clientId,
    clean: false,
    properties: { sessionExpiryInterval: 3600 },
    reconnectPeriod: 200,
  });
  client.on('message', (t, payload, packet) => {
    messages.push({
      topic: t,
      payload: payload.toString(),
      at: Date.now(),
      expiry: packet.properties?.messageExpiryInterval,
      user: (packet.properties?.userProperties ?? {}) as Record<string, string | string[]>,
    });
  });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  await client.subscribeAsync(topic, { qos: 2 });
  return {
    messages,
    waitForCount: (n: number, timeoutMs: number) =>
      waitFor(() => messages.length >= n, `${n} messages (have ${messages.length})`, timeoutMs),
    close: () => client.endAsync(true),
  };
}
