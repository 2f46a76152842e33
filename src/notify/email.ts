import net from 'node:net';
import nodemailer, { type Transporter } from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport';
import type { Alert, AlertOrg, AlertSummary, Notification } from '../detect/alert';
import { redact } from '../logger';
import type { EmailConfig } from './config';
import { actionLine, actorShort, alertFacts, alertLinks, type Fact, headline, historyLines, mitreIds, notificationId, notificationOrg, ORG_BOUNDS, orgFact, runbookOf, severityOf, signalLines, summaryFacts, tokenStateLine, UNREADABLE_HEADLINE, unreadableFacts, unreadableIntro } from './facts';
import { digestSensitiveLines, digestTypes, followUpFacts, followUpHeadline, followUpIntro, followUpLinks, followUpSignalLines, isProminent, watchStatusLine } from './followup-facts';
import { backstopTimeoutMs, deadlineSignal, serverReason } from './http';
import { DeliveryError, type Notifier } from './notifier';
import { escapeHtml, headerText, htmlText, plainText, safeLink } from './sanitize';

/** One email, ready for nodemailer. */
export interface EmailMessage {
  subject: string;
  text: string;
  html: string;
  /** Stable per alert, so a mail client can fold a rare at-least-once duplicate. */
  messageId: string;
  /** A follow-up replies to its alert's email: the alert's Message-ID, for mail clients' threads. */
  inReplyTo?: string;
  references?: string;
  headers: Record<string, string>;
}

const SUBJECT_MAX = 200;

/**
 * `[okta-token-watch] medium: API token "<name>" created by <actor>`, one line, bounded; with
 * several orgs, the org first: `[prod] [okta-token-watch] ...`, so inbox rules can sort by org.
 */
export function emailSubject(n: Notification): string {
  // `Re: ` and the alert's own subject: clients that thread by subject put the reply with its alert.
  if (n.kind === 'followup') {
    const org = notificationOrg(n);
    return headerText(`Re: ${emailSubject({ kind: 'alert', alert: org ? { ...n.alert, org } : n.alert, test: n.test })}`, SUBJECT_MAX);
  }
  const org = notificationOrg(n);
  return org ? headerText(`[${headerText(org.name, ORG_BOUNDS.name)}] ${kindSubject(n)}`, SUBJECT_MAX) : kindSubject(n);
}

function kindSubject(n: Exclude<Notification, { kind: 'followup' }>): string {
  const test = n.test ? 'TEST ' : '';
  if (n.kind === 'summary') {
    const count = Math.max(0, Math.floor(Number(n.summary.count) || 0));
    return `[okta-token-watch] ${test}${severityOf(n.summary.rule)}: ${count} more API token creations (summary)`;
  }
  const a = n.alert;
  if (a.unreadable) return headerText(`[okta-token-watch] ${test}${severityOf(a.rule)}: ${UNREADABLE_HEADLINE.toLowerCase()} (${a.event.uuid})`, SUBJECT_MAX);
  const actor = headerText(actorShort(a), 60);
  if (a.eventHook) {
    const hook = headerText(a.eventHook.name ?? a.eventHook.id ?? 'unnamed', 60);
    return headerText(`[okta-token-watch] ${test}${severityOf(a.rule)}: ${headline(a)}: "${hook}"${a.eventHook.change === 'delivery failed' ? '' : ` by ${actor}`}`, SUBJECT_MAX);
  }
  const name = headerText(a.token?.name ?? 'unnamed', 60);
  if (a.lifecycle) {
    // Okta's expiry has no person to name; a request from outside the range names the token only.
    const by = a.lifecycle.change === 'expired' || a.lifecycle.change === 'outside-range' ? '' : ` by ${actor}`;
    return headerText(`[okta-token-watch] ${test}${severityOf(a.rule)}: ${headline(a)}: "${name}"${by}`, SUBJECT_MAX);
  }
  const verb = a.outcome.result.toUpperCase() === 'SUCCESS' ? 'created by' : `creation attempted (${headerText(a.outcome.result, 20)}) by`;
  return headerText(`[okta-token-watch] ${test}${severityOf(a.rule)}: API token "${name}" ${verb} ${actor}`, SUBJECT_MAX);
}

