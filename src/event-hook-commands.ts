import type { App } from './app';
import type { AppConfig, OktaConfig } from './config';
import { HOOK_ELIGIBLE_EVENT_TYPES } from './detect/rules';
import { ConfigError, EXIT_FAILURE, EXIT_OK, UsageError } from './errors';
import { redact } from './logger';
import { plainText } from './notify/sanitize';
import { EVENT_HOOK_SCOPES, EventHookApiError, type EventHookClient, type EventHookView } from './okta/event-hooks';

/** The name our hook carries in Okta: how `register` finds it when no id is stored. */
export const EVENT_HOOK_NAME = 'okta-token-watch';

/** What a command writes through. */
export interface HookIo {
  out(line: string): void;
  err(line: string): void;
}

/** The org's event hook API for these commands; loaded lazily (the SDK's generated classes are large). */
export async function eventHookClient(okta: OktaConfig, access: 'manage' | 'read'): Promise<EventHookClient> {
  const { EventHookClient } = await import('./okta/event-hooks');
  return new EventHookClient(okta, access);
}

/**
 * Why a URL cannot be our hook's endpoint, or null. Okta calls only https endpoints; there is no
 * test-only exception here (the tests serve the endpoint over TLS with a certificate they make).
 */
export function hookUrlProblem(raw: string): string | null {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return '--url is not a valid URL: give the public https:// address Okta should call, like https://hooks.example.com/okta/event-hook.';
  }
  if (u.protocol !== 'https:') return '--url must be an https:// URL: Okta calls event hooks only over HTTPS (put a reverse proxy with a certificate in front of the receiver).';
  if (u.username || u.password) return '--url must not carry a user name or password: Okta authenticates with EVENT_HOOK_SECRET in the Authorization header.';
  return null;
}

/** Okta's own words, bounded and made terminal-safe; a secret that leaked into them is redacted. */
function oktaSaid(err: EventHookApiError): string {
  const words = err.summaries.length ? err.summaries.map((s) => plainText(s, 200)).join('; ') : err.status ? '' : plainText(err.message, 200);
  return redact(`${err.status ? `HTTP ${err.status}${err.errorCode ? ` ${plainText(err.errorCode, 20)}` : ''}` : 'no answer'}${words ? `: ${words}` : ''}`);
}

/** One sentence for a refusal that is about access rather than the step itself, or null. */
function accessProblem(err: EventHookApiError, okta: OktaConfig, access: 'manage' | 'read'): string | null {
  const scope = EVENT_HOOK_SCOPES[access];
  if (err.transport?.kind === 'auth-setup' && err.transport.detail?.error === 'invalid_scope') {
    return `the service app is not granted ${scope}: grant it on the app's "Okta API Scopes" tab in the Admin Console, then run this again.`;
  }
  if (err.status === 403) {
    return okta.auth.mode === 'ssws'
      ? `Okta refused (${oktaSaid(err)}): the admin who created OKTA_API_TOKEN may not manage event hooks; use a token of a Super Administrator (or a service app with ${EVENT_HOOK_SCOPES.manage}).`
      : `Okta refused (${oktaSaid(err)}): the service app needs the ${scope} scope granted and an admin role that may manage event hooks (Super Administrator).`;
  }
  if (err.status === 401) return `Okta rejected the credentials (${oktaSaid(err)}): run "okta-token-watch check" to find out why.`;
  return null;
}

const VERIFY_HINTS = [
  'check that the daemon is running with EVENT_HOOK_PORT set and that Okta can reach the URL over HTTPS from the internet (curl it from outside your network);',
  'that the proxy forwards this exact path to the receiver (a 404 means the path is wrong);',
  'and that EVENT_HOOK_SECRET is the same for the daemon and for this command (a 401 means it differs).',
].join(' ');

function stepFailure(step: string, err: unknown, okta: OktaConfig): string {
  if (!(err instanceof EventHookApiError)) throw err;
  const access = accessProblem(err, okta, 'manage');
  if (access) return `event-hook register failed at step "${step}": ${access}`;
  const base = `event-hook register failed at step "${step}": Okta answered ${oktaSaid(err)}.`;
  return step === 'verify' ? `${base} Okta could not verify the endpoint: ${VERIFY_HINTS}` : base;
}

/** Our hook: by the stored id when there is one (a stale id falls back to the name), else by name. */
async function findOurHook(client: EventHookClient, app: App): Promise<EventHookView | null> {
  const stored = await app.store.registeredEventHook();
  if (stored) {
    try {
      return await client.get(stored.hookId);
    } catch (err) {
      if (!(err instanceof EventHookApiError) || err.status !== 404) throw err;
    }
  }
  return (await client.list()).find((h) => h.name === EVENT_HOOK_NAME) ?? null;
}

