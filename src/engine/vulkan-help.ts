// Node only: why Dawn found no GPU adapter on this machine, in one sentence that names the fix (the
// Vulkan loader, a Vulkan driver, SwiftShader from Debian's chromium, or a VK_ICD_FILENAMES gone wrong).

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Debian's chromium package ships SwiftShader, a Vulkan driver that runs on the CPU. */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/** What can be learnt about the machine's Vulkan setup without loading it. */
export interface VulkanFacts {
  readonly platform: NodeJS.Platform;
  /** The variable that overrides the driver list (VK_DRIVER_FILES wins over VK_ICD_FILENAMES), if set. */
  readonly driverVariable?: { readonly name: string; readonly files: readonly string[]; readonly missing: readonly string[] };
  /** libvulkan.so.1 is in the linker cache, LD_LIBRARY_PATH or a usual library folder (Linux). */
  readonly loaderFound: boolean;
  readonly swiftShaderInstalled: boolean;
  /** A DRM render node or an NVIDIA device: the machine has a GPU a hardware driver could drive. */
  readonly gpuDeviceNode: boolean;
}

const LIBRARY_DIRS = [
  '/lib', '/usr/lib', '/lib64', '/usr/lib64', '/usr/local/lib',
  '/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib/aarch64-linux-gnu', '/usr/lib/aarch64-linux-gnu',
];

/** Whether the dynamic linker can find libvulkan.so.1 (what Dawn dlopens on Linux). */
function vulkanLoaderFound(env: NodeJS.ProcessEnv): boolean {
  const dirs = [...(env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), ...LIBRARY_DIRS];
  if (dirs.some((dir) => existsSync(join(dir, 'libvulkan.so.1')))) return true;
  try {
    // The cache lists every library ldconfig knows by name, in plain bytes.
    return readFileSync('/etc/ld.so.cache').includes('libvulkan.so.1');
  } catch {
    return false;
  }
}

/** A DRM render node or an NVIDIA device: a hardware Vulkan driver may be usable. */
export function hasGpuDeviceNode(): boolean {
  const list = (dir: string) => (existsSync(dir) ? readdirSync(dir) : []);
  return list('/dev/dri').some((n) => n.startsWith('renderD')) || list('/dev').some((n) => n.startsWith('nvidia'));
}

/** Probes this machine; `env` is the environment as the user started the process. */
export function vulkanFacts(env: NodeJS.ProcessEnv, platform: NodeJS.Platform = process.platform): VulkanFacts {
  const name = env.VK_DRIVER_FILES ? 'VK_DRIVER_FILES' : env.VK_ICD_FILENAMES ? 'VK_ICD_FILENAMES' : undefined;
  const files = name ? env[name]!.split(platform === 'win32' ? ';' : ':').filter(Boolean) : [];
  const linux = platform === 'linux';
  return {
    platform,
    driverVariable: name ? { name, files, missing: files.filter((f) => !existsSync(f)) } : undefined,
    loaderFound: linux ? vulkanLoaderFound(env) : true,
    swiftShaderInstalled: linux && existsSync(SWIFTSHADER_ICD),
    gpuDeviceNode: linux && hasGpuDeviceNode(),
  };
}

const NO_ADAPTER = 'Dawn found no GPU adapter';
const CHROMIUM = `Debian's chromium package (apt install chromium), whose SwiftShader Vulkan driver (${SWIFTSHADER_ICD}) runs the command line on the CPU`;

/** One sentence: what is missing and what to install or change. */
export function explainMissingAdapter(facts: VulkanFacts): string {
  const variable = facts.driverVariable;
  if (variable && variable.missing.length > 0) {
    const alternative = facts.swiftShaderInstalled ? `, such as ${SWIFTSHADER_ICD}` : '';
    return `${NO_ADAPTER} because ${variable.name} names ${variable.missing.join(', ')}, which does not exist; unset ${variable.name} or point it at an installed Vulkan driver's .json file${alternative}.`;
  }
  if (facts.platform !== 'linux')
    return `${NO_ADAPTER} on this machine; update its GPU driver (Metal on macOS, Direct3D 12 or Vulkan on Windows), or run the command line on Linux with SwiftShader.`;
  if (!facts.loaderFound) {
    const cpu = facts.gpuDeviceNode || facts.swiftShaderInstalled ? '' : `, and on this machine without a GPU also ${CHROMIUM}`;
    return `${NO_ADAPTER} because the Vulkan loader (libvulkan.so.1) is not installed; install it (apt install libvulkan1 on Debian or Ubuntu)${cpu}.`;
  }
  if (variable)
    return `${NO_ADAPTER}: the Vulkan driver that ${variable.name} names (${variable.files.join(', ')}) failed to start; unset ${variable.name} or point it at another driver's .json file.`;
  if (facts.swiftShaderInstalled)
    return `${NO_ADAPTER} even with SwiftShader (${SWIFTSHADER_ICD}) installed; reinstall Debian's chromium and libvulkan1 packages (apt install --reinstall chromium libvulkan1).`;
  if (facts.gpuDeviceNode)
    return `${NO_ADAPTER}: the Vulkan driver for this machine's GPU is missing or failed to start; install it (mesa-vulkan-drivers for AMD and Intel, NVIDIA's driver for NVIDIA), or install ${CHROMIUM}.`;
  return `${NO_ADAPTER}: this machine has no GPU and no CPU Vulkan driver; install ${CHROMIUM}.`;
}