function messageId(n: Notification): string {
  return messageIdOf(notificationId(n));
}

/** The Message-ID of the notification with this id. */
function messageIdOf(id: string): string {
  return `<${id.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 120)}@okta-token-watch>`;
}

const STYLE = {
  body: 'font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;font-size:14px;color:#1d1d1f;',
  th: 'text-align:left;vertical-align:top;padding:4px 12px 4px 0;color:#555;font-weight:600;white-space:nowrap;',
  td: 'vertical-align:top;padding:4px 0;font-family:Menlo,Consolas,monospace;word-break:break-all;',
  attention: 'color:#b3261e;',
  button: 'display:inline-block;padding:8px 14px;margin:0 8px 8px 0;background:#0b57d0;color:#ffffff;text-decoration:none;border-radius:4px;',
};

function htmlButtons(links: Array<{ text: string; url: string | null }>): string {
  return links
    .map((l) => ({ text: l.text, url: safeLink(l.url) }))
    .filter((l): l is { text: string; url: string } => l.url !== null)
    .map((l) => `<a href="${escapeHtml(l.url)}" style="${STYLE.button}">${escapeHtml(l.text)}</a>`)
    .join('');
}

/** Facts as the rows of the HTML table: our label, then the value escaped and bounded. */
function factRows(facts: Fact[]): string {
  return facts.map((f) => `<tr><th style="${STYLE.th}">${escapeHtml(f.label)}</th><td style="${STYLE.td}">${htmlText(f.value, f.max)}</td></tr>`).join('');
}

const TEST_NOTE = 'This is a test notification from okta-token-watch; nothing happened in Okta.';

/** The test notice at the top of the HTML part, or nothing. */
function testNoteHtml(testNote: string | null): string {
  return testNote ? `<p><strong>${escapeHtml(testNote)}</strong></p>` : '';
}

function htmlList(items: string[]): string {
  return `<ul>${items.map((i) => `<li>${htmlText(i, 600)}</li>`).join('')}</ul>`;
}

function textList(items: string[]): string {
  return items.map((i) => `  - ${plainText(i, 600)}`).join('\n');
}

