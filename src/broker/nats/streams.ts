/**
 * The NATS adapter's JetStream objects: one work-queue stream per queue and its shared durable
 * pull consumer `weft`, each made once per transport on first use; and the figures read from
 * them without making anything.
 */
import type { JetStreamManager } from 'nats';
import { peer } from '../../peers/load.js';
import type { QueueStats } from '../types.js';
import { DURABLE, natsStreamName, queueToken } from './names.js';

// JetStream API error codes.
const STREAM_NAME_IN_USE = 10058;
const CONSUMER_EXISTS = [10013, 10148];
const STREAM_NOT_FOUND = 10059;
const CONSUMER_NOT_FOUND = 10014;

export interface QueueRoute {
  stream: string;
  subject: string;
}

export class Streams {
  readonly #jsm: JetStreamManager;
  readonly #redeliverAfter: number;
  /** Streams known to exist, by queue name. */
  readonly #routes = new Map<string, Promise<QueueRoute>>();
  /** The same, once made: publishing to them needs no await (the hot path). */
  readonly #made = new Map<string, QueueRoute>();
  /** The durable consumer of each stream, by stream name. */
  readonly #durables = new Map<string, Promise<void>>();

  constructor(jsm: JetStreamManager, redeliverAfter: number) {
    this.#jsm = jsm;
    this.#redeliverAfter = redeliverAfter;
  }

  /**
   * From the shared durable: num_pending (not delivered yet) and num_ack_pending (delivered,
   * unsettled). Every weft consumer of a queue pulls through that one durable, so the server
   * cannot tell how many there are: `consumers` is undefined.
   */
  async stats(queue: string): Promise<QueueStats> {
    const stream = natsStreamName(queue);
    try {
      const info = await this.#jsm.consumers.info(stream, DURABLE);
      return { waiting: info.num_pending, unacked: info.num_ack_pending, consumers: undefined };
    } catch (error) {
      const code = apiErrorCode(error);
      if (code === STREAM_NOT_FOUND) return { waiting: 0, unacked: 0, consumers: undefined };
      if (code !== CONSUMER_NOT_FOUND) throw error;
    }
    // Published to, never consumed: everything in the work-queue stream waits.
    try {
      const info = await this.#jsm.streams.info(stream);
      return { waiting: info.state.messages, unacked: 0, consumers: undefined };
    } catch (error) {
      if (apiErrorCode(error) === STREAM_NOT_FOUND) return { waiting: 0, unacked: 0, consumers: undefined };
      throw error;
    }
  }

  route(queue: string): Promise<QueueRoute> {
    let route = this.#routes.get(queue);
    if (!route) {
      route = this.#createStream(queue);
      this.#routes.set(queue, route);
      route.then((made) => this.#made.set(queue, made), () => this.#routes.delete(queue));
    }
    return route;
  }

  /** The queue's route if its stream is known to exist, else undefined (then await route()). */
  made(queue: string): QueueRoute | undefined {
    return this.#made.get(queue);
  }

  async #createStream(queue: string): Promise<QueueRoute> {
    const token = queueToken(queue);
    const route = { stream: natsStreamName(queue), subject: `weft.q.${token}` };
    try {
      await this.#jsm.streams.add({
        name: route.stream,
        subjects: [route.subject],
        retention: peer('nats').RetentionPolicy.Workqueue,
        storage: peer('nats').StorageType.File,
      });
    } catch (error) {
      // Adding an identical stream again succeeds; one made with other settings (by hand, or
      // by another weft version) is used as it is, since its subject is the one we publish to.
      if (apiErrorCode(error) !== STREAM_NAME_IN_USE) throw error;
    }
    return route;
  }

  durable(route: QueueRoute): Promise<void> {
    let durable = this.#durables.get(route.stream);
    if (!durable) {
      durable = this.#createDurable(route.stream);
      this.#durables.set(route.stream, durable);
      durable.catch(() => this.#durables.delete(route.stream));
    }
    return durable;
  }

  async #createDurable(stream: string): Promise<void> {
    const config = {
      durable_name: DURABLE,
      ack_policy: peer('nats').AckPolicy.Explicit,
      deliver_policy: peer('nats').DeliverPolicy.All,
      ack_wait: peer('nats').nanos(this.#redeliverAfter),
      // Every weft consumer limits itself (prefetch); the server must not limit them all together.
      max_ack_pending: -1,
    };
    try {
      await this.#jsm.consumers.add(stream, config);
    } catch (error) {
      // Servers that refuse to create over a different config: the newest opener's ack_wait wins.
      const code = apiErrorCode(error);
      if (code === undefined || !CONSUMER_EXISTS.includes(code)) throw error;
      await this.#jsm.consumers.update(stream, DURABLE, { ack_wait: config.ack_wait });
    }
  }
}

function apiErrorCode(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null || !('api_error' in error)) return undefined;
  const apiError: unknown = error.api_error;
  if (typeof apiError !== 'object' || apiError === null || !('err_code' in apiError)) return undefined;
  return typeof apiError.err_code === 'number' ? apiError.err_code : undefined;
}
