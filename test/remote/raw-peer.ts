// A hand-driven peer for robustness tests: it speaks the wire protocol byte by byte, so tests
// can send what a real client never would (garbage, truncated frames, wrong versions).
import { spawnSync } from 'node:child_process';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { encodeFrame, FrameDecoder, FrameType } from '../../src/remote/frame.js';
import { authBody, authkeyBytes, nonce } from '../../src/remote/handshake.js';

export interface RawFrame { type: number; id: number; body: Buffer }

/** Collects the frames a socket receives and lets a test wait for the next one or for the close. */
export class FrameInbox {
  readonly frames: RawFrame[] = [];
  readonly closed: Promise<void>;
  #waiters: (() => void)[] = [];
  #decoder = new FrameDecoder(64 * 1024 * 1024);
  #isClosed = false;

  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.#decoder.push(chunk, (type, id, body) => this.frames.push({ type, id, body: Buffer.from(body) }));
      this.#wake();
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) => socket.on('close', () => {
      this.#isClosed = true;
      this.#wake();
      resolve();
    }));
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  /** The next frame; rejects if the socket closes first or nothing comes within `timeoutMs`. */
  async next(timeoutMs = 3000): Promise<RawFrame> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length === 0) {
      if (this.#isClosed) throw new Error('the socket closed before a frame came');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no frame within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
    return this.frames.shift()!;
  }

  /**
   * The next frame that is not a heartbeat PING: what an authenticated peer waits for after it
   * sends something (the server pings every heartbeatInterval, so on a busy machine a PING can
   * come first).
   */
  async answer(timeoutMs = 3000): Promise<RawFrame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const frame = await this.next(Math.max(1, deadline - Date.now()));
      if (frame.type !== FrameType.PING) return frame;
    }
  }

  #wake(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }
}

/** A raw socket to 127.0.0.1:`port`, from `localAddress` (any of 127.0.0.0/8 on Linux). */
export async function rawConnect(port: number, localAddress?: string): Promise<FrameInbox> {
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, localAddress }, () => resolve(s));
    s.once('error', reject);
  });
  return new FrameInbox(socket);
}

/** Connects and completes the client handshake with `authkey`; returns the inbox after WELCOME. */
export async function rawClient(port: number, authkey: string): Promise<FrameInbox> {
  const inbox = await rawConnect(port);
  const hello = await inbox.next();
  if (hello.type !== FrameType.HELLO) throw new Error(`expected HELLO, got ${hello.type}`);
  inbox.socket.write(encodeFrame(FrameType.AUTH, 0, authBody(authkeyBytes(authkey), hello.body, nonce(), 1024 * 1024)));
  const welcome = await inbox.next();
  if (welcome.type !== FrameType.WELCOME) throw new Error(`expected WELCOME, got ${welcome.type}: ${welcome.body.toString()}`);
  return inbox;
}

/** A fake server that runs `onSocket` for each connection; resolves with its port and a close function. */
export async function rawServer(onSocket: (inbox: FrameInbox) => void): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    onSocket(new FrameInbox(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    close: () => new Promise((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}

/**
 * Sockets that connect and never say anything, as a flooder holds them. The server may close
 * some (they leave `open`); close() destroys the rest and resolves once every one is closed.
 */
export class SilentSockets {
  readonly open = new Set<Socket>();
  /** Sockets the server closed, in the order it closed them. */
  readonly closedByServer: Socket[] = [];
  #all: Promise<void>[] = [];
  #closing = false;
  #waiters: (() => void)[] = [];

  constructor(readonly port: number, readonly localAddress = '127.0.0.1') {}

  /** Opens `count` more, `batch` at a time (a burst beyond the listen backlog would wait for SYN retries). */
  async add(count: number, batch = 100): Promise<void> {
    for (let done = 0; done < count; done += batch) {
      await Promise.all(Array.from({ length: Math.min(batch, count - done) }, () => this.#one()));
    }
  }

  #one(): Promise<void> {
    return new Promise<void>((connected) => {
      const socket = connect({ host: '127.0.0.1', port: this.port, localAddress: this.localAddress }, () => connected());
      this.open.add(socket);
      socket.on('error', () => {});
      socket.on('data', () => {}); // read HELLO (and GOODBYE) so the server's writes never block
      this.#all.push(new Promise<void>((closed) => socket.once('close', () => {
        this.open.delete(socket);
        if (!this.#closing) this.closedByServer.push(socket);
        for (const wake of this.#waiters.splice(0)) wake();
        connected(); // a socket refused before its connect callback still counts as done
        closed();
      })));
    });
  }

  /**
   * Resolves once the server has closed `count` of them; fails after `timeoutMs` saying how many
   * it did. The deadline only bounds a hang: a machine at load 20 closed 490 in 5 s.
   */
  async serverClosed(count: number, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.closedByServer.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`the server closed ${this.closedByServer.length} of the silent sockets within ${timeoutMs} ms, not ${count}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
  }

  async close(): Promise<void> {
    this.#closing = true;
    for (const socket of this.open) socket.destroy();
    await Promise.all(this.#all);
  }
}

/** The soft limit on open files of this process (`ulimit -n`), or Infinity where it cannot be read. */
export function openFileLimit(): number {
  const run = spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' });
  const limit = run.stdout?.trim();
  return limit === 'unlimited' || !limit ? Infinity : Number(limit);
}
