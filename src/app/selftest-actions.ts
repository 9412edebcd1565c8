// "Check this computer" from the app: run the self-test in the engine worker, show it, and remember
// it per adapter and app version so presenter mode shows the tick at the next visit.

import { version as APP_VERSION } from '../../package.json';
import type { SelfTestResult } from '../selftest/selftest';
import { getState, setState } from '../store';
import { engine, workError } from './engine';

/** localStorage key of the self-test results, per adapter and app version. */
const SELF_TEST_KEY = 'slip-lab-selftest';
const selfTestSlot = (adapter: string) => `${adapter} · ${APP_VERSION}`;

function rememberedSelfTests(): Record<string, SelfTestResult> {
  try {
    const stored = JSON.parse(localStorage.getItem(SELF_TEST_KEY) ?? '{}') as unknown;
    return stored && typeof stored === 'object' && !Array.isArray(stored) ? (stored as Record<string, SelfTestResult>) : {};
  } catch {
    return {};
  }
}

/** The self-test result remembered for this adapter and this version of the app. */
export function rememberedSelfTest(adapter: string): SelfTestResult | undefined {
  const result = rememberedSelfTests()[selfTestSlot(adapter)];
  return result && typeof result.passed === 'boolean' && Array.isArray(result.checks) ? result : undefined;
}

/**
 * "Check this computer": tiny random models through this GPU and the float64 reference, and the
 * loaded model's decode time. Remembered per adapter and app version, so the presenter sees the
 * tick at the next visit without running it again.
 */
export async function checkThisComputer(): Promise<void> {
  if (getState().selfTest?.status === 'running') return;
  const previous = getState().selfTest;
  setState({ selfTest: { status: 'running' } });
  try {
    const result = await engine().selfTest().result;
    setState({ selfTest: { status: 'done', result } });
    try {
      localStorage.setItem(SELF_TEST_KEY, JSON.stringify({ ...rememberedSelfTests(), [selfTestSlot(result.adapter.description)]: result }));
    } catch {
      // Storage may be full or off (private windows): the result still shows for this visit.
    }
  } catch (error) {
    setState({ selfTest: previous, runError: workError(error) });
  }
}

