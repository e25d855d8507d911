import { NEVER } from 'rxjs';
import type { Outbox } from '../../contracts/store.js';

const nothing = () => Promise.resolve();

/** The outbox of a connection that sends no rows (direct publishes only): always empty. */
export const NO_ROWS: Outbox = {
  enqueue: () => Promise.reject(new Error('this connection has no outbox')),
  enqueueThen: (_m, _o, done) =>
    queueMicrotask(() => done(new Error('this connection has no outbox'), undefined)),
  nextQueued: () => [],
  inflight: () => [],
  markSent: nothing,
  markReleased: nothing,
  complete: nothing,
  requeueInflight: nothing,
  setAside: () => Promise.resolve(false),
  setAsideCount: () => 0,
  stats: () => ({ rows: 0, bytes: 0, oldestAt: null, inflight: 0 }),
  added$: NEVER,
  dropped$: NEVER,
};
