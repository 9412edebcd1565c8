// GGUF weight bytes → float64 values, one decoder per GGML type (llama.cpp ggml-quants.c semantics).

import { UnsupportedWeightTypeError } from '../errors';
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

/** block_q4_1 (20 bytes): f16 d, f16 m, u8 qs[16]; nibbles as in Q4_0, x = d·q + m. */
const decodeQ4_1: BlockDecoder = (view, blocks, out) => {
  for (let b = 0; b < blocks; b++) {
    const base = 20 * b;
    const d = f16ToNumber(view.getUint16(base, true));
    const m = f16ToNumber(view.getUint16(base + 2, true));
    for (let j = 0; j < 16; j++) {
      const byte = view.getUint8(base + 4 + j);
      out[32 * b + j] = d * (byte & 0x0f) + m;
      out[32 * b + j + 16] = d * (byte >> 4) + m;
    }
  }
};

/**
 * block_q5_0 (22 bytes): f16 d, u8 qh[4] (little-endian u32), u8 qs[16]. Element j takes the
 * nibble of Q4_0 and bit j of qh as its fifth bit; x = d·(q − 16).
 */
const decodeQ5_0: BlockDecoder = (view, blocks, out) => {
  for (let b = 0; b < blocks; b++) {
    const base = 22 * b;
    const d = f16ToNumber(view.getUint16(base, true));
    const qh = view.getUint32(base + 2, true);
    for (let j = 0; j < 16; j++) {
      const byte = view.getUint8(base + 6 + j);
      const low = (byte & 0x0f) | (((qh >>> j) & 1) << 4);
      const high = (byte >> 4) | (((qh >>> (j + 16)) & 1) << 4);
      out[32 * b + j] = d * (low - 16);
      out[32 * b + j + 16] = d * (high - 16);
    }
  }
};

/** block_q5_1 (24 bytes): f16 d, f16 m, u8 qh[4], u8 qs[16]; quants as in Q5_0, x = d·q + m. */
const decodeQ5_1: BlockDecoder = (view, blocks, out) => {
  for (let b = 0; b < blocks; b++) {
    const base = 24 * b;
    const d = f16ToNumber(view.getUint16(base, true));
    const m = f16ToNumber(view.getUint16(base + 2, true));
    const qh = view.getUint32(base + 4, true);
    for (let j = 0; j < 16; j++) {
      const byte = view.getUint8(base + 8 + j);
      const low = (byte & 0x0f) | (((qh >>> j) & 1) << 4);
      const high = (byte >> 4) | (((qh >>> (j + 16)) & 1) << 4);
      out[32 * b + j] = d * low + m;
      out[32 * b + j + 16] = d * high + m;
    }
  }
};

/**
 * ggml's get_scale_min_k4: the 6-bit scale and min of sub-block j (0…7) from the 12 packed
 * bytes q. Sub-blocks 0…3 use the low 6 bits of q[j] and q[j+4]; sub-blocks 4…7 take their low
 * 4 bits from q[j+4] (scale: low nibble, min: high nibble) and their top 2 bits from the spare
 * top bits of q[j−4] (scale) and q[j] (min).
 */
export function scaleMinK4(j: number, q: (i: number) => number): { scale: number; min: number } {
  if (j < 4) return { scale: q(j) & 63, min: q(j + 4) & 63 };
  return {
    scale: (q(j + 4) & 0x0f) | ((q(j - 4) >> 6) << 4),
    min: (q(j + 4) >> 4) | ((q(j) >> 6) << 4),
  };
}

/**
 * block_q4_K (144 bytes per 256): f16 d, f16 dmin, u8 scales[12], u8 qs[128]. Eight sub-blocks
 * of 32; sub-blocks 2p and 2p+1 share qs[32p … 32p+31], 2p in the low nibbles, 2p+1 in the high.
 * x = d·scale·q − dmin·min.
 */
