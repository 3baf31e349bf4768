import { InvalidStateError } from '../core/errors.js';
import { Barrier, Event, Lock, Queue, Semaphore, type QueueOptions } from '../sync/index.js';
import { describe as describeValue, expected } from '../core/validate.js';
import type { ByRef } from './codec.js';
import type { Address } from './dial.js';
import { Dict } from './dict.js';
import { checkListenOptions, type ListenOptions } from './listener.js';
import { byRef, connect, serve, type ConnectOptions, type RpcServer } from './rpc.js';
import type { Remote, RemoteRoot } from './rpc/proxy.js';

/**
 * multiprocessing.managers, the weft way. A Manager serves named objects over the
 * authenticated RPC protocol; other processes on any host `Manager.connect` and get proxies.
 *
 *   master:  const manager = new Manager({ port: 5000, authkey: 'abc' })
 *              .register('tasks', () => taskQueue).register('results', () => resultQueue);
 *            await manager.start();
 *   worker:  const client = await Manager.connect({ host: 'master', port: 5000, authkey: 'abc' });
 *            const tasks = await client.get<Queue<number>>('tasks');
 *            const n = await tasks.get({ timeout: 1000 });     // TimeoutError when empty
 *
 * A registered factory runs once, on first use, and every client shares what it returned.
 * Clients can also create fresh objects of the built-in kinds, as SyncManager does:
 * `client.queue()`, `lock()`, `event()`, `semaphore(n)`, `barrier(n)`, `dict()` (more with
 * `Manager.registerKind`). A lock held by a client that disconnects stays held, as in Python.
 */
export interface ManagerOptions extends Omit<ListenOptions, 'host' | 'port'> {
  /** @default '127.0.0.1' */
  host?: string;
  /** 0 picks a free port (read it from `manager.port` after start). @default 0 */
  port?: number;
}

export interface ManagerConnectOptions extends Omit<ConnectOptions, 'authkey'> {
  host?: string;
  port: number;
  authkey: string | Uint8Array;
}

type Factory = () => object | Promise<object>;
type KindFactory = (...args: any[]) => object;

/** What clients may create with `client.create(kind, ...args)`: weft's primitives and Dict. */
const kinds = new Map<string, KindFactory>([
  ['Queue', (options?: QueueOptions) => new Queue(options)],
  ['Lock', () => new Lock()],
  ['Event', () => new Event()],
  ['Semaphore', (value?: number) => new Semaphore(value)],
  ['Barrier', (parties: number) => new Barrier(parties)],
  ['Dict', (entries?: Iterable<readonly [unknown, unknown]>) => new Dict(entries)],
]);

/** The object a Manager serves as its root: the names and kinds behind `ManagerClient`. */
class ManagerRoot {
  readonly #manager: Manager;

  constructor(manager: Manager) {
    this.#manager = manager;
  }

  async get(name: string): Promise<ByRef<object>> {
    return byRef(await this.#manager.get(name));
  }

  names(): string[] {
    return this.#manager.names();
  }

  kinds(): string[] {
    return [...kinds.keys()];
  }

  create(kind: string, args: unknown[] = []): ByRef<object> {
    const make = kinds.get(kind);
    if (!make) throw new TypeError(`no kind named ${JSON.stringify(kind)} can be created; the kinds are: ${[...kinds.keys()].join(', ')}`);
    if (!Array.isArray(args)) throw new TypeError(expected('args', 'an array of constructor arguments', args));
    return byRef(make(...args));
  }
}

const NAME = /^[A-Za-z_$][\w$.-]{0,127}$/;

export class Manager {
  readonly #options: ManagerOptions;
  readonly #factories = new Map<string, Factory>();
  readonly #instances = new Map<string, Promise<object>>();
  #server: RpcServer | undefined;
  #state: 'new' | 'started' | 'stopped' = 'new';

  constructor(options: ManagerOptions) {
    checkListenOptions(options);
    this.#options = options;
  }

  /** Makes the kind `name` creatable by every client: `client.create(name, ...args)`. */
  static registerKind(name: string, create: KindFactory): void {
    if (!NAME.test(name)) throw new TypeError(expected('name', 'a name of letters, digits, _ $ . -', name));
    if (typeof create !== 'function') throw new TypeError(expected('create', 'a function', create));
    kinds.set(name, create);
  }

  /** Connects to a Manager on this or another host. */
  static async connect(target: ManagerConnectOptions | Address, options?: ConnectOptions): Promise<ManagerClient> {
    const { address, connectOptions } = splitTarget(target, options);
    return new ManagerClient(await connect<ManagerRoot>(address, connectOptions));
  }

