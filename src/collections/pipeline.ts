import { isPromiseLike } from '../core/invoke.js';
import { describe } from '../core/validate.js';
import type { StepSpec } from './spec.js';
import type { Fn, Sink } from './writers.js';

/**
 * A partition's narrow steps, fused: each value goes through every step and into the writer
 * before the next one is read, so no step builds a list of the partition (mapPartitions alone
 * gathers one, since it is given the partition). Two builds of the same chain: a synchronous
 * one (no promise per value) and, when some step is an async function, one that awaits.
 */
export interface AsyncSink {
  push(value: unknown): boolean | Promise<boolean>;
  end(): void | Promise<void>;
}

/** How often a long partition checks its task's signal, in values read or produced. */
const CHECK_EVERY = 1024;

/** Throws the task's abort reason, every CHECK_EVERY calls, once its signal has aborted. */
export function abortCheck(signal: AbortSignal | undefined): () => void {
  if (!signal) return () => {};
  let calls = 0;
  return () => {
    if (++calls % CHECK_EVERY === 0 && signal.aborted) throw signal.reason;
  };
}

type Step = { op: StepSpec['op']; call: (value: unknown) => unknown; name: string };

function bindStep(step: StepSpec, fn: Fn, name: string, sync: boolean): Step {
  const { args } = step;
  const check = sync
    ? (out: unknown) => {
      if (isPromiseLike(out)) throw new TypeError(`the ${step.op} step ${name} returned a promise but is not an async function: declare it async, so that its partition awaits each value`);
      return out;
    }
    : (out: unknown) => out;
  const a0 = args[0];
  const call = args.length === 0 ? (v: unknown) => check(fn(v)) : args.length === 1 ? (v: unknown) => check(fn(v, a0)) : (v: unknown) => check(fn(v, ...args));
  return { op: step.op, call, name };
}

function notIterable(step: Step, out: unknown): TypeError {
  return new TypeError(`Expected the ${step.op} step ${step.name} to return an iterable (an array or a generator), got ${describe(out)}`);
}

/** The steps in front of `sink`, synchronous. */
export function buildSync(steps: StepSpec[], fns: Fn[], names: string[], sink: Sink, check: () => void): Sink {
  let next = sink;
  for (let i = steps.length - 1; i >= 0; i--) next = syncNode(bindStep(steps[i]!, fns[steps[i]!.task]!, names[steps[i]!.task]!, true), next, check);
  return next;
}

function syncNode(step: Step, next: Sink, check: () => void): Sink {
  const { call } = step;
  const end = () => next.end();
  const pushAll = (out: unknown): boolean => {
    if (Array.isArray(out)) {
      for (let i = 0; i < out.length; i++) {
        check();
        if (!next.push(out[i])) return false;
      }
      return true;
    }
    if (out === null || typeof (out as Iterable<unknown>)?.[Symbol.iterator] !== 'function') throw notIterable(step, out);
    for (const value of out as Iterable<unknown>) {
      check();
      if (!next.push(value)) return false; // for...of closes a generator on the way out
    }
    return true;
  };
  switch (step.op) {
    case 'map': return { push: (v) => next.push(call(v)), end };
    case 'filter': return { push: (v) => (call(v) ? next.push(v) : true), end };
    case 'flatMap': return { push: (v) => pushAll(call(v)), end };
    case 'mapPartitions': {
      const buffer: unknown[] = [];
      return { push: (v) => (buffer.push(v), true), end: () => { pushAll(call(buffer)); next.end(); } };
    }
  }
}

/** The steps in front of `sink`, awaiting what async steps return. */
export function buildAsync(steps: StepSpec[], fns: Fn[], names: string[], sink: AsyncSink, check: () => void): AsyncSink {
  let next = sink;
  for (let i = steps.length - 1; i >= 0; i--) next = asyncNode(bindStep(steps[i]!, fns[steps[i]!.task]!, names[steps[i]!.task]!, false), next, check);
  return next;
}

function asyncNode(step: Step, next: AsyncSink, check: () => void): AsyncSink {
  const { call } = step;
  const end = () => next.end();
  const pushAll = async (out: unknown): Promise<boolean> => {
    if (out !== null && typeof (out as AsyncIterable<unknown>)?.[Symbol.asyncIterator] === 'function') {
      for await (const value of out as AsyncIterable<unknown>) {
        check();
        if (!(await next.push(value))) return false;
      }
      return true;
    }
    if (out === null || typeof (out as Iterable<unknown>)?.[Symbol.iterator] !== 'function') throw notIterable(step, out);
    for (const value of out as Iterable<unknown>) {
      check();
      if (!(await next.push(value))) return false;
    }
    return true;
  };
  switch (step.op) {
    case 'map': return { push: async (v) => next.push(await call(v)), end };
    case 'filter': return { push: async (v) => ((await call(v)) ? next.push(v) : true), end };
    case 'flatMap': return { push: async (v) => pushAll(await call(v)), end };
    case 'mapPartitions': {
      const buffer: unknown[] = [];
      return { push: (v) => (buffer.push(v), true), end: async () => { await pushAll(await call(buffer)); await next.end(); } };
    }
  }
}

/** Reads `values` into the head of the steps until they are done or want no more. */
export function drainSync(values: Iterable<unknown>, head: Sink, check: () => void): void {
  if (Array.isArray(values)) {
    for (let i = 0; i < values.length; i++) {
      check();
      if (!head.push(values[i])) break;
    }
  } else {
    for (const value of values) {
      check();
      if (!head.push(value)) break;
    }
  }
  head.end();
}

export async function drainAsync(values: Iterable<unknown>, head: AsyncSink, check: () => void): Promise<void> {
  for (const value of values) {
    check();
    if (!(await head.push(value))) break;
  }
  await head.end();
}
