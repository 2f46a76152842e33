/**
 * Links into the Okta Admin Console. The console lives on its own host: the org's subdomain with
 * `-admin` appended (`acme.okta.com` -> `acme-admin.okta.com`). Custom domains and loopback URLs
 * (tests, the demo) are used as they are.
 */

const OKTA_DOMAINS = /^([a-z0-9][a-z0-9-]*)\.(okta\.com|oktapreview\.com|okta-emea\.com|okta-gov\.com|okta\.mil)$/i;

/** The Admin Console origin for an org URL. */
export function adminOrigin(orgUrl: string): string {
  let u: URL;
  try {
    u = new URL(orgUrl);
  } catch {
    return orgUrl.replace(/\/+$/, '');
  }
  const m = OKTA_DOMAINS.exec(u.hostname);
  if (m && !/-admin$/i.test(m[1]!)) u.hostname = `${m[1]}-admin.${m[2]}`;
  return u.origin;
}

/**
 * A System Log search in the Admin Console (Reports > System Log). `search` takes a keyword or
 * a filter expression; the time range is given because the console otherwise shows only the
 * last seven days.
 */
export function systemLogLink(orgUrl: string, search: string, range?: { from?: Date; to?: Date }): string {
  const params = new URLSearchParams({ search });
  if (range?.from && Number.isFinite(range.from.getTime())) params.set('fromTime', range.from.toISOString());
  if (range?.to && Number.isFinite(range.to.getTime())) params.set('toTime', range.to.toISOString());
  // URLSearchParams writes a space as `+`, which only form decoding reads back as a space; `%20`
  // means a space to every decoder, so a filter such as `eq "00T..."` reaches the console intact.
  // (A literal `+` in the search is already `%2B`.)
  return `${adminOrigin(orgUrl)}/report/system_log_2?${params.toString().replace(/\+/g, '%20')}`;
}

/** Security > API > Tokens. */
export function apiTokensLink(orgUrl: string): string {
  return `${adminOrigin(orgUrl)}/admin/access/api/tokens`;
}

/** A user's page in the Admin Console. */
export function userLink(orgUrl: string, userId: string): string {
  return `${adminOrigin(orgUrl)}/admin/user/profile/view/${encodeURIComponent(userId)}`;
}
