// A MaxMind DB (MMDB) file read in place: the search tree and the records are read from the file with pread,
// 4 KiB pages at a time, into a bounded page cache, instead of reading the whole file into a Buffer.
//
// Why: `maxmind`'s reader needs the whole file in memory. The bundled GeoLite2 City database is two files of
// 28 and 17 MB, so every server held ~45 MB of RSS for it, used or not (on a server whose clients are all
// behind private addresses, not a page of it is ever read). Read in place, the pages a lookup needs come from
// the OS page cache (shared, evictable, not the process's RSS) and the ones in use stay in this cache, at most
// 8 MB a file, touched only as pages are read. The tree's nodes are numbered depth first, so the nodes of a
// lookup's path are close together: with the cache warm a lookup of a new address reads about one page
// (bench/geo-micro.ts measures both readers on the same addresses); the enricher caches locations per
// address on top.
//
// The cache is one slab of page slots, two-way set associative (a page's set is its index modulo the number
// of sets; a miss replaces the way its set used less recently): a hit is two integer compares, no Map and no
// allocation, and a miss reads straight into its slot.
//
// The format (MaxMind DB File Format Specification 2.0): a binary search tree of `node_count` nodes of two
// records each (24, 28 or 32 bits), 16 zero bytes, a data section of typed values, and the metadata map after
// the marker "\xAB\xCD\xEFMaxMind.com" near the file's end. A record below node_count is the next node, equal
// to it means "no data", above it points into the data section.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { Lru } from './lru.ts';

const PAGE_BITS = 12;
const PAGE = 1 << PAGE_BITS;
/** Page slots by default, per file (8 MB at most; fewer for a smaller file). */
const DEFAULT_PAGES = 2048;
const METADATA_MARKER = Buffer.from('abcdef4d61784d696e642e636f6d', 'hex');
/** The metadata is within the last 128 KiB of the file (the specification's bound). */
const METADATA_WINDOW = 128 * 1024;
/** Pointed-to strings kept (map keys and shared values); the map starts over when full. */
const MAX_STRINGS = 50_000;

export interface MmdbMetadata {
  nodeCount: number;
  recordSize: 24 | 28 | 32;
  ipVersion: 4 | 6;
  databaseType: string;
}

/** A value of the data section: maps become plain objects, uint64/uint128 bigint when past 2^53. */
export type MmdbValue =
  | string
  | number
  | bigint
  | boolean
  | Buffer
  | MmdbValue[]
  | { [key: string]: MmdbValue };

export class MmdbFile {
  readonly metadata: MmdbMetadata;
  private readonly fd: number;
  private readonly size: number;
  /** The page slots: slot k holds the page tags[k] (-1: none yet) at k * PAGE. */
  private readonly slab: Buffer;
  private readonly tags: Int32Array;
  /** Per set, the way (0 or 1) used last. */
  private readonly used: Uint8Array;
  private readonly setMask: number;
  private readonly nodeBytes: number;
  private readonly treeSize: number;
  private readonly dataStart: number;
  /** The node an IPv4 address starts from in an IPv6 tree (past 96 zero bits); 0 in an IPv4 tree. */
  private readonly v4Start: number;
  /** Decoded records by their offset: every address of a network shares one object. */
  private readonly records: Lru<number, MmdbValue>;
  /** Strings reached through a pointer (map keys, repeated values), by their offset. */
  private readonly strings = new Map<number, MmdbValue>();
  /** Where the last decode ended. */
  private at = 0;

  /** Opens `path`; throws when it is not an MMDB file this reader can read. */
  constructor(path: string, opts: { pages?: number; records?: number } = {}) {
    this.fd = openSync(path, 'r');
    try {
      this.size = fstatSync(this.fd).size;
      // Sets: a power of two, two slots each, no more slots than the file has pages (rounded up).
      const filePages = Math.ceil(this.size / PAGE);
      let sets = 1;
      while (sets * 2 < Math.min(opts.pages ?? DEFAULT_PAGES, filePages)) sets *= 2;
      this.setMask = sets - 1;
      // Not zero-filled and not touched: a slot's memory becomes resident when a page is first read into it.
      this.slab = Buffer.allocUnsafeSlow(sets * 2 * PAGE);
      this.tags = new Int32Array(sets * 2).fill(-1);
      this.used = new Uint8Array(sets);
      this.records = new Lru(opts.records ?? 10_000);
      this.metadata = this.readMetadata();
      const { nodeCount, recordSize } = this.metadata;
      this.nodeBytes = recordSize / 4;
      this.treeSize = nodeCount * this.nodeBytes;
      this.dataStart = this.treeSize + 16;
      if (this.dataStart > this.size) throw new Error('the search tree is larger than the file');
      let node = 0;
      if (this.metadata.ipVersion === 6)
        for (let i = 0; i < 96 && node < nodeCount; i++) node = this.record(node, 0);
      this.v4Start = node;
    } catch (err) {
      closeSync(this.fd);
      throw err;
    }
  }

