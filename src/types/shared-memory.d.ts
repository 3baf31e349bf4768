// In Node since 16 (waitAsync) and 20 (growable SharedArrayBuffer); in TypeScript's lib only
// from es2024, which this project does not target. A global script declaration, used to compile
// weft only: declarations emitted to dist/ must not carry it, or a consumer compiling with
// lib es2024 and skipLibCheck: false gets "All declarations of 'growable' must have identical
// modifiers" (TS2687).
interface SharedArrayBuffer {
  readonly growable: boolean;
  readonly maxByteLength: number;
  grow(newLength: number): void;
}
interface SharedArrayBufferConstructor {
  new (byteLength: number, options?: { maxByteLength?: number }): SharedArrayBuffer;
}
interface Atomics {
  waitAsync(typedArray: Int32Array, index: number, value: number, timeout?: number):
    { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
}
