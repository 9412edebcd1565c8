// How far llama.cpp's own activation rounding moves its answers: for every fixture and quantized
// weight type, the total-variation distance between llama.cpp on the quantized file and llama.cpp
// on its F32-decoded twin (the same weights, no activation rounding), over 16 teacher-forced steps.
// tests/unit/model-llamacpp.test.ts sets its direct-comparison limit above what this prints.
// Run: npx tsx bench/llamacpp-spread.ts [preset]

import { presets, presetWeightTypes, randomModel, randomModelDequantized, type PresetName } from '../tests/fixtures/models';
import { disposeLlamaOracle, llamaNextTokenDistributions } from '../tests/oracle/llamacpp';
import { randomTokens } from '../tests/support/model';

const STEPS = 16;
const rows: string[] = [];
let worst = 0;
const only = process.argv[2];
for (const name of (Object.keys(presets) as PresetName[]).filter((n) => !only || n === only)) {
  for (const weightType of presetWeightTypes(name)) {
    if (weightType === 'F32') continue;
    const spec = { ...presets[name], weightType };
    const tokens = randomTokens(STEPS, spec.vocabSize, 1000 + name.length);
    const quantized = await llamaNextTokenDistributions(await randomModel(spec), tokens);
    const twin = await llamaNextTokenDistributions(await randomModelDequantized(spec), tokens);
    let spread = 0;
    for (let step = 0; step < STEPS; step++) {
      let tv = 0;
      for (let i = 0; i < twin[step].length; i++) tv += Math.abs(quantized[step][i] - twin[step][i]);
      spread = Math.max(spread, tv / 2);
    }
    worst = Math.max(worst, spread);
    rows.push(`${name.padEnd(12)} ${weightType.padEnd(5)} worst TV ${spread.toFixed(5)}`);
    console.log(rows.at(-1));
  }
}
console.log(`worst over all fixtures: ${worst.toFixed(5)}`);
await disposeLlamaOracle();
