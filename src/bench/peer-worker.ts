// The worker module Piscina and Tinypool run in `weft bench --peers`: the same work as
// tasks.ts, as named exports (their `name` run option picks one).
import { monteCarloHits } from './tasks.js';

export function noop(value: number): number {
  return value;
}

export function monteCarlo(tries: number): number {
  return monteCarloHits(tries);
}
