// Without a usable GPU adapter the CLI names what to install or change in the terminal (the Vulkan
// loader, a driver, SwiftShader, VK_ICD_FILENAMES), never the browser's advice, and exits non-zero.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explainMissingAdapter, SWIFTSHADER_ICD, type VulkanFacts } from '../../src/engine/vulkan-help';
import { presets, randomModel } from '../fixtures/models';
import { runCli, type CliRun } from '../support/cli';

let scratch: string;
let modelPath: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'cli-environment-'));
  modelPath = await randomModel({ ...presets.tinyLlama, weightType: 'Q8_0' });
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

/** The one line our CLI wrote (the Vulkan loader's own warnings go to the same stderr). */
function ourLine(run: CliRun): string {
  const lines = run.stderrLines.filter((line) => line.startsWith('Dawn found no GPU adapter') || line.includes('browser'));
  expect(lines, run.stderrLines.join('\n')).toHaveLength(1);
  return lines[0];
}

describe('the forward command without a GPU adapter', () => {
  it('names a VK_ICD_FILENAMES that points at a missing file', async () => {
    const missing = join(scratch, 'no-such-driver.json');
    const run = await runCli(['forward', '--model', modelPath, '--tokens', '1,2,3'], true, { ...process.env, VK_ICD_FILENAMES: missing });
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    const line = ourLine(run);
    expect(line).toContain(`VK_ICD_FILENAMES names ${missing}, which does not exist`);
    expect(line).toMatch(/unset VK_ICD_FILENAMES/);
    expect(line).not.toMatch(/browser|Chrome/);
  });

  it('names a driver file that exists but does not start', async () => {
    const broken = join(scratch, 'broken-driver.json');
    await writeFile(broken, '{ "file_format_version": "1.0.0" }');
    const run = await runCli(['forward', '--model', modelPath, '--tokens', '1,2,3'], false, { ...process.env, VK_ICD_FILENAMES: broken });
    expect(run.code).toBe(1);
    expect(ourLine(run)).toMatch(new RegExp(`driver that VK_ICD_FILENAMES names \\(${broken.replace(/[.]/g, '\\.')}\\) failed to start`));
  });
});

describe('explainMissingAdapter', () => {
  const linux: VulkanFacts = { platform: 'linux', loaderFound: true, swiftShaderInstalled: false, gpuDeviceNode: false };
  /** One sentence: a single clause before the advice, ending in a full stop, no line breaks. */
  const sentence = (facts: VulkanFacts) => {
    const text = explainMissingAdapter(facts);
    expect(text).toMatch(/^Dawn found no GPU adapter[^\n]*[;,] [^\n]*\.$/);
    expect(text).not.toMatch(/browser|Chrome|Edge/);
    return text;
  };

  it('without the Vulkan loader: libvulkan1, and chromium where there is no GPU', () => {
    expect(sentence({ ...linux, loaderFound: false })).toMatch(/libvulkan\.so\.1\) is not installed; install it \(apt install libvulkan1.*chromium package/);
    expect(sentence({ ...linux, loaderFound: false, gpuDeviceNode: true })).not.toMatch(/chromium/);
  });

  it('with the loader but no driver: SwiftShader from chromium, or the GPU vendor driver', () => {
    expect(sentence(linux)).toContain(`no GPU and no CPU Vulkan driver; install Debian's chromium package (apt install chromium), whose SwiftShader Vulkan driver (${SWIFTSHADER_ICD})`);
    expect(sentence({ ...linux, gpuDeviceNode: true })).toMatch(/driver for this machine's GPU is missing.*mesa-vulkan-drivers.*chromium/);
    expect(sentence({ ...linux, swiftShaderInstalled: true })).toMatch(/even with SwiftShader.*reinstall/);
  });

  it('a driver variable pointing nowhere comes first, offering SwiftShader when it is installed', () => {
    const variable = { name: 'VK_DRIVER_FILES', files: ['/a.json', '/b.json'], missing: ['/b.json'] };
    expect(sentence({ ...linux, loaderFound: false, driverVariable: variable })).toMatch(/VK_DRIVER_FILES names \/b\.json, which does not exist; unset VK_DRIVER_FILES/);
    expect(sentence({ ...linux, swiftShaderInstalled: true, driverVariable: variable })).toContain(`such as ${SWIFTSHADER_ICD}.`);
  });

  it('elsewhere than Linux: the GPU driver', () => {
    expect(sentence({ ...linux, platform: 'darwin' })).toMatch(/update its GPU driver/);
  });
});
