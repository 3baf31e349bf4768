import { isIPv6, type Socket } from 'node:net';

/**
 * The handshake budget: the sockets a server holds that have not proved the authkey yet, kept
 * apart from its authenticated connections so that sockets which never speak cannot take the
 * slots of clients that do (issue 11).
 *
 *   accepted socket ──▶ admit(address) ─┬─ its address holds maxHandshakesPerAddress ─▶ drop that address's oldest,
 *                                       │                                                if older than handshakeGrace
 *                                       ├─ the budget holds maxHandshakes ─────────────▶ drop the oldest of the
 *                                       │                                                address holding the most
 *                                       │                                                (a tie: the oldest of them)
 *                                       └─ deadline: handshakeTimeout, or handshakeTimeoutUnderPressure
 *                                          when the budget or the address is past half full
 *   WELCOME sent, or the socket closed ──▶ settle(): it leaves the budget
 *   deadline passed, or dropped for room ──▶ onDrop(reason): the listener counts it and destroys the socket
 *
 * Invariants: at most maxHandshakes sockets are held at once; an address holds at most
 * maxHandshakesPerAddress of them older than handshakeGrace; a socket stays in the budget until it
 * is authenticated or closed (one that failed its handshake but lingers while its REJECT drains
 * still counts); the newcomer is never the one dropped.
 *
 * Why drop the oldest rather than refuse the newest: an honest client answers HELLO within one
 * round trip, so its handshake is among the youngest; a silent socket only gets older. Dropping
 * the oldest makes a flood evict itself, and a client sharing the flooder's address (a NAT, or
 * every local client on loopback) loses its socket only if that many newer sockets from the
 * address arrive within its own round trip. Refusing the newest instead would hand the slots to
 * whoever took them first, which is the flooder.
 *
 * Why the grace: a server accepts a burst of connects in one go, before any of them could answer
 * HELLO, so "the oldest" of a burst is no more silent than the newest. Below handshakeGrace a
 * socket is not dropped for room in its own address, which may then briefly hold more than its
 * cap; the total cap has no grace, so the budget stays bounded. A burst of up to maxHandshakes
 * connects from one host all get in; beyond that, its oldest handshakes are dropped.
 *
 * The per-address cap bounds what one address can take (half the budget by default), so a flood
 * from one address drops its own handshakes, not another's, until it holds more than anyone; it
 * counts unauthenticated sockets only: a host may hold any number of authenticated connections
 * (up to maxConnections), so 200 clients on one host are fine.
 */

/**
 * Sockets in their handshake at once, over every address. A handshake lasts one round trip
 * (well under a millisecond on a LAN, a few hundred across continents), so 512 at once is a
 * whole cluster reconnecting in the same instant; each holds a descriptor and a 64 KiB read
 * buffer (32 MiB at most), beside the up-to-1024 authenticated connections.
 */
export const DEFAULT_MAX_HANDSHAKES = 512;
/**
 * The default per-address cap is maxHandshakes divided by this: one address may take half the
 * budget, so a flood from one address always leaves the other half to everyone else.
 */
export const PER_ADDRESS_SHARE = 2;
/**
 * Milliseconds a handshake begun under pressure (the budget or its address past half full) may
 * take. Several intercontinental round trips plus a busy event loop fit in a second; a quiet
 * server still gives slow links the full handshakeTimeout. It is also the default grace: a
 * handshake is not dropped for room in its own address before it has had as long as a
 * handshake under pressure may take, so no handshake that would meet its deadline is dropped
 * for being in a burst.
 */
export const DEFAULT_HANDSHAKE_TIMEOUT_UNDER_PRESSURE_MS = 1000;
export interface HandshakeLimits {
  maxHandshakes: number;
  maxHandshakesPerAddress: number;
  handshakeTimeout: number;
  handshakeTimeoutUnderPressure: number;
  handshakeGrace: number;
}

/** Why the budget let go of a socket before its handshake ended. */
export type DropReason = 'handshakes' | 'timeout' | 'closing';

/** One socket (or ZeroMQ peer, `S`) in its handshake; the listener extends it with what it tracks. */
export class PendingHandshake<S = Socket> {
  readonly socket: S;
  readonly address: string;
  /** Milliseconds this socket was given to authenticate (set by admit). */
  deadline = 0;
  /** Admission order and time (set by admit). */
  order = 0;
  admittedAt = 0;
  timer: ReturnType<typeof setTimeout> | undefined;

