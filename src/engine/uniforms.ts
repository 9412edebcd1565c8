// Kernel uniform layouts declared once: each WGSL `Params` struct's fields by name and type, in
// struct order, encoded into the words the Recorder uploads.

/** WGSL scalar types a uniform field may have; each is 4 bytes, 4-aligned. */
export type UniformScalar = 'u32' | 'f32';

/**
 * Field name → type, in the order of the WGSL struct (tests/unit/kernels-uniforms.test.ts holds the
 * two equal). Names starting with `_` are padding: declared so the offsets match, written as 0.
 */
export type UniformSpec = Readonly<Record<string, UniformScalar>>;

/** What a dispatch supplies: every field except padding. */
export type UniformValues<S extends UniformSpec> = { readonly [K in keyof S as K extends `_${string}` ? never : K]: number };

declare const encoded: unique symbol;
/** One uniform struct's words, padded to 16 bytes; made only by `UniformLayout.encode`. */
export type UniformWords = Uint32Array & { readonly [encoded]: true };

export interface UniformField {
  readonly name: string;
  readonly type: UniformScalar;
  /** Byte offset in the struct. */
  readonly offset: number;
}

export interface UniformLayout<S extends UniformSpec = UniformSpec> {
  readonly fields: readonly UniformField[];
  /** Bytes uploaded per dispatch: the fields rounded up to whole 16-byte rows. */
  readonly byteSize: number;
  encode(values: UniformValues<S>): UniformWords;
}

export function defineUniform<const S extends UniformSpec>(spec: S): UniformLayout<S> {
  // Object key order is declaration order for names that are not integers, and WGSL names never are.
  const fields: UniformField[] = Object.entries(spec).map(([name, type], i) => ({ name, type, offset: i * 4 }));
  const byteSize = Math.ceil(Math.max(fields.length, 1) / 4) * 16;
  return {
    fields,
    byteSize,
    encode(values) {
      const view = new DataView(new ArrayBuffer(byteSize));
      const record = values as Readonly<Record<string, number>>;
      for (const { name, type, offset } of fields) {
        if (name.startsWith('_')) continue;
        const value = record[name];
        // A missing field would silently upload 0 (or NaN): a bug in the op, not a user error.
        if (typeof value !== 'number') throw new Error(`uniform field ${name} has no value`);
        if (type === 'f32') view.setFloat32(offset, value, true);
        else view.setUint32(offset, value >>> 0, true);
      }
      return new Uint32Array(view.buffer) as UniformWords;
    },
  };
}
