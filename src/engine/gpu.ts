// The WebGPU device, its capabilities read once, and the pipeline cache keyed by (op, weights, constants).

import { DeviceLostError, GpuValidationError, NoWebGPUError } from '../errors';
import { GGMLType, typeName } from '../gguf/types';
import type { AdapterSummary } from './api';
import type { KernelProfiler } from './profiler';

/** Where GPU and shader sources come from: `navigator.gpu` + Vite in browsers, Dawn + fs in Node. */
export interface GpuPlatform {
  readonly name: 'browser' | 'node';
  readonly gpu: GPU;
  /** WGSL source of `shaders/<name>.wgsl`. */
  loadShader(name: string): string;
}

export interface Capabilities {
  readonly maxBufferSize: number;
  readonly maxStorageBufferBindingSize: number;
  readonly maxComputeWorkgroupsPerDimension: number;
  readonly maxStorageBuffersPerShaderStage: number;
  readonly minUniformBufferOffsetAlignment: number;
  readonly subgroups: boolean;
  readonly timestampQuery: boolean;
  readonly shaderF16: boolean;
  /**
   * A CPU emulation of a GPU (SwiftShader, llvmpipe, WARP): it rewards kernels without barriers
   * or workgroup memory, and loads that are the same for every SIMD lane (see shaders/matvec_rows.wgsl).
   */
  readonly software: boolean;
  /** WGSL has unpack4xI8 (packed_4x8_integer_dot_product): one instruction where shifts take three. */
  readonly packed4x8: boolean;
}

export interface PipelineVariant {
  /** Weight format spliced in at `//#include weights`. */
  readonly weights?: GGMLType;
  /** WGSL `override` values: feature switches, and the tile sizes the op's dispatch counts assume. */
  readonly constants?: Readonly<Record<string, number | boolean>>;
}

/** A shader and its variant: what an op dispatches, and what a model precompiles at load. */
export type PipelineKey = readonly [op: string, variant: PipelineVariant];

export interface GpuContextOptions {
  /**
   * false: do not ask for subgroups even where the adapter has them, so tests can run the kernels
   * that devices without subgroups use. Default: use them when available.
   */
  readonly subgroups?: boolean;
  /**
   * Overrides the software-adapter detection (caps.software): false runs the GPU kernels on a CPU
   * emulation, so the bench can show what they cost there.
   */
  readonly software?: boolean;
  /**
   * unpack4xI8 for Q8_0's signed bytes. Default: where the WGSL has it, except on CPU emulations
   * (SwiftShader's is slower than three shifts: bench/kernels.ts's decode probe). true: wherever
   * the WGSL has it; false: never. Tests use both to run both paths.
   */
  readonly packed4x8?: boolean;
}

const WEIGHT_SNIPPET: Partial<Record<GGMLType, string>> = {
  [GGMLType.F32]: 'weights/f32',
  [GGMLType.F16]: 'weights/f16',
  [GGMLType.Q8_0]: 'weights/q8_0',
  [GGMLType.Q4_0]: 'weights/q4_0',
  [GGMLType.BF16]: 'weights/bf16',
  [GGMLType.Q4_1]: 'weights/q4_1',
  [GGMLType.Q5_0]: 'weights/q5_0',
  [GGMLType.Q5_1]: 'weights/q5_1',
  [GGMLType.Q4_K]: 'weights/q4_k',
  [GGMLType.Q5_K]: 'weights/q5_k',
  [GGMLType.Q6_K]: 'weights/q6_k',
};

export function isKernelWeightType(type: GGMLType): boolean {
  return type in WEIGHT_SNIPPET;
}

/**
 * The WGSL of `op` as compiled: `//#include <name>` splices shaders/<name>.wgsl (e.g. the matrix
 * kernels' shared `linear` prologue); `//#include weights` splices the weight format's snippet,
 * and includes inside that are spliced next. `packed4x8`: the device's WGSL has unpack4xI8
 * (language feature packed_4x8_integer_dot_product), so `//#include int8x4` takes it instead of shifts.
 */
