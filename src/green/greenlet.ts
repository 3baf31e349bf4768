import { InvalidStateError } from '../core/errors.js';

/**
 * greenlet's coroutines with explicit switching, on generators. JavaScript cannot suspend a
 * plain function, so a greenlet body is a generator and a switch from inside one is written
 * `yield other.switch(value)`: `switch` returns a request, the `yield` hands it to the
 * trampoline below, which resumes `other`. The `yield` evaluates to whatever value the next
 * greenlet to switch back here passes.
 *
 *   outside ──gr1.switch()──▶ trampoline ──next()──▶ gr1 ──yield gr2.switch()──▶ trampoline
 *                                 ▲                                                 │
 *                                 └────── gr2 ◀──next()──────────────────────────────┘
 *
 * A greenlet that returns (or throws) hands its value (or error) to its parent: the greenlet
 * that started it, or the code outside when it was started from outside, where `switch`
 * then returns (or throws).
 */
export type GreenletBody = (...args: any[]) => Generator<unknown, unknown, unknown>;

const SWITCH = Symbol('weft.greenlet.switch');

interface SwitchRequest {
  readonly [SWITCH]: true;
  readonly target: Greenlet;
  readonly args: unknown[];
  readonly throwing: boolean;
}

/** Stands for the code outside every greenlet (greenlet's "main greenlet"). */
const OUTSIDE: unique symbol = Symbol('weft.greenlet.outside');
type Runner = Greenlet | typeof OUTSIDE;

let current: Greenlet | undefined;
// Greenlet's private state, reachable by the trampoline only (assigned in its static block).
let resume: (greenlet: Greenlet, from: Runner, args: unknown[], throwing: boolean) => IteratorResult<unknown, unknown>;
let parentOf: (greenlet: Greenlet) => Runner;
let markDead: (greenlet: Greenlet) => void;

export class Greenlet {
  readonly #body: GreenletBody;
  #parent: Runner | undefined;
  #gen: Generator<unknown, unknown, unknown> | undefined;
  #dead = false;

  /** `parent` defaults to the greenlet that first switches to this one. */
  constructor(body: GreenletBody, parent?: Greenlet) {
    if (typeof body !== 'function') throw new TypeError(`Expected \`body\` to be a generator function, got ${typeof body}`);
    this.#body = body;
    this.#parent = parent;
  }

  /** The greenlet running now, or undefined outside all of them. */
  static getCurrent(): Greenlet | undefined {
    return current;
  }

  get started(): boolean {
    return this.#gen !== undefined;
  }

  get dead(): boolean {
    return this.#dead;
  }

  get parent(): Greenlet | undefined {
    return this.#parent === OUTSIDE ? undefined : this.#parent;
  }

  /**
   * Hands control to this greenlet. The first switch passes `args` to its body; later ones pass
   * `args[0]` as the value of the `yield` it is suspended at. From outside every greenlet this
   * runs until control comes back outside and returns the value it came back with; from inside
   * a greenlet it returns a request that must be yielded: `yield other.switch(value)`.
   */
  switch(...args: unknown[]): any {
    if (current) return { [SWITCH]: true, target: this, args, throwing: false } satisfies SwitchRequest;
    return trampoline(this, args, false);
  }

  /** Like switch, but raises `error` in this greenlet where it is suspended. */
  throw(error: unknown): any {
    if (current) return { [SWITCH]: true, target: this, args: [error], throwing: true } satisfies SwitchRequest;
    return trampoline(this, [error], true);
  }

  static {
    resume = (greenlet, from, args, throwing) => greenlet.#resume(from, args, throwing);
    parentOf = (greenlet) => greenlet.#parent ?? OUTSIDE;
    markDead = (greenlet) => void (greenlet.#dead = true);
  }

  #resume(from: Runner, args: unknown[], throwing: boolean): IteratorResult<unknown, unknown> {
    if (!this.#gen) {
      this.#parent ??= from;
      if (throwing) {
        this.#dead = true;
        throw args[0];
      }
      this.#gen = this.#body(...args);
      return this.#gen.next();
    }
    return throwing ? this.#gen.throw(args[0]) : this.#gen.next(args[0]);
  }
}

function isSwitchRequest(value: unknown): value is SwitchRequest {
  return typeof value === 'object' && value !== null && (value as SwitchRequest)[SWITCH] === true;
}

/** Runs greenlets until control returns outside; returns (or throws) what arrives there. */
function trampoline(first: Greenlet, firstArgs: unknown[], firstThrowing: boolean): unknown {
  let target: Runner = first;
  let from: Runner = OUTSIDE;
  let args = firstArgs;
  let throwing = firstThrowing;
  for (;;) {
    if (target === OUTSIDE) {
      if (throwing) throw args[0];
      return args[0];
    }
    if (target.dead) {
      const error = new InvalidStateError('cannot switch to a greenlet that has finished');
      if (from === OUTSIDE) throw error;
      [target, args, throwing] = [from, [error], true];
      continue;
    }
    const running: Greenlet = target;
    let step: IteratorResult<unknown, unknown>;
    current = running;
    try {
      step = resume(running, from, args, throwing);
    } catch (error) {
      markDead(running);
      from = running;
      target = parentOf(running);
      [args, throwing] = [[error], true];
      continue;
    } finally {
      current = undefined;
    }
    if (step.done) {
      markDead(running);
      from = running;
      target = parentOf(running);
      [args, throwing] = [[step.value], false];
    } else if (isSwitchRequest(step.value)) {
      [from, target, args, throwing] = [running, step.value.target, step.value.args, step.value.throwing];
    } else {
      const error = new TypeError('a greenlet may only yield the result of other.switch(...), as in `yield other.switch(value)`');
      [from, target, args, throwing] = [running, running, [error], true];
    }
  }
}
