import { describe, expect, it } from 'vitest';
import { HotStream } from '../../adapters/mqttsn/hot-stream.js';

describe('mqttsn HotStream (the readings stream)', () => {
  it('multicasts in order; a subscriber joining during an emit counts from the next value, one leaving stops at once (as a Subject)', () => {
    const s = new HotStream<number>();
    const a: number[] = [];
    const b: number[] = [];
    const late: number[] = [];
    s.next(0); // nobody listens: lost, as with a Subject
    const subA = s.observable.subscribe((v) => {
      a.push(v);
      if (v === 1) s.observable.subscribe((w) => late.push(w));
      if (v === 2) subB.unsubscribe();
    });
    const subB = s.observable.subscribe((v) => b.push(v));
    s.next(1);
    s.next(2); // A removes B while emitting 2: B is closed and gets nothing more (as with a Subject)
    s.next(3);
    expect(a).toEqual([1, 2, 3]);
    expect(b).toEqual([1]);
    expect(late).toEqual([2, 3]);
    subA.unsubscribe();
    s.next(4);
    expect(a).toEqual([1, 2, 3]);
  });

  it('complete() ends every subscriber once; later subscribers complete at once, nexts are ignored', () => {
    const s = new HotStream<string>();
    let completed = 0;
    const got: string[] = [];
    s.observable.subscribe({ next: (v) => got.push(v), complete: () => completed++ });
    s.next('x');
    s.complete();
    s.complete();
    s.next('y');
    s.observable.subscribe({ next: (v) => got.push(v), complete: () => completed++ });
    expect(got).toEqual(['x']);
    expect(completed).toBe(2);
  });
});
