/**
 * What a webhook URL may be. Notifications carry release and gate details and a signature that
 * proves who sent them; over plain http anyone on the path reads them, so http is allowed only
 * to a receiver on this machine.
 */

/** What a webhook URL looks like, for error messages. */
export const WEBHOOK_URL_EXPECTED =
  'an `https://` URL (plain `http://` only to a loopback host: `localhost`, `127.0.0.1`, `[::1]`)';

/** Why a URL cannot be a webhook target, and how to fix it. */
export interface WebhookUrlProblem {
  message: string;
  hint?: string;
}

/** True for `localhost`, `127.0.0.0/8` and `[::1]`: hosts that never leave this machine. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase();
  if (host === 'localhost' || host === '[::1]') return true;
  // URL normalises IPv4 in every notation (`0x7f.1`, `2130706433`) to dotted decimal.
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * Checks a webhook URL (already free of secret references). Messages show only the origin:
 * paths and queries of webhook URLs often carry tokens.
 *
 * @example webhookUrlProblem('http://hooks.example.com/x') // { message: '`http://hooks.example.com` is plain http …', hint: 'use `https://hooks.example.com/…`' }
 */
export function webhookUrlProblem(url: string): WebhookUrlProblem | undefined {
  if (!URL.canParse(url)) {
    return { message: 'not a valid URL', hint: 'write e.g. `https://hooks.example.com/shipshape`' };
  }
  const parsed = new URL(url);
  if (parsed.protocol === 'https:') return undefined;
  if (parsed.protocol !== 'http:') {
    return {
      message: `\`${parsed.protocol}\` is not a webhook URL scheme`,
      hint: 'use an `https://` URL',
    };
  }
  if (isLoopbackHost(parsed.hostname)) return undefined;
  return {
    message: `\`${parsed.origin}\` is plain http to a host that is not loopback: the notification would cross the network unencrypted`,
    hint: `use \`https://${parsed.host}/…\`; plain http is only for a receiver on this machine (\`http://127.0.0.1:PORT/…\`)`,
  };
}
