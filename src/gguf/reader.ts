// Opens a GGUF file from any ByteSource: parses the header, validates tensor byte ranges.

import { gguf } from '@huggingface/gguf';
import { NotGgufError, TruncatedGgufError, UnsupportedWeightTypeError } from '../errors';
import { fetchFromSource, type ByteSource } from './source';
import { blockGeometry, tensorByteSize, typeName, type GGMLType, type TensorInfo } from './types';

export type MetadataValue = string | number | bigint | boolean | MetadataValue[];

export interface GgufFile {
  readonly source: ByteSource;
  readonly size: number;
  readonly metadata: Readonly<Record<string, MetadataValue>>;
  readonly tensors: ReadonlyMap<string, TensorInfo>;
}

export async function openGguf(source: ByteSource): Promise<GgufFile> {
  const size = await source.size();
  if (size < 24) throw new TruncatedGgufError(`${source.label} is only ${size} bytes, too short to be a GGUF model; download it again.`);
  const magic = new TextDecoder().decode(await source.read(0, 4));
  if (magic !== 'GGUF')
    throw new NotGgufError(`${source.label} is not a GGUF file (it starts with ${JSON.stringify(magic)}, not "GGUF"); pick a .gguf model file.`);

  let parsed: Awaited<ReturnType<typeof gguf>>;
  try {
    parsed = await gguf('https://gguf.invalid/model.gguf', { fetch: fetchFromSource(source) });
  } catch (e) {
    const message = (e as Error).message ?? String(e);
    if (/unsupported version/.test(message))
      throw new NotGgufError(`${source.label} uses a GGUF version this app cannot read (${message}); convert it with a current llama.cpp.`, { cause: e });
    throw new TruncatedGgufError(`The header of ${source.label} is cut short or corrupt (${message}); download the file again.`, { cause: e });
  }

  const dataStart = Number(parsed.tensorDataOffset);
  const headerIntact =
    dataStart <= size && parsed.tensorInfos.every((t) => t.name.length > 0 && t.shape.length > 0 && t.shape.every((d) => d > 0n));
  if (!headerIntact)
    throw new TruncatedGgufError(`The header of ${source.label} is cut short or corrupt (tensor list unreadable); download the file again.`);
  const tensors = new Map<string, TensorInfo>();
  for (const info of parsed.tensorInfos) {
    const type = info.dtype as number as GGMLType;
    const dims = info.shape.map(Number);
    const elements = dims.reduce((a, b) => a * b, 1);
    const geometry = blockGeometry(type);
    if (!geometry)
      throw new UnsupportedWeightTypeError(`Tensor ${info.name} has weight type ${typeName(type)}, which this app does not support; use a file quantized as Q8_0, Q6_K, Q5_K, Q5_1, Q5_0, Q4_K, Q4_1, Q4_0, BF16, F16 or F32.`);
    if (dims[0] % geometry.blockSize !== 0)
      throw new TruncatedGgufError(`Tensor ${info.name} has rows of ${dims[0]} weights, not a multiple of the ${geometry.name} block size ${geometry.blockSize}; the file is corrupt.`);
    const offset = dataStart + Number(info.offset);
    const byteSize = tensorByteSize(type, elements);
    if (offset + byteSize > size)
      throw new TruncatedGgufError(`${source.label} is truncated: tensor ${info.name} needs bytes up to ${offset + byteSize} but the file has ${size}; download it again.`);
    tensors.set(info.name, { name: info.name, type, dims, offset, byteSize });
  }
  return { source, size, metadata: parsed.metadata as unknown as Record<string, MetadataValue>, tensors };
}
