import { isValidTopicName } from '../../contracts/topic.js';

/** The admin topics of one gateway: `<prefix>/<gateway>/admin/…` (docs/remote-management.md). */
export class AdminTopics {
  readonly base: string;
  constructor(prefix: string, gatewayId: string) {
    this.base = `${prefix}/${gatewayId}/admin`;
  }
  /** Where an operator sends request `name`. */
  request(name: string): string {
    return `${this.base}/req/${name}`;
  }
  /** An answer topic an operator may name: under the reply prefix (`run` keeps runs apart). */
  reply(run: string): string {
    return `${this.replyPrefix}${run}`;
  }
  /** What the gateway subscribes to, and nothing else. */
  get requests(): string {
    return `${this.base}/req/#`;
  }
  get info(): string {
    return `${this.base}/info`;
  }
  get change(): string {
    return `${this.base}/change`;
  }
  get audit(): string {
    return `${this.base}/audit`;
  }
  /** Answers go only under this. */
  get replyPrefix(): string {
    return `${this.base}/reply/`;
  }
  /** The request name of a topic under `req/`, or undefined when the topic is not one. */
  requestOf(topic: string): string | undefined {
    const head = `${this.base}/req/`;
    return topic.startsWith(head) && topic.length > head.length ? topic.slice(head.length) : undefined;
  }
  /** Is `topic` (a Response Topic) one the gateway may answer on? */
  isReplyTopic(topic: string): boolean {
    const p = this.replyPrefix;
    return topic.startsWith(p) && topic.length > p.length && isValidTopicName(topic);
  }
}
