import { isRedisUrl, parseRedisUrl } from './redis-url';

describe('Redis URLs of the bus', () => {
  it('passes a one-server URL through as it is (ioredis reads it)', () => {
    expect(parseRedisUrl('rediss://app:pw@cache:6380/2')).toEqual({ cluster: false, url: 'rediss://app:pw@cache:6380/2' });
  });

  it('names a cluster by its seeds: the host of the URL and every node parameter', () => {
    expect(parseRedisUrl('redis+cluster://app:p%40ss@10.0.0.1:7000?node=10.0.0.2:7001&node=[::1]:7002&node=cache-3')).toEqual({
      cluster: true,
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
        { host: '::1', port: 7002 },
        { host: 'cache-3', port: 6379 },
      ],
      username: 'app',
      password: 'p@ss',
      tls: false,
    });
    expect(parseRedisUrl('rediss+cluster://cache:6379')).toMatchObject({ cluster: true, tls: true, nodes: [{ host: 'cache', port: 6379 }] });
  });

  it.each(['http://cache:6379', 'cache:6379', 'redis+cluster://', 'redis+cluster://cache:6379?node=other/6379', 'redis+cluster://cache:6379?node=a@b:1'])(
    'refuses %s',
    (url) => {
      expect(isRedisUrl(url)).toBe(false);
      expect(() => parseRedisUrl(url)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    },
  );
});
