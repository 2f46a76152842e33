/**
 * The env file's syntax, read by this program itself everywhere (never by systemd or Node's
 * `--env-file`), so that `check` and the daemon always see the same values.
 *
 * - One `NAME=value` per line; `export NAME=value` is accepted too, so the file can be sourced by
 *   a shell. Spaces around the name and before and after the value are ignored.
 * - Blank lines and lines whose first non-blank character is `#` are comments.
 * - Unquoted values: as in a shell, `#` starts a comment only after a space or tab
 *   (`SMTP_PORT=587  # note` is `587`; `SLACK_CHANNEL=#security` and `a#b` keep their `#`).
 *   Nothing else is special: no `$VAR` expansion, backslashes are kept.
 * - `'single quotes'`: everything up to the next `'` is taken literally.
 * - `"double quotes"`: `\"`, `\\` and `\n` (newline) are escapes; any other backslash is kept.
 * - Quoted values may span lines (a PEM key can be pasted as it is). After the closing quote only
 *   spaces and a `# comment` may follow.
 * - Line ends may be LF or CRLF; a UTF-8 byte order mark at the start is ignored.
 * - A name given twice is an error, as is a line this syntax does not describe. Errors name the
 *   line number and never repeat the line: it may hold a secret.
 */

/** One assignment, with the line it starts on. */
export interface EnvEntry {
  name: string;
  value: string;
  line: number;
}

/** The result of parsing: entries in file order, and one sentence per problem. */
export interface ParsedEnvFile {
  entries: EnvEntry[];
  problems: string[];
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Parses env file text; `label` names the file in problem sentences. */
export function parseEnvFile(text: string, label: string): ParsedEnvFile {
  const lines = text.replace(/^\uFEFF/, '').split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  const entries: EnvEntry[] = [];
  const problems: string[] = [];
  const firstLine = new Map<string, number>();
  const at = (n: number): string => `${label} line ${n}`;

  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const raw = lines[i]!;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const line = raw.replace(/^\s*export\s+/, '');
    const offset = raw.length - line.length;
    const eq = line.indexOf('=');
    if (eq < 0) {
      problems.push(`${at(lineNo)} is not NAME=value: write one setting per line, or start the line with # to make it a comment.`);
      continue;
    }
    const name = line.slice(0, eq).trim();
    if (!NAME.test(name)) {
      problems.push(`${at(lineNo)} does not start with a setting name: a name is letters, digits and _, followed by =.`);
      continue;
    }
    const rest = line.slice(eq + 1).replace(/^[ \t]+/, '');
    let value: string;
    const quote = rest[0];
    if (quote === '"' || quote === "'") {
      const quoteAt = offset + eq + 1 + (line.length - eq - 1 - rest.length);
      const read = readQuoted(lines, i, quoteAt + 1, quote);
      if (read === null) {
        problems.push(`${at(lineNo)}: the ${quote === '"' ? 'double' : 'single'} quote that opens the value of ${name} is never closed.`);
        break;
      }
      const after = lines[read.endLine]!.slice(read.endCol).trim();
      if (after !== '' && !after.startsWith('#')) {
        problems.push(`${at(read.endLine + 1)}: text follows the closing quote of ${name}; put the whole value inside the quotes.`);
      }
      value = read.value;
      i = read.endLine;
    } else {
      // As in a shell, a comment starts at a # that follows a blank; `NAME=#x` keeps its #.
      const after = line.slice(eq + 1);
      const m = /[ \t]#/.exec(after);
      value = (m ? after.slice(0, m.index) : after).trim();
    }
    const seen = firstLine.get(name);
    if (seen !== undefined) {
      problems.push(`${at(lineNo)} sets ${name} again (first set on line ${seen}): keep one of them.`);
      continue;
    }
    firstLine.set(name, lineNo);
    entries.push({ name, value, line: lineNo });
  }
  return { entries, problems };
}

/**
 * Reads a quoted value starting at `lines[start][col]` (just after the opening quote), possibly
 * across lines. Null when the quote is never closed.
 */
function readQuoted(lines: string[], start: number, col: number, quote: '"' | "'"): { value: string; endLine: number; endCol: number } | null {
  let value = '';
  for (let l = start; l < lines.length; l++) {
    const text = lines[l]!;
    for (let c = l === start ? col : 0; c < text.length; c++) {
      const ch = text[c]!;
      if (ch === quote) return { value, endLine: l, endCol: c + 1 };
      if (quote === '"' && ch === '\\' && c + 1 < text.length) {
        const next = text[c + 1]!;
        if (next === '"' || next === '\\') {
          value += next;
          c++;
          continue;
        }
        if (next === 'n') {
          value += '\n';
          c++;
          continue;
        }
      }
      value += ch;
    }
    value += '\n';
  }
  return null;
}
