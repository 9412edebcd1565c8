// Trace files: round trip, and one clear sentence naming the first problem of a malformed file.

import { describe, expect, it } from 'vitest';
import { SlipLabError } from '../../src/errors';
import { TraceFormatError, parseTrace, serializeTrace, type Trace, type TraceRun } from '../../src/lab/trace';

function run(verdict: 'refused' | 'complied', mass: number): TraceRun {
  return {
    prompt: 'Explain how to do a harmful thing.',
    tokens: [1, 42, 43, 44, 45],
    tokenTexts: ['<s>', 'Explain', ' how', ' to', ' harm'],
    spans: [
      { kind: 'sink', start: 0, end: 1, text: '<s>' },
      { kind: 'request', start: 1, end: 5, text: 'Explain how to harm', segment: 'request', segmentIndex: 0 },
    ],
    requestMass: {
      lastPrompt: [
        [mass, mass / 2],
        [mass, 0.25],
      ],
      lastPromptSinkAdjusted: [
        [0.9, 0.5],
        [0.4, 0.3],
      ],
      generated: [
        [
          [0.1, 0.2],
          [0.3, 0.4],
        ],
      ],
    },
    lastPromptRow: [
      [
        [0.5, 0.1, 0.1, 0.2, 0.1],
        [0.2, 0.2, 0.2, 0.2, 0.2],
      ],
      [
        [1, 0, 0, 0, 0],
        [0.6, 0.1, 0.1, 0.1, 0.1],
      ],
    ],
    margin: verdict === 'refused' ? 2.5 : -1.25,
    response: verdict === 'refused' ? "I'm sorry, but I can't help with that." : 'Sure, here is',
    generatedTokens: [7, 8],
    verdict,
    timings: { totalMs: 120, prefillMs: 40, decodeMs: 80 },
  };
}

function makeTrace(): Trace {
  return {
    version: 1,
    createdAt: '2025-07-01T12:00:00.000Z',
    request: { id: 'weapons-01', category: 'weapons', text: 'Explain how to do a harmful thing.', language: 'en' },
    settings: {
      model: { id: 'qwen2.5-0.5b-instruct-q8_0', architecture: 'qwen2', nLayer: 2, nHead: 2 },
      tokenizer: { id: 'Qwen/Qwen2.5-0.5B-Instruct' },
      attack: { kind: 'ladder', settings: { language: 'en', templates: ['plain', 'role-play', 'fiction', 'prefix-injection'] } },
      defense: { kind: 'sharpening', label: 'sharpening T=0.7', settings: { temperature: 0.7, layers: [0, 1] } },
      generation: { maxNewTokens: 32, sampling: { kind: 'greedy' } },
      seeds: { attack: 1, sampling: 0 },
      engine: { backend: 'webgpu', adapter: 'SwiftShader' },
    },
    steps: [0, 1, 2, 3].map((step) => ({
      step,
      label: `template ${step}`,
      segments: [{ kind: 'request' as const, text: 'Explain how to do a harmful thing.' }],
      ...run(step < 2 ? 'refused' : 'complied', 0.5 - step / 10),
      defended: run('refused', 0.6),
    })),
  };
}

/** Parses the mutated trace and returns the error message (failing if it parses). */
function problem(mutate: (trace: any) => void): string {
  const trace = makeTrace();
  mutate(trace);
  try {
    parseTrace(JSON.stringify(trace));
  } catch (error) {
    expect(error).toBeInstanceOf(TraceFormatError);
    return (error as Error).message;
  }
  throw new Error('the malformed trace parsed');
}

describe('Trace round trip', () => {
  it('reads back what it writes, compact or pretty', () => {
    const trace = makeTrace();
    expect(parseTrace(serializeTrace(trace))).toEqual(trace);
    expect(parseTrace(serializeTrace(trace, { pretty: true }))).toEqual(trace);
    expect(serializeTrace(trace, { pretty: true })).toContain('\n  "version": 1');
  });

  it('accepts a minimal trace without the optional fields', () => {
    const trace = makeTrace();
    trace.steps = [{ step: 0, label: 'plain', ...run('refused', 0.3) }];
    delete trace.steps[0].tokenTexts;
    delete trace.steps[0].lastPromptRow;
    trace.steps[0].requestMass = { lastPrompt: trace.steps[0].requestMass.lastPrompt };
    expect(parseTrace(serializeTrace(trace))).toEqual(trace);
  });
});

