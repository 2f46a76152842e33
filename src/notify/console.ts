import type { Notification } from '../detect/alert';
import type { Notifier } from './notifier';
import { notificationOrg, ORG_BOUNDS } from './facts';
import { bound, safeJson } from './sanitize';

/**
 * The console line for one notification: one JSON object, no newline inside. Control, invisible and
 * bidi characters from the event are written as \u escapes, so they never reach a terminal raw.
 */
export function formatConsole(n: Notification): string {
  const org = notificationOrg(n);
  // With several orgs the org's name leads the line (`{"org":"prod",...}`), so a log pipeline
  // splits the stream by org; the line stays one JSON object. None in a single-org install.
  return safeJson({ ...(org ? { org: bound(org.name, ORG_BOUNDS.name) } : {}), ...fieldsOf(n) });
}

function fieldsOf(n: Notification): Record<string, unknown> {
  if (n.kind === 'summary') {
    const s = n.summary;
    return {
      type: 'okta-token-watch.summary',
      test: n.test ?? false,
      id: s.id,
      count: s.count,
      firstPublished: s.firstPublished,
      lastPublished: s.lastPublished,
      actors: s.actors,
      actorCount: s.actorCount,
      alertIdsOmitted: s.alertIdsOmitted,
      howToList: s.howToList,
    };
  }
  if (n.kind === 'followup') return formatConsoleFollowUp(n);
  const a = n.alert;
  return {
    type: 'okta-token-watch.alert',
    test: n.test ?? false,
    id: a.id,
    severity: a.rule.severity,
    uuid: a.event.uuid,
    published: a.event.published,
    actor: a.actor.login ?? a.actor.id,
    actorName: a.actor.displayName,
    rule: a.rule.id,
    tokenName: a.token?.name ?? null,
    tokenId: a.token?.id ?? null,
    // Only on an alert about an Okta event hook (the self-watch rule).
    ...(a.eventHook ? { eventHook: { id: a.eventHook.id, name: a.eventHook.name, change: a.eventHook.change, ours: a.eventHook.ours } } : {}),
    // Only on an alert of a token lifecycle rule: what happened to the token, and its network condition.
    ...(a.lifecycle ? { lifecycle: { change: a.lifecycle.change, networkAnywhere: a.lifecycle.networkAnywhere, network: a.network?.connection ?? null } } : {}),
    outcome: a.outcome.result,
    clientIp: a.client.ip,
    source: a.source,
    // Only on an alert for an event this program could not read: why, and the raw JSON's start.
    ...(a.unreadable ? { unreadable: a.unreadable.reason, raw: a.unreadable.raw } : {}),
  };
}

/**
 * A follow-up's console line. The payload is stored JSON read back, so every part may be missing
 * or of another type: each is read with optional chaining, and lists only when they are lists.
 */
function formatConsoleFollowUp(n: Extract<Notification, { kind: 'followup' }>): Record<string, unknown> {
  const f = n.followup;
  const u = f.firstUse;
  const l = f.lifecycle;
  const d = f.digest;
  const list = <T>(x: T[] | undefined): T[] => (Array.isArray(x) ? x : []);
  return {
    type: 'okta-token-watch.alert.followup',
    test: n.test ?? false,
    id: f.id,
    alertId: f.alertId,
    kind: f.kind,
    prominent: f.prominent === true,
    signals: list(f.signals),
    tokenId: f.token?.id ?? null,
    tokenName: f.token?.name ?? null,
    ...(u
      ? { firstUse: { published: u.published, eventType: u.eventType, ip: u.place?.ip ?? null, country: u.place?.country ?? null, asNumber: u.place?.asNumber ?? null, isp: u.place?.isp ?? null, userAgent: u.place?.userAgent ?? null, minutesAfterCreation: u.minutesAfterCreation, newCountry: u.newCountry, newNetwork: u.newNetwork } }
      : {}),
    // An expiry is Okta's own doing: no actor is named for it.
    ...(l ? { lifecycle: { change: l.change, eventType: l.eventType, uuid: l.uuid, published: l.published, actor: l.change === 'expired' ? null : (l.actor?.login ?? l.actor?.id ?? null), network: l.network?.connection ?? null } } : {}),
    ...(d
      ? { digest: { reason: d.reason, total: d.total, byType: list(d.byType).slice(0, 50), typeCount: d.typeCount, sensitive: list(d.sensitive).slice(0, 50).map((x) => ({ category: x?.category, eventType: x?.eventType, published: x?.published, target: x?.target })), sensitiveCount: d.sensitiveCount } }
      : {}),
    watch: f.watch,
  };
}

/** Writes one JSON line per alert to stdout (or another stream, in tests). */
export class ConsoleNotifier implements Notifier {
  readonly name = 'console';
  constructor(private readonly out: NodeJS.WritableStream = process.stdout) {}

  async send(n: Notification): Promise<void> {
    const line = formatConsole(n) + '\n';
    await new Promise<void>((resolve, reject) => this.out.write(line, (err) => (err ? reject(err) : resolve())));
  }
}
