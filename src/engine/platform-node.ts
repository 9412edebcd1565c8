// Node platform: Dawn (`webgpu` package), falling back to SwiftShader's Vulkan ICD from Debian chromium.

import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NoWebGPUError } from '../errors';
import type { GpuPlatform } from './gpu';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
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
    gpu,
    loadShader: (name) => readFileSync(`${shaderRoot}${name}.wgsl`, 'utf8'),
  };
}

/** A DRM render node or an NVIDIA device: a hardware Vulkan driver may be usable. */
function hasGpuDeviceNode(): boolean {
  const list = (dir: string) => (existsSync(dir) ? readdirSync(dir) : []);
  return list('/dev/dri').some((n) => n.startsWith('renderD')) || list('/dev').some((n) => n.startsWith('nvidia'));
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
