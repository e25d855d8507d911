/**
 * The first line `config get` writes: which gateway and which config hash the copy was taken from.
 * `config set` sends that hash as if_match, so a copy edited while someone else changed the gateway
 * is refused (conflict) instead of silently undoing their change.
 */
export function hashHeader(gateway: string, hash: string): string {
  return `# fieldgate config of ${gateway}, hash ${hash} (kept by \`fieldgate remote config set\` as if_match)`;
}

/** The hash in a `config get` header line, if the file starts with one. */
export function headerHash(text: string): string | undefined {
  return /^# fieldgate config of \S+, hash (\S+)/.exec(text)?.[1];
}

/** The text without the header line (the gateway's own YAML). */
export function withoutHeader(text: string): string {
  return headerHash(text) === undefined ? text : text.slice(text.indexOf('\n') + 1);
}
