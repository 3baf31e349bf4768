/**
 * The dashboard's view of a broker-backed cluster, read from the broker itself, so it sees every
 * submitter's tasks and every worker, whichever process serves the page.
 *
 *   read ─▶ cluster.inspect(wait): every worker answers on the control topic with its figures,
 *   │       its running tasks (and their progress) and its last finished attempts
 *   ├─────▶ broker.queueStats(queue), (queue).dead: waiting, held, dead, consumers
 *   └─────▶ listDeadLetters (only when a dead count changed, after a retry, or every
 *           DEAD_LETTER_REFRESH_MS: reading them consumes and returns them)
 *   retry  ─▶ retryDeadLetter (weft dead-letters retry)
 *   revoke ─▶ cluster.result(id).cancel(): REVOKE on the control topic + a 'cancelled' record
 *   drain  ─▶ DRAIN <name> on the control topic: that worker finishes what it holds and stops
 */
import { openBroker } from '../../broker/open.js';
import type { Broker } from '../../broker/types.js';
import { ClusterExecutor } from '../../cluster/cluster-executor.js';
import { redact } from '../../cluster/durable/broker-worker.js';
import { listDeadLetters, retryDeadLetter } from '../../cluster/durable/dead-letters.js';
import { CONTROL_TOPIC, DRAIN, deadLetterQueue, type BrokerWorkerInfo } from '../../cluster/durable/messages.js';
import { errorText } from '../../cluster/durable/task-log.js';
import { defaultResultBackend } from '../../results/open.js';
import { DashboardActionError, type Capabilities, type DashboardSource, type DeadLetterRow, type QueueRow, type TaskRow, type WorkerRow } from '../types.js';

export interface BrokerSourceOptions {
  /** The broker's URL. */
  url: string;
  /** Queues to show, and only the workers that consume one of them; default: the cluster's own, every queue a worker consumes, and every worker. */
  queues?: string[];
  /** A broker-backed ClusterExecutor to act through; default: one of its own, closed with the source. */
  cluster?: ClusterExecutor;
  /** Milliseconds workers are given to answer each read. @default 400 */
  wait?: number;
}

/** Workers answer from their event loop, at once unless busy: this is ample on a LAN and still a fast refresh. */
const DEFAULT_WAIT_MS = 400;
/** Dead letters are re-read at least this often even when no count changed (one may have replaced another). */
const DEAD_LETTER_REFRESH_MS = 15_000;
/** Letters listed per queue: a screen's worth; `weft dead-letters list` shows them all. */
const DEAD_LETTERS_SHOWN = 100;

export class BrokerSource implements DashboardSource {
  readonly label: string;
  readonly capabilities: Capabilities;
  readonly #url: string;
  readonly #cluster: ClusterExecutor;
  readonly #ownCluster: boolean;
  /** For queue figures and DRAIN; opened again after it is lost (the cluster reconnects by itself). */
  #broker: Promise<Broker> | undefined;
  #closed = false;
  readonly #fixedQueues: string[] | undefined;
  readonly #seenQueues: Set<string>;
  readonly #wait: number;
  #letters: DeadLetterRow[] = [];
  #lettersKey = '';
  #lettersAt = 0;
  /** Reads and retries of dead letters, one at a time: a read consumes them while it looks. */
  #letterWork: Promise<unknown> = Promise.resolve();
  #workers: BrokerWorkerInfo[] = [];

  private constructor(options: BrokerSourceOptions, cluster: ClusterExecutor, own: boolean, broker: Broker) {
    this.#keep(broker);
    this.#url = options.url;
    this.#cluster = cluster;
    this.#ownCluster = own;
    this.#fixedQueues = options.queues;
    this.#seenQueues = new Set(cluster.brokerTarget?.queues ?? ['weft']);
    this.#wait = options.wait ?? DEFAULT_WAIT_MS;
    this.label = redact(options.url);
    const store = defaultResultBackend(new URL(options.url));
    this.capabilities = {
      retry: true,
      revoke: own && store === undefined
        ? `${new URL(options.url).protocol.slice(0, -1)} keeps no results: revoking needs a result backend (serve the dashboard from a cluster given resultBackend)`
        : true,
      drain: true,
      tasks: true,
    };
  }

  static async open(options: BrokerSourceOptions): Promise<BrokerSource> {
    const own = options.cluster === undefined;
    const cluster = options.cluster ?? new ClusterExecutor({ broker: options.url });
    if (!cluster.brokerTarget) throw new TypeError('BrokerSource needs a broker-backed ClusterExecutor ({ broker })');
    const broker = await openBroker(options.url);
    try {
      await cluster.start();
    } catch (error) {
      await broker.close().catch(() => {});
      throw error;
    }
    return new BrokerSource(options, cluster, own, broker);
  }

