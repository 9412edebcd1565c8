// Opens a GGUF file from any ByteSource: parses the header, then checks the tensor table against the
// data section as llama.cpp's gguf.cpp does (known types, whole blocks, aligned offsets, tensors laid
// out in header order without overlaps or gaps, every byte inside the file).

import { CorruptGgufError, TruncatedGgufError, UnsupportedWeightTypeError } from '../errors';
import { printable, readGgufHeader, type GgufHeader, type MetadataValue } from './header';
import type { ByteSource } from './source';
import { blockGeometry, tensorByteSize, typeName, type GGMLType, type TensorInfo } from './types';

export type { MetadataValue } from './header';

export interface GgufFile {
  readonly source: ByteSource;
  readonly size: number;
  readonly metadata: Readonly<Record<string, MetadataValue>>;
  readonly tensors: ReadonlyMap<string, TensorInfo>;
}

export async function openGguf(source: ByteSource): Promise<GgufFile> {
  const size = await source.size();
  if (size < 24) throw new TruncatedGgufError(`${source.label} is only ${size} bytes, too short to be a GGUF model; download it again.`);
  const header = await readGgufHeader(source, size);
  return { source, size, metadata: header.metadata, tensors: tensorTable(header, size, source.label) };
}

/**
 * Each tensor must start exactly where the one before it ends, padded to the alignment, as llama.cpp
 * requires: a type or dims edited in the header then shows as an overlap or a gap instead of a
 * tensor silently reading its neighbour's bytes.
 */
function tensorTable(header: GgufHeader, size: number, label: string): Map<string, TensorInfo> {
  const { alignment, dataStart } = header;
  const corrupt = (what: string) => new CorruptGgufError(`${label} is corrupt: ${what}; download the file again.`);
  if (header.tensors.length > 0 && dataStart > size)
    throw new TruncatedGgufError(`The header of ${label} is cut short (its tensor data would start at byte ${dataStart}, past the end of the file at ${size}); download the file again.`);
  const dataSize = size - dataStart;
  const tensors = new Map<string, TensorInfo>();
  let previous: { shown: string; end: number } | undefined;
  let expected = 0;
  for (const raw of header.tensors) {
    const { name, dims } = raw;
    const shown = printable(name);
    const type = raw.type as GGMLType;
    const geometry = blockGeometry(type);
    if (!geometry)
      throw new UnsupportedWeightTypeError(`Tensor ${shown} has weight type ${typeName(type)}, which this app does not support; use a file quantized as Q8_0, Q6_K, Q5_K, Q5_1, Q5_0, Q4_K, Q4_1, Q4_0, BF16, F16 or F32.`);
    if (dims[0] % geometry.blockSize !== 0)
      throw corrupt(`tensor ${shown} has rows of ${dims[0]} weights, not a multiple of the ${geometry.name} block size ${geometry.blockSize}`);
    const byteSize = tensorByteSize(type, dims.reduce((a, b) => a * b, 1));
    if (raw.offset % BigInt(alignment) !== 0n)
      throw corrupt(`tensor ${shown} starts at byte ${raw.offset} of the data section, not a multiple of the file's alignment of ${alignment}`);
    if (previous && raw.offset < BigInt(previous.end))
      throw corrupt(`tensors ${previous.shown} and ${shown} overlap (${previous.shown} ends at byte ${previous.end} of the data section, ${shown} starts at ${raw.offset})`);
    if (raw.offset !== BigInt(expected))
      throw corrupt(`tensor ${shown} starts at byte ${raw.offset} of the data section, but the sizes of the tensors before it put it at byte ${expected}`);
    const offset = dataStart + expected;
    if (expected + byteSize > dataSize)
      throw new TruncatedGgufError(`${label} is truncated: tensor ${shown} needs bytes up to ${offset + byteSize} but the file has ${size}; download it again.`);
    tensors.set(name, { name, type, dims, offset, byteSize });
    previous = { shown, end: expected + byteSize };
    expected = Math.ceil((expected + byteSize) / alignment) * alignment;
  }
  return tensors;
}
