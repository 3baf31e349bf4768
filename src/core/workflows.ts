import { CancelledError } from './errors.js';
import type { Executor } from './executor.js';
import { futureInternals, type Future } from './future.js';
import { checkTask, type AnyTask, type TaskResult } from './task.js';
import { checkSignal, expected } from './validate.js';

/**
 * Celery's canvas over any Executor:
 *
 *   sig(task, ...args)        one call, with some or all of its arguments
 *   group(a, b, c)            run together; resolves to the list of results, in order
 *   chain(a, b, c)            one after the other; each result is prepended to the next one's args
 *   chord([a, b, c], body)    a group, then `body` with the list of results as its first argument
 *
 * Workflows nest (a group of chains, a chain ending in a chord). A group given an input (inside a
 * chain) hands it to every member, as Celery does. The first failure rejects the whole
 * workflow and cancels what is still running in it; so does the `signal` option of `run`.
 */
export interface RunOptions {
  /** Cancels every task of the workflow still running or waiting. */
  signal?: AbortSignal;
}

export abstract class Workflow<R> {
  /** Runs the workflow on `executor`; resolves to its result. */
  run(executor: Executor, options: RunOptions = {}): Promise<R> {
    if (typeof executor !== 'object' || executor === null || typeof (executor as Executor).submit !== 'function') {
      throw new TypeError(expected('executor', 'an Executor', executor));
    }
    if (typeof options !== 'object' || options === null) throw new TypeError(expected('options', 'an object', options));
    const scope = new Scope();
    const { signal } = options;
    if (signal === undefined) return this.execute(executor, [], scope);
    checkSignal('signal', signal);
    const abort = () => scope.abort(signal.reason instanceof Error ? signal.reason : new CancelledError('the workflow was cancelled'));
    if (signal.aborted) abort();
    else signal.addEventListener('abort', abort, { once: true });
    return this.execute(executor, [], scope).finally(() => signal.removeEventListener('abort', abort));
  }

  /** @internal Runs with `input` prepended to the arguments, its tasks tracked by `scope`. */
  abstract execute(executor: Executor, input: readonly unknown[], scope: Scope): Promise<R>;
}

/**
 * The tasks of one workflow (or of one group in it) still running: aborting the scope cancels
 * them and its child scopes. One set per scope rather than one AbortSignal listener per task:
 * a group of thousands of tasks would make each listener removal a linear scan.
 */
export class Scope {
  #futures = new Set<Future<unknown, unknown>>();
  #children = new Set<Scope>();
  #onAbort: ((reason: Error) => void)[] = [];
  #reason: Error | undefined;
  #parent: Scope | undefined;

