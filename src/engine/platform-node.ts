// Node platform: Dawn (`webgpu` package), falling back to SwiftShader's Vulkan ICD from Debian chromium.

import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NoWebGPUError } from '../errors';
import type { GpuPlatform } from './gpu';
import { explainMissingAdapter, hasGpuDeviceNode, SWIFTSHADER_ICD, vulkanFacts } from './vulkan-help';

/** The driver variables as the user set them, before the fallback below sets one itself. */
const userEnvironment = { ...process.env };
const shaderRoot = fileURLToPath(new URL('../../shaders/', import.meta.url));

export async function nodePlatform(): Promise<GpuPlatform> {
  quietDawnEnvironment();
  let webgpu: typeof import('webgpu');
  try {
    webgpu = await import('webgpu');
  } catch (e) {
    throw new NoWebGPUError(`Dawn for Node (the "webgpu" package) failed to load (${(e as Error).message}); run npm ci.`);
  }
  Object.assign(globalThis, webgpu.globals);
  const canFallBack = !process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD);
  // Linux without a GPU device node has no hardware driver to find: go straight to SwiftShader
  // (Debian's chromium ships it) rather than let Dawn probe and reject CPU drivers noisily.
  // The variable is read when Dawn creates its Vulkan instance.
  if (canFallBack && process.platform === 'linux' && !hasGpuDeviceNode()) process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  let gpu = webgpu.create([]);
  if (canFallBack && !process.env.VK_ICD_FILENAMES && !(await gpu.requestAdapter())) {
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    gpu = webgpu.create([]);
  }
  return {
    name: 'node',
    gpu: explainNoAdapter(gpu),
    loadShader: (name) => readFileSync(`${shaderRoot}${name}.wgsl`, 'utf8'),
  };
}

/**
 * Dawn answers a missing adapter with null, which GpuContext words for a browser; in a terminal
 * the fix is a package or a variable, so say which.
 */
function explainNoAdapter(gpu: GPU): GPU {
  const requestAdapter = async (options?: GPURequestAdapterOptions) => {
    const adapter = await gpu.requestAdapter(options);
    if (!adapter) throw new NoWebGPUError(explainMissingAdapter(vulkanFacts(userEnvironment)));
    return adapter;
  };
  // Dawn's GPU is a native object: its other members must run with it as `this`.
  return new Proxy(gpu, {
    get(target, key) {
      if (key === 'requestAdapter') return requestAdapter;
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/**
 * Dawn's Vulkan loader prints "error: XDG_RUNTIME_DIR is invalid or not set" straight to fd 2 when
 * the variable is missing (containers, CI). Compute never uses that directory, so when it is unset
 * we point it at a private 0700 folder. Must run before the `webgpu` package creates an instance.
 */
function quietDawnEnvironment(): void {
  if (process.env.XDG_RUNTIME_DIR || typeof process.getuid !== 'function') return;
  const uid = process.getuid();
  const dir = join(tmpdir(), `attention-slip-lab-runtime-${uid}`);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const stat = statSync(dir);
    // Only a folder we own and nobody else can enter is a valid runtime dir.
    if (stat.isDirectory() && stat.uid === uid && (stat.mode & 0o077) === 0) process.env.XDG_RUNTIME_DIR = dir;
  } catch {
    // Cosmetic only: without the folder Dawn still works and merely prints its warning.
  }
}
