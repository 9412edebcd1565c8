// Node GPU setup shared by the CLI and the bench: a quieter Dawn environment and the GpuContext.

import { mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GpuContext } from '../engine/gpu';
import { nodePlatform } from '../engine/platform-node';

/**
 * Dawn's Vulkan loader prints "error: XDG_RUNTIME_DIR is invalid or not set" straight to fd 2 when
 * the variable is missing (containers, CI). Compute never uses that directory, so when it is unset
 * we point it at a private 0700 folder. Must run before the `webgpu` package creates an instance.
 */
export function quietDawnEnvironment(): void {
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

/** Opens the best WebGPU adapter Dawn finds (SwiftShader on a CPU-only machine). */
export async function openNodeGpu(): Promise<GpuContext> {
  quietDawnEnvironment();
  return GpuContext.create(await nodePlatform());
}
