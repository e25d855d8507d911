/** A request that passed the screen (screen.ts): what the handlers and the audit trail see. */
export interface AdminRequest {
  /** The name after `req/` (ping, config/set, …). */
  name: string;
  /** The JSON object of the payload, transport fields included. */
  args: Record<string, unknown>;
  /** Where the answer goes (MQTT 5 Response Topic, else `reply_to` in the JSON). */
  replyTo: string;
  /** MQTT 5 Correlation Data, echoed unchanged. */
  correlationData?: Buffer;
  /** `correlation` from the JSON (MQTT 3.1.1), echoed in the answer's JSON. */
  correlation?: string;
  /** Who asked: the `actor` user property, else the JSON's `actor`, else "unknown". */
  actor: string;
  /** Every user property the broker passed on (for the audit trail). */
  userProperties: Record<string, string | string[]>;
}

/** Answer codes (docs/remote-management.md). */
export type AnswerCode =
  | 'ok'
  | 'pending'
  | 'invalid'
  | 'conflict'
  | 'busy'
  | 'refused'
  | 'unknown_request'
  | 'error';

export interface Answer {
  code: AnswerCode;
  message: string;
  body?: unknown;
}
