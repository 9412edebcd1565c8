// Hostile trace and request files, as security staff will feed them: each is refused in one
// sentence (or read harmlessly), quickly, without polluting prototypes or allocating the file.

import { describe, expect, it } from 'vitest';
import { parseRequests, parseRequestsBlob, REQUESTS_LIMITS } from '../../src/attacks/requests';
import { ScenarioFormatError } from '../../src/attacks/scenarios';
import { parseTrace, parseTraceFile, TRACE_LIMITS, TRACE_MAX_BYTES, TraceFormatError } from '../../src/lab/trace';
import { firstTooDeep } from '../../src/util/json-guard';
import { buildTrace, matrixOf } from '../fixtures/trace';

const XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>';

/** A valid two-layer, two-head trace as JSON text, to break in one place. */
function traceText(): string {
  const trace = buildTrace({
    nLayer: 2,
    nHead: 2,
    steps: [
      { lastPrompt: matrixOf(2, 2, () => 0.4), lastPromptRow: matrixOf(2, 2, () => 0).map((layer) => layer.map(() => [0.5, 0.1, 0.1, 0.2, 0.1])) },
      { lastPrompt: matrixOf(2, 2, () => 0.2), verdict: 'complied' },
    ],
  });
  return JSON.stringify(trace);
}

/** `traceText()` changed by `edit` on its parsed JSON. */
function edited(edit: (trace: any) => void): string {
  const data = JSON.parse(traceText());
  edit(data);
  return JSON.stringify(data);
}

/** The message of the error `read` throws (failing if it does not), checked to be one sentence. */
async function sentence(read: () => unknown, type: new (...args: any[]) => Error = TraceFormatError): Promise<string> {
  try {
    await read();
  } catch (error) {
    expect(error).toBeInstanceOf(type);
    const { message } = error as Error;
    expect(message).toMatch(/^[A-Z\w][^\n]*\.$/);
    expect(message.length).toBeLessThan(400);
    return message;
  }
  throw new Error('the hostile file was accepted');
}

/** A file stub of any size whose text must never be read. */
const unreadable = (size: number) => ({
  size,
  text: (): Promise<string> => {
    throw new Error('the file was read despite its size');
  },
});

