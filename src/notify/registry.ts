import type { Clock } from '../clock';
import type { Logger } from '../logger';
import type { NotifyConfig } from './config';
import { ConsoleNotifier } from './console';
import { EmailNotifier } from './email';
import type { Notifier } from './notifier';
import { PagerDutyNotifier } from './pagerduty';
import { SlackNotifier } from './slack';
import { TeamsNotifier } from './teams';
import type { ResponseButtonsOption } from '../slack-app/blocks';
import { WebhookNotifier } from './webhook';

/** What notifiers may need from the program. */
export interface NotifierDeps {
  logger: Logger;
  /** Stream for the console notifier (stdout by default). */
  stdout?: NodeJS.WritableStream;
  /** Time for Retry-After dates and webhook signature timestamps (the system clock by default). */
  clock?: Clock;
  /** Slack app mode: the response buttons Slack alerts carry. */
  slackResponses?: ResponseButtonsOption;
}

/** Builds one notifier from the settings; null when its settings are missing. */
export type NotifierFactory = (config: NotifyConfig, deps: NotifierDeps) => Notifier | null;

/** Notifier factories by name. Registering a name twice is a bug and throws. */
export class NotifierRegistry {
  private readonly factories = new Map<string, NotifierFactory>();

  register(name: string, factory: NotifierFactory): this {
    if (this.factories.has(name)) throw new Error(`notifier ${name} registered twice`);
    this.factories.set(name, factory);
    return this;
  }

  names(): string[] {
    return [...this.factories.keys()];
  }

  /** Builds the enabled notifiers, in the configured order, each name once. */
  build(config: NotifyConfig, deps: NotifierDeps): Notifier[] {
    const out: Notifier[] = [];
    const seen = new Set<string>();
    for (const name of config.enabled) {
      if (seen.has(name)) throw new Error(`notifier ${name} enabled twice`);
      seen.add(name);
      const factory = this.factories.get(name);
      // parseNotifyConfig already turned these into problems naming the setting; reaching here is a bug.
      if (!factory) throw new Error(`unknown notifier ${name}`);
      const notifier = factory(config, deps);
      if (!notifier) throw new Error(`notifier ${name} is enabled but its settings are missing`);
      if (notifier.name !== name) throw new Error(`notifier registered as ${name} calls itself ${notifier.name}`);
      out.push(notifier);
    }
    return out;
  }
}

/** The notifiers this program ships. */
export function defaultRegistry(): NotifierRegistry {
  return new NotifierRegistry()
    .register('console', (_c, d) => new ConsoleNotifier(d.stdout))
    .register('slack', (c, d) => (c.slack ? new SlackNotifier(c.slack, { timeoutMs: c.timeoutMs, now: d.clock ? () => d.clock!.now() : undefined, logger: d.logger, format: d.slackResponses ? { responses: d.slackResponses } : undefined }) : null))
    .register('email', (c) => (c.email ? new EmailNotifier(c.email, { timeoutMs: c.timeoutMs }) : null))
    .register('webhook', (c, d) => (c.webhook ? new WebhookNotifier(c.webhook, { timeoutMs: c.timeoutMs, now: d.clock ? () => d.clock!.now() : undefined }) : null))
    .register('pagerduty', (c, d) => (c.pagerduty ? new PagerDutyNotifier(c.pagerduty, { timeoutMs: c.timeoutMs, now: d.clock ? () => d.clock!.now() : undefined }) : null))
    .register('teams', (c, d) => (c.teams ? new TeamsNotifier(c.teams, { timeoutMs: c.timeoutMs, now: d.clock ? () => d.clock!.now() : undefined }) : null));
}

/** Builds the enabled notifiers, in the configured order. Names are unique: a duplicate is a bug. */
export function buildNotifiers(config: NotifyConfig, deps: NotifierDeps): Notifier[] {
  return defaultRegistry().build(config, deps);
}
