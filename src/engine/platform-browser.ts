// Browser platform: navigator.gpu, with every shader bundled as text by Vite.

import { NoWebGPUError } from '../errors';
import type { GpuPlatform } from './gpu';

const sources = import.meta.glob('/shaders/**/*.wgsl', { query: '?raw', import: 'default', eager: true }) as Record<string, string>;

export function browserPlatform(): GpuPlatform {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu)
    throw new NoWebGPUError(
      'This browser has no WebGPU; use a current Chrome or Edge (or Safari 26+, or Firefox 141+ on Windows), or enable it at chrome://flags/#enable-unsafe-webgpu — replay of saved traces still works without it.',
    );
  return {
    name: 'browser',
    gpu,
    loadShader(name) {
      const code = sources[`/shaders/${name}.wgsl`];
      if (code === undefined) throw new Error(`shader ${name}.wgsl is missing from the bundle`);
      return code;
    },
  };
}
