// Dequantization of hand-built blocks; every expected value is worked out by hand below.

import { describe, expect, it } from 'vitest';
import { UnsupportedWeightTypeError } from '../../src/engine/errors';
import { GGMLType } from '../../src/gguf/types';
import { bf16ToNumber, dequantize, f16ToNumber } from '../../src/reference/dequant';

function u16le(values: number[]): Uint8Array {
  const bytes = new Uint8Array(values.length * 2);
  values.forEach((v, i) => new DataView(bytes.buffer).setUint16(2 * i, v, true));
  return bytes;
}

describe('f16 and bf16', () => {
  it('decodes normals, subnormals, zeros, infinities and NaN', () => {
    expect(f16ToNumber(0x3c00)).toBe(1);
    expect(f16ToNumber(0xc000)).toBe(-2);
    expect(f16ToNumber(0x3555)).toBe(1 / 4 * (1 + 0x155 / 1024)); // 0.333251953125
    expect(f16ToNumber(0x7bff)).toBe(65504); // largest finite
    expect(f16ToNumber(0x0400)).toBe(2 ** -14); // smallest normal
    expect(f16ToNumber(0x0001)).toBe(2 ** -24); // smallest subnormal
    expect(f16ToNumber(0x03ff)).toBe(1023 * 2 ** -24); // largest subnormal
    expect(Object.is(f16ToNumber(0x8000), -0)).toBe(true);
    expect(f16ToNumber(0x7c00)).toBe(Infinity);
    expect(f16ToNumber(0xfc00)).toBe(-Infinity);
    expect(f16ToNumber(0x7e00)).toBeNaN();
  });

  it('decodes bf16 as the top half of an f32', () => {
    expect(bf16ToNumber(0x3f80)).toBe(1);
    expect(bf16ToNumber(0xc040)).toBe(-3);
    expect(bf16ToNumber(0x3e20)).toBe(0.15625); // 2^-3 · 1.25
    expect(bf16ToNumber(0x7f80)).toBe(Infinity);
  });
});

describe('dequantize', () => {
  it('reads F32, F16 and BF16 tensors little-endian', () => {
    const f32 = new Uint8Array(new Float32Array([1.5, -0.25, 3]).buffer);
    expect(Array.from(dequantize(GGMLType.F32, f32, 3))).toEqual([1.5, -0.25, 3]);
    expect(Array.from(dequantize(GGMLType.F16, u16le([0x3c00, 0x0001, 0xc000]), 3))).toEqual([1, 2 ** -24, -2]);
    expect(Array.from(dequantize(GGMLType.BF16, u16le([0x3f80, 0xc040]), 2))).toEqual([1, -3]);
  });

  it('Q8_0: x = d·q per block of 32', () => {
    const bytes = new Uint8Array(2 * 34);
    const view = new DataView(bytes.buffer);
    view.setUint16(0, 0x3800, true); // d = 0.5
    view.setUint16(34, 0xc000, true); // d = -2
    for (let j = 0; j < 32; j++) {
      view.setInt8(2 + j, j - 16); // −16 … 15
      view.setInt8(36 + j, j % 2 === 0 ? 127 : -128);
    }
    const x = dequantize(GGMLType.Q8_0, bytes, 64);
    for (let j = 0; j < 32; j++) expect(x[j]).toBe(0.5 * (j - 16));
    expect(x[0]).toBe(-8);
    expect(x[31]).toBe(7.5);
    expect(x[32]).toBe(-254); // -2 · 127
    expect(x[33]).toBe(256); // -2 · -128
  });

  it('Q4_0: low nibbles are elements 0…15, high nibbles 16…31, x = d·(q − 8)', () => {
    const bytes = new Uint8Array(18);
    new DataView(bytes.buffer).setUint16(0, 0x3400, true); // d = 0.25
    for (let j = 0; j < 16; j++) bytes[2 + j] = j | ((15 - j) << 4);
    const x = dequantize(GGMLType.Q4_0, bytes, 32);
    for (let j = 0; j < 16; j++) {
      expect(x[j]).toBe(0.25 * (j - 8));
      expect(x[j + 16]).toBe(0.25 * (7 - j));
    }
    expect([x[0], x[15], x[16], x[31]]).toEqual([-2, 1.75, 1.75, -2]);
  });

  it('rejects types it cannot decode with an UnsupportedWeightTypeError', () => {
    expect(() => dequantize(GGMLType.Q4_K, new Uint8Array(144), 256)).toThrow(UnsupportedWeightTypeError);
    expect(() => dequantize(GGMLType.Q4_K, new Uint8Array(144), 256)).toThrow(/Q4_K/);
  });

  it('rejects byte counts that do not match the element count', () => {
    expect(() => dequantize(GGMLType.Q8_0, new Uint8Array(33), 32)).toThrow(/34 bytes/);
    expect(() => dequantize(GGMLType.Q4_0, new Uint8Array(18), 31)).toThrow(/blocks/);
  });
});
