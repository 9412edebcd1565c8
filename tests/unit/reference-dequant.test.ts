// Dequantization of hand-built blocks; every expected value is worked out by hand below.

import { describe, expect, it } from 'vitest';
import { UnsupportedWeightTypeError } from '../../src/errors';
import { GGMLType, typeName } from '../../src/gguf/types';
import { bf16ToNumber, dequantize, f16ToNumber } from '../../src/reference/dequant';
import { decodeTensor, encodeTensor } from '../../src/gguf/quantize';

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

  it('Q4_1: nibbles as in Q4_0, x = d·q + m', () => {
    const bytes = new Uint8Array(20);
    const view = new DataView(bytes.buffer);
    view.setUint16(0, 0x3800, true); // d = 0.5
    view.setUint16(2, 0xbc00, true); // m = -1
    for (let j = 0; j < 16; j++) bytes[4 + j] = j | ((15 - j) << 4);
    const x = dequantize(GGMLType.Q4_1, bytes, 32);
    for (let j = 0; j < 16; j++) {
      expect(x[j]).toBe(0.5 * j - 1);
      expect(x[j + 16]).toBe(0.5 * (15 - j) - 1);
    }
    expect([x[0], x[15], x[16], x[31]]).toEqual([-1, 6.5, 6.5, -1]);
  });

  /** qh = bits 0, 20, 31; qs[0] = 0x3f, qs[4] = 0x70, qs[15] = 0xa5, other bytes 0. */
  function q5Block(size: number, qhAt: number): Uint8Array {
    const bytes = new Uint8Array(size);
    new DataView(bytes.buffer).setUint32(qhAt, 0x80100001, true);
    bytes[qhAt + 4] = 0x3f;
    bytes[qhAt + 4 + 4] = 0x70;
    bytes[qhAt + 4 + 15] = 0xa5;
    return bytes;
  }

  it('Q5_0: bit j of qh is the fifth bit of element j, x = d·(q − 16)', () => {
    const bytes = q5Block(22, 2);
    new DataView(bytes.buffer).setUint16(0, 0x3400, true); // d = 0.25
    const x = dequantize(GGMLType.Q5_0, bytes, 32);
    expect(x[0]).toBe(3.75); // 0xf | 16 = 31
    expect(x[16]).toBe(-3.25); // high nibble 3, bit 16 clear
    expect(x[15]).toBe(-2.75); // 5
    expect(x[31]).toBe(2.5); // 0xa | 16 = 26
    expect(x[4]).toBe(-4); // 0
    expect(x[20]).toBe(1.75); // 7 | 16 = 23
    expect(x[1]).toBe(-4);
  });

  it('Q5_1: quants as in Q5_0, x = d·q + m', () => {
    const bytes = q5Block(24, 4);
    const view = new DataView(bytes.buffer);
    view.setUint16(0, 0x3800, true); // d = 0.5
    view.setUint16(2, 0x4000, true); // m = 2
    const x = dequantize(GGMLType.Q5_1, bytes, 32);
    expect([x[0], x[16], x[15], x[31], x[4], x[20], x[1]]).toEqual([17.5, 3.5, 4.5, 15, 2, 13.5, 2]);
  });

  // Q4_K / Q5_K: d = 0.5, dmin = 0.25, and the 12 scale bytes packing, by hand,
  //   scales = [1, 2, 3, 63, 17, 40, 5, 33], mins = [4, 0, 10, 62, 35, 8, 49, 1]:
  // bytes 0…3 = scale 0…3 | (top 2 bits of scale 4…7) << 6, bytes 4…7 = min 0…3 | (top 2 bits of
  // min 4…7) << 6, bytes 8…11 = low 4 bits of scale 4…7 | (low 4 bits of min 4…7) << 4.
  const K_SCALES = [0x41, 0x82, 0x03, 0xbf, 0x84, 0x00, 0xca, 0x3e, 0x31, 0x88, 0x15, 0x11];
  /** qs[32p + l]: low nibble (l + p) mod 16 for sub-block 2p, high nibble (3l + p) mod 16 for 2p+1. */
  const kNibbles = (p: number, l: number) => ((l + p) & 0xf) | (((3 * l + p) & 0xf) << 4);

  function kBlock(size: number, qsAt: number): Uint8Array {
    const bytes = new Uint8Array(size);
    const view = new DataView(bytes.buffer);
    view.setUint16(0, 0x3800, true); // d = 0.5
    view.setUint16(2, 0x3400, true); // dmin = 0.25
    bytes.set(K_SCALES, 4);
    for (let p = 0; p < 4; p++) for (let l = 0; l < 32; l++) bytes[qsAt + 32 * p + l] = kNibbles(p, l);
    return bytes;
  }

  it('Q4_K: 6-bit scales and mins of sub-blocks 0…3 and 4…7, nibble pairs of sub-blocks, x = d·scale·q − dmin·min', () => {
    const x = dequantize(GGMLType.Q4_K, kBlock(144, 16), 256);
    expect(x[0]).toBe(-1); // s0 l0: q 0; 0.5·1·0 − 0.25·4
    expect(x[37]).toBe(15); // s1 l5: high nibble of qs[5] = 15; 0.5·2·15 − 0.25·0
    expect(x[103]).toBe(173.5); // s3 l7: high nibble of qs[39] = 22 mod 16 = 6; 0.5·63·6 − 0.25·62
    expect(x[130]).toBe(25.25); // s4 l2: low nibble of qs[66] = 4; 0.5·17·4 − 0.25·35
    expect(x[160]).toBe(38); // s5 l0: high nibble of qs[64] = 2; 0.5·40·2 − 0.25·8
    expect(x[223]).toBe(-7.25); // s6 l31: low nibble of qs[127] = 34 mod 16 = 2; 0.5·5·2 − 0.25·49
    expect(x[234]).toBe(16.25); // s7 l10: high nibble of qs[106] = 33 mod 16 = 1; 0.5·33·1 − 0.25·1
    const scales = [1, 2, 3, 63, 17, 40, 5, 33];
    const mins = [4, 0, 10, 62, 35, 8, 49, 1];
    for (let s = 0; s < 8; s++)
      for (let l = 0; l < 32; l++) {
        const q = (kNibbles(s >> 1, l) >> (4 * (s & 1))) & 0xf;
        expect(x[32 * s + l]).toBe(0.5 * scales[s] * q - 0.25 * mins[s]);
      }
  });

  it('Q5_K: as Q4_K, with bit s of qh[l] as the fifth bit of element l of sub-block s', () => {
    const bytes = kBlock(176, 48);
    bytes[16 + 0] = 0xff; // element 0 of every sub-block
    bytes[16 + 5] = 0b10; // sub-block 1, element 5
    bytes[16 + 7] = 0b1000; // sub-block 3, element 7
    bytes[16 + 31] = 0b1000000; // sub-block 6, element 31
    const x = dequantize(GGMLType.Q5_K, bytes, 256);
    expect(x[0]).toBe(7); // q 0 + 16; 0.5·1·16 − 0.25·4
    expect(x[37]).toBe(31); // 15 + 16; 0.5·2·31
    expect(x[69]).toBe(6.5); // s2 l5: bit 2 of qh[5] clear, q 6; 0.5·3·6 − 0.25·10
    expect(x[103]).toBe(677.5); // 6 + 16; 0.5·63·22 − 0.25·62
    expect(x[130]).toBe(25.25); // no high bit
    expect(x[160]).toBe(358); // s5 l0: 2 + 16; 0.5·40·18 − 0.25·8
    expect(x[223]).toBe(32.75); // 2 + 16; 0.5·5·18 − 0.25·49
  });

  it('Q6_K: ql/qh interleaving in halves of 128, int8 scale per 16, x = d·scale·(q − 32)', () => {
    const bytes = new Uint8Array(210);
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < 128; i++) bytes[i] = (i & 0xf) | ((15 - (i & 0xf)) << 4); // ql
    bytes[128 + 0] = 0b11100100; // qh[0]: top bits 0, 1, 2, 3 for groups g = 0…3 of half 0, l = 0
    bytes[128 + 37] = 0b00110000; // qh[37]: half 1, l = 5, group 2 → 3
    for (let i = 0; i < 16; i++) view.setInt8(192 + i, (i % 2 ? -1 : 1) * (i + 1)); // 1, -2, 3, -4, …, -16
    view.setUint16(208, 0x3800, true); // d = 0.5
    const x = dequantize(GGMLType.Q6_K, bytes, 256);
    expect(x[0]).toBe(-16); // low of ql[0] = 0, top 0 → q 0; 0.5·1·(0 − 32)
    expect(x[20]).toBe(28); // low of ql[20] = 4 → q 4; scale 1 = -2; 0.5·-2·(4 − 32)
    expect(x[32]).toBe(-24); // g1: low of ql[32] = 0, top 1 → 16; scale 2 = 3; 0.5·3·(16 − 32)
    expect(x[64]).toBe(37.5); // g2: high of ql[0] = 15, top 2 → 47; scale 4 = 5; 0.5·5·15
    expect(x[96]).toBe(108.5); // g3: high of ql[32] = 15, top 3 → 63; scale 6 = 7; 0.5·7·31
    expect(x[177]).toBe(186); // half 1, g1, l17: low of ql[113] = 1 → 1; scale 11 = -12; 0.5·-12·(1 − 32)
    expect(x[197]).toBe(169); // half 1, g2, l5: high of ql[69] = 10, top 3 → 58; scale 12 = 13; 0.5·13·26
    expect(x[255]).toBe(256); // half 1, g3, l31: high of ql[127] = 0 → 0; scale 15 = -16; 0.5·-16·(0 − 32)
  });

  const encodable = [GGMLType.BF16, GGMLType.Q8_0, GGMLType.Q4_0, GGMLType.Q4_1, GGMLType.Q5_0, GGMLType.Q5_1, GGMLType.Q4_K, GGMLType.Q5_K, GGMLType.Q6_K];
  it.each(encodable.map((type) => [typeName(type), type] as const))(
    '%s agrees with the fixtures’ independent element decoder on encoded random rows',
    (_, type) => {
      let state = 777 + type;
      const random = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
      const x = Float32Array.from({ length: 512 }, () => random() * (1 + 3 * random()));
      const bytes = encodeTensor(type, x);
      const ours = dequantize(type, bytes, 512);
      const theirs = decodeTensor(type, bytes, 512);
      for (let i = 0; i < 512; i++) expect(Math.fround(ours[i])).toBe(theirs[i]);
      // …and the encoding is close to the input (a few quantization steps at most).
      let worst = 0;
      for (let i = 0; i < 512; i++) worst = Math.max(worst, Math.abs(ours[i] - x[i]));
      expect(worst).toBeLessThan(type === GGMLType.BF16 ? 0.02 : 0.6);
    },
  );

  it('rejects types it cannot decode with an UnsupportedWeightTypeError', () => {
    expect(() => dequantize(GGMLType.Q2_K, new Uint8Array(84), 256)).toThrow(UnsupportedWeightTypeError);
    expect(() => dequantize(GGMLType.Q2_K, new Uint8Array(84), 256)).toThrow(/Q2_K/);
  });

  it('rejects byte counts that do not match the element count', () => {
    expect(() => dequantize(GGMLType.Q8_0, new Uint8Array(33), 32)).toThrow(/34 bytes/);
    expect(() => dequantize(GGMLType.Q4_0, new Uint8Array(18), 31)).toThrow(/blocks/);
  });
});
