const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses a duration like `500ms`, `90s`, `6m`, `2h`, `7d` (one number, one unit) into milliseconds.
 * Returns null for anything else, so callers can name the setting in their own error.
 */
export function parseDuration(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/i.exec(text);
  if (!m) return null;
  const value = Number(m[1]) * (UNITS[m[2]!.toLowerCase()] ?? NaN);
  return Number.isFinite(value) ? Math.round(value) : null;
}

/** Formats milliseconds the short way (`6m`, `1h30m`, `250ms`), for logs and status. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  let rest = Math.round(ms / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.slice(0, 2).join('');
}
