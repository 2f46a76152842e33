import winston from 'winston';
import type { LogConfig } from './config';
import { jsonEscape, visible } from './notify/sanitize';

/** The logger every module receives; winston underneath. */
export type Logger = winston.Logger;

const REDACTED = '[REDACTED]';
const secrets = new Set<string>();

/**
 * Registers values that must never be written anywhere (tokens, keys, webhook URLs, passwords).
 * Every log line, and every error message that goes through `redact`, has them replaced.
 */
export function registerSecrets(values: Iterable<string>): void {
  for (const v of values) {
    if (v && v.length >= 4) {
      secrets.add(v);
      // A PEM key is also caught line by line, in case a library logs part of it.
      for (const line of v.split('\n')) if (line.length >= 16 && !line.startsWith('-----')) secrets.add(line);
    }
  }
}

// Credentials that look like credentials are hidden even when nobody registered them.
const PATTERNS: Array<[RegExp, string]> = [
  [/\b(SSWS|Bearer|DPoP)\s+[A-Za-z0-9._~+/=-]{8,}/gi, `$1 ${REDACTED}`],
  [/\bxox[abposr]-[A-Za-z0-9-]{8,}/g, REDACTED],
  [/\bxapp-[A-Za-z0-9-]{8,}/g, REDACTED],
  [/https:\/\/hooks\.slack\.com\/[^\s"'<>]+/g, REDACTED],
  [/(client_assertion=)[^&\s"']+/g, `$1${REDACTED}`],
];

/** Replaces every registered secret and credential-looking text in a string. */
export function redact(text: string): string {
  let out = text;
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join(REDACTED);
  for (const [p, r] of PATTERNS) out = out.replace(p, r);
  return out;
}

function redactValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redact(value);
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return redact(value.message);
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = redactValue(v, depth + 1);
  return out;
}

const redactFormat = winston.format((info) => {
  for (const key of Object.keys(info)) {
    (info as Record<string, unknown>)[key] = redactValue((info as Record<string, unknown>)[key]);
  }
  return info;
});

// winston keeps the finished line under this symbol (triple-beam's MESSAGE).
const MESSAGE = Symbol.for('message');

// Log fields carry Okta text (token names, actors, error bodies), which is attacker-controlled: the
// finished JSON line gets every control, bidi and zero-width character as a \u escape, so a log
// viewer or terminal tailing the journal never executes or hides anything.
const escapeJsonLine = winston.format((info) => {
  const line = (info as Record<symbol, unknown>)[MESSAGE];
  if (typeof line === 'string') (info as Record<symbol, unknown>)[MESSAGE] = jsonEscape(line);
  return info;
});

/**
 * Builds the logger. JSON lines on stderr by default, so stdout stays free for alerts (console
 * notifier) and command output.
 */
export function createLogger(config: LogConfig, opts: { silent?: boolean; stream?: NodeJS.WritableStream } = {}): Logger {
  const format =
    config.format === 'json'
      ? winston.format.combine(redactFormat(), winston.format.timestamp(), winston.format.json(), escapeJsonLine())
      : winston.format.combine(
          redactFormat(),
          winston.format.timestamp(),
          winston.format.printf((info) => {
            const { level, message, timestamp, ...rest } = info as Record<string, unknown>;
            const extra = Object.keys(rest).length ? ' ' + jsonEscape(JSON.stringify(rest)) : '';
            return `${String(timestamp)} ${String(level).toUpperCase().padEnd(5)} ${visible(String(message))}${extra}`;
          }),
        );
  return winston.createLogger({
    level: config.level,
    format,
    silent: opts.silent ?? false,
    transports: [new winston.transports.Stream({ stream: opts.stream ?? process.stderr })],
  });
}

/** A logger that writes nothing, for tests and library use. */
export function nullLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console({ silent: true })] });
}