  constructor(socket: S, address: string) {
    this.socket = socket;
    this.address = address;
  }
}

export class HandshakeBudget<T extends PendingHandshake<unknown>> {
  readonly #limits: HandshakeLimits;
  readonly #onDrop: (pending: T, reason: DropReason) => void;
  /** Per address, its sockets in the order they arrived (a Set iterates in insertion order). */
  readonly #byAddress = new Map<string, Set<T>>();
  #size = 0;
  #admitted = 0;

  constructor(limits: HandshakeLimits, onDrop: (pending: T, reason: DropReason) => void) {
    this.#limits = limits;
    this.#onDrop = onDrop;
  }

  /** Sockets in their handshake now. */
  get size(): number {
    return this.#size;
  }

  /** Sockets from `address` in their handshake now. */
  sizeOf(address: string): number {
    return this.#byAddress.get(address)?.size ?? 0;
  }

  /** Takes `pending` in, dropping older handshakes to make room (see above), and starts its deadline. */
  admit(pending: T): void {
    const limits = this.#limits;
    const { address } = pending;
    const now = Date.now();
    const held = this.#byAddress.get(address);
    while (held && held.size >= limits.maxHandshakesPerAddress) {
      const first = oldest(held);
      if (now - first.admittedAt < limits.handshakeGrace) break; // a burst: nobody here had a round trip yet
      this.#drop(first, 'handshakes');
    }
    if (this.#size >= limits.maxHandshakes) this.#drop(oldest(this.#largest()), 'handshakes');
    let mine = this.#byAddress.get(address); // the drops above may have emptied and removed it
    if (!mine) this.#byAddress.set(address, mine = new Set());
    const pressed = this.#size + 1 > limits.maxHandshakes / 2 || mine.size + 1 > limits.maxHandshakesPerAddress / 2;
    pending.order = ++this.#admitted;
    pending.admittedAt = now;
    pending.deadline = pressed ? limits.handshakeTimeoutUnderPressure : limits.handshakeTimeout;
    mine.add(pending);
    this.#size++;
    pending.timer = setTimeout(() => this.#drop(pending, 'timeout'), pending.deadline);
  }

  /** The handshake ended (authenticated, or the socket closed): `pending` leaves the budget. Idempotent. */
  settle(pending: T): void {
    const held = this.#byAddress.get(pending.address);
    if (!held?.delete(pending)) return;
    this.#size--;
    if (held.size === 0) this.#byAddress.delete(pending.address);
    clearTimeout(pending.timer);
  }

  /** Drops every socket (the server is closing). */
  dropAll(): void {
    for (const held of [...this.#byAddress.values()]) {
      for (const pending of [...held]) this.#drop(pending, 'closing');
    }
  }

  #drop(pending: T, reason: DropReason): void {
    this.settle(pending);
    this.#onDrop(pending, reason);
  }

  /**
   * The sockets of the address holding the most (of those, the one whose oldest came first).
   * Scans every address: it runs only when the budget is full.
   */
  #largest(): Set<T> {
    let largest: Set<T> | undefined;
    for (const held of this.#byAddress.values()) {
      if (!largest || held.size > largest.size || held.size === largest.size && oldest(held).order < oldest(largest).order) largest = held;
    }
    return largest!;
  }
}

function oldest<T>(held: Set<T>): T {
  return held.values().next().value!;
}

/**
 * The key a socket's handshakes are counted under: its IPv4 address, or the /64 prefix of its
 * IPv6 address (one host usually owns a whole /64, so counting single IPv6 addresses would let
 * it take the budget). IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`, from servers bound to
 * `::`) count as the IPv4 address.
 */
export function addressKey(remoteAddress: string | undefined): string {
  if (remoteAddress === undefined) return 'unknown';
  if (!remoteAddress.includes(':') || !isIPv6(remoteAddress)) return remoteAddress; // IPv4, the common case, costs no regex
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remoteAddress);
  if (mapped) return mapped[1]!;
  if (remoteAddress === '::1') return remoteAddress;
  const zoneless = remoteAddress.split('%')[0]!;
  const [head = '', tail] = zoneless.split('::');
  const groups = head === '' ? [] : head.split(':');
  if (tail !== undefined) {
    const tailGroups = tail === '' ? [] : tail.split(':');
    while (groups.length + tailGroups.length < 8) groups.push('0');
    groups.push(...tailGroups);
  }
  return `${groups.slice(0, 4).map((group) => group.replace(/^0+(?=.)/, '').toLowerCase()).join(':')}::/64`;
}
