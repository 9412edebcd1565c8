// The fixture encoders produce llama.cpp's exact F16 / Q8_0 / Q4_0 bytes, checked on hand-made blocks.

import { describe, expect, it } from 'vitest';
import { GGMLType } from '../../src/gguf/types';
import { decodeTensor, encodeF16, encodeTensor, f16BitsToF32, f32ToF16Bits, quantizeQ4_0, quantizeQ8_0 } from '../../src/gguf/quantize';

const halfBits = (bytes: Uint8Array, at: number) => bytes[at] | (bytes[at + 1] << 8);
const int8 = (byte: number) => (byte << 24) >> 24;

describe('f32 → f16 (round to nearest even)', () => {
  it.each([
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [0.1, 0x2e66],
    [65504, 0x7bff], // largest half
    [65519, 0x7bff], // just below the halfway point to 65536
    [65520, 0x7c00], // halfway, rounds to even = Inf
    [1 + 2 ** -11, 0x3c00], // halfway between 1 and 1+2^-10: to even (1)
    [1 + 3 * 2 ** -11, 0x3c02], // halfway between 1+2^-10 and 1+2^-9: to even
    [2 ** -14, 0x0400], // smallest normal
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // halfway to the smallest subnormal: to even (0)
    [1.5 * 2 ** -25, 0x0001],
    [3 * 2 ** -25, 0x0002], // halfway between subnormals 1 and 2: to even
    [1023.5 * 2 ** -24, 0x0400], // rounds up out of the subnormals into the smallest normal
    [Infinity, 0x7c00],
    [-1e9, 0xfc00],
  ])('%d → 0x%s', (value, bits) => {
    expect(f32ToF16Bits(value)).toBe(bits);
  });

  it('is exact on every half value and decodes back', () => {
    for (let h = 0; h < 0x7c00; h++) {
      expect(f32ToF16Bits(f16BitsToF32(h))).toBe(h);
      expect(f32ToF16Bits(-f16BitsToF32(h))).toBe(h === 0 ? 0x8000 : h | 0x8000);
    }
    expect(Number.isNaN(f16BitsToF32(f32ToF16Bits(NaN)))).toBe(true);
  });

  it('lays halves out little endian', () => {
    expect([...encodeF16([1, -2])]).toEqual([0x00, 0x3c, 0x00, 0xc0]);
  });
});

describe('Q8_0', () => {
  it('encodes a ramp by hand: d = amax/127, q = round(x/d)', () => {
    const x = Float32Array.from({ length: 32 }, (_, j) => j - 16); // amax 16
    const block = quantizeQ8_0(x);
    expect(block.length).toBe(34);
    expect(halfBits(block, 0)).toBe(f32ToF16Bits(16 / 127));
    const id = Math.fround(1 / Math.fround(16 / 127)); // 7.9375
    const roundf = (v: number) => Math.sign(v) * Math.round(Math.abs(v));
    for (let j = 0; j < 32; j++) expect(int8(block[2 + j])).toBe(roundf(Math.fround((j - 16) * id)));
    expect(int8(block[2])).toBe(-127);
    expect(int8(block[2 + 8])).toBe(-64); // -8 · 7.9375 = -63.5 rounds away from zero
    expect(int8(block[2 + 31])).toBe(119); // 15 · 7.9375 = 119.06
    // Dequantized by hand: d_f16 · q stays within half a step of x.
    const d = f16BitsToF32(halfBits(block, 0));
    for (let j = 0; j < 32; j++) expect(Math.abs(d * int8(block[2 + j]) - x[j])).toBeLessThanOrEqual(d / 2 + 1e-3);
  });

  it('rounds halves away from zero like roundf', () => {
    const x = new Float32Array(32);
    x[0] = 127; // d = 1, id = 1
    x[1] = 2.5;
    x[2] = -2.5;
    x[3] = 0.5;
    x[4] = -0.49;
    const block = quantizeQ8_0(x);
    expect(halfBits(block, 0)).toBe(0x3c00);
    expect([...block.subarray(2, 7)].map(int8)).toEqual([127, 3, -3, 1, 0]);
  });

  it('writes an all-zero block as d = 0, q = 0', () => {
    expect([...quantizeQ8_0(new Float32Array(32))]).toEqual(new Array(34).fill(0));
  });
});