function page(title: string, inner: string): string {
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body style="${STYLE.body}">${inner}</body></html>`;
}

/** The org's fact first in the table, when the install watches several orgs. */
function withOrgFact(org: AlertOrg | null, facts: Fact[]): Fact[] {
  return org ? [orgFact(org), ...facts] : facts;
}

function formatAlert(a: Alert, test: boolean | undefined, subject: string): Omit<EmailMessage, 'subject' | 'messageId' | 'headers'> {
  const facts = withOrgFact(notificationOrg({ kind: 'alert', alert: a }), alertFacts(a));
  // Our sentences with the data values rendered for each part.
  const historyText = historyLines(a, (v) => plainText(v, 200));
  const historyHtml = historyLines(a, (v) => htmlText(v, 200));
  const stateText = tokenStateLine(a, (v) => plainText(v, 200));
  const stateHtml = tokenStateLine(a, (v) => htmlText(v, 200));
  const signalsText = signalLines(a, (v) => plainText(v, 200));
  const signalsHtml = signalLines(a, (v) => htmlText(v, 200));
  const runbook = runbookOf(a.rule);
  const links = alertLinks(a);
  const mitre = mitreIds(a.rule);
  const mitreLine = mitre.tactics.length + mitre.techniques.length ? `MITRE ATT&CK ${[...mitre.tactics, ...mitre.techniques].join(' · ')}` : null;
  const title = `${severityOf(a.rule).toUpperCase()}: ${headline(a)}`;
  const testNote = test ? TEST_NOTE : null;
  // A lifecycle alert is about a token's change, which the creation facts below do not spell out.
  const actionText = a.lifecycle ? actionLine(a, (v) => plainText(v, 200)) : null;
  const actionHtml = a.lifecycle ? actionLine(a, (v) => htmlText(v, 200)) : null;

  const text = [
    ...(testNote ? [testNote, ''] : []),
    title,
    '',
    ...(actionText ? [actionText, ''] : []),
    ...(signalsText.length ? [...signalsText.map((l) => `! ${l}`), ''] : []),
    ...facts.map((f) => `${f.label}: ${plainText(f.value, f.max)}`),
    ...(historyText.length ? ['', 'What this database has seen:', historyText.map((l) => `  - ${l}`).join('\n')] : []),
    ...(stateText ? ['', `Token now: ${stateText}`] : []),
    '',
    'Links:',
    ...links.map((l) => `  ${l.text}: ${safeLink(l.url) ?? '-'}`),
    '',
    'Triage:',
    textList(runbook.triage),
    '',
    'Known benign reasons:',
    textList(runbook.benign),
    '',
    'Response:',
    textList(runbook.response),
    '',
    `${plainText(a.rule.name, 120)} · risk ${Number(a.rule.riskScore) || 0} · alert ${plainText(a.id, 100)}`,
    ...(mitreLine ? [mitreLine] : []),
  ].join('\n');

  const rows = factRows(facts);
  const html = page(
    subject,
    [
      testNoteHtml(testNote),
      `<h2>${escapeHtml(title)}</h2>`,
      actionHtml ? `<p>${actionHtml}</p>` : '',
      signalsHtml.length ? `<ul>${signalsHtml.map((l) => `<li><strong>${l}</strong></li>`).join('')}</ul>` : '',
      `<table role="presentation" cellspacing="0" cellpadding="0">${rows}</table>`,
      historyHtml.length ? `<h3>What this database has seen</h3><ul>${historyHtml.map((l) => `<li>${l}</li>`).join('')}</ul>` : '',
      stateHtml ? `<h3>Token now</h3><p>${stateHtml}</p>` : '',
      `<p>${htmlButtons(links)}</p>`,
      `<h3>Triage</h3>${htmlList(runbook.triage)}`,
      `<h3>Known benign reasons</h3>${htmlList(runbook.benign)}`,
      `<h3>Response</h3>${htmlList(runbook.response)}`,
      `<p style="color:#777;font-size:12px">${htmlText(a.rule.name, 120)} · risk ${Number(a.rule.riskScore) || 0} · alert ${htmlText(a.id, 100)}${mitreLine ? ` · ${escapeHtml(mitreLine)}` : ''}</p>`,
    ].join(''),
  );
  return { text, html };
}

function formatSummary(s: AlertSummary, test: boolean | undefined, subject: string): Omit<EmailMessage, 'subject' | 'messageId' | 'headers'> {
  const f = summaryFacts(s);
  const count = Math.max(0, Math.floor(Number(s.count) || 0));
  const intro = `${count} API token creations between ${plainText(s.firstPublished, 40)} and ${plainText(s.lastPublished, 40)} went over the per-tick alert limit, so they are summarised here instead of one message each. Every one of them is stored.`;
  const actorLines = f.actors.map((x) => `${plainText(x.actor, 100)} ×${Math.floor(Number(x.count) || 0)}`).concat(f.moreActors ? [`…and ${f.moreActors} more`] : []);
  const nameLines = f.tokenNames.map((n) => plainText(n, 80)).concat(f.moreNames ? [`…and ${f.moreNames} more`] : []);
  const links = [
    { text: 'API tokens page', url: s.links.apiTokens },
    { text: 'System Log', url: s.links.systemLog },
  ];
  const testNote = test ? TEST_NOTE : null;
  const org = withOrgFact(notificationOrg({ kind: 'summary', summary: s }), []);
  const text = [
    ...(testNote ? [testNote, ''] : []),
    ...(org.length ? [...org.map((x) => `${x.label}: ${plainText(x.value, x.max)}`), ''] : []),
    intro,
    '',
    'Actors:',
    ...actorLines.map((l) => `  - ${l}`),
    '',
    'Token names:',
    ...nameLines.map((l) => `  - ${l}`),
    '',
    `List them: ${plainText(s.howToList, 200)}`,
    '',
    'Links:',
    ...links.map((l) => `  ${l.text}: ${safeLink(l.url) ?? '-'}`),
    '',
    `${plainText(s.rule.name, 120)} · summary ${plainText(s.id, 60)}`,
  ].join('\n');
  const html = page(
    subject,
    [
      testNoteHtml(testNote),
      `<h2>${escapeHtml(`${severityOf(s.rule).toUpperCase()}: ${count} more Okta API token creations`)}</h2>`,
      org.length ? `<table role="presentation" cellspacing="0" cellpadding="0">${factRows(org)}</table>` : '',
      `<p>${escapeHtml(intro)}</p>`,
      `<h3>Actors</h3><ul>${actorLines.map((l) => `<li>${escapeHtml(l)}</li>`).join('')}</ul>`,
      `<h3>Token names</h3><ul>${nameLines.map((l) => `<li>${escapeHtml(l)}</li>`).join('')}</ul>`,
      `<p>List them: <code>${htmlText(s.howToList, 200)}</code></p>`,
      `<p>${htmlButtons(links)}</p>`,
      `<p style="color:#777;font-size:12px">${htmlText(s.rule.name, 120)} · summary ${htmlText(s.id, 60)}</p>`,
    ].join(''),
  );
  return { text, html };
}

/** An event this program could not read: what is known, the raw JSON's start, the links, the response steps. */
function formatUnreadable(a: Alert, test: boolean | undefined, subject: string): Omit<EmailMessage, 'subject' | 'messageId' | 'headers'> {
  const facts = withOrgFact(notificationOrg({ kind: 'alert', alert: a }), unreadableFacts(a));
  const intro = unreadableIntro(a);
  const runbook = runbookOf(a.rule);
  const links = [
    { text: 'Find the event in Okta', url: a.links.event },
    { text: 'API tokens page', url: a.links.apiTokens },
  ];
  const title = `${severityOf(a.rule).toUpperCase()}: ${UNREADABLE_HEADLINE}`;
  const testNote = test ? TEST_NOTE : null;
  const raw = a.unreadable?.raw ?? null;
  const text = [
    ...(testNote ? [testNote, ''] : []),
    title,
    '',
    ...intro,
    '',
    ...facts.map((f) => `${f.label}: ${plainText(f.value, f.max)}`),
    '',
    'Raw event (start):',
    plainText(raw, 2000),
    '',
    'Links:',
    ...links.map((l) => `  ${l.text}: ${safeLink(l.url) ?? '-'}`),
    '',
    'Response:',
    textList(runbook.response),
    '',
    `${plainText(a.rule.name, 120)} · alert ${plainText(a.id, 100)}`,
  ].join('\n');
  const rows = factRows(facts);
  const html = page(
    subject,
    [
      testNoteHtml(testNote),
      `<h2>${escapeHtml(title)}</h2>`,
      ...intro.map((l) => `<p>${escapeHtml(l)}</p>`),
      `<table role="presentation" cellspacing="0" cellpadding="0">${rows}</table>`,
      `<h3>Raw event (start)</h3><pre style="${STYLE.td}white-space:pre-wrap;">${htmlText(raw, 2000)}</pre>`,
      `<p>${htmlButtons(links)}</p>`,
      `<h3>Response</h3>${htmlList(runbook.response)}`,
      `<p style="color:#777;font-size:12px">${htmlText(a.rule.name, 120)} · alert ${htmlText(a.id, 100)}</p>`,
    ].join(''),
  );
  return { text, html };
}

/** A follow-up: which alert, the token's status since, why it stands out, its facts and lists. */
function formatFollowUp(n: Extract<Notification, { kind: 'followup' }>, subject: string): Omit<EmailMessage, 'subject' | 'messageId' | 'headers'> {
  const f = n.followup;
  const facts = withOrgFact(notificationOrg(n), followUpFacts(f));
  const prominent = isProminent(f);
  const title = `${prominent ? 'ATTENTION: ' : ''}${followUpHeadline(f)}`;
  const testNote = n.test ? TEST_NOTE : null;
  const signals = followUpSignalLines(f);
  const links = followUpLinks(n.alert);
  const types = f.kind === 'digest' && f.digest ? digestTypes(f.digest) : null;
  const sensitiveText = f.kind === 'digest' && f.digest ? digestSensitiveLines(f.digest, (v) => plainText(v, 120)) : null;
  const sensitiveHtml = f.kind === 'digest' && f.digest ? digestSensitiveLines(f.digest, (v) => htmlText(v, 120)) : null;
  const footerText = `follow-up ${plainText(f.id, 60)} · alert ${plainText(f.alertId, 100)}`;

  const text = [
    ...(testNote ? [testNote, ''] : []),
    title,
    '',
    followUpIntro(f, n.alert, (v) => plainText(v, 200)),
    watchStatusLine(f.watch, (v) => plainText(v, 200)),
    '',
    ...(signals.length ? [...signals.map((l) => `! ${l}`), ''] : []),
    ...facts.map((x) => `${x.label}: ${plainText(x.value, x.max)}`),
    ...(types && types.lines.length ? ['', 'Events by type:', ...types.lines.map((t) => `  - ${plainText(t.eventType, 120)} x${t.count}`), ...(types.more ? [`  …and ${types.more} more types`] : [])] : []),
    ...(sensitiveText && sensitiveText.lines.length ? ['', 'Sensitive actions:', ...sensitiveText.lines.map((l) => `  - ${l}`), ...(sensitiveText.more ? [`  …and ${sensitiveText.more} more`] : [])] : []),
    '',
    'Links:',
    ...links.map((l) => `  ${l.text}: ${safeLink(l.url) ?? '-'}`),
    '',
    footerText,
  ].join('\n');

  const rows = factRows(facts);
  const html = page(
    subject,
    [
      testNoteHtml(testNote),
      `<h2${prominent ? ` style="${STYLE.attention}"` : ''}>${escapeHtml(title)}</h2>`,
      `<p>${followUpIntro(f, n.alert, (v) => htmlText(v, 200))}</p>`,
      `<p><strong>${watchStatusLine(f.watch, (v) => htmlText(v, 200))}</strong></p>`,
      signals.length ? `<ul>${signals.map((l) => `<li><strong${prominent ? ` style="${STYLE.attention}"` : ''}>${escapeHtml(l)}</strong></li>`).join('')}</ul>` : '',
      `<table role="presentation" cellspacing="0" cellpadding="0">${rows}</table>`,
      types && types.lines.length
        ? `<h3>Events by type</h3><ul>${types.lines.map((t) => `<li>${htmlText(t.eventType, 120)} ×${t.count}</li>`).join('')}${types.more ? `<li>…and ${types.more} more types</li>` : ''}</ul>`
        : '',
      sensitiveHtml && sensitiveHtml.lines.length
        ? `<h3>Sensitive actions</h3><ul>${sensitiveHtml.lines.map((l) => `<li>${l}</li>`).join('')}${sensitiveHtml.more ? `<li>…and ${sensitiveHtml.more} more</li>` : ''}</ul>`
        : '',
      `<p>${htmlButtons(links)}</p>`,
      `<p style="color:#777;font-size:12px">follow-up ${htmlText(f.id, 60)} · alert ${htmlText(f.alertId, 100)}</p>`,
    ].join(''),
  );
  return { text, html };
}

/** The email for one notification: subject, text and HTML parts. Pure. */
export function formatEmail(n: Notification): EmailMessage {
  const subject = emailSubject(n);
  const body =
    n.kind === 'followup'
      ? formatFollowUp(n, subject)
      : n.kind === 'summary'
        ? formatSummary(n.summary, n.test, subject)
        : n.alert.unreadable
          ? formatUnreadable(n.alert, n.test, subject)
          : formatAlert(n.alert, n.test, subject);
  // The alert's (or its summary's) Message-ID is derived from its id alone, so the reply can name it without a receipt.
  const parent =
    n.kind === 'followup'
      ? n.repliesTo && n.repliesTo !== n.alert.id
        ? messageIdOf(n.repliesTo)
        : messageId({ kind: 'alert', alert: n.alert })
      : null;
  const prominent = n.kind === 'followup' && isProminent(n.followup);
  return {
    subject,
    ...body,
    messageId: messageId(n),
    ...(parent ? { inReplyTo: parent, references: parent } : {}),
    headers: {
      'X-OTW-Notification-Id': notificationId(n).replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 120),
      ...(n.test ? { 'X-OTW-Test': 'true' } : {}),
      // Mail clients flag these; the prominent follow-up stands out in the inbox, not only inside.
      ...(prominent ? { Importance: 'high', 'X-Priority': '1' } : {}),
    },
  };
}

/** nodemailer's error fields that matter for classification. */
interface SmtpError {
  code?: string;
  responseCode?: number;
  response?: string;
  command?: string;
}

const SMTP_NETWORK = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ECONNREFUSED', 'ECONNRESET', 'EPROTOCOL']);

/**
 * SMTP 4xx and connection problems are retryable; 5xx, failed login and TLS refusals are not.
 * The message carries the server's reason, never the password.
 */
export function classifySmtpError(err: unknown): DeliveryError {
  const e = (err ?? {}) as SmtpError;
  const reason = e.response ? `: ${serverReason(e.response)}` : '';
  if (e.code === 'ETLS') {
    return new DeliveryError(
      `TLS with the SMTP server failed${reason}: fix the server's certificate or STARTTLS support (SMTP_REQUIRE_TLS=false allows a server without STARTTLS)`,
      false,
    );
  }
  if (typeof e.responseCode === 'number') {
    const code = e.responseCode;
    if (code >= 400 && code < 500) return new DeliveryError(`the SMTP server deferred the message (${code})${reason}`, true);
    if (e.code === 'EAUTH') return new DeliveryError(`the SMTP server refused the login (${code})${reason}: check SMTP_USER and SMTP_PASSWORD`, false);
    if (code >= 500) return new DeliveryError(`the SMTP server rejected the message (${code})${reason}`, false);
  }
  if (e.code === 'EAUTH') return new DeliveryError(`the SMTP login failed${reason}: check SMTP_USER and SMTP_PASSWORD`, false);
  if (e.code && SMTP_NETWORK.has(e.code)) return new DeliveryError(`cannot talk to the SMTP server (${e.code})${reason}`, true);
  const message = err instanceof Error ? redact(err.message) : 'unknown error';
  return new DeliveryError(`sending the email failed: ${serverReason(message)}`, true);
}

