import type { OktaConfig } from '../config';
import { SdkOktaHttp } from './client';
import { OktaRequestError } from './http';

/*
 * Okta's event hook management API through the SDK's generated EventHookApi (request factory and
 * response processor) over this project's SDK Http. The generated modules pull in the SDK's whole
 * model serializer (tens of MB), so they are required here, inside the constructor, and this file is
 * only imported by the one-shot `event-hook` and `check` commands: the daemon never loads them.
 */

/** What this program reads of an Okta event hook. */
export interface EventHookView {
  id: string;
  name: string;
  status: string;
  verificationStatus: string;
  uri: string;
  events: string[];
}

/** The body of a create or replace: our hook's whole definition. */
export interface EventHookDefinition {
  name: string;
  uri: string;
  eventTypes: readonly string[];
  /** The Authorization header value Okta sends (authScheme HEADER). */
  secret: string;
}

/**
 * A management call Okta refused or that did not reach Okta. `status` is 0 when there was no HTTP
 * answer (network, timeout, refused origin, token endpoint).
 */
export class EventHookApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly errorCode: string | null,
    /** Okta's errorSummary and errorCauses' summaries, as Okta wrote them (untrusted, unbounded). */
    readonly summaries: string[],
    readonly transport?: OktaRequestError,
  ) {
    super(message);
    this.name = 'EventHookApiError';
  }
}

interface SdkRequestContext {
  url: unknown;
}
interface SdkResponseContext {
  httpStatusCode: number;
}
interface SdkObservable<T> {
  toPromise(): Promise<T>;
}
interface SdkHttpApi {
  send(request: SdkRequestContext): SdkObservable<SdkResponseContext>;
}
type Factory = Record<string, (...args: unknown[]) => Promise<SdkRequestContext>>;
type Processor = Record<string, (response: SdkResponseContext) => Promise<unknown>>;

/** Which OAuth scope the service app asks for: `manage` to change hooks, `read` for `check`. */
export type EventHookAccess = 'manage' | 'read';

/** The OAuth scope each access needs (SSWS tokens carry their admin's rights instead). */
export const EVENT_HOOK_SCOPES: Record<EventHookAccess, string> = { manage: 'okta.eventHooks.manage', read: 'okta.eventHooks.read' };

/** The org's event hooks, through the SDK's EventHookApi on the project's guarded HTTP layer. */
export class EventHookClient {
  private readonly factory: Factory;
  private readonly processor: Processor;
  private readonly http: SdkHttpApi;

  constructor(config: OktaConfig, access: EventHookAccess) {
    // A service app's token is asked for exactly the scope these calls need, so a missing grant is
    // reported as such (invalid_scope) instead of as an unexplained 403 later.
    const scoped: OktaConfig = config.auth.mode === 'oauth' ? { ...config, auth: { ...config.auth, scopes: [EVENT_HOOK_SCOPES[access]] } } : config;
    this.http = new SdkOktaHttp(scoped).sdkHttp as SdkHttpApi;
    const { createConfiguration } = require('@okta/okta-sdk-nodejs/src/generated/configuration') as { createConfiguration(c: Record<string, unknown>): unknown };
    const { ServerConfiguration } = require('@okta/okta-sdk-nodejs/src/generated/servers') as { ServerConfiguration: new (url: string, vars: Record<string, string>) => unknown };
    const api = require('@okta/okta-sdk-nodejs/src/generated/apis/EventHookApi') as {
      EventHookApiRequestFactory: new (configuration: unknown) => Factory;
      EventHookApiResponseProcessor: new () => Processor;
    };
    const configuration = createConfiguration({ baseServer: new ServerConfiguration(config.orgUrl, {}), httpApi: this.http });
    this.factory = new api.EventHookApiRequestFactory(configuration);
    this.processor = new api.EventHookApiResponseProcessor();
  }

