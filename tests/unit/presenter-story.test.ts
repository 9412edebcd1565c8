// The presenter's story from a trace: which slides, in which order (one key press each), the words
// each slide and its speaker notes say with the trace's numbers, one step convention ("step k of N",
// step 0 the plain request) in both languages, and answers cleaned of chat tokens.

import i18next, { type TFunction } from 'i18next';
import { describe, expect, it } from 'vitest';
import { MAX_STEP_SLIDES, revealedSteps, storyFacts, storySlides } from '../../src/app/story';
import { cleanAnswer, slideWords, speakerNotes, stepOfText } from '../../src/app/story-text';
import { resources } from '../../src/i18n';
import { buildTrace, matrixOf } from '../fixtures/trace';

const uniform = (nLayer: number, nHead: number, value: number) => matrixOf(nLayer, nHead, () => value);

async function translator(lng: 'en' | 'ja'): Promise<TFunction> {
  const instance = i18next.createInstance();
  await instance.init({ lng, resources, interpolation: { escapeValue: false } });
  return instance.t.bind(instance) as TFunction;
}

const steps = [
  { mass: 0.4, verdict: 'refused' as const, defended: { mass: 0.45, verdict: 'refused' as const } },
  { mass: 0.2, verdict: 'refused' as const, defended: { mass: 0.35, verdict: 'refused' as const } },
  { mass: 0.1, verdict: 'complied' as const, defended: { mass: 0.3, verdict: 'refused' as const } },
  { mass: 0.05, verdict: 'complied' as const, defended: { mass: 0.2, verdict: 'complied' as const } },
];

const story = () =>
  buildTrace({
    nLayer: 2,
    nHead: 2,
    steps: steps.map((s) => ({ lastPrompt: uniform(2, 2, s.mass), verdict: s.verdict, defended: { lastPrompt: uniform(2, 2, s.defended.mass), verdict: s.defended.verdict } })),
  });

describe('the story\'s slides', () => {
  it('finds the first compliance and what the defense did there', () => {
    const facts = storyFacts(story());
    expect(facts.baselineVerdict).toBe('refused');
    expect(facts.firstComplied).toBe(2);
    expect(facts.attackedStep).toBe(2);
    expect(facts.attackedMass).toBeCloseTo(0.1, 12);
    expect(facts.defendedVerdict).toBe('refused');
    expect(facts.defendedMass).toBeCloseTo(0.3, 12);
    expect(facts.lastStep).toBe(3);
  });

  it('gives every step its own slide (one key press each), then the defended run, the costs and the payoff', () => {
    const slides = storySlides(story(), { costs: true });
    expect(slides.map((s) => `${s.kind}:${s.step}${s.defended ? 'd' : ''}`)).toEqual(['intro:0', 'step:0', 'step:1', 'step:2', 'step:3', 'defended:2d', 'costs:2', 'payoff:2']);
  });

  it('has no defended slide without a defense, and says so when the model never complied', async () => {
    const trace = buildTrace({ nLayer: 1, nHead: 1, steps: [{ lastPrompt: [[0.3]], verdict: 'refused' }, { lastPrompt: [[0.2]], verdict: 'refused' }] });
    const facts = storyFacts(trace);
    expect(facts.firstComplied).toBeUndefined();
    expect(facts.attackedStep).toBe(1);
    const slides = storySlides(trace);
    expect(slides.map((s) => s.kind)).toEqual(['intro', 'step', 'step', 'payoff']);
    const t = await translator('en');
    expect(slideWords(slides[3], trace, facts, t).takeaway).toBe('The model refused at every step of this attack.');
    expect(speakerNotes(slides[3], trace, facts, t, 'en').at(-1)).toBe('Close: this attack did not break the model, though its attention still moved.');
  });

  it('shows a long search at a few steps: the plain request, the first compliance and the last among them', () => {
    const trace = buildTrace({
      nLayer: 1,
      nHead: 1,
      steps: Array.from({ length: 51 }, (_, i) => ({ lastPrompt: [[0.5 - i * 0.005]], verdict: i >= 17 ? ('complied' as const) : ('refused' as const) })),
    });
    const shown = revealedSteps(trace);
    expect(shown.length).toBeLessThanOrEqual(MAX_STEP_SLIDES);
    expect(shown).toContain(0);
    expect(shown).toContain(17);
    expect(shown).toContain(50);
    expect([...shown].sort((a, b) => a - b)).toEqual(shown);
  });
});

