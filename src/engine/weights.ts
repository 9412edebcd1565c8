// Uploads GGUF tensors to the GPU: quantized matrices are repacked into 4-byte-aligned blocks
// (still quantized) and split by rows where one binding cannot hold them; vectors become f32.

import type { GgufFile } from '../gguf/reader';
import { blockGeometry, GGMLType, typeName, type TensorInfo } from '../gguf/types';
import { DeviceLimitError, TruncatedGgufError, UnsupportedWeightTypeError } from '../errors';
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

/**
 * GPU bytes per block for block-quantized types after repacking (blocks of 32, K-quants 256):
 * scales become f32 (or stay as small integers beside one f32), quant bytes are kept as words.
 * The layouts are spelled out at `repack` and in shaders/weights/<type>.wgsl.
 */
const PACKED_BLOCK_BYTES: Partial<Record<GGMLType, number>> = {
  [GGMLType.Q8_0]: 36,
  [GGMLType.Q4_0]: 20,
  [GGMLType.Q4_1]: 24,
  [GGMLType.Q5_0]: 24,
  [GGMLType.Q5_1]: 28,
  [GGMLType.Q4_K]: 152,
  [GGMLType.Q5_K]: 184,
  [GGMLType.Q6_K]: 212,
};

export function packedRowBytes(type: GGMLType, cols: number): number {
  switch (type) {
    case GGMLType.F32:
      return cols * 4;
    case GGMLType.F16:
    case GGMLType.BF16:
      return cols * 2;
    default:
      return (cols / blockGeometry(type)!.blockSize) * PACKED_BLOCK_BYTES[type]!;
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

/** One block: GGUF bytes from `src[i…]` → packed GPU bytes at `out[o…]`. */
type BlockRepacker = (src: Uint8Array, srcView: DataView, i: number, out: Uint8Array, outView: DataView, o: number) => void;

/** f16 at byte `at` → f32 at byte `to`. */
function widenHalf(srcView: DataView, at: number, outView: DataView, to: number) {
  outView.setFloat32(to, halfToFloat(srcView.getUint16(at, true)), true);
}

/**
 * Q4_K / Q5_K: the 12 bytes of 6-bit scales and mins at src[i…i+12) → 8 scale bytes at out[o…]
 * and 8 min bytes at out[o+8…], unpacked as ggml's get_scale_min_k4 does.
 */
function unpackScalesK4(src: Uint8Array, i: number, out: Uint8Array, o: number) {
  for (let j = 0; j < 8; j++) {
    out[o + j] = j < 4 ? src[i + j] & 63 : (src[i + j + 4] & 0x0f) | ((src[i + j - 4] >> 6) << 4);
    out[o + 8 + j] = j < 4 ? src[i + j + 4] & 63 : (src[i + j + 4] >> 4) | ((src[i + j] >> 6) << 4);
  }
}

const copy = (src: Uint8Array, from: number, to: number, out: Uint8Array, at: number) => out.set(src.subarray(from, to), at);

const REPACKERS: Partial<Record<GGMLType, BlockRepacker>> = {
  // 34 → 36 bytes: f32 d, 32 int8 quants.
  [GGMLType.Q8_0]: (src, sv, i, out, ov, o) => {
    widenHalf(sv, i, ov, o);
    copy(src, i + 2, i + 34, out, o + 4);
  },
  // 18 → 20 bytes: f32 d, 16 nibble bytes.
  [GGMLType.Q4_0]: (src, sv, i, out, ov, o) => {
    widenHalf(sv, i, ov, o);
    copy(src, i + 2, i + 18, out, o + 4);
  },
  // 20 → 24 bytes: f32 d, f32 m, 16 nibble bytes.
  [GGMLType.Q4_1]: (src, sv, i, out, ov, o) => {
    widenHalf(sv, i, ov, o);
    widenHalf(sv, i + 2, ov, o + 4);
    copy(src, i + 4, i + 20, out, o + 8);
  },
  // 22 → 24 bytes: f32 d, u32 qh, 16 nibble bytes.
  [GGMLType.Q5_0]: (src, sv, i, out, ov, o) => {
    widenHalf(sv, i, ov, o);
    copy(src, i + 2, i + 22, out, o + 4);
  },
  // 24 → 28 bytes: f32 d, f32 m, u32 qh, 16 nibble bytes.
  [GGMLType.Q5_1]: (src, sv, i, out, ov, o) => {
    widenHalf(sv, i, ov, o);
    widenHalf(sv, i + 2, ov, o + 4);
    copy(src, i + 4, i + 24, out, o + 8);
  },
  // 144 → 152 bytes: f32 d, f32 dmin, 8 scale bytes, 8 min bytes, qs[128].
  [GGMLType.Q4_K]: (src, sv, i, out, ov, o) => {
    widenHalf(sv, i, ov, o);
    widenHalf(sv, i + 2, ov, o + 4);
    unpackScalesK4(src, i + 4, out, o + 8);
    copy(src, i + 16, i + 144, out, o + 24);
  },
  // 176 → 184 bytes: f32 d, f32 dmin, 8 scale bytes, 8 min bytes, qh[32], qs[128].
  [GGMLType.Q5_K]: (src, sv, i, out, ov, o) => {
    widenHalf(sv, i, ov, o);
    widenHalf(sv, i + 2, ov, o + 4);
    unpackScalesK4(src, i + 4, out, o + 8);
    copy(src, i + 16, i + 176, out, o + 24);
  },
  // 210 → 212 bytes: f32 d moved to the front, then int8 scales[16], ql[128], qh[64].
  [GGMLType.Q6_K]: (src, sv, i, out, ov, o) => {
    widenHalf(sv, i + 208, ov, o);
    copy(src, i + 192, i + 208, out, o + 4);
    copy(src, i, i + 192, out, o + 20);
  },
};

/**
 * GGUF block bytes → GPU layout, block by block (REPACKERS; the WGSL side is shaders/weights/).
 * Plain float types are copied, padded to 4 bytes: F16 and BF16 stay two per word.
 */
export function repack(type: GGMLType, src: Uint8Array): Uint8Array {
  const repackBlock = REPACKERS[type];
  if (!repackBlock) {
    if (src.byteLength % 4 === 0 && src.byteOffset % 4 === 0) return src;
    const padded = new Uint8Array(Math.ceil(src.byteLength / 4) * 4);
    padded.set(src);
    return padded;
  }
  const inBlock = blockGeometry(type)!.typeSize;
  const outBlock = PACKED_BLOCK_BYTES[type]!;
  const blocks = src.byteLength / inBlock;
  const out = new Uint8Array(blocks * outBlock);
  const inView = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const outView = new DataView(out.buffer);
  for (let b = 0; b < blocks; b++) repackBlock(src, inView, b * inBlock, out, outView, b * outBlock);
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
      `Tensor ${info.name} is quantized as ${typeName(info.type)}, which this engine cannot run yet; use a file quantized as Q8_0, Q6_K, Q5_K, Q5_1, Q5_0, Q4_K, Q4_1, Q4_0, BF16, F16 or F32.`,
    );
  const [cols, rows] = info.dims;
  const fileRowBytes = info.byteSize / rows;
  const gpuRowBytes = packedRowBytes(info.type, cols);
  const limit = Math.min(ctx.caps.maxStorageBufferBindingSize, ctx.caps.maxBufferSize);
  const rowsPerPart = Math.floor(limit / gpuRowBytes);
  if (rowsPerPart === 0)
    throw new DeviceLimitError(`One row of ${info.name} (${gpuRowBytes} bytes) exceeds this GPU's storage binding limit of ${limit} bytes; pick a smaller model.`);
  // Keep a part's rows aligned so F16 / BF16 parts start on a word.
  const step = (info.type === GGMLType.F16 || info.type === GGMLType.BF16) && cols % 2 === 1 ? 2 : 1;
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