  async read() {
    const answered = await this.#cluster.inspect(this.#wait);
    const fixed = this.#fixedQueues;
    // Given queues: only their workers (one broker may serve several clusters).
    this.#workers = fixed ? answered.filter((w) => w.queues.some((q) => fixed.includes(q))) : answered;
    for (const w of this.#workers) for (const q of w.queues) this.#seenQueues.add(q);
    const names = this.#fixedQueues ?? [...this.#seenQueues].sort();
    const broker = await this.#connection();
    const queues: QueueRow[] = await Promise.all(names.map(async (queue) => {
      const [live, dead] = await Promise.all([broker.queueStats(queue), broker.queueStats(deadLetterQueue(queue))]);
      return { queue, waiting: live.waiting, running: live.unacked, dead: dead.waiting, consumers: live.consumers };
    }));
    const deadLetters = await this.#deadLetters(queues);
    const running: TaskRow[] = [];
    const recent: TaskRow[] = [];
    for (const w of this.#workers) {
      for (const t of w.running ?? []) running.push({ id: t.id, task: t.task, attempt: t.attempt, worker: w.name, startedAt: t.startedAt, state: 'running', progress: t.progress });
      for (const t of w.recent ?? []) {
        recent.push({ id: t.id, task: t.task, attempt: t.attempt, worker: w.name, startedAt: t.startedAt, finishedAt: t.finishedAt, state: t.ok ? 'done' : 'failed', error: t.error });
      }
    }
    running.sort((a, b) => a.startedAt - b.startedAt);
    recent.sort((a, b) => b.finishedAt! - a.finishedAt!);
    const workers: WorkerRow[] = this.#workers.map((w) => ({
      key: w.name, name: w.name, host: w.host, pid: w.pid, pool: w.pool, capacity: w.capacity, inFlight: w.inFlight,
      completed: w.completed, failed: w.failed, state: w.state, lastHeartbeat: w.at, queues: w.queues,
    }));
    const sum = (f: (q: QueueRow) => number | undefined) => queues.reduce((n, q) => n + (f(q) ?? 0), 0);
    return {
      workers, queues, running, recent, deadLetters,
      totals: {
        queued: sum((q) => q.waiting), running: sum((q) => q.running), dead: sum((q) => q.dead),
        completed: workers.reduce((n, w) => n + w.completed, 0), failed: workers.reduce((n, w) => n + w.failed, 0),
      },
    };
  }

  async retry(id: string, queue: string | undefined): Promise<boolean> {
    const letter = this.#letters.find((l) => l.id === id && (queue === undefined || l.queue === queue));
    const target = queue ?? letter?.queue;
    if (target === undefined) throw new DashboardActionError(`no dead letter with id ${id} is shown: name its queue`, 404);
    const found = await this.#serial(() => retryDeadLetter(this.#url, target, id));
    this.#lettersAt = 0; // read them again on the next read
    if (!found) throw new DashboardActionError(`no dead letter with id ${id} in ${deadLetterQueue(target)}`, 404);
    return true;
  }

  async revoke(id: string): Promise<boolean> {
    if (this.capabilities.revoke !== true) throw new DashboardActionError(this.capabilities.revoke, 409);
    let future;
    try {
      future = this.#cluster.result(id);
    } catch (error) {
      throw new DashboardActionError((error as Error).message, 409); // no result backend to record it in
    }
    if (future.done()) throw new DashboardActionError(`task ${id} has finished already`, 409);
    future.cancel();
    return true;
  }

  async drain(worker: string): Promise<boolean> {
    if (!this.#workers.some((w) => w.name === worker)) throw new DashboardActionError(`no worker named ${worker} answered the last status request`, 404);
    await (await this.#connection()).broadcast(CONTROL_TOPIC, [DRAIN, worker]);
    return true;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#letterWork.catch(() => {});
    await this.#broker?.then((broker) => broker.close()).catch(() => {});
    if (this.#ownCluster) await this.#cluster.shutdown({ cancelPending: true });
  }

  async #deadLetters(queues: QueueRow[]): Promise<DeadLetterRow[]> {
    const key = queues.map((q) => `${q.queue}:${q.dead}`).join(',');
    if (key === this.#lettersKey && Date.now() - this.#lettersAt < DEAD_LETTER_REFRESH_MS) return this.#letters;
    const withDead = queues.filter((q) => q.dead > 0);
    const lists = await this.#serial(() => Promise.all(withDead.map((q) => listDeadLetters(this.#url, q.queue, { limit: DEAD_LETTERS_SHOWN }))));
    this.#letters = lists.flat().map((l) => ({
      id: l.id, task: l.task, queue: l.queue, attempts: l.attempts, error: errorText(l.error), failedAt: l.failedAt.getTime(), worker: l.worker,
    })).sort((a, b) => b.failedAt - a.failedAt);
    this.#lettersKey = key;
    this.#lettersAt = Date.now();
    return this.#letters;
  }

  #connection(): Promise<Broker> {
    if (this.#closed) return Promise.reject(new Error('the dashboard is closed'));
    if (!this.#broker) {
      const opening = openBroker(this.#url);
      this.#broker = opening;
      opening.then((broker) => this.#keep(broker), () => { if (this.#broker === opening) this.#broker = undefined; });
    }
    return this.#broker;
  }

  /** Uses `broker` until it is lost; the next read opens another. */
  #keep(broker: Broker): void {
    const held = Promise.resolve(broker);
    this.#broker ??= held;
    void broker.closed.then(() => { if (!this.#closed) this.#broker = undefined; });
  }

  #serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.#letterWork.then(work, work);
    this.#letterWork = next.catch(() => {});
    return next;
  }
}
