import { Counter, type Registry } from 'prom-client';

/** Remote management's counters, on the gateway's registry (served on /metrics). */
export class RemoteMetrics {
  private readonly answered: Counter<'request' | 'code'>;
  private readonly refused: Counter<'reason'>;
  /** The same counts, for `info` (prom-client's values are async to read). */
  readonly counts = { answered: 0, refused: {} as Record<string, number> };

  constructor(registry: Registry) {
    this.answered = new Counter({
      name: 'fieldgate_remote_requests_total',
      help: 'Remote management requests answered, by request and answer code.',
      labelNames: ['request', 'code'],
      registers: [registry],
    });
    this.refused = new Counter({
      name: 'fieldgate_remote_requests_refused_total',
      help: 'Remote management requests dropped unanswered (retained, expired, too_old, too_large, not_json, reply_topic, no_reply_topic), by reason.',
      labelNames: ['reason'],
      registers: [registry],
    });
  }

  answer(request: string, code: string): void {
    this.counts.answered++;
    this.answered.inc({ request: request.slice(0, 40), code });
  }

  refuse(reason: string): void {
    this.counts.refused[reason] = (this.counts.refused[reason] ?? 0) + 1;
    this.refused.inc({ reason });
  }
}
