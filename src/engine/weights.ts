// Uploads GGUF tensors to the GPU: quantized matrices are repacked into 4-byte-aligned blocks
// (still quantized) and split by rows where one binding cannot hold them; vectors become f32.

import type { GgufFile } from '../gguf/reader';
import { GGMLType, typeName, type TensorInfo } from '../gguf/types';
import { DeviceLimitError, TruncatedGgufError, UnsupportedWeightTypeError } from './errors';
import { isKernelWeightType, type GpuContext } from './gpu';

/** Contiguous rows [rowStart, rowStart + rowCount) of a matrix in one buffer. */
export interface WeightPart {
  readonly buffer: GPUBuffer;
  readonly rowStart: number;
  readonly rowCount: number;
}

/** A (rows × cols) matrix, row-major over `cols` (GGUF dims = [cols, rows]). */
export interface GpuMatrix {
  readonly name: string;
  readonly type: GGMLType;
  readonly rows: number;
  readonly cols: number;
  readonly parts: readonly WeightPart[];
  readonly bytes: number;
}

/** GPU bytes per block for block-quantized types after repacking: f32 scale + quant words. */
const PACKED_BLOCK_BYTES: Partial<Record<GGMLType, number>> = {
  [GGMLType.Q8_0]: 36,
  [GGMLType.Q4_0]: 20,
};

export function packedRowBytes(type: GGMLType, cols: number): number {
  switch (type) {
    case GGMLType.F32:
      return cols * 4;
    case GGMLType.F16:
      return cols * 2;
    default:
      return (cols / 32) * PACKED_BLOCK_BYTES[type]!;
  }
}

const halfView = new DataView(new ArrayBuffer(4));
export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

function bf16ToFloat(bits: number): number {
  halfView.setUint32(0, bits << 16, true);
  return halfView.getFloat32(0, true);
}

/**
 * GGUF block bytes → GPU layout. Q8_0: 34-byte blocks (f16 d, 32 × i8) become 9 words
 * (f32 d, 8 words of quants). Q4_0: 18-byte blocks (f16 d, 16 nibble bytes) become 5 words.
 * Plain float types are copied (padded to 4 bytes).
 */
export function repack(type: GGMLType, src: Uint8Array): Uint8Array {
  const inBlock = type === GGMLType.Q8_0 ? 34 : type === GGMLType.Q4_0 ? 18 : 0;
  if (inBlock === 0) {
    if (src.byteLength % 4 === 0 && src.byteOffset % 4 === 0) return src;
    const padded = new Uint8Array(Math.ceil(src.byteLength / 4) * 4);
    padded.set(src);
    return padded;
  }
  const outBlock = PACKED_BLOCK_BYTES[type]!;
  const blocks = src.byteLength / inBlock;
  const out = new Uint8Array(blocks * outBlock);
  const inView = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const outView = new DataView(out.buffer);
  for (let b = 0; b < blocks; b++) {
    outView.setFloat32(b * outBlock, halfToFloat(inView.getUint16(b * inBlock, true)), true);
    out.set(src.subarray(b * inBlock + 2, (b + 1) * inBlock), b * outBlock + 4);
  }
  return out;
}

/** Decodes a small float tensor (norm weights, biases, rope factors) to f32. */
export function decodeVector(type: GGMLType, bytes: Uint8Array, name: string): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (type) {
    case GGMLType.F32:
      return new Float32Array(bytes.slice().buffer);
    case GGMLType.F16:
      return Float32Array.from({ length: bytes.byteLength / 2 }, (_, i) => halfToFloat(view.getUint16(i * 2, true)));
    case GGMLType.BF16:
      return Float32Array.from({ length: bytes.byteLength / 2 }, (_, i) => bf16ToFloat(view.getUint16(i * 2, true)));
    default:
      throw new UnsupportedWeightTypeError(`Vector tensor ${name} is stored as ${typeName(type)}, which this app cannot read; use a standard GGUF conversion.`);
  }
}

