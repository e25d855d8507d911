/**
 * How a part contributes its own metrics to the registry the gateway owns, without knowing the
 * metrics library. Names are given without the `fieldgate_` prefix; the sink adds it.
 */
export type Labels<L extends string> = Partial<Record<L, string>>;

/** A value read at scrape time, with its labels. */
export interface Sample<L extends string> {
  labels: Labels<L>;
  value: number;
}

interface MetricDef<L extends string> {
  name: string;
  help: string;
  labelNames?: readonly L[];
}

export interface MetricSink {
  /** Pushed by the code that sees the event. */
  counter<L extends string = never>(def: MetricDef<L>): { inc(labels: Labels<L>, n?: number): void };
  histogram<L extends string = never>(
    def: MetricDef<L> & { buckets: readonly number[] },
  ): { observe(labels: Labels<L>, value: number): void };
  /**
   * Pulled at scrape time: `read` returns every sample (a counter's are monotonic counts the part
   * keeps). A sample that is no longer returned stops being exported; a `read` that throws leaves
   * the last values and is logged once.
   */
  pulled<L extends string = never>(
    def: MetricDef<L> & { type: 'gauge' | 'counter'; read: () => Iterable<Sample<L>> },
  ): void;
}