  close(): void {
    closeSync(this.fd);
  }

  /** The record of an IPv4 address given as a 32-bit number, or null when the database has none. */
  getV4(n: number): MmdbValue | null {
    let node = this.v4Start;
    const count = this.metadata.nodeCount;
    for (let i = 31; i >= 0 && node < count; i--) node = this.record(node, (n >>> i) & 1);
    return this.resolve(node);
  }

  /** The record of an IPv6 address given as eight 16-bit groups; null in an IPv4 database or when none. */
  getV6(groups: readonly number[]): MmdbValue | null {
    if (this.metadata.ipVersion !== 6) return null;
    let node = 0;
    const count = this.metadata.nodeCount;
    for (let i = 0; i < 128 && node < count; i++) {
      node = this.record(node, ((groups[i >> 4] ?? 0) >>> (15 - (i & 15))) & 1);
    }
    return this.resolve(node);
  }

  private resolve(node: number): MmdbValue | null {
    const count = this.metadata.nodeCount;
    if (node <= count) return null; // == count: no data for this network (< count: the walk ran out of bits)
    const offset = node - count + this.treeSize;
    if (offset >= this.size) throw new Error(`a record points past the file's end (${offset})`);
    let value = this.records.get(offset);
    if (value === undefined) {
      value = this.decode(offset, this.dataStart);
      this.records.set(offset, value);
    }
    return value;
  }

  /** The left (bit 0) or right (bit 1) record of a node. */
  private record(node: number, bit: number): number {
    const n = this.nodeBytes;
    const at = node * n;
    const within = at & (PAGE - 1);
    let b: Buffer;
    let s: number;
    if (within + n <= PAGE) {
      b = this.slab;
      s = this.slot(at >>> PAGE_BITS) + within;
    } else {
      b = this.copy(at, n);
      s = 0;
    }
    switch (this.metadata.recordSize) {
      case 24:
        return bit === 0
          ? (b[s] as number) * 65536 + (b[s + 1] as number) * 256 + (b[s + 2] as number)
          : (b[s + 3] as number) * 65536 + (b[s + 4] as number) * 256 + (b[s + 5] as number);
      case 28: {
        const mid = b[s + 3] as number;
        return bit === 0
          ? (mid >>> 4) * 16777216 +
              (b[s] as number) * 65536 +
              (b[s + 1] as number) * 256 +
              (b[s + 2] as number)
          : (mid & 15) * 16777216 +
              (b[s + 4] as number) * 65536 +
              (b[s + 5] as number) * 256 +
              (b[s + 6] as number);
      }
      default:
        return b.readUInt32BE(s + bit * 4);
    }
  }

  /** The slab offset where page `index` starts; the page is read into its set's older slot if not held. */
  private slot(index: number): number {
    const set = index & this.setMask;
    const first = set * 2;
    if (this.tags[first] === index) {
      this.used[set] = 0;
      return first * PAGE;
    }
    if (this.tags[first + 1] === index) {
      this.used[set] = 1;
      return (first + 1) * PAGE;
    }
    const way = this.used[set] === 0 ? 1 : 0;
    const k = first + way;
    const start = index * PAGE;
    const len = Math.min(PAGE, this.size - start);
    if (len <= 0) throw new Error(`read past the file's end at ${start}`);
    this.tags[k] = -1; // until the read is whole
    let got = 0;
    while (got < len) {
      const r = readSync(this.fd, this.slab, k * PAGE + got, len - got, start + got);
      if (r === 0) throw new Error(`the file ended early at ${start + got}`);
      got += r;
    }
    this.tags[k] = index;
    this.used[set] = way;
    return k * PAGE;
  }

  /** `n` bytes at `offset`: a view into the slab, or a copy when they cross a page boundary. */
  private bytes(offset: number, n: number): { buf: Buffer; offset: number } {
    if (offset + n > this.size) throw new Error(`read past the file's end at ${offset}`);
    const within = offset & (PAGE - 1);
    if (within + n <= PAGE) return { buf: this.slab, offset: this.slot(offset >>> PAGE_BITS) + within };
    return { buf: this.copy(offset, n), offset: 0 };
  }

  private copy(offset: number, n: number): Buffer {
    if (offset + n > this.size) throw new Error(`read past the file's end at ${offset}`);
    const out = Buffer.allocUnsafe(n);
    let done = 0;
    while (done < n) {
      const at = offset + done;
      const from = at & (PAGE - 1);
      const take = Math.min(n - done, PAGE - from);
      const k = this.slot(at >>> PAGE_BITS);
      this.slab.copy(out, done, k + from, k + from + take);
      done += take;
    }
    return out;
  }

  private byte(offset: number): number {
    if (offset >= this.size) throw new Error(`read past the file's end at ${offset}`);
    return this.slab[this.slot(offset >>> PAGE_BITS) + (offset & (PAGE - 1))] as number;
  }

