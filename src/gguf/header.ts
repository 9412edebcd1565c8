// Parses a GGUF header (versions 2 and 3, little-endian) from a ByteSource, checking every count and
// length against the bytes left in the file before trusting it, so a corrupt header fails in one
// sentence instead of allocating, looping for minutes or reading zeros past the end of the file.

import { CorruptGgufError, NotGgufError, TruncatedGgufError } from '../errors';
import type { ByteSource } from './source';

export type MetadataValue = string | number | bigint | boolean | MetadataValue[];

/** One tensor as its header entry says, before the reader checks it against the data section. */
export interface RawTensorInfo {
  readonly name: string;
  /** `dims[0]` is the contiguous (row) dimension; 1 to 4 of them, each ≥ 1. */
  readonly dims: readonly number[];
  readonly type: number;
  /** Byte offset inside the data section, exactly as written. */
  readonly offset: bigint;
}

export interface GgufHeader {
  readonly version: number;
  readonly metadata: Readonly<Record<string, MetadataValue>>;
  readonly tensors: readonly RawTensorInfo[];
  /** `general.alignment` (default 32): a power of two. */
  readonly alignment: number;
  /** Absolute offset of the data section: the end of the header padded to `alignment`. */
  readonly dataStart: number;
}

// gguf.h `enum gguf_type`.
const UINT32 = 4;
const STRING = 8;
const ARRAY = 9;
/** Bytes of each value type by id; a string is at least its u64 length, an array its type and count. */
const VALUE_BYTES = [1, 1, 2, 2, 4, 4, 4, 1, 8, 12, 8, 8, 8];

const DEFAULT_ALIGNMENT = 32;
/** ggml's GGML_MAX_DIMS and GGML_MAX_NAME (a name must leave room for its NUL). */
const MAX_DIMS = 4;
const MAX_NAME_BYTES = 63;
/** The smallest tensor entry: name length u64 + 1 byte, n_dims u32, one u64 dim, type u32, offset u64. */
const MIN_TENSOR_ENTRY = 8 + 1 + 4 + 8 + 4 + 8;
/** The smallest metadata entry: key length u64, type u32, a one-byte value. */
const MIN_METADATA_ENTRY = 8 + 4 + 1;
/** Bytes fetched per read: real headers (a 150k-token vocabulary) take a few reads. */
const CHUNK = 2 << 20;

const utf8 = new TextDecoder();
const utf8Encoder = new TextEncoder();

/** Text read from a file in double quotes, for a one-line message: non-ASCII escaped, long text cut. */
export function quoted(text: string, max = 64): string {
  const escaped = JSON.stringify(text.slice(0, max)).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return text.length > max ? `${escaped}...` : escaped;
}

/** A name read from a file as it is when plain, else `quoted` (a corrupt name may hold line breaks). */
export function printable(text: string, max = 64): string {
  return text.length <= max && /^[\x21-\x7e]+$/.test(text) ? text : quoted(text, max);
}

/** A window onto the file that moves forward; every read is checked against the file's end. */
class HeaderCursor {
  private bytes: Uint8Array = new Uint8Array(0);
  private view: DataView = new DataView(this.bytes.buffer);
  /** File offset of bytes[0]. */
  private base = 0;
  pos = 0;

  constructor(
    private readonly source: ByteSource,
    readonly size: number,
  ) {}

  get remaining(): number {
    return this.size - this.pos;
  }

  /** Whether [pos, pos + n) is already in the window (reads then need no await). */
  has(n: number): boolean {
    return this.pos + n <= this.base + this.bytes.length;
  }

