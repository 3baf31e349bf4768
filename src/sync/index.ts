// The synchronisation primitives. Importing this module registers how each one crosses into a
// worker thread (shared memory) or a child process (served by the parent): see share.ts.
export { ClosedError, BrokenBarrierError } from './errors.js';
export type { WaitOptions } from './atomic-wait.js';
export type { Held } from './held.js';
export { Lock, LockProxy } from './lock.js';
export { RLock, RLockProxy } from './rlock.js';
export { Semaphore, SemaphoreProxy } from './semaphore.js';
export { Event, EventProxy } from './event.js';
export { Condition, ConditionProxy } from './condition.js';
export { Barrier, BarrierProxy } from './barrier.js';
export { Queue, QueueProxy, type QueueOptions } from './queue.js';
export { Pipe, PipeEnd, PipeEndProxy } from './pipe.js';
export { Timer } from './timer.js';
export {
  createObjectServer, createParentChannel, isObjectMessage, ObjectRegistry,
  type ObjectServerEnd, type ParentChannelEnd, type ObjectCallMessage, type ObjectReplyMessage, type ObjectMessage,
} from './object-channel.js';
