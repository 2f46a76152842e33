/** Exit codes, as sysexits(3) has them. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
/** `poll`: the tick succeeded, but a delivery of this run failed for good (see `status`). */
export const EXIT_DELIVERY_FAILED = 3;
export const EXIT_CONFIG = 78;

/**
 * One or more bad settings. Each problem is one sentence that names the variable and the fix and
 * never contains the variable's value.
 */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

/** A command line the program does not understand. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