describe('slide words and speaker notes', () => {
  it('say "step k of N" with step 0 the plain request, and the trace\'s numbers', async () => {
    const trace = story();
    const facts = storyFacts(trace);
    const slides = storySlides(trace);
    const t = await translator('en');
    const words = slides.map((slide) => slideWords(slide, trace, facts, t));
    expect(words[1]).toEqual({ headline: 'Asked plainly, the model refuses', takeaway: '40.0% of its attention is on the request when it decides how to answer.' });
    expect(words[2].headline).toBe('Step 1 of 3: attention slips, but it still refuses');
    expect(words[3]).toEqual({ headline: 'Step 2 of 3: the model gives in', takeaway: 'step 2: attention on the request 40.0% → 10.0%; the model complies.' });
    expect(words[4].headline).toBe('Step 3 of 3: it still complies');
    expect(words[5]).toEqual({ headline: 'With Attention sharpening, it refuses again', takeaway: 'Step 2 of 3: attention on the request 10.0% without the defense, 30.0% with it.' });
    expect(words[6].headline).toBe('One request, three answers');
    expect(stepOfText(trace, 0, t)).toBe('Step 0 of 3');

    expect(speakerNotes(slides[3], trace, facts, t, 'en')).toEqual([
      'Step 2 of 3: step 2.',
      'Attention on the request is 10.0%, down 30.0 points from the plain request’s 40.0%.',
      'The model complies.',
      'This is where it gives in: attention on the request fell from 40.0% to 10.0%.',
    ]);
    expect(speakerNotes(slides[4], trace, facts, t, 'en').at(-1)).toBe('Next: the same attack against the defended model.');
    expect(speakerNotes(slides[5], trace, facts, t, 'en')).toContain('With the defense, the model refuses.');
    expect(speakerNotes(slides[6], trace, facts, t, 'en')).toContain('Its output stays hidden; press R only if the room should see it.');
    expect(speakerNotes(slides[0], trace, facts, t, 'en')[1]).toBe('The attack (Template ladder) rewrites the prompt in 3 steps; step 0 is the plain request.');
  });

  it('say the same in Japanese, with every placeholder filled and no English left', async () => {
    const trace = story();
    const facts = storyFacts(trace);
    const t = await translator('ja');
    const texts = storySlides(trace).flatMap((slide) => {
      const words = slideWords(slide, trace, facts, t);
      return [words.headline, words.takeaway, ...speakerNotes(slide, trace, facts, t, 'ja')];
    });
    expect(texts).toContain('ステップ 2／全 3：モデルが応じてしまいます');
    for (const text of texts) {
      expect(text).not.toMatch(/\{\{|slides\./);
      // The fixture's model id, request and step labels are data; everything else is Japanese.
      const rest = text.replace(/fixture-model|Explain how to harm|step \d/g, '');
      expect(rest, text).not.toMatch(/[A-Za-z]{3,}/);
    }
  });

  it('name the defense with its settings in the notes, never by the internal label', async () => {
    const trace = story();
    const withLayers = { ...trace, settings: { ...trace.settings, defense: { kind: 'sharpening' as const, label: 'sharpening T=0.7 L12–23', settings: { sharpening: { temperature: 0.7, layers: [12, 23] } } } } };
    const facts = storyFacts(withLayers);
    const defended = storySlides(withLayers).find((slide) => slide.kind === 'defended')!;
    const en = speakerNotes(defended, withLayers, facts, await translator('en'), 'en');
    expect(en[0]).toBe('The defense: Attention sharpening, T = 0.7, layers 12–23.');
    const ja = speakerNotes(defended, withLayers, facts, await translator('ja'), 'ja');
    expect(ja[0]).toBe('防御：注意の鮮鋭化（T = 0.7、第12〜23層）。');
    expect([...en, ...ja].join('\n')).not.toContain('T=0.7 L12');
  });
});

describe('answers on a slide', () => {
  it('lose the chat template\'s tokens and the reasoning tags, and keep the words', () => {
    expect(cleanAnswer("<think>\n\n</think>\n\nI'm sorry, I can't help.<|im_end|>")).toBe("I'm sorry, I can't help.");
    expect(cleanAnswer('<start_of_turn>model\nSure, here is<end_of_turn>')).toBe('model Sure, here is');
    expect(cleanAnswer('plain text')).toBe('plain text');
  });
});
