// Configuration: defaults, flags over environment, and a clear message for each bad value.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../src/core/config.ts';

test('defaults', () => {
  const c = loadConfig([], {});
  assert.equal(c.port, 8080);
  assert.equal(c.host, '127.0.0.1');
  assert.equal(c.dataDir, './data');
  assert.equal(c.bodyLimit, 4 * 1024 * 1024);
  assert.equal(c.eventLimit, 32 * 1024);
  assert.equal(c.dedupeWindowHours, 48);
  assert.equal(c.readWaitMs, 30_000);
  assert.equal(c.clickhouseTimeoutMs, 30_000);
  assert.equal(loadConfig([], { INTAKE_CLICKHOUSE_TIMEOUT_MS: '2500' }).clickhouseTimeoutMs, 2_500);
  assert.equal(c.purgeIntervalHours, 24);
  assert.equal(loadConfig(['--purge-interval-hours', '0'], {}).purgeIntervalHours, 0);
  assert.deepEqual(c.trustProxy, []);
  assert.deepEqual(c.keys, { write: undefined, read: undefined, private: undefined, admin: undefined });
});

test('flags win over environment variables; sizes take units', () => {
  const c = loadConfig(['--port', '9000', '--data-dir=/tmp/x', '--body-limit', '1mb'], {
    PORT: '7000',
    HOST: '0.0.0.0',
    INTAKE_EVENT_LIMIT: '64kb',
    INTAKE_TRUST_PROXY: '10.0.0.1, 10.1.0.0/16',
    INTAKE_WRITE_KEY: 'w',
  });
  assert.equal(c.port, 9000);
  assert.equal(c.host, '0.0.0.0');
  assert.equal(c.dataDir, '/tmp/x');
  assert.equal(c.bodyLimit, 1024 * 1024);
  assert.equal(c.eventLimit, 64 * 1024);
  assert.deepEqual(c.trustProxy, ['10.0.0.1', '10.1.0.0/16']);
  assert.equal(c.keys.write, 'w');
});

test('each bad value is refused with a message naming it', () => {
  const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
    [['--port', 'eighty'], {}, /--port \(PORT\) must be a whole number/],
    [[], { PORT: '70000' }, /--port \(PORT\) must be between 0 and 65535/],
    [['--log-level', 'loud'], {}, /--log-level .* must be one of/],
    [['--body-limit', 'huge'], {}, /--body-limit .* must be a size/],
    [[], { INTAKE_DEDUPE_WINDOW_HOURS: '2' }, /dedupe-window-hours .* between 24/],
    [[], { INTAKE_PURGE_INTERVAL_HOURS: '1000' }, /purge-interval-hours .* between 0 and 720/],
    [[], { INTAKE_TRUST_PROXY: 'everyone' }, /trust-proxy .* IPs or CIDRs/],
    [['--colour', 'blue'], {}, /colour/],
    [['--clickhouse-timeout-ms', '5'], {}, /clickhouse-timeout-ms .* between 100/],
  ];
  for (const [argv, env, message] of cases) {
    assert.throws(
      () => loadConfig(argv, env),
      (err: unknown) => err instanceof ConfigError && message.test(err.message),
    );
  }
});

test('intake start with a bad value exits 2 and says why, before opening anything', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'start', '--port', 'nope'], {
    cwd: new URL('..', import.meta.url).pathname,
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /bad configuration: --port \(PORT\) must be a whole number, got "nope"/);
});

test('the NATS log options: servers, stream, partitions, replicas, timeout and credentials', () => {
  const d = loadConfig([], {});
  assert.deepEqual(
    [d.natsServers, d.natsStream, d.natsPartitions, d.natsReplicas, d.natsTimeoutMs],
    [[], 'INTAKE', 4, 3, 5000],
  );
  const c = loadConfig(
    ['--nats-servers', 'nats://127.0.0.1:4222, nats://127.0.0.1:4223', '--nats-partitions=8'],
    {
      INTAKE_NATS_STREAM: 'EVENTS_2',
      INTAKE_NATS_REPLICAS: '1',
      INTAKE_NATS_USER: 'u',
      INTAKE_NATS_PASSWORD: 'p',
    },
  );
  assert.deepEqual(c.natsServers, ['nats://127.0.0.1:4222', 'nats://127.0.0.1:4223']);
  assert.deepEqual([c.natsStream, c.natsPartitions, c.natsReplicas], ['EVENTS_2', 8, 1]);
  assert.deepEqual(c.nats, { user: 'u', password: 'p', token: undefined });
  const bad: [string[], RegExp][] = [
    [
      ['--nats-servers', 'http://x:4222'],
      /--nats-servers \(INTAKE_NATS_SERVERS\) must list servers such as nats:\/\/127\.0\.0\.1:4222, got "http:\/\/x:4222"/,
    ],
    [['--nats-stream', 'a.b'], /--nats-stream \(INTAKE_NATS_STREAM\) must be a stream name/],
    [
      ['--nats-partitions', '0'],
      /--nats-partitions \(INTAKE_NATS_PARTITIONS\) must be between 1 and 1024, got 0/,
    ],
    [['--nats-replicas', '7'], /--nats-replicas \(INTAKE_NATS_REPLICAS\) must be between 1 and 5, got 7/],
  ];
  for (const [argv, message] of bad)
    assert.throws(
      () => loadConfig(argv, {}),
      (e) => e instanceof ConfigError && message.test(e.message),
    );
});

test('--loader-partitions: all, lists and ranges below --nats-partitions, only with the ClickHouse store', () => {
  const ch = ['--store', 'clickhouse', '--clickhouse-url', 'http://127.0.0.1:8123'];
  assert.equal(loadConfig([], {}).loaderPartitions, null);
  assert.equal(loadConfig([...ch, '--loader-partitions', 'all'], {}).loaderPartitions, null);
  assert.deepEqual(loadConfig([...ch, '--loader-partitions', '2-3'], {}).loaderPartitions, [2, 3]);
  assert.deepEqual(
    loadConfig(ch, { INTAKE_LOADER_PARTITIONS: '5, 0-1,1', INTAKE_NATS_PARTITIONS: '8' }).loaderPartitions,
    [0, 1, 5],
  );
  const bad: Array<[string[], RegExp]> = [
    [
      [...ch, '--loader-partitions', 'x'],
      /--loader-partitions \(INTAKE_LOADER_PARTITIONS\) must list partitions such as 0-1/,
    ],
    [[...ch, '--loader-partitions', '3-1'], /the range 3-1 runs backwards/],
    [
      [...ch, '--loader-partitions', '2-4'],
      /partition 4 does not exist, the stream has 4 \(0-3; --nats-partitions\)/,
    ],
    [['--loader-partitions', '0-1'], /several loaders load one store only on ClickHouse/],
  ];
  for (const [argv, message] of bad)
    assert.throws(
      () => loadConfig(argv, {}),
      (e) => e instanceof ConfigError && message.test(e.message),
      message.source,
    );
});
