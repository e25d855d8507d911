import { Observable, type Subscriber } from 'rxjs';

/**
 * A hot multicast stream for next/complete only: what a Subject does here, without its cost per
 * value. rxjs's CommonJS Subject.next makes a closure (errorContext), an iterator object with its own
 * closure and a result object per subscriber for every value; this calls each subscriber in a loop.
 * As with a Subject: a subscriber added or removed during an emit counts from the next value on (the
 * list is copied on change, never while emitting), a subscriber that throws is reported by rxjs
 * (its Subscriber catches), and a subscription after complete() completes at once.
 */
export class HotStream<T> {
  private subscribers: readonly Subscriber<T>[] = [];
  private done = false;

  readonly observable: Observable<T> = new Observable<T>((sub) => {
    if (this.done) {
      sub.complete();
      return;
    }
    this.subscribers = [...this.subscribers, sub];
    return () => {
      this.subscribers = this.subscribers.filter((s) => s !== sub);
    };
  });

  next(value: T): void {
    const subs = this.subscribers;
    for (let i = 0; i < subs.length; i++) subs[i]!.next(value);
  }

  complete(): void {
    if (this.done) return;
    this.done = true;
    const subs = this.subscribers;
    this.subscribers = [];
    for (const s of subs) s.complete();
  }
}
