import type { Dealer } from 'zeromq';
import { ConnectionClosedError } from '../../core/errors.js';
import { checkPositiveInteger } from '../../core/validate.js';
import { checkConnectionOptions } from '../connection.js';
import type { DialOptions } from '../dial.js';
import { HEADER_SIZE } from '../frame.js';
import { ZmqLink, type ZmqOutlet } from './link.js';
import { loadZeromq, parseZmqUrl, tcpEndpoint } from './load.js';

/**
 * connect() over ZeroMQ: a DEALER socket to the server's ROUTER, so calls pipeline in both
 * directions as over TCP.
 *
 *   DEALER.connect ── 'connect' within connectTimeout, else ConnectionClosedError
 *        ▼
 *   ZmqLink (client): HELLO ─▶ AUTH ─▶ WELCOME within handshakeTimeout, else AuthenticationError
 *        ▼
 *   receive loop ──▶ link.receive(parts)        link output ──▶ #outbox ──▶ one send() at a time
 *   'disconnect' ──▶ the link closes: ZeroMQ would reconnect by itself, but the server has
 *                    forgotten the session with the connection, so the calls in flight fail
 *                    now, as over TCP, instead of never being answered
 */
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** Milliseconds ZeroMQ keeps trying to deliver the GOODBYE once the socket is closed. */
const LINGER_MS = 200;
/** Turns of the event loop a disconnect waits for the messages that arrived before it to be read. */
const DISCONNECT_READS = 100;

export async function dialZmq(address: string, options: DialOptions): Promise<ZmqLink> {
  const settings = checkConnectionOptions(options);
  if (options.tls !== undefined) {
    throw new TypeError('Expected `tls` to be undefined with a zmq+tcp:// address: ZeroMQ connections have no TLS (use a tls:// server instead), got TLS options');
  }
  const { host, port } = parseZmqUrl(address);
  const timeout = options.connectTimeout === undefined ? DEFAULT_CONNECT_TIMEOUT_MS : checkPositiveInteger('connectTimeout', options.connectTimeout);
  const where = `zmq+tcp://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const zmq = await loadZeromq();
  const socket = new zmq.Dealer({
    maxMessageSize: settings.maxFrameSize + HEADER_SIZE,
    linger: LINGER_MS,
    ipv6: host.includes(':'),
  });
  const outbox = new Outbox(socket, where);
  const link = new ZmqLink('client', outbox, settings);
  outbox.link = link;
  const connected = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new ConnectionClosedError(`could not connect to ${where} within ${timeout} ms`)), timeout);
    socket.events.on('connect', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  socket.events.on('disconnect', () => settleDisconnect(socket, link, DISCONNECT_READS));
  socket.connect(tcpEndpoint(host, port));
  try {
    await connected;
  } catch (error) {
    link.lost(error as Error);
    throw error;
  }
  void receive(socket, link);
  return link.handshake();
}

/**
 * The server's last messages (its GOODBYE, with the reason) may still wait in the socket when
 * the disconnect is reported: let the receive loop read them first, so that calls fail with the
 * server's reason rather than a bare disconnect.
 */
function settleDisconnect(socket: Dealer, link: ZmqLink, reads: number): void {
  if (socket.closed || link.closeError) return;
  if (socket.readable && reads > 0) setImmediate(() => settleDisconnect(socket, link, reads - 1));
  else link.lost(new ConnectionClosedError('the peer closed the connection'));
}

async function receive(socket: Dealer, link: ZmqLink): Promise<void> {
  while (!socket.closed) {
    let message: Buffer[];
    try {
      message = await socket.receive();
    } catch (error) {
      if (!socket.closed) link.lost(new ConnectionClosedError(`the connection failed: ${(error as Error).message}`, { cause: error }));
      return;
    }
    link.receive(message);
  }
}

/**
 * The link's messages, sent one at a time (zeromq allows one send() in progress): a send waits
 * while the server has not taken this DEALER's last high-water mark of messages, and what the link
 * queues meanwhile is merged into the next message. RpcSession keeps at most the server's
 * maxInFlight calls out, so what waits here is bounded by that window.
 */
class Outbox implements ZmqOutlet {
  readonly #socket: Dealer;
  readonly address: string;
  link: ZmqLink | undefined;
  #waiting: Buffer[] = [];
  #sending = false;
  #closed = false;

  constructor(socket: Dealer, address: string) {
    this.#socket = socket;
    this.address = address;
  }

  send(parts: Buffer[]): void {
    if (this.#waiting.length === 0) this.#waiting = parts;
    else for (const part of parts) this.#waiting.push(part);
    if (!this.#sending) void this.#drain();
  }

  closed(): void {
    this.#closed = true;
    if (!this.#sending) this.#close();
  }

  async #drain(): Promise<void> {
    this.#sending = true;
    try {
      while (this.#waiting.length > 0 && !this.#socket.closed) {
        const parts = this.#waiting;
        this.#waiting = [];
        await this.#socket.send(parts);
      }
    } catch (error) {
      this.link?.lost(new ConnectionClosedError(`the connection failed: ${(error as Error).message}`, { cause: error }));
    } finally {
      this.#sending = false;
      if (this.#closed) this.#close();
    }
  }

  #close(): void {
    if (!this.#socket.closed) this.#socket.close(); // its event observer closes with it
  }
}