/**
 * Sends through SMTP with nodemailer, one connection per message (no pool to go stale in an outage).
 * Each send opens its own TCP connection and hands it to nodemailer, so that when the deadline
 * passes (NOTIFY_TIMEOUT for the whole session, or the dispatcher's) the socket is destroyed: the
 * session ends there and then, and a server that takes the message after that never gets it.
 */
export class EmailNotifier implements Notifier {
  readonly name = 'email';
  private readonly transport: Transporter<SMTPTransport.SentMessageInfo>;
  private readonly options: SMTPTransport.Options;
  private readonly timeoutMs: number;

  constructor(
    private readonly config: EmailConfig,
    opts: { timeoutMs: number },
  ) {
    const s = config.smtp;
    this.timeoutMs = opts.timeoutMs;
    this.options = {
      host: s.host,
      port: s.port,
      secure: s.secure,
      requireTLS: !s.secure && s.requireTls,
      auth: s.user !== null && s.password !== null ? { user: s.user, pass: s.password } : undefined,
      connectionTimeout: opts.timeoutMs,
      greetingTimeout: opts.timeoutMs,
      socketTimeout: opts.timeoutMs,
      dnsTimeout: opts.timeoutMs,
      disableFileAccess: true,
      disableUrlAccess: true,
      logger: false,
      debug: false,
    };
    this.transport = nodemailer.createTransport(this.options);
  }

