import type { Logger } from '../logger';
import type { NotifyConfig } from './config';
import { ConsoleNotifier } from './console';
import type { Notifier } from './notifier';

/** What notifiers may need from the program. */
export interface NotifierDeps {
  logger: Logger;
  /** Stream for the console notifier (stdout by default). */
  stdout?: NodeJS.WritableStream;
}

/**
 * Builds the enabled notifiers, in the configured order. Names are unique: a duplicate is a bug.
 * (Spine version: console only; the notifier issue adds Slack, email and webhook.)
 */
export function buildNotifiers(config: NotifyConfig, deps: NotifierDeps): Notifier[] {
  const out: Notifier[] = [];
  const names = new Set<string>();
  for (const name of config.enabled) {
    if (names.has(name)) throw new Error(`notifier ${name} registered twice`);
    names.add(name);
    if (name === 'console') out.push(new ConsoleNotifier(deps.stdout));
    else throw new Error(`unknown notifier ${name}`);
  }
  return out;
}
