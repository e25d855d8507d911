import { createHash } from 'node:crypto';

/** A config's identity: the first 16 hex digits of the SHA-256 of its text (what `if_match` compares). */
export function configHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}
