import type * as Prom from 'prom-client';
import type { MetricsOptions } from './options.js';

/**
 * weft's Prometheus metrics, registered in the Registry the user passes (never prom-client's
 * global one unless that is what they pass). prom-client is loaded by observe() only.
 *
 *   hooks ─▶ counters (submitted, completed, failed, cancelled, retried; rpc calls, errors)
 *        └─▶ histograms (task duration, queue wait, rpc duration)
 *   scrape ─▶ gauges read the live executors' stats (queue depth, workers alive and busy)
 *             and the broker messages held unsettled
 */
/** From half a millisecond (a thread pool's round trip) to a minute (a long cluster task). */
const DEFAULT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** What the gauges read from a live executor (ExecutorBase, PoolBase, ClusterExecutor). */
interface Watched {
  readonly stats: { queued: number; workers?: { running: number }[] };
  workers?(): { inFlight: number; state: string }[];
}

/**
 * One executor kind × task's figures. Counters are plain numbers here, handed to prom-client
 * when it collects (a labelled `inc()` hashes and validates its labels on every call: measured
 * as most of the per-task cost); histograms observe through label-bound children.
 */
export class TaskSeries {
  submitted = 0;
  completed = 0;
  failed = 0;
  cancelled = 0;
  retried = 0;
  constructor(readonly labels: { executor: string; task: string }, readonly duration: { observe(value: number): void }, readonly queueWait: { observe(value: number): void }) {}
}

type TaskCounter = 'submitted' | 'completed' | 'failed' | 'cancelled' | 'retried';

export class Metrics {
  readonly #series = new Map<string, Map<string, TaskSeries>>();
  readonly #duration: Prom.Histogram<'executor' | 'task'>;
  readonly #queueWait: Prom.Histogram<'executor' | 'task'>;
  readonly rpcCalls: Prom.Counter<'method' | 'side'>;
  readonly rpcErrors: Prom.Counter<'method' | 'side'>;
  readonly rpcDuration: Prom.Histogram<'method' | 'side'>;
  readonly #held = new Map<string, number>();
  readonly #executors = new Map<WeakRef<Watched>, string>();
  readonly #known = new WeakSet<object>();
  readonly #metrics: Prom.Metric[] = [];
  readonly #registry: Prom.Registry;

  constructor(prom: typeof Prom, options: MetricsOptions) {
    const prefix = options.prefix ?? 'weft_';
    const buckets = options.buckets ?? DEFAULT_BUCKETS;
    const registry = options.registry as unknown as Prom.Registry;
    const registers = [registry];
    this.#registry = registry;
    const counter = <L extends string>(name: string, help: string, labelNames: L[]) =>
      this.#keep(new prom.Counter<L>({ name: prefix + name, help, labelNames, registers }));
    const series = this.#series;
    const tally = (name: string, help: string, field: TaskCounter) =>
      this.#keep(new prom.Counter<'executor' | 'task'>({
        name: prefix + name, help, labelNames: ['executor', 'task'], registers,
        collect() {
          this.reset();
          for (const byTask of series.values()) for (const s of byTask.values()) if (s[field] > 0) this.inc(s.labels, s[field]);
        },
      }));
    const histogram = <L extends string>(name: string, help: string, labelNames: L[]) =>
      this.#keep(new prom.Histogram<L>({ name: prefix + name, help, labelNames, buckets, registers }));
    const byTask: ('executor' | 'task')[] = ['executor', 'task'];
    tally('tasks_submitted_total', 'Tasks submitted, by executor and task.', 'submitted');
    tally('tasks_completed_total', 'Tasks that finished with a result.', 'completed');
    tally('tasks_failed_total', 'Tasks that failed after their last attempt.', 'failed');
    tally('tasks_cancelled_total', 'Tasks cancelled (by the caller, a timeout or shutdown).', 'cancelled');
    tally('tasks_retried_total', 'Attempts that failed and were retried.', 'retried');
    this.#duration = histogram('task_duration_seconds', 'How long one attempt ran, from dispatch to its outcome.', byTask);
    this.#queueWait = histogram('task_queue_wait_seconds', 'How long a task waited for a slot before an attempt started.', byTask);
    const byMethod: ('method' | 'side')[] = ['method', 'side'];
    this.rpcCalls = counter('rpc_calls_total', 'RPC calls, by method and side (client or server).', byMethod);
    this.rpcErrors = counter('rpc_errors_total', 'RPC calls that failed.', byMethod);
    this.rpcDuration = histogram('rpc_duration_seconds', 'RPC call duration.', byMethod);
    const executors = this.#executors;
    const held = this.#held;
    const sum = (each: (w: Watched) => number) => (gauge: Prom.Gauge<'executor'>) => {
      gauge.reset();
      for (const [ref, kind] of executors) {
        const executor = ref.deref();
        if (executor) gauge.inc({ executor: kind }, each(executor));
        else executors.delete(ref);
      }
    };
    const gauge = (name: string, help: string, read: (gauge: Prom.Gauge<'executor'>) => void) =>
      this.#keep(new prom.Gauge<'executor'>({ name: prefix + name, help, labelNames: ['executor'], registers, collect() { read(this); } }));
    gauge('queue_depth', 'Tasks waiting for a slot.', sum((e) => e.stats.queued));
    gauge('workers_alive', 'Workers (threads, processes, cluster workers) alive.', sum(aliveWorkers));
    gauge('workers_busy', 'Workers running at least one task.', sum(busyWorkers));
    this.#keep(new prom.Gauge<'queue'>({
      name: prefix + 'broker_messages_in_flight',
      help: 'Broker messages delivered to consumers in this process and not yet acknowledged.',
      labelNames: ['queue'],
      registers,
      collect() {
        this.reset();
        for (const [queue, count] of held) this.set({ queue }, count);
      },
    }));
  }

  /** The figures of `task` on executors of `kind` (made on first use, then shared). */
  series(kind: string, task: string): TaskSeries {
    let byTask = this.#series.get(kind);
    if (!byTask) this.#series.set(kind, byTask = new Map());
    let found = byTask.get(task);
    if (!found) {
      const labels = { executor: kind, task };
      byTask.set(task, found = new TaskSeries(labels, this.#duration.labels(labels), this.#queueWait.labels(labels)));
    }
    return found;
  }

  /** Starts reading an executor's stats at each scrape (held weakly: a dropped executor leaves). */
  watch(executor: object, kind: string): void {
    if (this.#known.has(executor)) return;
    this.#known.add(executor);
    this.#executors.set(new WeakRef(executor as Watched), kind);
  }

  messageHeld(queue: string, delta: number): void {
    this.#held.set(queue, Math.max(0, (this.#held.get(queue) ?? 0) + delta));
  }

  /** Takes weft's metrics out of the registry again. */
  unregister(): void {
    for (const metric of this.#metrics) this.#registry.removeSingleMetric((metric as unknown as { name: string }).name);
  }

  #keep<M extends Prom.Metric>(metric: M): M {
    this.#metrics.push(metric);
    return metric;
  }
}

function aliveWorkers(executor: Watched): number {
  if (Array.isArray(executor.stats.workers)) return executor.stats.workers.length;
  if (typeof executor.workers === 'function') return executor.workers().filter((w) => w.state !== 'unresponsive').length;
  return 0;
}

function busyWorkers(executor: Watched): number {
  if (Array.isArray(executor.stats.workers)) return executor.stats.workers.filter((w) => w.running > 0).length;
  if (typeof executor.workers === 'function') return executor.workers().filter((w) => w.inFlight > 0).length;
  return 0;
}