const decodeQ4_K: BlockDecoder = (view, blocks, out) => {
  for (let b = 0; b < blocks; b++) {
    const base = 144 * b;
    const d = f16ToNumber(view.getUint16(base, true));
    const dmin = f16ToNumber(view.getUint16(base + 2, true));
    const packed = (i: number) => view.getUint8(base + 4 + i);
    for (let s = 0; s < 8; s++) {
      const { scale, min } = scaleMinK4(s, packed);
      const shift = 4 * (s & 1);
      for (let l = 0; l < 32; l++) {
        const q = (view.getUint8(base + 16 + 32 * (s >> 1) + l) >> shift) & 0x0f;
        out[256 * b + 32 * s + l] = d * scale * q - dmin * min;
      }
    }
  }
};

/**
 * block_q5_K (176 bytes per 256): f16 d, f16 dmin, u8 scales[12], u8 qh[32], u8 qs[128]. The low
 * 4 bits are laid out as in Q4_K; element l of sub-block s takes bit s of qh[l] as its fifth bit.
 * x = d·scale·q − dmin·min.
 */
const decodeQ5_K: BlockDecoder = (view, blocks, out) => {
  for (let b = 0; b < blocks; b++) {
    const base = 176 * b;
    const d = f16ToNumber(view.getUint16(base, true));
    const dmin = f16ToNumber(view.getUint16(base + 2, true));
    const packed = (i: number) => view.getUint8(base + 4 + i);
    for (let s = 0; s < 8; s++) {
      const { scale, min } = scaleMinK4(s, packed);
      const shift = 4 * (s & 1);
      for (let l = 0; l < 32; l++) {
        const low = (view.getUint8(base + 48 + 32 * (s >> 1) + l) >> shift) & 0x0f;
        const high = (view.getUint8(base + 16 + l) >> s) & 1;
        out[256 * b + 32 * s + l] = d * scale * (low | (high << 4)) - dmin * min;
      }
    }
  }
};

/**
 * block_q6_K (210 bytes per 256): u8 ql[128], u8 qh[64], i8 scales[16], f16 d. Two halves of 128;
 * in half n, element 32g + l (g = 0…3) takes its low 4 bits from ql[64n + 32(g mod 2) + l] (low
 * nibble for g < 2, high for g ≥ 2) and its top 2 bits from qh[32n + l] >> 2g. Every 16 elements
 * share one int8 scale. x = d·scale·(q − 32).
 */
const decodeQ6_K: BlockDecoder = (view, blocks, out) => {
  for (let b = 0; b < blocks; b++) {
    const base = 210 * b;
    const d = f16ToNumber(view.getUint16(base + 208, true));
    for (let e = 0; e < 256; e++) {
      const n = e >> 7;
      const g = (e >> 5) & 3;
      const l = e & 31;
      const low = (view.getUint8(base + 64 * n + 32 * (g & 1) + l) >> (4 * (g >> 1))) & 0x0f;
      const high = (view.getUint8(base + 128 + 32 * n + l) >> (2 * g)) & 3;
      const scale = view.getInt8(base + 192 + (e >> 4));
      out[256 * b + e] = d * scale * ((low | (high << 4)) - 32);
    }
  }
};

// Adding a type is one decoder and one entry here; block sizes and byte sizes come from gguf/types.ts.
const DECODERS: Partial<Record<GGMLType, BlockDecoder>> = {
  [GGMLType.F32]: decodeF32,
  [GGMLType.F16]: decodeF16,
  [GGMLType.BF16]: decodeBF16,
  [GGMLType.Q8_0]: decodeQ8_0,
  [GGMLType.Q4_0]: decodeQ4_0,
  [GGMLType.Q4_1]: decodeQ4_1,
  [GGMLType.Q5_0]: decodeQ5_0,
  [GGMLType.Q5_1]: decodeQ5_1,
  [GGMLType.Q4_K]: decodeQ4_K,
  [GGMLType.Q5_K]: decodeQ5_K,
  [GGMLType.Q6_K]: decodeQ6_K,
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
      `The reference model cannot dequantize weight type ${typeName(type)}; use a file quantized as F32, F16, BF16, Q8_0, Q6_K, Q5_K, Q5_1, Q5_0, Q4_K, Q4_1 or Q4_0.`,
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
