import type { HaEntity } from './ha.js';

/** One measurement an adapter knows it will publish, from its config (Home Assistant, Sparkplug). */
export interface PointInfo {
  name: string;
  /** What the value is; `unknown` when the adapter learns it only from the device's frames. */
  type: 'number' | 'boolean' | 'string' | 'unknown';
  unit?: string;
  /**
   * The value's exact type, when the adapter knows it (a Modbus register type and its scale):
   * Sparkplug's datatype names. Absent: derived from `type` (a number as Double).
   */
  datatype?: PointDataType;
  /** Engineering range of the value, when configured. */
  low?: number;
  high?: number;
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

/** Value types a point may declare (the names Sparkplug B uses for them). */
export const POINT_DATA_TYPES = [
  'Int8',
  'Int16',
  'Int32',
  'Int64',
  'UInt8',
  'UInt16',
  'UInt32',
  'UInt64',
  'Float',
  'Double',
  'Boolean',
  'String',
  'DateTime',
] as const;
export type PointDataType = (typeof POINT_DATA_TYPES)[number];
