import {
  CompactRange,
  HASH_BYTES,
  nodeHash,
  ProofError,
  perfectRoot,
  type Span,
  splitPoint,
} from "./merkle.js";

/**
 * C2SP tlog-tiles: the tree's hashes in tiles of 256. Level L holds the roots of the perfect
 * subtrees of height 8·L (level 0: the leaf hashes), `tile/<L>/<N>` holding hashes 256·N … 256·N+255
 * of its level, and `tile/<L>/<N>.p/<W>` the first W of them while the tile is not full. A tile's
 * content is fixed by its path, so each is written once and never changes.
 */
export const TILE_HEIGHT = 8;
export const TILE_WIDTH = 256;
const MAX_LEVEL = 63;

export interface TileId {
  level: number;
  n: number;
  /** 1–256; below 256 the tile is partial. */
  width: number;
}

export interface Tile extends TileId {
  /** width × 32 bytes. */
  data: Buffer;
}

/** The tile's path below the log's prefix, e.g. `tile/0/x001/234.p/5`. */
export function tilePath({ level, n, width }: TileId): string {
  const digits = String(n).padStart(3, "0");
  const groups: string[] = [];
  for (let end = digits.length; end > 0; end -= 3) groups.unshift(digits.slice(Math.max(0, end - 3), end));
  groups[0] = (groups[0] as string).padStart(3, "0");
  const encoded = groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join("/");
  return `tile/${level}/${encoded}${width < TILE_WIDTH ? `.p/${width}` : ""}`;
}

/** Parses a hash tile path (not entry bundles), canonical form only; undefined when it is not one. */
export function parseTilePath(path: string): TileId | undefined {
  const m = /^tile\/(\d{1,2})\/((?:x\d{3}\/)*\d{3})(?:\.p\/(\d{1,3}))?$/.exec(path);
  if (!m) return undefined;
  const level = Number(m[1]);
  const n = Number((m[2] as string).replaceAll("x", "").replaceAll("/", ""));
  const width = m[3] === undefined ? TILE_WIDTH : Number(m[3]);
  if (level > MAX_LEVEL || !Number.isSafeInteger(n) || width < 1 || width >= TILE_WIDTH + (m[3] ? 0 : 1))
    return undefined;
  const id = { level, n, width };
  return tilePath(id) === path ? id : undefined;
}

/** Hashes stored at `level` by a tree of `size` leaves. */
export function levelCount(size: number, level: number): number {
  return Math.floor(size / TILE_WIDTH ** level);
}

/** The tile (L, N) as a tree of `size` has it, or undefined when that tree has none there. */
export function tileAt(size: number, level: number, n: number): TileId | undefined {
  const width = Math.min(TILE_WIDTH, levelCount(size, level) - n * TILE_WIDTH);
  return width > 0 ? { level, n, width } : undefined;
}

/** The right-edge (partial) tiles of a tree: what appending to it starts from. */
export function edgeTiles(size: number): TileId[] {
  const out: TileId[] = [];
  for (let level = 0; levelCount(size, level) > 0; level++) {
    const count = levelCount(size, level);
    const width = count % TILE_WIDTH;
    if (width) out.push({ level, n: Math.floor(count / TILE_WIDTH), width });
  }
  return out;
}

export function hashesOf(tile: Tile): Buffer[] {
  if (tile.data.length !== tile.width * HASH_BYTES) {
    throw new ProofError(`${tilePath(tile)} holds ${tile.data.length} bytes, not ${tile.width * HASH_BYTES}`);
  }
  const out: Buffer[] = [];
  for (let i = 0; i < tile.width; i++) out.push(tile.data.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES));
  return out;
}

/**
 * The compact range the right-edge tiles of a tree of `size` imply: per level from the top, the
 * roots of the runs its partial tile's width decomposes into. Equal to the stored compact range iff
 * those tiles hold what the sealer wrote.
 */
export function compactFromEdges(size: number, edges: readonly Tile[]): CompactRange {
  const nodes: Buffer[] = [];
  for (const edge of [...edges].sort((a, b) => b.level - a.level)) {
    const hashes = hashesOf(edge);
    let at = 0;
    for (let bit = TILE_WIDTH / 2; bit >= 1; bit /= 2) {
      if (edge.width & bit) {
        nodes.push(perfectRoot(hashes.slice(at, at + bit)));
        at += bit;
      }
    }
  }
  return CompactRange.of(size, nodes);
}

/**
 * Appends leaf hashes to a tree, given its right-edge tiles, and yields every tile that changed:
 * each one filled on the way, and the new partial tile of each level.
 */