export interface UploadContext {
  readonly ctx: GpuContext;
  readonly file: GgufFile;
  /** Called with the number of file bytes just read. */
  readonly onBytes: (bytes: number, tensor: string) => void;
}

const READ_CHUNK = 8 << 20;

function createBuffer(ctx: GpuContext, label: string, size: number, usage: number): GPUBuffer {
  if (size > ctx.caps.maxBufferSize)
    throw new DeviceLimitError(
      `${label} needs a ${(size / 2 ** 20).toFixed(1)} MiB buffer but this GPU allows at most ${(ctx.caps.maxBufferSize / 2 ** 20).toFixed(0)} MiB (maxBufferSize); pick a smaller model.`,
    );
  return ctx.device.createBuffer({ label, size: Math.max(4, Math.ceil(size / 4) * 4), usage });
}

export async function uploadMatrix(up: UploadContext, info: TensorInfo): Promise<GpuMatrix> {
  const { ctx } = up;
  if (!isKernelWeightType(info.type))
    throw new UnsupportedWeightTypeError(
      `Tensor ${info.name} is quantized as ${typeName(info.type)}, which this engine cannot run yet; use a Q8_0, Q4_0, F16 or F32 file.`,
    );
  const [cols, rows] = info.dims;
  const fileRowBytes = info.byteSize / rows;
  const gpuRowBytes = packedRowBytes(info.type, cols);
  const limit = Math.min(ctx.caps.maxStorageBufferBindingSize, ctx.caps.maxBufferSize);
  const rowsPerPart = Math.floor(limit / gpuRowBytes);
  if (rowsPerPart === 0)
    throw new DeviceLimitError(`One row of ${info.name} (${gpuRowBytes} bytes) exceeds this GPU's storage binding limit of ${limit} bytes; pick a smaller model.`);
  // Keep a part's rows aligned so F16 parts start on a word.
  const step = info.type === GGMLType.F16 && cols % 2 === 1 ? 2 : 1;
  const partRows = Math.max(step, Math.floor(rowsPerPart / step) * step);
  const parts: WeightPart[] = [];
  let bytes = 0;
  for (let rowStart = 0; rowStart < rows; rowStart += partRows) {
    const rowCount = Math.min(partRows, rows - rowStart);
    const size = Math.ceil((rowCount * gpuRowBytes) / 4) * 4;
    const buffer = createBuffer(ctx, `${info.name}[${rowStart}:${rowStart + rowCount}]`, size, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST);
    const rowsPerRead = Math.max(step, Math.floor(READ_CHUNK / fileRowBytes / step) * step);
    for (let r = 0; r < rowCount; r += rowsPerRead) {
      const n = Math.min(rowsPerRead, rowCount - r);
      const raw = await up.file.source.read(info.offset + (rowStart + r) * fileRowBytes, n * fileRowBytes);
      if (raw.byteLength < n * fileRowBytes)
        throw new TruncatedGgufError(`${up.file.source.label} ended while reading ${info.name}; the file is truncated, download it again.`);
      up.onBytes(raw.byteLength, info.name);
      ctx.device.queue.writeBuffer(buffer, (r * gpuRowBytes), repack(info.type, raw));
    }
    parts.push({ buffer, rowStart, rowCount });
    bytes += size;
  }
  return { name: info.name, type: info.type, rows, cols, parts, bytes };
}

export async function uploadVector(up: UploadContext, info: TensorInfo): Promise<GPUBuffer> {
  const raw = await up.file.source.read(info.offset, info.byteSize);
  up.onBytes(raw.byteLength, info.name);
  return uploadFloats(up.ctx, info.name, decodeVector(info.type, raw, info.name));
}

export function uploadFloats(ctx: GpuContext, label: string, values: Float32Array): GPUBuffer {
  const buffer = createBuffer(ctx, label, values.byteLength, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST);
  ctx.device.queue.writeBuffer(buffer, 0, values as Float32Array<ArrayBuffer>);
  return buffer;
}

export function destroyMatrix(matrix: GpuMatrix) {
  for (const part of matrix.parts) part.buffer.destroy();
}
