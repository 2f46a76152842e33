/**
 * Finds the URL with the given rel in Link header values. Okta sends one header per link, but a
 * proxy or fetch implementation may join them with ", ", so both forms are read.
 */
export function findLink(headers: string[], rel: string): string | null {
  for (const header of headers) {
    const re = /<([^>]*)>\s*((?:;\s*[^;,]+)*)/g;
    let m: RegExpExecArray | null;
    while ((m = re.exec(header)) !== null) {
      const params = m[2] ?? '';
      const relMatch = /;\s*rel\s*=\s*"?([^";,]+)"?/i.exec(params);
      if (relMatch && relMatch[1]!.split(/\s+/).includes(rel)) return m[1]!;
    }
  }
  return null;
}
