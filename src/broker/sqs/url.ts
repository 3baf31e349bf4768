/**
 * What an `sqs://` URL says (no AWS SDK here):
 *
 *   sqs://127.0.0.1:4566/myapp-               an SQS-compatible endpoint over http (an emulator)
 *   sqss://sqs.internal:443/myapp-            the same over https
 *   sqs://sqs.eu-west-1.amazonaws.com/myapp-  AWS itself (https), the region read from the host
 *   sqs://eu-west-1/myapp-                    AWS in that region, its endpoint found by the SDK
 *
 * The path is the prefix of every queue name (`weft-` when there is none). Credentials: the
 * URL's user and password (an access key id and secret, URL-encoded), else the SDK's own chain
 * (environment, profile, instance role); an emulator without any gets a dummy pair, since it
 * checks none. Region: `?region=`, else the AWS host's, else AWS_REGION / AWS_DEFAULT_REGION,
 * else us-east-1. `?maxReceiveCount=N` (default 10, 0 = none): a message received N times
 * without being settled moves to the queue's dead-letter queue `<queue>.dlq`.
 */
import { expected } from '../../core/validate.js';
import { DEFAULT_PREFIX, MAX_PREFIX } from './names.js';

export interface SqsSettings {
  /** Where requests go; undefined: the SDK's AWS endpoint for the region. */
  endpoint: string | undefined;
  region: string;
  /** Undefined: the SDK's default credential chain. */
  credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
  /** Every queue name starts with it. */
  prefix: string;
  /** Receives before SQS moves a message to the dead-letter queue; 0 for no redrive policy. */
  maxReceiveCount: number;
  /** True when this is AWS, not an emulator or another compatible server. */
  aws: boolean;
  /** The server, for messages (no credentials). */
  display: string;
}

export const DEFAULT_MAX_RECEIVE_COUNT = 10;
/** SQS's own bound on a redrive policy's maxReceiveCount. */
const MAX_RECEIVE_COUNT = 1000;
const REGION = /^[a-z]{2}(?:-[a-z]+)+-\d+$/;
const AWS_HOST = /^sqs(?:-fips)?\.([a-z]{2}(?:-[a-z]+)+-\d+)\.amazonaws\.com(?:\.cn)?$/;
const QUERY = new Set(['region', 'maxReceiveCount']);
const EXAMPLE = 'an SQS URL such as sqs://127.0.0.1:4566/myapp- or sqs://eu-west-1/myapp-';

export function parseSqsUrl(url: URL, env: NodeJS.ProcessEnv = process.env): SqsSettings {
  if (url.protocol !== 'sqs:' && url.protocol !== 'sqss:') throw new TypeError(expected('url', EXAMPLE, url.href));
  const host = url.hostname.toLowerCase();
  if (!host) throw new TypeError(expected('url', `${EXAMPLE} (a host or a region)`, url.href));
  for (const name of url.searchParams.keys()) {
    if (!QUERY.has(name)) throw new TypeError(expected('url', `${EXAMPLE} with the query parameters ${[...QUERY].join(', ')}, redeliverAfter, connectTimeout`, `?${name}= in ${safeHref(url)}`));
  }
  const awsHost = AWS_HOST.exec(host);
  const bareRegion = !url.port && REGION.test(host);
  const aws = awsHost !== null || bareRegion || host.endsWith('.amazonaws.com') || host.endsWith('.amazonaws.com.cn');
  const region = url.searchParams.get('region') ?? awsHost?.[1] ?? (bareRegion ? host : undefined) ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1';
  if (!REGION.test(region)) throw new TypeError(expected('region (in the URL)', 'an AWS region such as eu-west-1', region));
  const scheme = aws || url.protocol === 'sqss:' ? 'https' : 'http';
  const endpoint = bareRegion ? undefined : `${scheme}://${url.host}`;
  return {
    endpoint,
    region,
    credentials: credentialsOf(url, aws, env),
    prefix: prefixOf(url),
    maxReceiveCount: maxReceiveCountOf(url),
    aws,
    display: endpoint ?? `AWS SQS in ${region}`,
  };
}

function credentialsOf(url: URL, aws: boolean, env: NodeJS.ProcessEnv): SqsSettings['credentials'] {
  if (url.username || url.password) {
    if (!url.username || !url.password) throw new TypeError(expected('url', 'credentials as ACCESS_KEY_ID:SECRET@ (both, or neither)', safeHref(url)));
    return { accessKeyId: decodeURIComponent(url.username), secretAccessKey: decodeURIComponent(url.password) };
  }
  // An emulator checks no signature, but the SDK signs every request: without any credentials
  // around it would search the instance metadata service first, slowly, then fail.
  if (!aws && !(env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) && !env.AWS_PROFILE) return { accessKeyId: 'weft', secretAccessKey: 'weft' };
  return undefined;
}

function prefixOf(url: URL): string {
  const path = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (path === '') return DEFAULT_PREFIX;
  if (!new RegExp(`^[A-Za-z0-9_-]{1,${MAX_PREFIX}}$`).test(path)) {
    throw new TypeError(expected('url', `a queue-name prefix (its path) of 1 to ${MAX_PREFIX} letters, digits, '-' or '_'`, path));
  }
  return path;
}

function maxReceiveCountOf(url: URL): number {
  const text = url.searchParams.get('maxReceiveCount');
  if (text === null) return DEFAULT_MAX_RECEIVE_COUNT;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0 || value > MAX_RECEIVE_COUNT) {
    throw new RangeError(expected('maxReceiveCount (in the URL)', `an integer from 0 (no dead-letter queue) to ${MAX_RECEIVE_COUNT}`, text));
  }
  return value;
}

/** The URL for an error message: the secret replaced. */
function safeHref(url: URL): string {
  const copy = new URL(url.href);
  if (copy.password) copy.password = '***';
  return copy.href;
}
