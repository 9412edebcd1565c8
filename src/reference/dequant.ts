// GGUF weight bytes → float64 values, one decoder per GGML type (llama.cpp ggml-quants.c semantics).

import { UnsupportedWeightTypeError } from '../engine/errors';
import { blockGeometry, GGMLType, typeName } from '../gguf/types';

/** Decodes `blocks` consecutive blocks of one type from `view` into `out` (blockSize values each). */
type BlockDecoder = (view: DataView, blocks: number, out: Float64Array) => void;

/** IEEE 754 binary16 bits → number (subnormals, ±0, ±Inf and NaN included). */
export function f16ToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** bfloat16 bits → number: the upper half of a binary32. */
export function bf16ToNumber(bits: number): number {
  const scratch = new DataView(new ArrayBuffer(4));
  scratch.setUint32(0, (bits & 0xffff) << 16 >>> 0, true);
  return scratch.getFloat32(0, true);
}

const decodeF32: BlockDecoder = (view, count, out) => {
  for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
};

const decodeF16: BlockDecoder = (view, count, out) => {
  for (let i = 0; i < count; i++) out[i] = f16ToNumber(view.getUint16(2 * i, true));
};

const decodeBF16: BlockDecoder = (view, count, out) => {
  for (let i = 0; i < count; i++) out[i] = bf16ToNumber(view.getUint16(2 * i, true));
};

/** block_q8_0 (34 bytes): f16 d, int8 q[32]; x = d·q. */
const decodeQ8_0: BlockDecoder = (view, blocks, out) => {
  for (let b = 0; b < blocks; b++) {
    const base = 34 * b;
    const d = f16ToNumber(view.getUint16(base, true));
    for (let j = 0; j < 32; j++) out[32 * b + j] = d * view.getInt8(base + 2 + j);
  }
};

/** block_q4_0 (18 bytes): f16 d, u8 qs[16]; x[j] = d·(lo(qs[j]) − 8), x[j+16] = d·(hi(qs[j]) − 8). */
const decodeQ4_0: BlockDecoder = (view, blocks, out) => {
  for (let b = 0; b < blocks; b++) {
    const base = 18 * b;
    const d = f16ToNumber(view.getUint16(base, true));
    for (let j = 0; j < 16; j++) {
      const byte = view.getUint8(base + 2 + j);
      out[32 * b + j] = d * ((byte & 0x0f) - 8);
      out[32 * b + j + 16] = d * ((byte >> 4) - 8);
    }
  }
};

// Adding a type (Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K) is one decoder and one entry here;
// block sizes and byte sizes come from gguf/types.ts.
const DECODERS: Partial<Record<GGMLType, BlockDecoder>> = {
  [GGMLType.F32]: decodeF32,
  [GGMLType.F16]: decodeF16,
  [GGMLType.BF16]: decodeBF16,
  [GGMLType.Q8_0]: decodeQ8_0,
  [GGMLType.Q4_0]: decodeQ4_0,
};

export function isDequantizable(type: GGMLType): boolean {
  return DECODERS[type] !== undefined;
}

/**
 * Dequantizes `elements` weights of `type` stored in `bytes` (exactly the tensor's bytes).
 * Returns (elements) values in file order: row-major with dims[0] contiguous.
 */
export function dequantize(type: GGMLType, bytes: Uint8Array, elements: number): Float64Array {
  const decode = DECODERS[type];
  const geometry = blockGeometry(type);
  if (!decode || !geometry)
    throw new UnsupportedWeightTypeError(
      `The reference model cannot dequantize weight type ${typeName(type)}; use a file quantized as F32, F16, BF16, Q8_0 or Q4_0.`,
    );
  if (elements % geometry.blockSize !== 0)
    throw new RangeError(`${elements} weights is not a whole number of ${geometry.name} blocks of ${geometry.blockSize}.`);
  const blocks = elements / geometry.blockSize;
  if (bytes.byteLength !== blocks * geometry.typeSize)
    throw new RangeError(
      `${elements} ${geometry.name} weights take ${blocks * geometry.typeSize} bytes, but ${bytes.byteLength} were given.`,
    );
  const out = new Float64Array(elements);
  decode(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), blocks, out);
  return out;
}
