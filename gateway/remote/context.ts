import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { LogRing } from '../status/log-ring.js';
import type { AuditEvent } from './audit.js';
import type { Running } from './config-set.js';
import type { ConfigStore } from './config-store.js';
import type { ChangeState } from './records.js';
import type { Answer } from './request.js';

/** What a request handler may use (handlers.ts). */
export interface HandlerContext {
  config: () => Config;
  running: Running;
  seedText: string;
  store: ConfigStore;
  logger: Logger;
  tail: LogRing | undefined;
  info: () => unknown;
  applyHot: (next: Config, text: string, hash: string) => void;
  reloadRules: () => Promise<void>;
  restart: (why: string) => void;
  /** The gateway's log level (its root logger: every part's logger follows it). */
  setLogLevel: (level: string) => void;
  audit: (e: AuditEvent) => void;
  publishChange: (s: ChangeState) => Promise<boolean>;
  publishInfo: () => Promise<void>;
}

/** The answer, and what to do once it is sent (a restart must not cut off its own answer). */
export interface Handled {
  answer: Answer;
  after?: () => void;
}
