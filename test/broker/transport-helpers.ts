/** What the adapters' own transport tests share: text payloads, a delivery collector, a TCP relay that can fail. */
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { Delivery } from '../../src/broker/transport.js';

export const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
export const text = (payload: Uint8Array): string => new TextDecoder().decode(payload);
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Collects a consumer's deliveries; next() waits for the first one not taken yet. */
export class DeliveryInbox {
  readonly received: Delivery[] = [];
  #taken = 0;
  #wake: (() => void) | undefined;

  readonly push = (delivery: Delivery): void => {
    this.received.push(delivery);
    this.#wake?.();
  };

  async next(timeoutMs = 3000): Promise<Delivery> {
    const deadline = Date.now() + timeoutMs;
    while (this.#taken >= this.received.length) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no delivery within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
    return this.received[this.#taken++]!;
  }
}

/**
 * A TCP relay on loopback to a real server: cut() drops every connection through it (a server
 * crash, as the client sees it), shut() also stops accepting (the server stays gone).
 */
export class TcpRelay {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpRelay> {
    const server = createServer();
    const relay = new TcpRelay(server);
    server.on('connection', (client) => {
      const upstream = connect(targetPort, targetHost);
      for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
        relay.#sockets.add(from);
        from.pipe(to);
        from.on('error', () => to.destroy());
        from.on('close', () => {
          relay.#sockets.delete(from);
          to.destroy();
        });
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return relay;
  }

  get port(): number {
    return (this.#server.address() as { port: number }).port;
  }

  cut(): void {
    for (const socket of this.#sockets) socket.destroy();
  }

  async shut(): Promise<void> {
    const closed = new Promise((resolve) => this.#server.close(resolve));
    this.cut();
    await closed;
  }
}