  /** Serves what `factory` returns under `name`. Chainable; allowed before and after start(). */
  register(name: string, factory: Factory): this {
    if (typeof name !== 'string' || !NAME.test(name)) throw new TypeError(expected('name', 'a name of letters, digits, _ $ . -', name));
    if (typeof factory !== 'function') throw new TypeError(expected('factory', 'a function returning the object to serve', factory));
    if (this.#factories.has(name)) throw new InvalidStateError(`an object named ${JSON.stringify(name)} is already registered`);
    this.#factories.set(name, factory);
    return this;
  }

  /** Listens (port 0 picks a free one). */
  async start(): Promise<this> {
    if (this.#state !== 'new') throw new InvalidStateError(`cannot start a Manager that is ${this.#state}`);
    this.#state = 'started';
    try {
      this.#server = await serve({ ...this.#options, expose: new ManagerRoot(this) });
    } catch (error) {
      this.#state = 'new';
      throw error;
    }
    return this;
  }

  get port(): number {
    return this.#server?.port ?? 0;
  }

  /** `tcp://host:port`, once started. */
  get url(): string {
    if (!this.#server) throw new InvalidStateError('the Manager has not been started');
    return this.#server.url;
  }

  names(): string[] {
    return [...this.#factories.keys()];
  }

  /** The object served under `name`, here in the serving process (created on first use). */
  get<T extends object = object>(name: string): Promise<T> {
    let instance = this.#instances.get(name);
    if (!instance) {
      const factory = this.#factories.get(name);
      if (!factory) {
        return Promise.reject(new TypeError(`no object named ${describeValue(name)} is registered; the names are: ${this.names().join(', ') || '(none)'}`));
      }
      instance = Promise.resolve().then(factory).then((value) => {
        if (typeof value !== 'object' && typeof value !== 'function' || value === null) {
          throw new TypeError(expected(`the factory of ${name}`, 'to return an object', value));
        }
        return value;
      });
      instance.catch(() => this.#instances.delete(name));
      this.#instances.set(name, instance);
    }
    return instance as Promise<T>;
  }

  /** Stops serving; connected clients' pending calls reject with ConnectionClosedError. */
  async shutdown(): Promise<void> {
    if (this.#state !== 'started') return;
    this.#state = 'stopped';
    await this.#server?.close('the manager is shutting down');
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }
}

/** A connection to a Manager. */
export class ManagerClient {
  readonly #root: RemoteRoot<ManagerRoot>;

  constructor(root: RemoteRoot<ManagerRoot>) {
    this.#root = root;
  }

  /** A proxy of the object the Manager serves under `name`. */
  async get<T extends object = Record<string, (...args: any[]) => unknown>>(name: string): Promise<Remote<T>> {
    return (await this.#root.get(name)) as unknown as Remote<T>;
  }

  /** The names the Manager serves. */
  names(): Promise<string[]> {
    return this.#root.names();
  }

  /** A new object of a built-in kind, living in the Manager's process (`Dict`, `Queue`, `Lock`, ...). */
  async create<T extends object = Dict>(kind: string, ...args: unknown[]): Promise<Remote<T>> {
    return (await this.#root.create(kind, args)) as unknown as Remote<T>;
  }

  /** A new Queue in the manager (manager.Queue()); `get({ timeout })` rejects with TimeoutError when nothing came. */
  queue<T = unknown>(options?: QueueOptions): Promise<Remote<Queue<T>>> {
    return this.create<Queue<T>>('Queue', ...(options ? [options] : []));
  }

  lock(): Promise<Remote<Lock>> {
    return this.create<Lock>('Lock');
  }

  event(): Promise<Remote<Event>> {
    return this.create<Event>('Event');
  }

  semaphore(value = 1): Promise<Remote<Semaphore>> {
    return this.create<Semaphore>('Semaphore', value);
  }

  barrier(parties: number): Promise<Remote<Barrier>> {
    return this.create<Barrier>('Barrier', parties);
  }

  /** A new shared dictionary (manager.dict()). */
  dict<K = unknown, V = unknown>(entries?: Iterable<readonly [K, V]>): Promise<Remote<Dict<K, V>>> {
    return this.create<Dict<K, V>>('Dict', ...(entries ? [[...entries]] : []));
  }

  close(): Promise<void> {
    return this.#root.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function splitTarget(target: ManagerConnectOptions | Address, options: ConnectOptions | undefined): { address: Address; connectOptions: ConnectOptions } {
  if (typeof target === 'string') {
    if (!options) throw new TypeError(expected('options', 'an object with an authkey', options));
    return { address: target, connectOptions: options };
  }
  if (typeof target !== 'object' || target === null) throw new TypeError(expected('target', '{ host, port, authkey } or a tcp:// URL', target));
  const { host, port, ...rest } = target as ManagerConnectOptions;
  return { address: { host, port }, connectOptions: { ...rest, ...options } as ConnectOptions };
}