describe('Q4_0', () => {
  it('encodes a ramp by hand: d = max/-8, q = min(15, trunc(x/d + 8.5)), nibbles j | j+16', () => {
    const x = Float32Array.from({ length: 32 }, (_, j) => j - 16); // largest magnitude: -16 → d = 2
    const block = quantizeQ4_0(x);
    expect(block.length).toBe(18);
    expect(halfBits(block, 0)).toBe(0x4000); // 2.0
    // x/d + 8.5 = j/2 + 0.5 → q = floor((j+1)/2), clamped to 15 at j = 31.
    const q = (j: number) => Math.min(15, Math.floor((j + 1) / 2));
    for (let j = 0; j < 16; j++) expect(block[2 + j]).toBe(q(j) | (q(j + 16) << 4));
    expect(block[2 + 15]).toBe(8 | (15 << 4));
    // Dequantized by hand: d · (q − 8); only the clamped top value is off by a whole step.
    for (let j = 0; j < 32; j++) {
      const nibble = j < 16 ? block[2 + j] & 0xf : block[2 + j - 16] >> 4;
      expect(Math.abs(2 * (nibble - 8) - x[j])).toBeLessThanOrEqual(j === 31 ? 2 : 1);
    }
  });

  it('keeps the sign of the largest-magnitude weight: a positive max gives a negative d', () => {
    const x = new Float32Array(32);
    x[0] = 3;
    x[1] = -1.5;
    x[16] = 0.75;
    const block = quantizeQ4_0(x);
    const d = f16BitsToF32(halfBits(block, 0));
    expect(d).toBe(-0.375);
    expect(block[2] & 0xf).toBe(0); // 3 / -0.375 = -8 → q 0 → d·(0−8) = 3 exactly
    expect(block[3] & 0xf).toBe(12); // -1.5 / -0.375 = 4 → q 12
    expect(block[2] >> 4).toBe(6); // 0.75 / -0.375 = -2 → q 6
    expect(block[4]).toBe(0x88); // zeros → q 8 in both nibbles
    expect(d * ((block[2] & 0xf) - 8)).toBe(3);
  });

  it('writes an all-zero block as d = -0 (0 / -8, as llama.cpp does) with every nibble 8', () => {
    expect([...quantizeQ4_0(new Float32Array(32))]).toEqual([0x00, 0x80, ...new Array(16).fill(0x88)]);
  });
});

describe('encodeTensor / decodeTensor', () => {
  it('round trips random rows within each type’s step', () => {
    let state = 12345;
    const random = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
    const x = Float32Array.from({ length: 96 }, random);
    expect(decodeTensor(GGMLType.F32, encodeTensor(GGMLType.F32, x), 96)).toEqual(x);
    const f16 = decodeTensor(GGMLType.F16, encodeTensor(GGMLType.F16, x), 96);
    for (let i = 0; i < 96; i++) expect(Math.abs(f16[i] - x[i])).toBeLessThanOrEqual(2 ** -11);
    for (const [type, steps] of [[GGMLType.Q8_0, 127], [GGMLType.Q4_0, 8]] as const) {
      const back = decodeTensor(type, encodeTensor(type, x), 96);
      for (let b = 0; b < 3; b++) {
        const block = x.subarray(b * 32, b * 32 + 32);
        const step = Math.max(...block.map(Math.abs)) / steps;
        for (let j = 0; j < 32; j++) expect(Math.abs(back[b * 32 + j] - block[j])).toBeLessThanOrEqual(step * 1.01);
      }
    }
  });

  it('refuses rows that are not whole blocks', () => {
    expect(() => quantizeQ8_0(new Float32Array(48))).toThrow(/multiple of 32/);
    expect(() => encodeTensor(GGMLType.Q2_K, new Float32Array(256))).toThrow(/cannot encode Q2_K/);
  });
});
