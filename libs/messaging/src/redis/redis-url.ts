import { MessagingError } from '../messaging.errors';

/** One Redis server: the URL as given (ioredis reads user, password, database and TLS from it). */
export interface SingleRedisTarget {
  cluster: false;
  url: string;
}

/**
 * A Redis Cluster named by `redis+cluster://[user:password@]host:port[?node=host:port&node=…]`
 * (`rediss+cluster://` for TLS): the host of the URL and every `node` are seeds; the client learns
 * the other masters from them.
 */
export interface ClusterRedisTarget {
  cluster: true;
  nodes: { host: string; port: number }[];
  username?: string;
  password?: string;
  tls: boolean;
}

export type RedisTarget = SingleRedisTarget | ClusterRedisTarget;

const SINGLE = ['redis:', 'rediss:'];
const CLUSTER = ['redis+cluster:', 'rediss+cluster:'];

/** What a bus URL names; throws INVALID_ARGUMENT for anything else. */
export function parseRedisUrl(url: string): RedisTarget {
  const invalid = (why: string) =>
    new MessagingError('INVALID_ARGUMENT', `invalid Redis URL (${why}): expected redis://, rediss://, redis+cluster:// or rediss+cluster://`);
  if (typeof url !== 'string' || !URL.canParse(url)) throw invalid('not a URL');
  const u = new URL(url);
  if (SINGLE.includes(u.protocol)) return { cluster: false, url };
  if (!CLUSTER.includes(u.protocol)) throw invalid(`scheme ${u.protocol}`);
  const nodes = [u.host, ...u.searchParams.getAll('node')].map((hostPort) => {
    const seed = URL.canParse(`redis://${hostPort}`) ? new URL(`redis://${hostPort}`) : undefined;
    if (!seed || !seed.hostname || seed.pathname !== '' || seed.username) throw invalid(`seed ${JSON.stringify(hostPort)}`);
    return { host: seed.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(seed.port || 6379) };
  });
  return {
    cluster: true,
    nodes,
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    tls: u.protocol === 'rediss+cluster:',
  };
}

/** True for the URLs the Redis bus takes (see parseRedisUrl). */
export function isRedisUrl(url: string): boolean {
  try {
    parseRedisUrl(url);
    return true;
  } catch {
    return false;
  }
}
