import pino from 'pino';
import { merge, Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { Adapter, Reading } from '../../adapters/types.js';
import { isolate } from '../../gateway/lifecycle/isolate.js';
import { waitFor } from '../harness/wait.js';

/** A pure-logic fake: a source whose stream can be made to fail, counting restarts. */
class FlakyAdapter implements Adapter {
  starts = 0;
  stops = 0;
  failStarts = 0;
  subject = new Subject<Reading>();
  constructor(readonly name: string) {}
  get readings$() {
    return this.subject.asObservable();
  }
  async start() {
    this.starts++;
    if (this.failStarts > 0) {
      this.failStarts--;
      throw new Error('port still gone');
    }
    this.subject = new Subject<Reading>();
  }
  async stop() {
    this.stops++;
  }
  async send() {
    return 'delivered' as const;
  }
  emit(topic: string) {
    this.subject.next({
      source: this.name,
      device: 'd',
      topic,
      payload: Buffer.alloc(0),
      qos: 0,
      retain: false,
      receivedAt: 0,
    });
  }
}

describe('adapter isolation', () => {
  it('an adapter that errors is restarted with backoff; the merged stream and the other sources go on', async () => {
    const logs: { msg: string }[] = [];
    const logger = pino({ level: 'info' }, { write: (s: string) => void logs.push(JSON.parse(s)) });
    const a = new FlakyAdapter('a');
    const b = new FlakyAdapter('b');
    const seen: string[] = [];
    let completed = false;
    const sub = merge(
      isolate(a, { logger, minDelay: 10, maxDelay: 40 }),
      isolate(b, { logger, minDelay: 10, maxDelay: 40 }),
    ).subscribe({
      next: (r) => seen.push(`${r.source}:${r.topic}`),
      complete: () => {
        completed = true;
      },
    });
    a.emit('1');
    a.failStarts = 2; // the first two restart attempts fail too
    a.subject.error(new Error('boom'));
    b.emit('2'); // b is unaffected while a is down
    await waitFor(() => a.starts === 3, 'a restarted after two failed attempts', 2000);
    a.emit('3');
    expect(seen).toEqual(['a:1', 'b:2', 'a:3']);
    expect(completed).toBe(false);
    expect(a.stops).toBeGreaterThanOrEqual(1);
    expect(logs.map((l) => l.msg)).toContain('adapter failed; restarting it');
    expect(logs.filter((l) => l.msg === 'adapter restart failed; will try again')).toHaveLength(2);
    sub.unsubscribe();
  });
});
