// GGML tensor types: block geometry of every type we may meet in a GGUF file.

/** Numeric ids as written in GGUF tensor infos (ggml.h `enum ggml_type`). */
export enum GGMLType {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  BF16 = 30,
}

export interface BlockGeometry {
  readonly name: string;
  /** Weights per block (1 for plain float types). */
  readonly blockSize: number;
  /** Bytes per block in the GGUF file. */
  readonly typeSize: number;
}

const GEOMETRY: Record<number, BlockGeometry> = {
  [GGMLType.F32]: { name: 'F32', blockSize: 1, typeSize: 4 },
  [GGMLType.F16]: { name: 'F16', blockSize: 1, typeSize: 2 },
  [GGMLType.BF16]: { name: 'BF16', blockSize: 1, typeSize: 2 },
  [GGMLType.Q4_0]: { name: 'Q4_0', blockSize: 32, typeSize: 18 },
  [GGMLType.Q4_1]: { name: 'Q4_1', blockSize: 32, typeSize: 20 },
  [GGMLType.Q5_0]: { name: 'Q5_0', blockSize: 32, typeSize: 22 },
  [GGMLType.Q5_1]: { name: 'Q5_1', blockSize: 32, typeSize: 24 },
  [GGMLType.Q8_0]: { name: 'Q8_0', blockSize: 32, typeSize: 34 },
  [GGMLType.Q8_1]: { name: 'Q8_1', blockSize: 32, typeSize: 36 },
  [GGMLType.Q2_K]: { name: 'Q2_K', blockSize: 256, typeSize: 84 },
  [GGMLType.Q3_K]: { name: 'Q3_K', blockSize: 256, typeSize: 110 },
  [GGMLType.Q4_K]: { name: 'Q4_K', blockSize: 256, typeSize: 144 },
  [GGMLType.Q5_K]: { name: 'Q5_K', blockSize: 256, typeSize: 176 },
  [GGMLType.Q6_K]: { name: 'Q6_K', blockSize: 256, typeSize: 210 },
  [GGMLType.Q8_K]: { name: 'Q8_K', blockSize: 256, typeSize: 292 },
};

export function blockGeometry(type: number): BlockGeometry | undefined {
  return GEOMETRY[type];
}

export function typeName(type: number): string {
  return GEOMETRY[type]?.name ?? `type ${type}`;
}

/** Bytes a tensor of `elements` weights of `type` takes in the file. */
export function tensorByteSize(type: number, elements: number): number {
  const g = GEOMETRY[type];
  if (!g) throw new Error(`unknown GGML type ${type}`);
  return (elements / g.blockSize) * g.typeSize;
}

/** One tensor as the GGUF header describes it. `dims[0]` is the contiguous (row) dimension. */
export interface TensorInfo {
  readonly name: string;
  readonly type: GGMLType;
  readonly dims: readonly number[];
  /** Absolute byte offset of the tensor data in the file. */
  readonly offset: number;
  readonly byteSize: number;
}