export class TileBuilder {
  private readonly edges: Buffer[][] = [];
  /** Hashes at each level so far. */
  private readonly counts: number[] = [];
  private readonly compact: CompactRange;
  private readonly changed = new Map<string, Tile | "partial">();

  constructor(size: number, edges: readonly Tile[], compact: CompactRange) {
    if (compact.size !== size)
      throw new ProofError(`the compact range is of size ${compact.size}, not ${size}`);
    this.compact = compact.clone();
    for (let level = 0; levelCount(size, level) > 0; level++) this.counts[level] = levelCount(size, level);
    for (const id of edgeTiles(size)) {
      const tile = edges.find((t) => t.level === id.level && t.n === id.n && t.width === id.width);
      if (!tile) throw new ProofError(`the edge tile ${tilePath(id)} is missing`);
      this.edges[id.level] = hashesOf(tile).map((h) => Buffer.from(h));
    }
  }

  append(leaf: Buffer): void {
    this.compact.append(leaf);
    this.push(0, Buffer.from(leaf));
  }

  private push(level: number, hash: Buffer): void {
    const edge = this.edges[level] ?? [];
    this.edges[level] = edge;
    edge.push(hash);
    const count = (this.counts[level] ?? 0) + 1;
    this.counts[level] = count;
    const n = Math.floor((count - 1) / TILE_WIDTH);
    if (edge.length === TILE_WIDTH) {
      this.changed.set(`${level}/${n}`, { level, n, width: TILE_WIDTH, data: Buffer.concat(edge) });
      this.edges[level] = [];
      this.push(level + 1, perfectRoot(edge));
    } else {
      // A partial tile's bytes are taken at the end: only its last width is ever written.
      this.changed.set(`${level}/${n}`, "partial");
    }
  }

  get size(): number {
    return this.compact.size;
  }

  root(): Buffer {
    return this.compact.root();
  }

  range(): CompactRange {
    return this.compact.clone();
  }

  /** The tiles written since construction, lowest level first. */
  tiles(): Tile[] {
    const out = [...this.changed.entries()].map(([key, tile]): Tile => {
      if (tile !== "partial") return tile;
      const [level, n] = key.split("/").map(Number) as [number, number];
      const edge = this.edges[level] as Buffer[];
      return { level, n, width: edge.length, data: Buffer.concat(edge) };
    });
    return out.sort((a, b) => a.level - b.level || a.n - b.n);
  }
}

/** Reads one tile as a tree of some size has it; `width` bytes × 32 or an error. */
export type TileReader = (id: TileId) => Promise<Buffer>;

/**
 * The hashes of tree nodes, read from tiles as a tree of `size` has them. Every span it is asked
 * for is split into perfect aligned subtrees (RFC 6962's recursion); each of those is the root of a
 * run inside one tile. Tiles are read once per instance.
 */
export class TileHashes {
  private readonly cache = new Map<string, Promise<Buffer[]>>();

  constructor(
    readonly size: number,
    private readonly read: TileReader,
  ) {}

  /** The hashes of tile (level, n) as the tree has it; each tile is read once per instance. */
  tile(level: number, n: number): Promise<Buffer[]> {
    const key = `${level}/${n}`;
    let got = this.cache.get(key);
    if (!got) {
      const id = tileAt(this.size, level, n);
      if (!id) throw new ProofError(`a tree of size ${this.size} has no tile ${level}/${n}`);
      got = this.read(id).then((data) => hashesOf({ ...id, data }));
      this.cache.set(key, got);
    }
    return got;
  }

  /** Root of the perfect subtree of height `height` whose leaves start at index × 2^height. */
  async perfect(height: number, index: number): Promise<Buffer> {
    const level = Math.floor(height / TILE_HEIGHT);
    const run = 2 ** (height % TILE_HEIGHT);
    const first = index * run;
    const hashes = await this.tile(level, Math.floor(first / TILE_WIDTH));
    const at = first % TILE_WIDTH;
    return perfectRoot(hashes.slice(at, at + run));
  }

  /** MTH(D[start:end]) of the tree. */
  async span([start, end]: Span): Promise<Buffer> {
    if (!(start >= 0 && start < end && end <= this.size)) {
      throw new ProofError(`leaves ${start}–${end - 1} are not in a tree of size ${this.size}`);
    }
    const n = end - start;
    const height = Math.round(Math.log2(n));
    if (2 ** height === n && start % n === 0) return this.perfect(height, start / n);
    const k = splitPoint(n);
    const [left, right] = await Promise.all([this.span([start, start + k]), this.span([start + k, end])]);
    return nodeHash(left, right);
  }

  spans(spans: readonly Span[]): Promise<Buffer[]> {
    return Promise.all(spans.map((s) => this.span(s)));
  }
}
