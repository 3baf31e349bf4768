/**
 * Counts the sockets a server turned away or dropped before they authenticated, and reports them
 * in aggregate: at most one report per interval, never one per socket. A flood of a thousand
 * sockets is one line in a log, not a thousand (issue 11).
 *
 *   record(reason, address) ──▶ totals (stats) + the current window
 *   first record after a quiet interval ──▶ report FIRST_REPORT_DELAY_MS later (a burst is one report,
 *                                           a lone wrong authkey is still heard within a second), then
 *                                           at most one per interval while refusals keep coming; an
 *                                           interval without any goes quiet
 */

/** Why a socket never became an authenticated connection. */
export type RefusalReason =
  /** The server held maxConnections authenticated connections. */
  | 'connections'
  /** Dropped to make room in the handshake budget (its address, or the whole budget, was full). */
  | 'handshakes'
  /** It did not complete the handshake within its deadline. */
  | 'timeout'
  /** It proved a wrong authkey. */
  | 'authkey'
  /** It sent bytes that are not the handshake (or a TLS handshake that failed). */
  | 'protocol'
  /** It closed (or its socket failed) before authenticating. */
  | 'hangup'
  /** The server was shutting down. */
  | 'closing';

export const REFUSAL_REASONS: readonly RefusalReason[] = ['connections', 'handshakes', 'timeout', 'authkey', 'protocol', 'hangup', 'closing'];

/** What a server turned away in one interval. */
export interface RefusalReport {
  /** Sockets refused or dropped in the interval. */
  count: number;
  /** Milliseconds the report covers: from its first refusal, or from the report before. */
  intervalMs: number;
  /** The count by reason; reasons that did not occur are absent. */
  byReason: Partial<Record<RefusalReason, number>>;
  /** The addresses refused most, most first (at most 5; IPv6 as /64 prefixes). */
  addresses: { address: string; count: number }[];
  /** One line for a log: "refused 1,034 connections in the last 10 s: 1,000 over the handshake budget, ...". */
  message: string;
}

/** @default 10 s between reports: a flood costs a log six lines a minute. */
export const DEFAULT_REFUSAL_REPORT_INTERVAL_MS = 10_000;
/**
 * Distinct addresses one report counts on their own; the rest are summed as "other addresses".
 * Bounds the memory a flood from many addresses costs between two reports.
 */
const MAX_ADDRESSES_PER_REPORT = 10_000;
const TOP_ADDRESSES = 5;
/**
 * Milliseconds from the first refusal after a quiet interval to its report (or the interval, if
 * shorter): long enough to gather a burst of connects into one line, short enough that an
 * operator trying a key sees the refusal at once.
 */
const FIRST_REPORT_DELAY_MS = 1000;

const PHRASES: Record<RefusalReason, string> = {
  connections: 'over the connection limit',
  handshakes: 'over the handshake budget',
  timeout: 'too slow to authenticate',
  authkey: 'with a wrong authkey',
  protocol: 'broke the handshake protocol',
  hangup: 'hung up before authenticating',
  closing: 'while shutting down',
};

const OTHERS = 'other addresses';

export class RefusalLog {
  readonly #interval: number;
  readonly #onReport: ((report: RefusalReport) => void) | undefined;
  readonly #totals: Record<RefusalReason, number> = { connections: 0, handshakes: 0, timeout: 0, authkey: 0, protocol: 0, hangup: 0, closing: 0 };
  #total = 0;
  #count = 0;
  #byReason: Partial<Record<RefusalReason, number>> = {};
  #byAddress = new Map<string, number>();
  /** When the current window began: the last report, or the first refusal after a quiet time. */
  #since = 0;
  /** Set while a report is due (the end of this turn, or the end of the interval). */
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;

  constructor(interval: number, onReport: ((report: RefusalReport) => void) | undefined) {
    this.#interval = interval;
    this.#onReport = onReport;
  }

  get total(): number {
    return this.#total;
  }

  /** Totals since the start, by reason. */
  get totals(): Record<RefusalReason, number> {
    return { ...this.#totals };
  }

  record(reason: RefusalReason, address: string): void {
    this.#total++;
    this.#totals[reason]++;
    if (!this.#onReport || this.#stopped) return;
    if (this.#count === 0 && this.#timer === undefined) this.#since = Date.now();
    this.#count++;
    this.#byReason[reason] = (this.#byReason[reason] ?? 0) + 1;
    const key = this.#byAddress.has(address) || this.#byAddress.size < MAX_ADDRESSES_PER_REPORT ? address : OTHERS;
    this.#byAddress.set(key, (this.#byAddress.get(key) ?? 0) + 1);
    if (this.#timer === undefined) this.#timer = setTimeout(this.#tick, Math.min(this.#interval, FIRST_REPORT_DELAY_MS)).unref();
  }

  /** Reports what is pending now and stops reporting (the server closed). */
  stop(): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#report();
    this.#stopped = true;
  }

  #tick = (): void => {
    this.#timer = undefined;
    if (this.#count === 0) return; // a quiet interval: the next refusal reports at once
    this.#report();
    this.#timer = setTimeout(this.#tick, this.#interval).unref();
  };

  #report(): void {
    if (this.#count === 0 || !this.#onReport) return;
    const now = Date.now();
    const report = formatReport(this.#count, now - this.#since, this.#byReason, this.#byAddress);
    this.#count = 0;
    this.#byReason = {};
    this.#byAddress = new Map();
    this.#since = now;
    this.#onReport(report);
  }
}

function formatReport(count: number, intervalMs: number, byReason: Partial<Record<RefusalReason, number>>, byAddress: Map<string, number>): RefusalReport {
  const addresses = [...byAddress].filter(([address]) => address !== OTHERS)
    .sort((a, b) => b[1] - a[1]).slice(0, TOP_ADDRESSES)
    .map(([address, n]) => ({ address, count: n }));
  const listed = addresses.reduce((sum, a) => sum + a.count, 0);
  const reasons = REFUSAL_REASONS.filter((reason) => byReason[reason]).map((reason) => `${thousands(byReason[reason]!)} ${PHRASES[reason]}`);
  const from = addresses.map((a) => `${a.address} (${thousands(a.count)})`);
  if (listed < count) from.push(`${OTHERS} (${thousands(count - listed)})`);
  const span = intervalMs >= 1000 ? ` in the last ${seconds(intervalMs)} s` : intervalMs >= 50 ? ` in the last ${intervalMs} ms` : '';
  const message = `refused ${thousands(count)} connection${count === 1 ? '' : 's'}${span}: ${reasons.join(', ')}; from ${from.join(', ')}`;
  return { count, intervalMs, byReason: { ...byReason }, addresses, message };
}

function thousands(n: number): string {
  return n.toLocaleString('en-US');
}

function seconds(ms: number): string {
  return (Math.round(ms / 100) / 10).toString();
}
