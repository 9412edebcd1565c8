// Headless Debian Chromium for e2e tests, with WebGPU on SwiftShader (or deliberately without WebGPU).

import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Switches WebGPU on in headless Chromium; without it `requestAdapter()` resolves to null. */
export const WEBGPU_FLAG = '--enable-unsafe-webgpu';

/**
 * Only `--enable-unsafe-webgpu` is needed for a SwiftShader adapter here (and `--no-sandbox` when
 * running as root); the ANGLE/Vulkan flags pin SwiftShader on machines that also have a real GPU,
 * and the rest keep the browser from phoning home during tests.
 */
const COMMON_FLAGS = [
  '--no-sandbox',
  '--disable-gpu-sandbox',
  '--use-angle=swiftshader',
  '--enable-features=Vulkan',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export async function launchChromium(options: { webgpu: boolean }): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH))
    throw new Error(`No Chromium at ${CHROMIUM_PATH}; install Debian's build with "sudo apt-get install -y chromium" (or set CHROMIUM_PATH).`);
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: options.webgpu ? [WEBGPU_FLAG, ...COMMON_FLAGS] : COMMON_FLAGS,
  });
}

/** Console errors and uncaught page errors, collected from the moment the page opens. */
export function collectPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()} (${message.location().url})`);
  });
  page.on('pageerror', (error) => errors.push(`page: ${error.message}`));
  return errors;
}

export const SCREENSHOT_DIR = fileURLToPath(new URL('../../../artifacts/screenshots/', import.meta.url));

/** Saves a screenshot: the whole page, or (fullPage false) what the viewport shows, e.g. a full-screen overlay. */
export async function screenshot(page: Page, name: string, { fullPage = true }: { fullPage?: boolean } = {}): Promise<void> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: `${SCREENSHOT_DIR}${name}.png`, fullPage });
}