  /** Brings [pos, pos + n) into the window; `what` names the field for the error. */
  async fill(n: number, what: string): Promise<void> {
    if (this.has(n)) return;
    if (n > this.remaining) throw cutShort(this.source.label, `${what} runs past the end of the file at byte ${this.size}`);
    const bytes = await this.source.read(this.pos, Math.min(this.remaining, Math.max(n, CHUNK)));
    if (bytes.byteLength < n) throw cutShort(this.source.label, `the file ended while reading ${what}`);
    this.bytes = bytes;
    this.base = this.pos;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Index of the next `n` bytes in the window, advancing past them (call after has/fill). */
  private take(n: number): number {
    const at = this.pos - this.base;
    this.pos += n;
    return at;
  }

  u32(): number {
    return this.view.getUint32(this.take(4), true);
  }
  u64(): bigint {
    return this.view.getBigUint64(this.take(8), true);
  }
  text(n: number): string {
    const at = this.take(n);
    return utf8.decode(this.bytes.subarray(at, at + n));
  }

  scalar(type: number): MetadataValue {
    const v = this.view;
    switch (type) {
      case 0: return v.getUint8(this.take(1));
      case 1: return v.getInt8(this.take(1));
      case 2: return v.getUint16(this.take(2), true);
      case 3: return v.getInt16(this.take(2), true);
      case 4: return v.getUint32(this.take(4), true);
      case 5: return v.getInt32(this.take(4), true);
      case 6: return v.getFloat32(this.take(4), true);
      case 7: return v.getUint8(this.take(1)) !== 0;
      case 10: return v.getBigUint64(this.take(8), true);
      case 11: return v.getBigInt64(this.take(8), true);
      default: return v.getFloat64(this.take(8), true);
    }
  }

  /** A u64-length string; the length is checked against the file before any bytes are read. */
  async string(what: string): Promise<string> {
    if (!this.has(8)) await this.fill(8, what);
    const length = this.u64();
    if (length > BigInt(this.remaining)) throw cutShort(this.source.label, `${what} claims ${length} bytes, more than the file has left`);
    const n = Number(length);
    if (!this.has(n)) await this.fill(n, what);
    return this.text(n);
  }
}

function cutShort(label: string, why: string): TruncatedGgufError {
  return new TruncatedGgufError(`The header of ${label} is cut short or corrupt (${why}); download the file again.`);
}

function corrupt(label: string, what: string): CorruptGgufError {
  return new CorruptGgufError(`${label} is corrupt: ${what}; download the file again.`);
}

async function readValue(cursor: HeaderCursor, type: number, what: string, label: string): Promise<MetadataValue> {
  if (type === STRING) return cursor.string(what);
  if (type !== ARRAY) {
    if (!cursor.has(VALUE_BYTES[type])) await cursor.fill(VALUE_BYTES[type], what);
    return cursor.scalar(type);
  }
  await cursor.fill(12, what);
  const itemType = cursor.u32();
  const count = cursor.u64();
  // llama.cpp refuses arrays of arrays too: no model key uses them.
  if (itemType === ARRAY) throw corrupt(label, `${what} is an array of arrays, which no model key holds`);
  if (itemType >= VALUE_BYTES.length) throw corrupt(label, `${what} is an array of unknown value type ${itemType}`);
  if (count * BigInt(VALUE_BYTES[itemType]) > BigInt(cursor.remaining))
    throw cutShort(label, `${what} claims ${count} items, more than the file has bytes for`);
  const n = Number(count);
  const items: MetadataValue[] = [];
  if (itemType === STRING) {
    for (let i = 0; i < n; i++) items.push(await cursor.string(`item ${i} of ${what}`));
    return items;
  }
  await cursor.fill(n * VALUE_BYTES[itemType], what);
  for (let i = 0; i < n; i++) items.push(cursor.scalar(itemType));
  return items;
}

/** Reads the header of a GGUF file of `size` bytes (at least 24). */
export async function readGgufHeader(source: ByteSource, size: number): Promise<GgufHeader> {
  const label = source.label;
  const cursor = new HeaderCursor(source, size);
  await cursor.fill(24, 'the fixed header');
  const magic = cursor.text(4);
  if (magic !== 'GGUF') throw new NotGgufError(`${label} is not a GGUF file (it starts with ${quoted(magic)}, not "GGUF"); pick a .gguf model file.`);
  const version = cursor.u32();
  if (version !== 0 && (version & 0xffff) === 0)
    throw new NotGgufError(`${label} is a big-endian GGUF file, which this app cannot read; use a little-endian (standard) conversion of the model.`);
  if (version !== 2 && version !== 3)
    throw new NotGgufError(`${label} uses GGUF version ${version}, which this app cannot read (it reads versions 2 and 3); convert it with a current llama.cpp.`);
  const tensorCount = cursor.u64();
  const entryCount = cursor.u64();
  // Bound both counts by the file before looping over either.
  if (tensorCount * BigInt(MIN_TENSOR_ENTRY) + entryCount * BigInt(MIN_METADATA_ENTRY) > BigInt(cursor.remaining))
    throw cutShort(label, `it lists ${tensorCount} tensors and ${entryCount} metadata entries, more than the file has bytes for`);

  // No prototype: a key such as "__proto__" is data, not a change to the object.
  const metadata: Record<string, MetadataValue> = Object.create(null) as Record<string, MetadataValue>;
  const valueTypes = new Map<string, number>();
  for (let i = 0; i < Number(entryCount); i++) {
    const key = await cursor.string(`the key of metadata entry ${i}`);
    if (valueTypes.has(key)) throw corrupt(label, `the metadata key ${printable(key)} appears twice`);
    await cursor.fill(4, `the type of metadata key ${printable(key)}`);
    const type = cursor.u32();
    if (type >= VALUE_BYTES.length) throw corrupt(label, `metadata key ${printable(key)} has unknown value type ${type}`);
    metadata[key] = await readValue(cursor, type, `metadata key ${printable(key)}`, label);
    valueTypes.set(key, type);
  }

  const declared = metadata['general.alignment'];
  const alignment = declared === undefined ? DEFAULT_ALIGNMENT : Number(declared);
  if (declared !== undefined && (valueTypes.get('general.alignment') !== UINT32 || !Number.isInteger(Math.log2(alignment))))
    throw corrupt(label, `general.alignment is ${String(declared)}, not a power of two stored as u32`);

  const tensors: RawTensorInfo[] = [];
  const names = new Set<string>();
  for (let i = 0; i < Number(tensorCount); i++) {
    const name = await cursor.string(`the name of tensor ${i}`);
    const nameBytes = utf8Encoder.encode(name).length;
    if (nameBytes === 0 || nameBytes > MAX_NAME_BYTES)
      throw corrupt(label, `tensor ${i} has a name of ${nameBytes} bytes where GGUF allows 1 to ${MAX_NAME_BYTES}`);
    const shown = printable(name);
    if (names.has(name)) throw corrupt(label, `the tensor name ${shown} appears twice`);
    names.add(name);
    await cursor.fill(4, `the dimension count of tensor ${shown}`);
    const nDims = cursor.u32();
    if (nDims < 1 || nDims > MAX_DIMS) throw corrupt(label, `tensor ${shown} has ${nDims} dimensions where GGUF allows 1 to ${MAX_DIMS}`);
    await cursor.fill(8 * nDims + 12, `the shape, type and offset of tensor ${shown}`);
    const wide = Array.from({ length: nDims }, () => cursor.u64());
    const elements = wide.reduce((a, b) => a * b, 1n);
    // Even at one bit per weight the tensor must fit in the file: this bounds every later product.
    if (wide.some((d) => d < 1n) || elements > BigInt(size) * 8n)
      throw corrupt(label, `tensor ${shown} has the impossible shape [${wide.join(', ')}]`);
    const type = cursor.u32();
    const offset = cursor.u64();
    tensors.push({ name, dims: wide.map(Number), type, offset });
  }
  const dataStart = Math.ceil(cursor.pos / alignment) * alignment;
  return { version, metadata, tensors, alignment, dataStart };
}