/** `event-hook register --url`: create or update, verify, activate; the id is stored. */
export async function registerHook(app: App, config: AppConfig, url: string | undefined, io: HookIo): Promise<number> {
  if (!url) throw new UsageError('event-hook register needs --url https://PUBLIC-HOST/okta/event-hook');
  const problem = hookUrlProblem(url);
  if (problem) throw new UsageError(problem);
  const secret = config.eventHookSecret;
  if (!secret) throw new ConfigError(['EVENT_HOOK_SECRET is required by event-hook register: set it (at least 32 characters, e.g. `openssl rand -hex 32`) together with EVENT_HOOK_PORT, as the daemon that receives the hook has them.']);
  const okta = config.okta!;
  const client = await eventHookClient(okta, 'manage');
  const def = { name: EVENT_HOOK_NAME, uri: url, eventTypes: HOOK_ELIGIBLE_EVENT_TYPES, secret };

  let step = 'find';
  try {
    const existing = await findOurHook(client, app);
    let hook: EventHookView;
    if (existing) {
      step = 'update';
      hook = await client.replace(existing.id, def);
    } else {
      step = 'create';
      hook = await client.create(def);
    }
    // Stored before verification: a hook that fails to verify still exists in Okta, and
    // `remove`, `status` and the self-watch rule must find it.
    await app.store.setRegisteredEventHook({ hookId: hook.id, uri: url }, app.clock.now());
    io.out(`${existing ? 'updated' : 'created'} event hook ${plainText(hook.id, 60)} "${EVENT_HOOK_NAME}" for ${plainText(url, 300)} (${HOOK_ELIGIBLE_EVENT_TYPES.join(', ')})`);
    step = 'verify';
    hook = await client.verify(hook.id);
    io.out(`verified: Okta called the endpoint and it answered the challenge`);
    if (hook.status !== 'ACTIVE') {
      step = 'activate';
      hook = await client.activate(hook.id);
    }
    io.out(`active: Okta now pushes these events to ${plainText(url, 300)}`);
    return EXIT_OK;
  } catch (err) {
    io.err(`okta-token-watch: ${stepFailure(step, err, okta)}`);
    return EXIT_FAILURE;
  }
}

/** `event-hook status`: our hook as Okta has it. */
export async function hookStatus(app: App, config: AppConfig, io: HookIo): Promise<number> {
  const okta = config.okta!;
  const client = await eventHookClient(okta, 'read');
  let hook: EventHookView | null;
  try {
    hook = await findOurHook(client, app);
  } catch (err) {
    if (!(err instanceof EventHookApiError)) throw err;
    io.err(`okta-token-watch: event-hook status: ${accessProblem(err, okta, 'read') ?? `Okta answered ${oktaSaid(err)}.`}`);
    return EXIT_FAILURE;
  }
  const stored = await app.store.registeredEventHook();
  if (!hook) {
    io.out(`no event hook of ours in Okta${stored ? ` (the stored id ${plainText(stored.hookId, 60)} no longer exists)` : ''}: run "okta-token-watch event-hook register --url https://PUBLIC-HOST/okta/event-hook".`);
    return EXIT_FAILURE;
  }
  const want = new Set(HOOK_ELIGIBLE_EVENT_TYPES);
  const have = new Set(hook.events);
  const missing = [...want].filter((t) => !have.has(t));
  const extra = [...have].filter((t) => !want.has(t));
  const match = missing.length === 0 && extra.length === 0 ? 'match the rule set' : `differ from the rule set (missing: ${missing.join(', ') || 'none'}; extra: ${extra.map((t) => plainText(t, 80)).join(', ') || 'none'}): run event-hook register again`;
  const lines = [
    `id              ${plainText(hook.id, 60)}${stored?.hookId === hook.id ? ` (stored ${plainText(stored.registeredAt, 40)})` : ' (found by name; not stored: run event-hook register)'}`,
    `name            ${plainText(hook.name, 100)}`,
    `status          ${plainText(hook.status, 20)}`,
    `verification    ${plainText(hook.verificationStatus, 20)}`,
    `url             ${plainText(hook.uri, 300)}`,
    `event types     ${hook.events.map((t) => plainText(t, 80)).join(', ') || 'none'} (${match})`,
  ];
  for (const l of lines) io.out(l);
  return hook.status === 'ACTIVE' && hook.verificationStatus === 'VERIFIED' && missing.length === 0 && extra.length === 0 ? EXIT_OK : EXIT_FAILURE;
}

/** `event-hook remove`: deactivate, delete, forget the id. */
export async function removeHook(app: App, config: AppConfig, io: HookIo): Promise<number> {
  const okta = config.okta!;
  const client = await eventHookClient(okta, 'manage');
  let step = 'find';
  try {
    const hook = await findOurHook(client, app);
    if (!hook) {
      await app.store.clearRegisteredEventHook();
      io.out('no event hook of ours is registered in Okta: nothing to remove.');
      return EXIT_OK;
    }
    // Okta deletes only an INACTIVE hook.
    if (hook.status !== 'INACTIVE') {
      step = 'deactivate';
      await client.deactivate(hook.id);
    }
    step = 'delete';
    await client.delete(hook.id);
    await app.store.clearRegisteredEventHook();
    io.out(`removed event hook ${plainText(hook.id, 60)} "${plainText(hook.name, 100)}": Okta no longer pushes events; the poller still reads them.`);
    return EXIT_OK;
  } catch (err) {
    if (!(err instanceof EventHookApiError)) throw err;
    io.err(`okta-token-watch: event-hook remove failed at step "${step}": ${accessProblem(err, okta, 'manage') ?? `Okta answered ${oktaSaid(err)}.`}`);
    return EXIT_FAILURE;
  }
}
