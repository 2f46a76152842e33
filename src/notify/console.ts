import type { Notification } from '../detect/alert';
import type { Notifier } from './notifier';
import { safeJson } from './sanitize';

/**
 * The console line for one notification: one JSON object, no newline inside. Control, invisible and
 * bidi characters from the event are written as \u escapes, so they never reach a terminal raw.
 */
export function formatConsole(n: Notification): string {
  if (n.kind === 'summary') {
    const s = n.summary;
    return safeJson({
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
    });
  }
  if (n.kind === 'followup') {
    const f = n.followup;
    return safeJson({
      type: 'okta-token-watch.alert.followup',
      test: n.test ?? false,
      id: f.id,
      alertId: f.alertId,
      kind: f.kind,
      prominent: f.prominent,
      signals: f.signals,
      tokenId: f.token.id,
      tokenName: f.token.name,
      ...(f.firstUse
        ? { firstUse: { published: f.firstUse.published, eventType: f.firstUse.eventType, ip: f.firstUse.place.ip, country: f.firstUse.place.country, asNumber: f.firstUse.place.asNumber, isp: f.firstUse.place.isp, userAgent: f.firstUse.place.userAgent, minutesAfterCreation: f.firstUse.minutesAfterCreation, newCountry: f.firstUse.newCountry, newNetwork: f.firstUse.newNetwork } }
        : {}),
      ...(f.lifecycle ? { lifecycle: { change: f.lifecycle.change, eventType: f.lifecycle.eventType, uuid: f.lifecycle.uuid, published: f.lifecycle.published, actor: f.lifecycle.actor?.login ?? f.lifecycle.actor?.id ?? null, network: f.lifecycle.network?.connection ?? null } } : {}),
      ...(f.digest
        ? { digest: { reason: f.digest.reason, total: f.digest.total, byType: f.digest.byType, typeCount: f.digest.typeCount, sensitive: f.digest.sensitive.map((x) => ({ category: x.category, eventType: x.eventType, published: x.published, target: x.target })), sensitiveCount: f.digest.sensitiveCount } }
        : {}),
      watch: f.watch,
    });
  }
  const a = n.alert;
  return safeJson({
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
  });
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
