// What a request with a key must pass: its allow-lists (origins, IPs) and its rate limit, checked and normalized
// when an admin sets them and compiled once per key ring change (http/auth.ts applies them).
import { IntakeError } from '../core/errors.ts';
import type { KeyAccess, RateLimit, Scope } from '../store/types.ts';
import { IpList, normalizeIp } from './ips.ts';
import { normalizeOrigin, OriginList } from './origins.ts';

export type AccessDenial = 'INTAKE_ERR_IP_NOT_ALLOWED' | 'INTAKE_ERR_ORIGIN_NOT_ALLOWED';

export class Access {
  private readonly origins: OriginList | null;
  private readonly ips: IpList | null;

  /** Null when the key has no lists: it is accepted from anywhere, as keys always were. */
  static of(key: { allowedOrigins: string[]; allowedIps: string[] }): Access | null {
    return key.allowedOrigins.length + key.allowedIps.length === 0 ? null : new Access(key);
  }

  private constructor(key: { allowedOrigins: string[]; allowedIps: string[] }) {
    this.origins = key.allowedOrigins.length > 0 ? new OriginList(key.allowedOrigins) : null;
    this.ips = key.allowedIps.length > 0 ? new IpList(key.allowedIps) : null;
  }

  /**
   * Why a request from `ip` with this Origin header may not use the key, or null. The IP list is checked first.
   * With an origin list, a request without an Origin header is refused: browsers always send one on the
   * requests SDKs make (POST, and cross-origin GET), and a server client should use a key without origins.
   */
  denial(origin: string | undefined, ip: string): AccessDenial | null {
    if (this.ips && !this.ips.allows(ip)) return 'INTAKE_ERR_IP_NOT_ALLOWED';
    if (this.origins && (origin === undefined || !this.origins.allows(origin))) {
      return 'INTAKE_ERR_ORIGIN_NOT_ALLOWED';
    }
    return null;
  }
}

/** What a request with the key must pass, compiled: only keys with an allow-list or a rate limit have one. */
export interface KeyGuard {
  access: Access | null;
  /** The key's own limit, else its workspace's (keys with the ingest scope only). */
  rateLimit: RateLimit | null;
}

function checked(field: string, value: string, normalize: (v: string) => string): string {
  try {
    return normalize(value);
  } catch (err) {
    throw new IntakeError(
      'INTAKE_ERR_INVALID_BODY',
      `${field} ${JSON.stringify(value)} ${(err as Error).message}`,
      { field, value },
    );
  }
}

/** A key's lists and limit as the admin API sets them: checked and normalized, or a coded 400 naming the field. */
export function normalizeAccess(scopes: readonly Scope[], patch: Partial<KeyAccess>): Partial<KeyAccess> {
  const out: Partial<KeyAccess> = {};
  if (patch.allowedOrigins) {
    const list = patch.allowedOrigins.map((o, i) => checked(`allowedOrigins[${i}]`, o, normalizeOrigin));
    out.allowedOrigins = [...new Set(list)];
  }
  if (patch.allowedIps) {
    const list = patch.allowedIps.map((ip, i) => checked(`allowedIps[${i}]`, ip, normalizeIp));
    out.allowedIps = [...new Set(list)];
  }
  if (patch.rateLimit !== undefined) {
    if (patch.rateLimit !== null && !scopes.includes('ingest')) {
      const why = `rateLimit applies to keys with the ingest scope; this key has ${scopes.join(', ')}`;
      throw new IntakeError('INTAKE_ERR_INVALID_BODY', why, { field: 'rateLimit' });
    }
    out.rateLimit = patch.rateLimit;
  }
  return out;
}
