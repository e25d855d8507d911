/**
 * A line diff (longest common subsequence) for showing what a config change does before it is
 * sent. Configs are small; past `maxCells` LCS cells it falls back to "all removed, all added"
 * rather than spend seconds on a file nobody can read as a diff anyway.
 */
export type DiffLine = { op: ' ' | '-' | '+'; text: string };

export function diffLines(before: string, after: string, maxCells = 4_000_000): DiffLine[] {
  const a = splitLines(before);
  const b = splitLines(after);
  // Common head and tail need no table.
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (
    tail < a.length - head &&
    tail < b.length - head &&
    a[a.length - 1 - tail] === b[b.length - 1 - tail]
  )
    tail++;
  const am = a.slice(head, a.length - tail);
  const bm = b.slice(head, b.length - tail);
  const same = (lines: string[]) => lines.map((text) => ({ op: ' ' as const, text }));
  const middle =
    (am.length + 1) * (bm.length + 1) > maxCells
      ? [...am.map((text) => ({ op: '-' as const, text })), ...bm.map((text) => ({ op: '+' as const, text }))]
      : lcsDiff(am, bm);
  return [...same(a.slice(0, head)), ...middle, ...same(a.slice(a.length - tail))];
}

function lcsDiff(a: string[], b: string[]): DiffLine[] {
  const n = a.length;
  const m = b.length;
  // len[i][j]: LCS length of a[i..] and b[j..], flattened.
  const len = new Uint32Array((n + 1) * (m + 1));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      len[i * (m + 1) + j] =
        a[i] === b[j]
          ? len[(i + 1) * (m + 1) + j + 1]! + 1
          : Math.max(len[(i + 1) * (m + 1) + j]!, len[i * (m + 1) + j + 1]!);
  const out: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      out.push({ op: ' ', text: a[i]! });
      i++;
      j++;
    } else if (len[(i + 1) * (m + 1) + j]! >= len[i * (m + 1) + j + 1]!) out.push({ op: '-', text: a[i++]! });
    else out.push({ op: '+', text: b[j++]! });
  }
  while (i < n) out.push({ op: '-', text: a[i++]! });
  while (j < m) out.push({ op: '+', text: b[j++]! });
  return out;
}

function splitLines(s: string): string[] {
  const lines = s.replace(/\r\n/g, '\n').split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

/** The changed lines with `context` unchanged lines around each change; `...` where lines are left out. */
export function formatDiff(lines: DiffLine[], context = 3): string {
  const keep = new Array<boolean>(lines.length).fill(false);
  lines.forEach((l, i) => {
    if (l.op === ' ') return;
    for (let k = Math.max(0, i - context); k <= Math.min(lines.length - 1, i + context); k++) keep[k] = true;
  });
  const out: string[] = [];
  let skipped = false;
  lines.forEach((l, i) => {
    if (!keep[i]) {
      skipped = true;
      return;
    }
    if (skipped && out.length) out.push('  ...');
    skipped = false;
    out.push(`${l.op} ${l.text}`);
  });
  return out.join('\n');
}

export function hasChanges(lines: DiffLine[]): boolean {
  return lines.some((l) => l.op !== ' ');
}
