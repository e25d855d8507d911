import type { HaEntity } from './ha.js';

/** One measurement an adapter knows it will publish, from its config (Home Assistant, Sparkplug). */
export interface PointInfo {
  name: string;
  /** What the value is; `unknown` when the adapter learns it only from the device's frames. */
  type: 'number' | 'boolean' | 'string' | 'unknown';
  unit?: string;
  /** Commands may write it. */
  writable: boolean;
  /** Home Assistant entity metadata, when configured. */
  ha?: HaEntity;
}

/** The points one adapter instance knows, and how its readings carry them. */
export interface PointCatalogue {
  /** The points of `device` (an adapter whose devices share one set returns it for any device). */
  points(device: string): readonly PointInfo[];
  /** Every point of every device this instance knows in advance. */
  all(): readonly PointInfo[];
  /** Whether `device`'s readings carry one point each, its value as the whole payload (else one JSON). */
  perPoint(device: string): boolean;
  /** For a per-point device: the topic its reading of `point` has (`fields` as the reading decoded them). */
  pointTopic(r: { device: string; fields?: Record<string, unknown> }, point: string): string | undefined;
  /** How a boolean value of `device` is written in its payload, true / false. */
  booleanText(device: string): { on: string; off: string };
}
