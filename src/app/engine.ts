// The app's one engine worker client, made on first use, and how a failed call is shown: the
// device-lost sentence goes to the model panel (beside its recover button), not under Run.

import { getState, setState, type UiError } from '../store';
import { errorFacts } from '../util/format';
import { EngineClient, isCancel } from '../worker/client';

let client: EngineClient | undefined;

export function engine(): EngineClient {
  if (!client) {
    client = new EngineClient();
    client.onDeviceLost((message) => setState({ status: 'error', modelError: { name: 'DeviceLostError', message }, summary: undefined, running: false, rerunning: false }));
  }
  return client;
}

/**
 * What a failed run, re-run or map shows under the Run button: nothing for a cancel, nor for a
 * lost device, which the model panel reports once, beside its recover button.
 */
export function workError(error: unknown): UiError | undefined {
  if (isCancel(error)) return undefined;
  const facts = errorFacts(error);
  return facts.name === 'DeviceLostError' || getState().modelError?.name === 'DeviceLostError' ? undefined : facts;
}

