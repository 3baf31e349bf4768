// weft's public API. The core (futures, tasks, executor semantics, errors) does no I/O; each
// executor is a thin module of its own.
export {
  WeftError, CancelledError, TimeoutError, InvalidStateError, RemoteError, WorkerCrashedError, BrokenExecutorError,
  AuthenticationError, ProtocolError, ConnectionClosedError, MissingDependencyError,
  serializeError, type SerializedError, type WorkerCrashInfo,
} from './core/errors.js';
export { Future, isFuture, type FutureState } from './core/future.js';
export {
  defineTasks, isTaskRef, lookupTask, taskAddress,
  type TaskRef, type TaskAddress, type TaskRefOf, type TaskOptions, type AnyTask, type TaskArgs, type TaskResult, type TaskYield,
  type DefinedTasks, type DefineTasksOptions,
} from './core/task.js';
export { taskContext, currentTaskContext, type TaskContext } from './core/context.js';
export { ExecutorBase, type Executor, type ExecutorStats, type ShutdownOptions } from './core/executor.js';
export type { MapOptions } from './core/map.js';
export {
  wait, asCompleted, gather, FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED, type ReturnWhen, type WaitResult, type Completed,
} from './core/wait.js';
export { InlineExecutor } from './executors/inline.js';
export { GreenPool, type GreenPoolOptions } from './green/green-pool.js';
export { joinAll } from './green/join-all.js';
export { Greenlet, type GreenletBody } from './green/greenlet.js';
export { ThreadPool, type ThreadPoolOptions } from './pools/thread-pool.js';
export { ProcessPool, type ProcessPoolOptions } from './pools/process-pool.js';
export { PoolBase, type PoolOptions, type PoolStats, type CancelOptions } from './pools/pool-base.js';
export type { WorkerStats } from './pools/worker-slot.js';
export { transfer } from './pools/transfer.js';
export { serve, connect, byRef, RpcServer, type ServeOptions, type ConnectOptions } from './remote/rpc.js';
export { releaseProxy, isRemote, type Remote, type RemoteRoot, type RemoteMethod, type RemoteMembers } from './remote/rpc/proxy.js';
export type { CallOptions } from './remote/rpc/calls.js';
export { registerRemoteClass, type ByRef } from './remote/codec.js';
export type { Address } from './remote/dial.js';
export type { ListenOptions, ListenerStats } from './remote/listener.js';
export type { RefusalReason, RefusalReport } from './remote/refusals.js';
export { Manager, ManagerClient, type ManagerOptions, type ManagerConnectOptions } from './remote/manager.js';
export { Dict } from './remote/dict.js';
export { ClusterExecutor, type DeadLetter, type ClusterEvents } from './cluster/cluster-executor.js';
export type { ClusterOptions } from './cluster/options.js';
export { ClusterWorker, type ClusterWorkerOptions } from './cluster/worker.js';
export { clusterStatus } from './cluster/status.js';
export { serveDashboard, type Dashboard } from './dashboard/server.js';
export type { DashboardOptions } from './dashboard/options.js';
export { UnknownTaskError } from './cluster/errors.js';
export type { WorkerInfo, WorkerState, PoolKind, StatusReply } from './cluster/protocol.js';
export { sig, group, chain, chord, Workflow, Signature, Group, Chain, Chord, type RunOptions } from './core/workflows.js';
export { bag, Bag, Item, type ShuffleOptions } from './collections/bag.js';
export type { BagOptions } from './collections/source.js';
export type { ComputeOptions, PartitionProgress } from './collections/engine.js';
export type { Key } from './collections/keys.js';
export { Thread, Process } from './pools/thread.js';
export { openBroker, type OpenBrokerOptions } from './broker/open.js';
export { serveBroker, type BrokerServerOptions } from './broker/weft-server.js';
export type { Broker, Message, MessageHandler, Consumer, PublishOptions, ConsumeOptions, RequestOptions, Inbox, InboxOptions, SendOptions, Subscription, SubscribeOptions, QueueStats, RefusedMessage } from './broker/types.js';
export * from './sync/index.js';
export { setLogger, logger, consoleLogger, silentLogger, pinoLogger, LOG_LEVELS, type Logger, type LogLevel, type LogFields, type ConsoleLoggerOptions } from './log.js';
export { observe, type ObserveOptions, type Observation, type TracerProviderLike } from './observe/observe.js';
export { serveMetrics, type ServeMetricsOptions, type MetricsServer } from './observe/serve-metrics.js';
export { exposeMetrics, type MetricsEndpointOptions, type MetricsEndpoint } from './observe/endpoint.js';
export type { MetricsOptions, RegistryLike } from './observe/options.js';