  async send(n: Notification, signal?: AbortSignal): Promise<void> {
    const m = formatEmail(n);
    const deadline = deadlineSignal(this.timeoutMs, signal);
    const sockets = new Set<net.Socket>();
    const backstop = backstopTimeoutMs(this.timeoutMs);
    const transport = nodemailer.createTransport({
      ...this.options,
      // The session's deadline is `deadline`; nodemailer's own timers only back it up.
      connectionTimeout: backstop,
      greetingTimeout: backstop,
      socketTimeout: backstop,
      dnsTimeout: backstop,
      // nodemailer upgrades this plain socket to TLS itself when SMTP_SECURE is on.
      getSocket: (_options: SMTPTransport.Options, callback: (err: Error | null, socketOptions: unknown) => void) => {
        const socket = net.connect({ host: this.config.smtp.host, port: this.config.smtp.port });
        sockets.add(socket);
        const failed = (err: Error): void => callback(err, null);
        socket.once('error', failed);
        socket.once('connect', () => {
          socket.off('error', failed);
          callback(null, { connection: socket });
        });
      },
    });
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => {
        for (const s of sockets) s.destroy();
        reject(new DeliveryError('the SMTP server did not finish in time; the session was closed', true));
      };
      if (deadline.aborted) onAbort();
      else deadline.addEventListener('abort', onAbort, { once: true });
    });
    let info: SMTPTransport.SentMessageInfo;
    try {
      info = await Promise.race([
        transport.sendMail({
          from: this.config.from,
          to: this.config.to,
          subject: m.subject,
          text: m.text,
          html: m.html,
          messageId: m.messageId,
          ...(m.inReplyTo ? { inReplyTo: m.inReplyTo, references: m.references } : {}),
          headers: m.headers,
        }),
        aborted,
      ]);
    } catch (err) {
      for (const s of sockets) s.destroy();
      throw err instanceof DeliveryError ? err : classifySmtpError(err);
    } finally {
      if (onAbort) deadline.removeEventListener('abort', onAbort);
      aborted.catch(() => undefined);
      transport.close();
    }
    const rejected = (info.rejected ?? []).map((r) => (typeof r === 'string' ? r : r.address));
    if (rejected.length > 0) {
      // Some recipients got it: a retry would send them a copy, so this is reported, not retried.
      const rejectedErrors = (info as { rejectedErrors?: Array<Error & SmtpError> }).rejectedErrors ?? [];
      const details = rejectedErrors.map((e) => serverReason(e.response ?? e.message)).join('; ');
      throw new DeliveryError(
        `the SMTP server accepted ${info.accepted.length} recipient(s) but rejected ${rejected.join(', ').slice(0, 300)}${details ? `: ${details.slice(0, 300)}` : ''}: check EMAIL_TO`,
        false,
      );
    }
  }

  async check(): Promise<void> {
    try {
      await this.transport.verify();
    } catch (err) {
      throw classifySmtpError(err);
    }
  }

  async close(): Promise<void> {
    this.transport.close();
  }
}