  private async call(method: string, ...args: unknown[]): Promise<unknown> {
    const request = await this.factory[method]!(...args);
    let response: SdkResponseContext;
    try {
      response = await this.http.send(request).toPromise();
    } catch (err) {
      throw toApiError(err);
    }
    try {
      return await this.processor[method]!(response);
    } catch (err) {
      throw toApiError(err);
    }
  }

  async list(): Promise<EventHookView[]> {
    const hooks = await this.call('listEventHooks');
    return Array.isArray(hooks) ? hooks.map(view) : [];
  }

  async get(id: string): Promise<EventHookView> {
    return view(await this.call('getEventHook', id));
  }

  async create(def: EventHookDefinition): Promise<EventHookView> {
    return view(await this.call('createEventHook', body(def)));
  }

  async replace(id: string, def: EventHookDefinition): Promise<EventHookView> {
    return view(await this.call('replaceEventHook', id, body(def)));
  }

  async verify(id: string): Promise<EventHookView> {
    return view(await this.call('verifyEventHook', id));
  }

  async activate(id: string): Promise<EventHookView> {
    return view(await this.call('activateEventHook', id));
  }

  async deactivate(id: string): Promise<EventHookView> {
    return view(await this.call('deactivateEventHook', id));
  }

  async delete(id: string): Promise<void> {
    await this.call('deleteEventHook', id);
  }
}

function body(def: EventHookDefinition): Record<string, unknown> {
  return {
    name: def.name,
    events: { type: 'EVENT_TYPE', items: [...def.eventTypes] },
    channel: {
      type: 'HTTP',
      version: '1.0.0',
      config: { uri: def.uri, headers: [], authScheme: { type: 'HEADER', key: 'Authorization', value: def.secret } },
    },
  };
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/** Reads a hook leniently: whatever Okta (or a proxy in front of it) answers, nothing throws here. */
function view(h: unknown): EventHookView {
  const o = (h && typeof h === 'object' ? h : {}) as Record<string, unknown>;
  const channel = (o.channel && typeof o.channel === 'object' ? o.channel : {}) as Record<string, unknown>;
  const config = (channel.config && typeof channel.config === 'object' ? channel.config : {}) as Record<string, unknown>;
  const events = (o.events && typeof o.events === 'object' ? o.events : {}) as Record<string, unknown>;
  return {
    id: str(o.id),
    name: str(o.name),
    status: str(o.status),
    verificationStatus: str(o.verificationStatus),
    uri: str(config.uri),
    events: Array.isArray(events.items) ? events.items.filter((x): x is string => typeof x === 'string') : [],
  };
}

function toApiError(err: unknown): EventHookApiError {
  if (err instanceof EventHookApiError) return err;
  if (err instanceof OktaRequestError) return new EventHookApiError(err.message, 0, null, [], err);
  const e = err as { status?: unknown; code?: unknown; errorCode?: unknown; errorSummary?: unknown; errorCauses?: unknown; body?: unknown; message?: unknown };
  // The SDK's Http throws OktaApiError (status, errorCode, errorSummary, errorCauses) for every non-2xx;
  // the generated processor throws ApiException (code, body) for statuses it does not expect.
  const status = typeof e?.status === 'number' ? e.status : typeof e?.code === 'number' ? e.code : 0;
  const src = (typeof e?.errorCode === 'string' ? e : e?.body && typeof e.body === 'object' ? e.body : {}) as Record<string, unknown>;
  const summaries: string[] = [];
  if (typeof src.errorSummary === 'string' && src.errorSummary) summaries.push(src.errorSummary);
  if (Array.isArray(src.errorCauses)) {
    for (const c of src.errorCauses.slice(0, 5)) {
      const s = c && typeof c === 'object' ? (c as Record<string, unknown>).errorSummary : undefined;
      if (typeof s === 'string' && s) summaries.push(s);
    }
  }
  const code = typeof src.errorCode === 'string' ? src.errorCode : null;
  return new EventHookApiError(status ? `Okta answered HTTP ${status}${code ? ` ${code}` : ''}` : 'unexpected answer from Okta', status, code, summaries);
}
