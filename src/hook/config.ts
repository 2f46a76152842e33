import fs from 'node:fs';
import { createSecureContext as tlsContext } from 'node:tls';
import type { EnvReader } from '../config';
import { fileReadProblem } from '../file-problem';

/** The push receiver's settings; null when EVENT_HOOK_PORT is unset (push is off). */
export interface EventHookConfig {
  host: string;
  port: number;
  /** The one path Okta posts to, like `/okta/event-hook`. */
  path: string;
  /** The Authorization header value Okta sends with every request (a shared secret). */
  secret: string;
  /** PEM certificate and key, read at start-up; null serves plain HTTP (behind a reverse proxy). */
  tls: { cert: Buffer; key: Buffer } | null;
}

/** Shorter secrets are guessable by a patient attacker; Okta accepts any length, so we ask for 32. */
export const MIN_SECRET_LENGTH = 32;

/** Parses the EVENT_HOOK_* settings. Problems go to the reader; values (the secret) are never echoed. */
export function parseEventHookConfig(r: EnvReader): EventHookConfig | null {
  const others = (['EVENT_HOOK_HOST', 'EVENT_HOOK_PATH', 'EVENT_HOOK_SECRET', 'EVENT_HOOK_TLS_CERT_FILE', 'EVENT_HOOK_TLS_KEY_FILE'] as const).filter((n) => r.get(n) !== undefined);
  const secret = r.secret('EVENT_HOOK_SECRET');
  if (r.get('EVENT_HOOK_PORT') === undefined) {
    if (others.length > 0) r.problem(`${others[0]} is set but EVENT_HOOK_PORT is not: set EVENT_HOOK_PORT to turn the push receiver on, or remove the EVENT_HOOK_ settings.`);
    return null;
  }
  const before = r.problems.length;
  const port = r.integer('EVENT_HOOK_PORT', 0, 0, 65535);
  const host = r.get('EVENT_HOOK_HOST') ?? '127.0.0.1';
  const path = r.get('EVENT_HOOK_PATH') ?? '/okta/event-hook';
  if (!/^\/[A-Za-z0-9._~\-/]{0,200}$/.test(path)) {
    r.problem('EVENT_HOOK_PATH must be a URL path starting with / (letters, digits, - _ . ~ /), like /okta/event-hook.');
  }
  if (secret === undefined) {
    r.problem(`EVENT_HOOK_SECRET is not set: set it to a random string of at least ${MIN_SECRET_LENGTH} characters (the Authorization header value Okta will send).`);
  } else if (secret.length < MIN_SECRET_LENGTH) {
    r.problem(`EVENT_HOOK_SECRET is shorter than ${MIN_SECRET_LENGTH} characters: use a longer random string, e.g. from "openssl rand -hex 32".`);
  } else if (!/^[\x21-\x7e]+$/.test(secret)) {
    // It travels as an HTTP header value: spaces and non-ASCII would not survive every proxy intact.
    r.problem('EVENT_HOOK_SECRET must be printable ASCII without spaces: use e.g. "openssl rand -hex 32".');
  }
  const certFile = r.get('EVENT_HOOK_TLS_CERT_FILE');
  const keyFile = r.get('EVENT_HOOK_TLS_KEY_FILE');
  let tls: EventHookConfig['tls'] = null;
  if ((certFile === undefined) !== (keyFile === undefined)) {
    r.problem(`${certFile === undefined ? 'EVENT_HOOK_TLS_CERT_FILE' : 'EVENT_HOOK_TLS_KEY_FILE'} is not set: set both EVENT_HOOK_TLS_CERT_FILE and EVENT_HOOK_TLS_KEY_FILE, or neither.`);
  } else if (certFile !== undefined && keyFile !== undefined) {
    const read = (name: 'EVENT_HOOK_TLS_CERT_FILE' | 'EVENT_HOOK_TLS_KEY_FILE', file: string): Buffer | null => {
      try {
        return fs.readFileSync(file);
      } catch (err) {
        r.problem(fileReadProblem(name, file, err));
        return null;
      }
    };
    const cert = read('EVENT_HOOK_TLS_CERT_FILE', certFile);
    const key = read('EVENT_HOOK_TLS_KEY_FILE', keyFile);
    if (key) r.secrets.push(key.toString('utf8').trim());
    if (cert && key) {
      try {
        // What https.createServer would do at start: refuse here, naming the settings, instead of
        // an OpenSSL error from `run` that `check` never saw.
        tlsContext({ cert, key });
        tls = { cert, key };
      } catch {
        r.problem('EVENT_HOOK_TLS_CERT_FILE and EVENT_HOOK_TLS_KEY_FILE must be a PEM certificate and its matching unencrypted PEM private key.');
      }
    }
  }
  if (r.problems.length > before || secret === undefined) return null;
  return { host, port, path, secret, tls };
}
