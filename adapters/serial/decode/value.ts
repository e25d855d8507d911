const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

/** "25" -> 25, "-3.5e2" -> -350; anything else stays text ("0x1F", "on", "", "12abc"). */
export function toValue(text: string): string | number {
  return NUMBER.test(text) ? Number(text) : text;
}
