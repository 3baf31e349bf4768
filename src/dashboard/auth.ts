/**
 * Who may see the dashboard: whoever holds a token derived from the cluster's authkey
 * (HMAC-SHA256 of a fixed label), so the authkey itself never appears in a URL and the token
 * is the same every time the dashboard starts with that key.
 *
 *   GET /?token=T (the URL printed once) ─▶ cookie (HttpOnly, SameSite=Strict) ─▶ 303 to /
 *   every request: the cookie, `Authorization: Bearer T`, or (GET only) ?token=T
 *   POST: also same-origin (Origin matches Host, or Sec-Fetch-Site same-origin, or neither
 *   header: a client that is not a browser) and a JSON body (a form cannot post one cross-site)
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

const LABEL = 'weft dashboard v1';

/** The token for `authkey`; a random one when there is none (it then changes at every start). */
export function deriveToken(authkey: string | Uint8Array | undefined): string {
  const key = authkey === undefined ? randomBytes(32) : typeof authkey === 'string' ? Buffer.from(authkey, 'utf8') : Buffer.from(authkey);
  return createHmac('sha256', key).update(LABEL).digest('base64url');
}

/** Cookie names are not scoped by port: two dashboards on one host keep one cookie each. */
export function cookieName(port: number): string {
  return `weft_dashboard_${port}`;
}

/** The token the request presents, wherever it put it; undefined if none. */
export function presentedToken(request: IncomingMessage, port: number, url: URL): string | undefined {
  const header = request.headers.authorization;
  if (typeof header === 'string' && header.startsWith('Bearer ')) return header.slice(7).trim();
  const name = cookieName(port);
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  if (request.method === 'GET') return url.searchParams.get('token') ?? undefined;
  return undefined;
}

/** Constant-time comparison (of digests, so lengths do not leak either). */
export function tokenMatches(presented: string | undefined, token: string): boolean {
  if (presented === undefined) return false;
  const digest = (s: string) => createHmac('sha256', 'compare').update(s).digest();
  return timingSafeEqual(digest(presented), digest(token));
}

/** A POST from the page itself (or from a client that is not a browser), not from another site. */
export function sameOrigin(request: IncomingMessage): boolean {
  const origin = request.headers.origin;
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return false;
  if (origin === undefined) return true;
  return origin === `http://${request.headers.host}`;
}