  constructor(parent?: Scope) {
    this.#parent = parent;
    if (!parent) return;
    if (parent.#reason) this.#reason = parent.#reason;
    else parent.#children.add(this);
  }

  get reason(): Error | undefined {
    return this.#reason;
  }

  track(future: Future<unknown, unknown>): void {
    if (this.#reason) {
      future.cancel();
      return;
    }
    this.#futures.add(future);
    future.onDone(() => this.#futures.delete(future));
  }

  /** Calls `listener` when the scope aborts (at once if it has). */
  onAbort(listener: (reason: Error) => void): void {
    if (this.#reason) listener(this.#reason);
    else this.#onAbort.push(listener);
  }

  abort(reason: Error): void {
    if (this.#reason) return;
    this.#reason = reason;
    this.close();
    for (const listener of this.#onAbort.splice(0)) listener(reason);
    for (const future of [...this.#futures]) future.cancel();
    this.#futures.clear();
    for (const child of [...this.#children]) child.abort(reason);
    this.#children.clear();
  }

  /** Leaves the parent once this scope's work is over. */
  close(): void {
    if (this.#parent) this.#parent.#children.delete(this);
  }
}

type ResultOf<W> = W extends Workflow<infer R> ? R : never;
type LastResult<W extends readonly Workflow<any>[]> = W extends readonly [...Workflow<any>[], infer L] ? ResultOf<L> : unknown;

export class Signature<R> extends Workflow<R> {
  constructor(readonly task: AnyTask, readonly args: readonly unknown[]) {
    super();
  }

  execute(executor: Executor, input: readonly unknown[], scope: Scope): Promise<R> {
    if (scope.reason) return Promise.reject(scope.reason);
    const future = this.submit(executor, input);
    scope.track(future);
    return future.result() as Promise<R>;
  }

  /** @internal Submits the call; a group watches the future itself instead of a promise of it. */
  submit(executor: Executor, input: readonly unknown[]): Future<unknown, unknown> {
    return input.length === 0 ? executor.submit(this.task as any, ...this.args) : executor.submit(this.task as any, ...input, ...this.args);
  }
}

export class Group<R extends unknown[]> extends Workflow<R> {
  constructor(readonly members: readonly Workflow<unknown>[]) {
    super();
  }

  execute(executor: Executor, input: readonly unknown[], parent: Scope): Promise<R> {
    const scope = new Scope(parent);
    const members = this.members;
    const task = sharedTask(members);
    if (task) return this.#asStarmap(executor, task, input, scope);
    return new Promise<R>((resolve, reject) => {
      const results = new Array(members.length) as R;
      let left = members.length;
      let failed = false;
      // The first member to fail cancels its siblings and rejects the group with its error.
      const fail = (error: unknown) => {
        if (failed) return;
        failed = true;
        scope.abort(error instanceof CancelledError ? error : new CancelledError('a sibling in the group failed', { cause: error }));
        reject(error);
      };
      const done = (index: number, value: unknown) => {
        results[index] = value;
        if (--left === 0 && !failed) {
          scope.close();
          resolve(results);
        }
      };
      if (left === 0) {
        scope.close();
        return resolve(results);
      }
      for (let i = 0; i < members.length && !failed; i++) {
        const member = members[i]!;
        if (scope.reason) return fail(scope.reason);
        if (!(member instanceof Signature)) {
          member.execute(executor, input, scope).then((value) => done(i, value), fail);
          continue;
        }
        // A signature's future is watched directly: one callback per task, no promises, so a
        // group of thousands of small tasks costs the caller little more than submitting them.
        let future: Future<unknown, unknown>;
        try {
          future = member.submit(executor, input);
        } catch (error) {
          return fail(error);
        }
        scope.track(future);
        future.onDone((f) => (f.state === 'done' ? done(i, futureInternals.outcome(f)) : fail(futureInternals.outcome(f))));
      }
    });
  }

  /**
   * Signatures of one task travel as one starmap: executors that cut maps into chunks (pools,
   * clusters) then send a chunk per message instead of a message per member, which is what makes
   * the articles' pi group of 3,000 small tasks pay off on a cluster. Order, first-failure and
   * cancellation are map's, which are the group's.
   */
  #asStarmap(executor: Executor, task: AnyTask, input: readonly unknown[], scope: Scope): Promise<R> {
    if (scope.reason) return Promise.reject(scope.reason);
    const controller = new AbortController();
    scope.onAbort((reason) => controller.abort(reason));
    const argLists = this.members.map((m) => (input.length === 0 ? (m as Signature<unknown>).args : [...input, ...(m as Signature<unknown>).args]));
    return executor.starmap(task as any, argLists as any, { signal: controller.signal }).then(
      (results) => (scope.close(), results as R),
      (error: unknown) => {
        scope.abort(error instanceof CancelledError ? error : new CancelledError('a sibling in the group failed', { cause: error }));
        throw error;
      },
    );
  }
}

/** The task every member calls, when there are two or more members and all are signatures of it. */
function sharedTask(members: readonly Workflow<unknown>[]): AnyTask | undefined {
  if (members.length < 2) return undefined;
  const first = members[0];
  if (!(first instanceof Signature)) return undefined;
  for (const member of members) if (!(member instanceof Signature) || member.task !== first.task) return undefined;
  return first.task;
}

export class Chain<R> extends Workflow<R> {
  constructor(readonly steps: readonly Workflow<unknown>[]) {
    super();
  }

  async execute(executor: Executor, input: readonly unknown[], scope: Scope): Promise<R> {
    let args = input;
    let result: unknown;
    for (const step of this.steps) {
      result = await step.execute(executor, args, scope);
      args = [result];
    }
    return result as R;
  }
}

export class Chord<R> extends Workflow<R> {
  constructor(readonly header: Group<unknown[]>, readonly body: Workflow<R>) {
    super();
  }

  async execute(executor: Executor, input: readonly unknown[], scope: Scope): Promise<R> {
    const results = await this.header.execute(executor, input, scope);
    return this.body.execute(executor, [results], scope);
  }
}

/** One call of `task` with these arguments (a chain prepends the previous result to them). */
export function sig<T extends AnyTask>(task: T, ...args: unknown[]): Signature<TaskResult<T>> {
  checkTask(task);
  return new Signature(task, args);
}

/** Members run together; the result is their results, in order. Accepts workflows or a list of them. */
export function group<W extends Workflow<any>[]>(...members: W): Group<{ [K in keyof W]: ResultOf<W[K]> }>;
export function group<R>(members: Iterable<Workflow<R>>): Group<R[]>;
export function group(...members: unknown[]): Group<unknown[]> {
  const only = members[0];
  const iterable = members.length === 1 && typeof only === 'object' && only !== null && !(only instanceof Workflow) && Symbol.iterator in only;
  const list = iterable ? [...(only as Iterable<unknown>)] : members;
  return new Group(list.map((m, i) => checkWorkflow(m, `group member ${i}`)));
}

/** Steps run one after the other; each result is prepended to the next step's arguments. */
export function chain<W extends [Workflow<any>, ...Workflow<any>[]]>(...steps: W): Chain<LastResult<W>> {
  if (steps.length === 0) throw new TypeError('chain() needs at least one step');
  return new Chain(steps.map((s, i) => checkWorkflow(s, `chain step ${i}`)));
}

/** `header` runs as a group, then `body` gets the list of its results as its first argument. */
export function chord<R>(header: Group<any> | Iterable<Workflow<unknown>>, body: Workflow<R>): Chord<R> {
  const group_ = header instanceof Group ? header : group(header as Iterable<Workflow<unknown>>);
  return new Chord(group_, checkWorkflow(body, 'chord body') as Workflow<R>);
}

function checkWorkflow(value: unknown, what: string): Workflow<unknown> {
  if (!(value instanceof Workflow)) throw new TypeError(expected(what, 'a workflow: sig(task, ...args), group(...), chain(...) or chord(...)', value));
  return value;
}
