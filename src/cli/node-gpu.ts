// Node GPU setup shared by the CLI and the bench.

import { GpuContext, type GpuContextOptions } from '../engine/gpu';
import { nodePlatform } from '../engine/platform-node';

/** Opens the best WebGPU adapter Dawn finds (SwiftShader on a CPU-only machine). */
export async function openNodeGpu(options?: GpuContextOptions): Promise<GpuContext> {
  return GpuContext.create(await nodePlatform(), options);
}