describe('hostile trace files', () => {
  it('refuses a 200 MB file by its size, before reading it', async () => {
    expect(TRACE_MAX_BYTES).toBe(128e6);
    expect(await sentence(() => parseTraceFile(unreadable(200e6)))).toBe(
      'This file is 200 MB, more than the 128 MB a trace may have (the longest attack the lab runs writes about 70 MB); choose a trace .json file written by Attention Slip Lab.',
    );
    // Just under the cap is read.
    await expect(parseTraceFile({ size: TRACE_MAX_BYTES, text: async () => traceText() })).resolves.toMatchObject({ version: 1 });
  });

  it('refuses deeply nested JSON before parsing it, in milliseconds', async () => {
    const deep = '['.repeat(1_000_000) + ']'.repeat(1_000_000);
    const started = performance.now();
    expect(await sentence(() => parseTrace(deep))).toBe(
      'This file nests lists or objects more than 32 levels deep (at character 32), which no trace does; choose a trace .json file written by Attention Slip Lab.',
    );
    // JSON.parse alone takes about a second on this text; the scan stops at depth 33.
    expect(performance.now() - started).toBeLessThan(200);
    // Nesting hidden in a free-form settings field, which the schema would otherwise pass through.
    const hidden = edited((t) => (t.settings.attack.settings.deep = JSON.parse('['.repeat(40) + ']'.repeat(40))));
    expect(await sentence(() => parseTrace(hidden))).toMatch(/^This file nests lists or objects more than 32 levels deep \(at character \d+\)/);
  });

  it('counts brackets inside strings as text, not nesting', () => {
    expect(firstTooDeep(JSON.stringify({ label: '[[[[[[[[{{{{{{{{"\\"[[[[' }), 2)).toBe(-1);
    expect(firstTooDeep('{"a":[[1]]}', 2)).toBe(6);
  });

  it('lets no __proto__ or constructor key pollute a prototype, and strips unknown keys', () => {
    const hostile = traceText()
      .replace('{"version":1', '{"__proto__":{"polluted":"root"},"constructor":{"prototype":{"polluted":"ctor"}},"version":1,"extra":{"x":1}')
      .replace('"settings":{', '"settings":{"__proto__":{"polluted":"settings"},')
      .replace('"attack":{"kind":"ladder","settings":{}', '"attack":{"kind":"ladder","settings":{"__proto__":{"polluted":"attack"},"sharpening":{"__proto__":{"polluted":"nested"}}}')
      .replace('"engine":{', '"engine":{"__proto__":{"polluted":"engine"},')
      .replace('"timings":{', '"timings":{"__proto__":{"polluted":"timings"},');
    const trace = parseTrace(hostile) as any;
    expect(({} as any).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
    for (const value of [trace, trace.settings, trace.settings.attack.settings, trace.settings.engine, trace.steps[0].timings]) {
      expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
      expect(Object.hasOwn(value, '__proto__')).toBe(false);
      expect(value.polluted).toBeUndefined();
    }
    // What the app does with free-form settings: spread them into a defense spec (actions.ts).
    expect(({ kind: 'none', ...trace.settings.attack.settings } as any).polluted).toBeUndefined();
    // A free-form value keeps a nested __proto__ as an own data property: inert, even when spread.
    const nested = trace.settings.attack.settings.sharpening;
    expect(Object.getPrototypeOf(nested)).toBe(Object.prototype);
    expect(({ ...nested } as any).polluted).toBeUndefined();
    expect(trace.extra).toBeUndefined();
    expect(trace.constructor).toBe(Object);
  });

  it.each<[string, string, RegExp]>([
    ['NaN, which JSON does not have', traceText().replace('"margin":2', '"margin":NaN'), /^This file is not valid JSON \(.+\); choose a trace \.json file/],
    ['a number too large for a double', traceText().replace('"margin":2', '"margin":1e999'), /steps\[0\]\.margin must be a finite number; /],
    ['a string where a number belongs', edited((t) => (t.steps[0].requestMass.lastPrompt[0][1] = '0.4')), /steps\[0\]\.requestMass\.lastPrompt\[0\]\[1\] must be a finite number; /],
    ['a string where a list belongs', edited((t) => (t.steps[1].tokens = 'many')), /steps\[1\]\.tokens must be a list; /],
    ['more layers than declared', edited((t) => t.steps[0].lastPromptRow.push(t.steps[0].lastPromptRow[0])), /steps\[0\]\.lastPromptRow must have 2 rows, one per layer \(settings\.model\.nLayer\); /],
    ['attention rows longer than the prompt', edited((t) => t.steps[0].lastPromptRow[1][1].push(0, 0)), /steps\[0\]\.lastPromptRow\[1\]\[1\] must have at most one entry per prompt token \(5\); /],
    ['a declared shape of a million layers', edited((t) => (t.settings.model.nLayer = 1_000_000)), /settings\.model\.nLayer must be at most 256; /],
    ['more tokens than any context', edited((t) => (t.steps[0].tokens = new Array(TRACE_LIMITS.tokens + 1).fill(1))), /steps\[0\]\.tokens must have at most 131072 items; /],
    ['a megabyte label', edited((t) => (t.steps[0].label = 'x'.repeat(1 << 20))), /steps\[0\]\.label must have at most 1000 characters; /],
  ])('refuses %s in one sentence naming the field', async (_, text, expected) => {
    const message = await sentence(() => parseTrace(text));
    expect(message).toMatch(expected);
    expect(message).toMatch(/(fix that field or export the trace again from Attention Slip Lab|choose a trace \.json file written by Attention Slip Lab)\.$/);
  });

  it('names a future version, and shows at most a short excerpt of a hostile one', async () => {
    expect(await sentence(() => parseTrace(edited((t) => (t.version = 2))))).toBe(
      'This trace has version 2, but this build reads version 1; open it with the build that wrote it or export the trace again.',
    );
    const long = await sentence(() => parseTrace(edited((t) => (t.version = `${XSS}${'9'.repeat(1 << 20)}`))));
    expect(long.length).toBeLessThan(200);
    expect(long).toContain('"<img src=x onerror=');
    expect(await sentence(() => parseTrace(edited((t) => (t.version = { major: 2 }))))).toMatch(/^This trace has version an object, /);
  });

  it('keeps markup in text fields as plain text (the UI renders it as text)', () => {
    const trace = parseTrace(
      edited((t) => {
        t.steps[0].label = XSS;
        t.steps[0].tokenTexts[1] = XSS;
        t.settings.model.id = XSS;
      }),
    );
    expect([trace.steps[0].label, trace.steps[0].tokenTexts![1], trace.settings.model.id]).toEqual([XSS, XSS, XSS]);
  });
});

describe('hostile request files', () => {
  it('refuses a file over 20 MB by its size, before reading it', async () => {
    expect(await sentence(() => parseRequestsBlob(unreadable(50e6), 'huge.csv', 'en'), ScenarioFormatError)).toBe(
      'huge.csv is 50 MB, more than the 20 MB a requests file may have; keep at most 5,000 requests per file.',
    );
  });

  it('refuses 100,000 rows in one sentence, and stops parsing at the cap', async () => {
    const csv = `id,goal\n${Array.from({ length: 100_000 }, (_, i) => `r${i},Request number ${i}`).join('\n')}\n`;
    const started = performance.now();
    expect(await sentence(() => parseRequests(csv, 'many.csv', 'en'), ScenarioFormatError)).toBe(
      'many.csv has more than 5,000 requests, the most the lab reads from one file (AdvBench has 520); split it into smaller files.',
    );
    expect(performance.now() - started).toBeLessThan(500);
    // Exactly at the cap is read.
    const atCap = `goal\n${Array.from({ length: REQUESTS_LIMITS.requests }, (_, i) => `Request ${i}`).join('\n')}\n`;
    expect(parseRequests(atCap, 'cap.csv', 'en')).toHaveLength(5_000);
  });

  it('refuses the same number of requests in a requests.json', async () => {
    const entry = (i: number) => ({ id: `r${i}`, category: 'c', harmful: true, goal: 'g', target: 't', goal_ja: 'g', target_ja: 't' });
    const json = JSON.stringify({ version: 1, harmful: Array.from({ length: 5_001 }, (_, i) => entry(i)), benign: [] });
    expect(await sentence(() => parseRequests(json, 'many.json', 'en'), ScenarioFormatError)).toMatch(/^many\.json has more than 5,000 requests/);
  });

  it('refuses a one-megabyte cell, naming the request and the field', async () => {
    const csv = `id,goal,target\nq1,Short request,Sure\nq2,${'A'.repeat(1 << 20)},Sure\n`;
    expect(await sentence(() => parseRequests(csv, 'big-cell.csv', 'en'), ScenarioFormatError)).toBe(
      "big-cell.csv request 2 has a goal of 1,048,576 characters, more than the 4,000 a request may have (a longer one leaves no room in the model's context for the attack); shorten it.",
    );
    const target = `goal,target\nRequest,${'B'.repeat(5_000)}\n`;
    expect(await sentence(() => parseRequests(target, 't.csv', 'en'), ScenarioFormatError)).toMatch(/^t\.csv request 1 has a target of 5,000 characters/);
  });

  it('treats __proto__ and constructor columns as text', () => {
    const csv = '__proto__,constructor,goal,id\n"{""polluted"":1}",x,Explain how to pick a lock.,q1\n';
    expect(parseRequests(csv, 'proto.csv', 'en')).toEqual([{ id: 'q1', goal: 'Explain how to pick a lock.', target: 'Sure, here is' }]);
    expect(({} as any).polluted).toBeUndefined();
  });

  it('refuses a deeply nested requests.json before parsing it', async () => {
    const deep = `{"version":1,"harmful":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    expect(await sentence(() => parseRequests(deep, 'deep.json', 'en'), ScenarioFormatError)).toMatch(
      /^deep\.json nests lists or objects more than 16 levels deep \(at character \d+\), which no scenario file does; /,
    );
  });

  it('keeps markup in a cell and in a hostile header as plain text', async () => {
    const requests = parseRequests(`id,goal\nq1,"${XSS.replace(/"/g, '""')}"\n`, 'xss.csv', 'en');
    expect(requests[0].goal).toBe(XSS);
    const message = await sentence(() => parseRequests(`${XSS.replace(/[",]/g, '')}${'h'.repeat(100_000)}\nx\n`, 'nogoal.csv', 'en'), ScenarioFormatError);
    expect(message).toMatch(/^nogoal\.csv has no "goal" column \(its columns are <img src=x onerror=window\.__xss=1><script>.{0,100}…\); /);
  });
});
