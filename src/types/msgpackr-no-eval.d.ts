// msgpackr's build without runtime code generation (its record reader falls back to a loop),
// so nothing a peer sends is ever turned into a Function. Same API as the main entry point.
declare module 'msgpackr/index-no-eval' {
  export * from 'msgpackr';
}
