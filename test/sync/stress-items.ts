// What the stress producers put, read back by the consumers and by stress.test.ts.

/** [producer, seq] of an item as item() made it. */
export function origin(value: unknown): [number, number] {
  if (typeof value === 'number') return [Math.floor(value / 1_000_000), value % 1_000_000];
  if (value instanceof Float64Array) return [value[0]!, value[1]!];
  if (value instanceof Map) return [value.get('producer') as number, value.get('seq') as number];
  const { producer, seq } = value as { producer: number; seq: number };
  return [producer, seq];
}