  /** An unsigned big-endian integer of `n` (≤ 6) bytes. */
  private uint(offset: number, n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 256 + this.byte(offset + i);
    return v;
  }

  /**
   * The value at `offset`; `this.at` is left just after it. `base` is where pointers count from: the data
   * section, or the metadata's start for the metadata map.
   */
  private decode(offset: number, base: number): MmdbValue {
    let at = offset;
    const ctrl = this.byte(at++);
    let type = ctrl >>> 5;
    if (type === 1) {
      const ss = (ctrl >>> 3) & 3;
      const vvv = ctrl & 7;
      let p: number;
      if (ss === 0) p = vvv * 256 + this.byte(at);
      else if (ss === 1) p = vvv * 65536 + this.uint(at, 2) + 2048;
      else if (ss === 2) p = vvv * 16777216 + this.uint(at, 3) + 526336;
      else p = this.uint(at, 4);
      const after = at + ss + 1;
      // A pointer's target is read where it is, never followed further (the specification forbids chains).
      // Pointers are how a database shares its map keys and repeated strings: those are kept once decoded.
      const target = base + p;
      let value = this.strings.get(target);
      if (value === undefined) {
        value = this.decode(target, base);
        if (typeof value === 'string') {
          if (this.strings.size >= MAX_STRINGS) this.strings.clear();
          this.strings.set(target, value);
        }
      }
      this.at = after;
      return value;
    }
    if (type === 0) type = 7 + this.byte(at++);
    let size = ctrl & 31;
    if (size === 29) size = 29 + this.byte(at++);
    else if (size === 30) {
      size = 285 + this.uint(at, 2);
      at += 2;
    } else if (size === 31) {
      size = 65821 + this.uint(at, 3);
      at += 3;
    }
    switch (type) {
      case 2: {
        const b = this.bytes(at, size);
        this.at = at + size;
        return b.buf.toString('utf8', b.offset, b.offset + size);
      }
      case 3: {
        const b = this.bytes(at, 8);
        this.at = at + 8;
        return b.buf.readDoubleBE(b.offset);
      }
      case 4: {
        const b = this.bytes(at, size);
        this.at = at + size;
        return Buffer.from(b.buf.subarray(b.offset, b.offset + size));
      }
      case 5:
      case 6:
        this.at = at + size;
        return this.uint(at, size);
      case 7: {
        const map: { [key: string]: MmdbValue } = {};
        this.at = at;
        for (let i = 0; i < size; i++) {
          const key = this.decode(this.at, base);
          map[String(key)] = this.decode(this.at, base);
        }
        return map;
      }
      case 8: {
        // Stored in as few bytes as it takes: a 4-byte value is two's complement.
        const v = this.uint(at, size);
        this.at = at + size;
        return size === 4 ? v | 0 : v;
      }
      case 9:
      case 10: {
        let v = 0n;
        for (let i = 0; i < size; i++) v = v * 256n + BigInt(this.byte(at + i));
        this.at = at + size;
        return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
      }
      case 11: {
        const list: MmdbValue[] = [];
        this.at = at;
        for (let i = 0; i < size; i++) list.push(this.decode(this.at, base));
        return list;
      }
      case 14:
        this.at = at;
        return size !== 0;
      case 15: {
        const b = this.bytes(at, 4);
        this.at = at + 4;
        return b.buf.readFloatBE(b.offset);
      }
      default:
        throw new Error(`unknown MMDB data type ${type} at ${offset}`);
    }
  }

  private readMetadata(): MmdbMetadata {
    const from = Math.max(0, this.size - METADATA_WINDOW);
    const tail = Buffer.alloc(this.size - from);
    readSync(this.fd, tail, 0, tail.length, from);
    const marker = tail.lastIndexOf(METADATA_MARKER);
    if (marker < 0) throw new Error('not a MaxMind DB file (no metadata marker)');
    const start = from + marker + METADATA_MARKER.length;
    const meta = this.decode(start, start);
    if (typeof meta !== 'object' || meta === null || Array.isArray(meta) || Buffer.isBuffer(meta)) {
      throw new Error('the metadata is not a map');
    }
    const m = meta as { [key: string]: MmdbValue };
    const { node_count, record_size, ip_version, database_type, binary_format_major_version } = m;
    if (binary_format_major_version !== 2) {
      throw new Error(`unsupported MMDB format version ${String(binary_format_major_version)}`);
    }
    if (typeof node_count !== 'number' || node_count <= 0) throw new Error('the metadata has no node_count');
    if (record_size !== 24 && record_size !== 28 && record_size !== 32) {
      throw new Error(`unsupported record size ${String(record_size)}`);
    }
    if (ip_version !== 4 && ip_version !== 6) throw new Error(`unsupported ip_version ${String(ip_version)}`);
    return {
      nodeCount: node_count,
      recordSize: record_size,
      ipVersion: ip_version,
      databaseType: typeof database_type === 'string' ? database_type : '',
    };
  }
}