export function shaderSource(loadShader: (name: string) => string, op: string, weights: GGMLType | undefined, packed4x8 = false): string {
  const include = (code: string) =>
    code.replace(/^\/\/#include (?!weights$)([\w/]+)$/gm, (_line, name: string) =>
      loadShader(name === 'int8x4' ? (packed4x8 ? 'int8x4_packed' : 'int8x4_shifts') : name),
    );
  let code = include(loadShader(op));
  if (code.includes('//#include weights')) {
    const snippet = weights !== undefined ? WEIGHT_SNIPPET[weights] : undefined;
    if (!snippet) throw new Error(`kernel ${op} needs a weight type with a WGSL snippet, got ${weights}`);
    code = code.replace('//#include weights', include(loadShader(snippet)));
  }
  return code;
}

/** CPU emulations of a GPU, by what their adapters report (fallback adapters are software by definition). */
export function isSoftwareAdapter(info: GPUAdapterInfo | undefined): boolean {
  if (!info) return false;
  if ((info as { isFallbackAdapter?: boolean }).isFallbackAdapter) return true;
  const text = [info.vendor, info.architecture, info.device, info.description].join(' ');
  return /swiftshader|llvmpipe|lavapipe|softpipe|microsoft basic render|\bwarp\b/i.test(text);
}

export class GpuContext {
  readonly caps: Capabilities;
  readonly adapter: AdapterSummary;
  /** Resolves when the device is lost; `intended` is true after `destroy()`. */
  readonly lost: Promise<{ intended: boolean; message: string }>;
  private lostInfo: { intended: boolean; message: string } | undefined;
  private destroyed = false;
  /** First uncaptured validation / internal error: a bug on our side, reported at the next check. */
  private gpuError: string | undefined;
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly modules = new Map<string, GPUShaderModule>();
  private placeholderBuffer: GPUBuffer | undefined;
  /** Set by the bench: every recorded dispatch is then timed per kernel. */
  profiler: KernelProfiler | undefined;
  private scratchPlaceholderBuffer: GPUBuffer | undefined;

  private constructor(
    readonly device: GPUDevice,
    readonly platform: GpuPlatform,
    caps: Capabilities,
    adapter: AdapterSummary,
  ) {
    this.caps = caps;
    this.adapter = adapter;
    device.addEventListener('uncapturederror', (event) => {
      this.gpuError ??= (event as GPUUncapturedErrorEvent).error.message;
    });
    this.lost = device.lost.then((info) => {
      this.lostInfo = { intended: this.destroyed, message: info.message };
      return this.lostInfo;
    });
  }

