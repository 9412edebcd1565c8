// Node platform: Dawn (`webgpu` package), falling back to SwiftShader's Vulkan ICD from Debian chromium.

import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NoWebGPUError } from './errors';
import type { GpuPlatform } from './gpu';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
const shaderRoot = fileURLToPath(new URL('../../shaders/', import.meta.url));

export async function nodePlatform(): Promise<GpuPlatform> {
  let webgpu: typeof import('webgpu');
  try {
    webgpu = await import('webgpu');
  } catch (e) {
    throw new NoWebGPUError(`Dawn for Node (the "webgpu" package) failed to load (${(e as Error).message}); run npm ci.`);
  }
  Object.assign(globalThis, webgpu.globals);
  let gpu = webgpu.create([]);
  // No usable system driver (a CPU-only machine): fall back to SwiftShader, which Debian's
  // chromium ships. The variable is read when Dawn creates its next Vulkan instance.
  if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD) && !(await gpu.requestAdapter())) {
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    gpu = webgpu.create([]);
  }
  return {
    name: 'node',
    gpu,
    loadShader: (name) => readFileSync(`${shaderRoot}${name}.wgsl`, 'utf8'),
  };
}
