/**
 * The dashboard's view of a cluster with an embedded scheduler: its STATUS frame (what
 * `weft status --connect` prints, with the running and recent tasks), read over an
 * authenticated connection, or, when the page is served by the submitting process itself,
 * `cluster.status({ tasks: true })` and `cluster.deadLetters()`.
 *
 *   poll ─▶ STATUS {tasks: true} ─▶ workers, counters, running + recent tasks ─▶ Snapshot
 *   revoke ─▶ REVOKE {id} (or cluster.revokeRunning) ─▶ the future is cancelled, its worker aborts it
 *
 * Drain is the scheduler's: it sends the worker nothing new (DRAIN_WORKER over --connect).
 * Dead letters are the submitting process's futures' failures, so they are listed only
 * when served from it, and are not retried from the page (the futures that failed stay failed;
 * resubmit from the code that holds them).
 */
import type { ClusterExecutor } from '../../cluster/cluster-executor.js';
import { errorText } from '../../cluster/durable/task-log.js';
import type { StatusReply, TaskInfo } from '../../cluster/protocol.js';
import { clusterDrainWorker, clusterRevoke, clusterStatus } from '../../cluster/status.js';
import { DashboardActionError, type Capabilities, type DashboardSource, type DeadLetterRow, type TaskRow, type WorkerRow } from '../types.js';

export type EmbeddedSourceOptions =
  | { connect: string; authkey: string | Uint8Array; cluster?: undefined }
  | { cluster: ClusterExecutor; connect?: undefined; authkey?: undefined };

export class EmbeddedSource implements DashboardSource {
  readonly label: string;
  readonly capabilities: Capabilities;
  readonly #status: () => Promise<StatusReply>;
  readonly #revoke: (id: string) => Promise<boolean>;
  readonly #drain: (worker: number) => Promise<boolean>;
  readonly #cluster: ClusterExecutor | undefined;

  constructor(options: EmbeddedSourceOptions) {
    this.#cluster = options.cluster;
    if (options.cluster) {
      const cluster = options.cluster;
      this.#status = async () => cluster.status({ tasks: true });
      this.#revoke = async (id) => cluster.revokeRunning(id);
      this.#drain = async (worker) => cluster.drainWorker(worker);
      this.label = cluster.url || 'embedded cluster';
    } else {
      const { connect, authkey } = options;
      this.#status = () => clusterStatus(connect, { authkey, tasks: true });
      this.#revoke = (id) => clusterRevoke(connect, id, { authkey });
      this.#drain = (worker) => clusterDrainWorker(connect, worker, { authkey });
      this.label = connect;
    }
    const where = options.cluster
      ? 'the futures that failed stay failed: resubmit from the code that holds them'
      : 'dead letters stay in the submitting process: serve the dashboard from it (serveDashboard({ cluster }))';
    this.capabilities = {
      retry: where,
      revoke: true,
      drain: true,
      tasks: true,
    };
  }

  async read() {
    const status = await this.#status();
    const workers: WorkerRow[] = status.workers.map((w) => ({
      key: String(w.id), name: w.name, host: w.host, pid: w.pid, pool: w.pool, capacity: w.capacity, inFlight: w.inFlight,
      completed: w.completed, failed: w.failed, state: w.state, lastHeartbeat: new Date(w.lastHeartbeat).getTime(), queues: [],
    }));
    const deadLetters: DeadLetterRow[] = (this.#cluster?.deadLetters() ?? []).reverse().map((l) => ({
      id: l.id, task: l.task, queue: 'scheduler', attempts: l.attempts, error: errorText(l.error), failedAt: l.failedAt.getTime(), worker: '',
    }));
    return {
      workers,
      queues: [{ queue: 'scheduler', waiting: status.queued, running: status.running, dead: status.deadLetters, consumers: workers.length }],
      totals: { queued: status.queued, running: status.running, completed: status.completed, failed: status.failed, dead: status.deadLetters },
      // A scheduler of an earlier weft sends no tasks: the lists stay empty.
      running: (status.tasks?.running ?? []).map(taskRow),
      recent: (status.tasks?.recent ?? []).map(taskRow),
      deadLetters,
    };
  }

  async retry(): Promise<boolean> {
    throw new DashboardActionError(this.capabilities.retry as string, 409);
  }

  /** Cancels the future a worker runs now: its worker aborts the task's signal. */
  async revoke(id: string): Promise<boolean> {
    if (!(await this.#revoke(id))) throw new DashboardActionError(`no worker runs task ${id} now (finished, still queued, or unknown)`, 404);
    return true;
  }

  /** The scheduler stops sending the worker work (cluster.drainWorker, or DRAIN_WORKER over --connect). */
  async drain(worker: string): Promise<boolean> {
    if (!/^\d{1,15}$/.test(worker) || !(await this.#drain(Number(worker)))) throw new DashboardActionError(`no worker with id ${worker} is connected`, 404);
    return true;
  }

  async close(): Promise<void> {}
}

function taskRow(task: TaskInfo): TaskRow {
  return {
    id: task.id, task: task.task, attempt: task.attempt, worker: task.worker, startedAt: task.startedAt, state: task.state,
    ...(task.finishedAt === undefined ? {} : { finishedAt: task.finishedAt }),
    ...(task.progress === undefined ? {} : { progress: task.progress }),
    ...(task.error === undefined ? {} : { error: task.error }),
  };
}