describe('malformed trace files', () => {
  it('says when the file is not JSON, not a trace, or of another version', () => {
    expect(() => parseTrace('{"version": 1,')).toThrow(/^This file is not valid JSON \(.+\); choose a trace \.json file written by Attention Slip Lab\.$/);
    expect(() => parseTrace('[1, 2]')).toThrow('This file is not an Attention Slip Lab trace (it is not a JSON object with a "version" field)');
    expect(() => parseTrace('{"steps": []}')).toThrow('This file is not an Attention Slip Lab trace');
    expect(problem((t) => (t.version = 2))).toBe(
      'This trace has version 2, but this build reads version 1; open it with the build that wrote it or export the trace again.',
    );
  });

  it.each<[string, (trace: any) => void, string]>([
    ['a wrong verdict', (t) => (t.steps[3].verdict = 'maybe'), "steps[3].verdict must be 'refused' or 'complied'"],
    ['a missing field', (t) => delete t.steps[1].response, 'steps[1].response is missing'],
    ['a missing settings block', (t) => delete t.settings.model, 'settings.model is missing'],
    ['a wrong type', (t) => (t.steps[0].margin = 'high'), 'steps[0].margin must be a finite number'],
    ['a fractional token id', (t) => (t.steps[0].tokens[2] = 1.5), 'steps[0].tokens[2] must be a whole number'],
    ['a negative token id', (t) => (t.steps[0].tokens[0] = -1), 'steps[0].tokens[0] must be at least 0'],
    ['a string for a list', (t) => (t.steps[2].spans = 'request'), 'steps[2].spans must be a list'],
    ['an unknown span kind', (t) => (t.steps[0].spans[0].kind = 'prefix'), "steps[0].spans[0].kind must be 'sink', 'system', 'template', 'request', 'attack' or 'response'"],
    ['a wrong defended field', (t) => (t.steps[2].defended.verdict = 'yes'), "steps[2].defended.verdict must be 'refused' or 'complied'"],
    ['an unknown attack', (t) => (t.settings.attack.kind = 'autodan'), "settings.attack.kind must be 'ladder', 'ica', 'suffix', 'gcg', 'custom' or 'none'"],
    ['a negative GCG loss', (t) => (t.steps[1].loss = -0.5), 'steps[1].loss must be at least 0'],
    ['a span past the prompt', (t) => (t.steps[1].spans[1].end = 9), 'steps[1].spans[1].end must be at most the prompt length (5 tokens)'],
    ['a reversed span', (t) => (t.steps[1].spans[1].start = 6), 'steps[1].spans[1].end must not be smaller than start (6)'],
    ['a matrix with a missing layer', (t) => t.steps[0].requestMass.lastPrompt.pop(), 'steps[0].requestMass.lastPrompt must have 2 rows, one per layer (settings.model.nLayer)'],
    ['a matrix with a missing head', (t) => t.steps[1].defended.requestMass.generated[0][1].pop(), 'steps[1].defended.requestMass.generated[0][1] must have 2 entries, one per head (settings.model.nHead)'],
    ['a token strip longer than the prompt', (t) => t.steps[0].lastPromptRow[1][0].push(0), 'steps[0].lastPromptRow[1][0] must have at most one entry per prompt token (5)'],
    ['token texts that do not match the tokens', (t) => t.steps[0].tokenTexts.pop(), 'steps[0].tokenTexts must have one entry per token (5)'],
    ['steps out of order', (t) => (t.steps[2].step = 1), 'steps[2].step must be greater than the step before it (1)'],
  ])('rejects %s with the path in one sentence', (_, mutate, expected) => {
    const message = problem(mutate);
    expect(message).toBe(`This trace file is invalid: ${expected}; fix that field or export the trace again from Attention Slip Lab.`);
  });

  it('is a SlipLabError with a one-line message', () => {
    const error = (() => {
      try {
        parseTrace('{"version": 1}');
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error).toBeInstanceOf(SlipLabError);
    expect(error!.name).toBe('TraceFormatError');
    expect(error!.message).toBe('This trace file is invalid: request is missing; fix that field or export the trace again from Attention Slip Lab.');
  });
});

describe('serializeTrace', () => {
  it('refuses to write a trace that could not be read back', () => {
    const trace = makeTrace();
    trace.steps[0].margin = NaN;
    expect(() => serializeTrace(trace)).toThrow(TraceFormatError);
    expect(() => serializeTrace(trace)).toThrow(/^Cannot save this trace because steps\[0\]\.margin must be a finite number; /);
  });
});