  static async create(platform: GpuPlatform, options: GpuContextOptions = {}): Promise<GpuContext> {
    const adapter = await platform.gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter)
      throw new NoWebGPUError(
        'This browser exposes WebGPU but found no usable GPU adapter; enable hardware acceleration or try a current Chrome or Edge.',
      );
    const limits = adapter.limits;
    const optional: GPUFeatureName[] = ['subgroups', 'timestamp-query', 'shader-f16'];
    const wanted = optional.filter((f) => adapter.features.has(f) && (f !== 'subgroups' || options.subgroups !== false));
    const device = await adapter.requestDevice({
      label: 'attention-slip-lab',
      requiredFeatures: wanted,
      requiredLimits: {
        maxBufferSize: limits.maxBufferSize,
        maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
        maxStorageBuffersPerShaderStage: limits.maxStorageBuffersPerShaderStage,
        maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
        maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
      },
    });
    const info = adapter.info;
    const software = options.software ?? isSoftwareAdapter(info);
    const hasPacked4x8 = platform.gpu.wgslLanguageFeatures?.has('packed_4x8_integer_dot_product') ?? false;
    const caps: Capabilities = {
      maxBufferSize: device.limits.maxBufferSize,
      maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize,
      maxComputeWorkgroupsPerDimension: device.limits.maxComputeWorkgroupsPerDimension,
      maxStorageBuffersPerShaderStage: device.limits.maxStorageBuffersPerShaderStage,
      minUniformBufferOffsetAlignment: device.limits.minUniformBufferOffsetAlignment,
      subgroups: device.features.has('subgroups'),
      timestampQuery: device.features.has('timestamp-query'),
      shaderF16: device.features.has('shader-f16'),
      software,
      packed4x8: hasPacked4x8 && (options.packed4x8 ?? !software),
    };
    const description =
      [info?.vendor, info?.architecture, info?.device, info?.description].filter((s) => s && s.length > 0).join(' ') ||
      'WebGPU adapter';
    const limitRecord: Record<string, number> = {};
    for (const key of [
      'maxBufferSize',
      'maxStorageBufferBindingSize',
      'maxComputeWorkgroupStorageSize',
      'maxComputeInvocationsPerWorkgroup',
      'maxComputeWorkgroupsPerDimension',
      'maxStorageBuffersPerShaderStage',
    ] as const)
      limitRecord[key] = device.limits[key];
    return new GpuContext(device, platform, caps, {
      description,
      features: [...device.features].map(String).sort(),
      limits: limitRecord,
    });
  }

  get isLost(): boolean {
    return this.lostInfo !== undefined;
  }

  /** Throws a DeviceLostError if the device has gone (driver reset, tab in background too long, …). */
  assertAlive(): void {
    if (this.lostInfo && !this.lostInfo.intended)
      throw new DeviceLostError(
        `The GPU device was lost (${this.lostInfo.message || 'no reason given'}); reload the model, or pick a smaller one if this repeats.`,
      );
    if (this.gpuError !== undefined)
      throw new GpuValidationError(`The GPU rejected a command (${this.gpuError.split('\n')[0]}); this is a bug in Attention Slip Lab, please report it.`);
  }

  pipeline(op: string, variant: PipelineVariant = {}): GPUComputePipeline {
    const descriptor = this.pipelineDescriptor(op, variant);
    const cached = this.pipelines.get(descriptor.label!);
    if (cached) return cached;
    const pipeline = this.device.createComputePipeline(descriptor);
    this.pipelines.set(descriptor.label!, pipeline);
    return pipeline;
  }

  /**
   * Compiles pipelines in the background ahead of first use (at model load), so the first
   * generation does not stall on shader compilation.
   */
  async precompile(variants: ReadonlyArray<PipelineKey>): Promise<void> {
    await Promise.all(
      variants.map(async ([op, variant]) => {
        const descriptor = this.pipelineDescriptor(op, variant);
        if (this.pipelines.has(descriptor.label!)) return;
        const pipeline = await this.device.createComputePipelineAsync(descriptor);
        this.pipelines.set(descriptor.label!, pipeline);
      }),
    );
  }

  private pipelineDescriptor(op: string, variant: PipelineVariant): GPUComputePipelineDescriptor {
    const constants = variant.constants ?? {};
    const constantKey = Object.keys(constants)
      .sort()
      .map((k) => `${k}=${constants[k]}`)
      .join(',');
    const label = [op, variant.weights !== undefined ? typeName(variant.weights) : '', constantKey].filter(Boolean).join(':');
    return {
      label,
      layout: 'auto',
      compute: {
        module: this.module(op, variant.weights),
        entryPoint: 'main',
        constants: Object.fromEntries(Object.entries(constants).map(([k, v]) => [k, Number(v)])),
      },
    };
  }

  private module(op: string, weights: GGMLType | undefined): GPUShaderModule {
    const key = `${op}:${weights ?? ''}`;
    let module = this.modules.get(key);
    if (!module) {
      const code = shaderSource((name) => this.platform.loadShader(name), op, weights, this.caps.packed4x8);
      module = this.device.createShaderModule({ label: key, code });
      this.modules.set(key, module);
    }
    return module;
  }

  /** A tiny storage buffer bound where a kernel's optional input is switched off. */
  get placeholder(): GPUBuffer {
    this.placeholderBuffer ??= this.device.createBuffer({ label: 'placeholder', size: 16, usage: GPUBufferUsage.STORAGE });
    return this.placeholderBuffer;
  }

  /**
   * A second placeholder for writable bindings a variant never writes: kept apart from
   * `placeholder` so no dispatch binds one buffer as both read-only and writable.
   */
  get scratchPlaceholder(): GPUBuffer {
    this.scratchPlaceholderBuffer ??= this.device.createBuffer({ label: 'scratch-placeholder', size: 16, usage: GPUBufferUsage.STORAGE });
    return this.scratchPlaceholderBuffer;
  }

  /** An intended teardown: the resulting device loss is not reported as an error. */
  destroy(): void {
    this.destroyed = true;
    this.device.destroy();
  }
}
