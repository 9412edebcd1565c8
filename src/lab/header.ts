// A Trace's header: the model, tokenizer, attack, defense, generation settings and seeds a
// scenario ran with, as the trace file records them.

import { defenseLabel, type AttackSpec, type DefenseSpec, type Lab, type Scenario } from './scenario';
import { TRACE_VERSION, type Trace, type TraceSettings } from './trace';

/** The defense as a trace records it; `label` overrides the default label. */
export function defenseRecord(defense: DefenseSpec, label?: string): TraceSettings['defense'] {
  const { kind, ...settings } = defense;
  return {
    kind,
    ...(kind !== 'none' ? { label: label ?? defenseLabel(defense) } : {}),
    settings: JSON.parse(JSON.stringify(settings)) as Record<string, unknown>,
  };
}

function attackSettings(attack: AttackSpec): Record<string, unknown> {
  switch (attack.kind) {
    case 'none':
      return {};
    case 'suffix':
    case 'gcg': {
      const { kind: _kind, vocabulary, ...rest } = attack;
      return { ...rest, ...(vocabulary ? { vocabularySize: vocabulary.length } : {}) };
    }
    default:
      return { ...(attack.settings ?? {}), steps: attack.steps.length };
  }
}

export function traceHeader(lab: Lab, scenario: Scenario): Omit<Trace, 'steps'> {
  const { config } = lab.model;
  const settings: TraceSettings = {
    model: {
      id: lab.modelInfo.id,
      architecture: config.arch,
      ...(lab.modelInfo.file ? { file: lab.modelInfo.file } : {}),
      ...(lab.modelInfo.quantization ? { quantization: lab.modelInfo.quantization } : {}),
      nLayer: config.nLayer,
      nHead: config.nHead,
    },
    tokenizer: { id: lab.tokenizerId },
    attack: { kind: scenario.attack.kind, settings: attackSettings(scenario.attack) },
    defense: defenseRecord(scenario.defense, scenario.defenseLabel),
    ...(scenario.compare?.length ? { compare: scenario.compare.map((defense) => defenseRecord(defense)) } : {}),
    generation: { maxNewTokens: scenario.maxNewTokens, sampling: { kind: 'greedy' } },
    seeds: { attack: scenario.seeds.attack, defense: scenario.seeds.defense },
    engine: { ...(lab.engineInfo ?? {}) },
  };
  const { request } = scenario;
  return {
    version: TRACE_VERSION,
    createdAt: new Date().toISOString(),
    request: {
      ...(request.id ? { id: request.id } : {}),
      ...(request.category ? { category: request.category } : {}),
      text: request.text,
      ...(request.language ? { language: request.language } : {}),
    },
    settings,
  };
}
