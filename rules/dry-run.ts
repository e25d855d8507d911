import type { Command, QoS } from '../adapters/types.js';
import type { OutboxMessage } from '../contracts/store.js';
import type { RuleEngine } from './engine.js';
import type { TraceEntry } from './uplink.js';
import { waitingNow, wallOf } from '../contracts/clock.js';

/** `fieldgate rules test`: a reading from --source/--topic/--payload, or --upstream for the downlink. */
export type DryRunInput =
  | {
      direction?: 'uplink';
      source: string;
      topic: string;
      payload: string | Buffer;
      device?: string;
      qos?: QoS;
      now?: number;
    }
  | { direction: 'downlink'; topic: string; payload: string | Buffer; now?: number };

export interface DryRunResult {
  direction: 'uplink' | 'downlink';
  input: { source?: string; device?: string; topic: string; payload: string };
  trace: TraceEntry[];
  messages: OutboxMessage[];
  commands: Command[];
  dropped?: string;
  errors: { rule: string; message: string }[];
}

/**
 * Run one message through an engine and report everything it decided. Pure apart from the engine's
 * strategy state: give it a freshly compiled engine (the CLI does), not the running gateway's.
 */
export async function dryRun(engine: RuleEngine, input: DryRunInput): Promise<DryRunResult> {
  const payload = Buffer.isBuffer(input.payload) ? input.payload : Buffer.from(input.payload, 'utf8');
  const now = input.now ?? waitingNow();
  if (input.direction === 'downlink') {
    const r = await engine.downlink(input.topic, payload, now);
    return {
      direction: 'downlink',
      input: { topic: input.topic, payload: payload.toString('utf8') },
      trace: r.trace,
      messages: r.results,
      commands: r.commands,
      dropped: r.commands.length ? undefined : r.trace.length ? 'rejected' : 'no_command_rule',
      errors: r.errors,
    };
  }
  const device = input.device ?? 'dry-run';
  const r = await engine.uplink(
    {
      source: input.source,
      device,
      topic: input.topic,
      payload,
      qos: input.qos ?? 0,
      retain: false,
      receivedAt: now,
    },
    now,
  );
  return {
    direction: 'uplink',
    input: { source: input.source, device, topic: input.topic, payload: payload.toString('utf8') },
    trace: r.trace,
    messages: r.messages,
    commands: r.commands,
    dropped: r.dropped,
    errors: r.errors,
  };
}

/** Human-readable text of a dry run, one fact per line. */
export function formatDryRun(r: DryRunResult): string {
  const lines: string[] = [];
  const i = r.input;
  lines.push(
    r.direction === 'uplink'
      ? `uplink  ${i.source} ${i.device} ${i.topic} ${JSON.stringify(i.payload)}`
      : `downlink  ${i.topic} ${JSON.stringify(i.payload)}`,
  );
  for (const t of r.trace) {
    lines.push(`  ${t.rule}: ${t.outcome}${t.topic ? ` ${t.topic}` : ''}${t.detail ? ` (${t.detail})` : ''}`);
  }
  for (const m of r.messages) {
    lines.push(`publish ${m.topic} qos=${m.qos}${m.retain ? ' retain' : ''} ${m.payload.toString('utf8')}`);
  }
  for (const c of r.commands) {
    const exp = c.expiresAt === undefined ? '' : ` expires=${new Date(wallOf(c.expiresAt)).toISOString()}`;
    lines.push(
      `command ${c.target} device=${c.device} topic=${c.topic} qos=${c.qos}${exp} ${c.payload.toString('utf8')}`,
    );
  }
  for (const e of r.errors) lines.push(`error ${e.rule}: ${e.message}`);
  if (r.direction === 'uplink' && !r.messages.length)
    lines.push(`not published: ${r.dropped ?? 'no message'}`);
  if (r.direction === 'downlink' && !r.commands.length) lines.push(`no command: ${r.dropped ?? 'rejected'}`);
  return `${lines.join('\n')}\n`;
}
