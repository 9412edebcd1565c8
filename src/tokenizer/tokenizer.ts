// A model's own tokenizer and chat template, through @huggingface/transformers (imported lazily:
// it is ~540 kB of JS), behind a small interface the prompt builder and the lab use.

import type { PreTrainedTokenizer } from '@huggingface/transformers';
import { SlipLabError } from '../errors';

export type ChatRole = 'system' | 'user' | 'assistant';

export interface ChatMessage {
  readonly role: ChatRole;
  readonly content: string;
}

export interface ChatTemplateOptions {
  /** End with the tokens that open the assistant's turn (default true). */
  readonly addGenerationPrompt?: boolean;
  /**
   * Qwen3-style `enable_thinking` (default false: with it false, Qwen3's template pre-fills an
   * empty `<think>` block so the first generated token is the answer; templates without the
   * switch ignore it).
   */
  readonly enableThinking?: boolean;
}

export interface ChatTokenizer {
  /** Where it came from: a hub repo or a directory. */
  readonly source: string;
  /** Largest token id + 1, added tokens included. */
  readonly vocabSize: number;
  /** Largest id + 1 of the tokens that are not special: the model's vocabulary must be at least this. */
  readonly textVocabSize: number;
  /** Ids that end the assistant's turn (eos plus the template's end-of-turn tokens). */
  readonly stopTokenIds: readonly number[];
  readonly specialTokenIds: ReadonlySet<number>;
  /** Token ids of `text`, adding no special tokens (the chat template writes its own). */
  encode(text: string): number[];
  /** Text of `ids`, byte-exact (no clean-up of spaces), special tokens kept unless skipped. */
  decode(ids: readonly number[], options?: { readonly skipSpecialTokens?: boolean }): string;
  /** The chat template rendered as text (not tokenized). */
  applyChatTemplate(messages: readonly ChatMessage[], options?: ChatTemplateOptions): string;
  /** Id of one token string (e.g. "<|im_end|>"), if the vocabulary has it. */
  tokenId(token: string): number | undefined;
}

/** The tokenizer could not be fetched or parsed. */
export class TokenizerLoadError extends SlipLabError {}
/** The tokenizer's ids do not fit the model's vocabulary. */
export class TokenizerMismatchError extends SlipLabError {}

export const DEFAULT_HUB = 'https://huggingface.co';

/** End-of-turn tokens of the chat formats we know; only those present in a vocabulary are used. */
const END_OF_TURN_TOKENS = ['<|im_end|>', '<|eot_id|>', '<|end_of_text|>', '<end_of_turn>', '<|endoftext|>', '<eos>', '</s>', '<|end|>'];

type Transformers = typeof import('@huggingface/transformers');
let transformersModule: Promise<Transformers> | undefined;

/** The library, imported once on first use. */
export function importTransformers(): Promise<Transformers> {
  transformersModule ??= import('@huggingface/transformers');
  return transformersModule;
}

export interface HubTokenizerOptions {
  /** Base URL of the Hub or a mirror serving `/<repo>/resolve/<revision>/<file>` (default huggingface.co). */
  readonly hub?: string;
  readonly revision?: string;
  /** Node only: where downloaded files are cached (default: transformers' own cache folder). */
  readonly cacheDir?: string;
}

// transformers.js keeps its settings in one global `env`: loads that change it run one at a time.
let hubQueue: Promise<unknown> = Promise.resolve();

/** Downloads (or reads from the cache) `repo`'s tokenizer.json + tokenizer_config.json. */
export async function loadHubTokenizer(repo: string, options: HubTokenizerOptions = {}): Promise<ChatTokenizer> {
  const hub = (options.hub ?? DEFAULT_HUB).replace(/\/+$/, '');
  const { AutoTokenizer, env } = await importTransformers();
  const load = async () => {
    env.remoteHost = `${hub}/`;
    env.allowRemoteModels = true;
    // A repo name must never be looked up as a local folder (in Node that would be the library's own models/ folder).
    env.allowLocalModels = false;
    try {
      return await AutoTokenizer.from_pretrained(repo, {
        revision: options.revision ?? 'main',
        ...(options.cacheDir ? { cache_dir: options.cacheDir } : {}),
      });
    } catch (e) {
      throw new TokenizerLoadError(
        `Could not load the tokenizer of "${repo}" from ${hub} (${(e as Error).message}); check the repo name, the hub URL, and that it has tokenizer.json and tokenizer_config.json.`,
        { cause: e },
      );
    }
  };
  const result = hubQueue.then(load, load);
  hubQueue = result.catch(() => undefined);
  return wrapTokenizer(await result, repo);
}

/**
 * A tokenizer from the parsed contents of tokenizer.json and tokenizer_config.json, with the class
 * AutoTokenizer would pick (tokenizer_class without "Fast"). Never touches the network.
 */
export async function tokenizerFromJson(tokenizerJson: unknown, tokenizerConfig: unknown, source: string): Promise<ChatTokenizer> {
  const transformers = await importTransformers();
  const config = tokenizerConfig as { tokenizer_class?: string };
  const className = config.tokenizer_class?.replace(/Fast$/, '') ?? 'PreTrainedTokenizer';
  const candidate = (transformers as unknown as Record<string, unknown>)[className];
  const Class = (
    typeof candidate === 'function' && candidate.prototype instanceof transformers.PreTrainedTokenizer ? candidate : transformers.PreTrainedTokenizer
  ) as new (json: unknown, config: unknown) => PreTrainedTokenizer;
  try {
    return wrapTokenizer(new Class(tokenizerJson, tokenizerConfig), source);
  } catch (e) {
    throw new TokenizerLoadError(`The tokenizer files in ${source} could not be parsed (${(e as Error).message}).`, { cause: e });
  }
}

function wrapTokenizer(tokenizer: PreTrainedTokenizer, source: string): ChatTokenizer {
  const vocab = tokenizer.get_vocab() as Map<string, number> | Record<string, number>;
  const ids = vocab instanceof Map ? [...vocab.values()] : Object.values(vocab);
  const vocabSize = ids.reduce((a, b) => Math.max(a, b), -1) + 1;
  const tokenId = (token: string): number | undefined => {
    const id = tokenizer.convert_tokens_to_ids(token) as number | null | undefined;
    return typeof id === 'number' && id >= 0 ? id : undefined;
  };
  const specialTokenIds = new Set(tokenizer.all_special_ids);
  const addedSpecial = new Set((tokenizer as unknown as { added_tokens?: { id: number; special: boolean }[] }).added_tokens?.filter((t) => t.special).map((t) => t.id) ?? []);
  const textVocabSize = ids.filter((id) => !specialTokenIds.has(id) && !addedSpecial.has(id)).reduce((a, b) => Math.max(a, b), -1) + 1;
  const stops = new Set<number>();
  const eos = tokenizer.eos_token_id as number | null | undefined;
  if (typeof eos === 'number') stops.add(eos);
  for (const token of END_OF_TURN_TOKENS) {
    const id = tokenId(token);
    if (id !== undefined && specialTokenIds.has(id)) stops.add(id);
  }
  if (!tokenizer.chat_template)
    throw new TokenizerLoadError(`The tokenizer from ${source} has no chat template; use an instruct model's tokenizer.`);
  return {
    source,
    vocabSize,
    textVocabSize,
    stopTokenIds: [...stops],
    specialTokenIds,
    encode: (text) => (text === '' ? [] : tokenizer.encode(text, { add_special_tokens: false })),
    decode: (ids, options = {}) =>
      ids.length === 0
        ? ''
        : tokenizer.decode([...ids], { skip_special_tokens: options.skipSpecialTokens ?? false, clean_up_tokenization_spaces: false }),
    applyChatTemplate(messages, options = {}) {
      const rendered = tokenizer.apply_chat_template(messages.map((m) => ({ role: m.role, content: m.content })), {
        tokenize: false,
        add_generation_prompt: options.addGenerationPrompt ?? true,
        // Passed through to the template as a variable.
        ...{ enable_thinking: options.enableThinking ?? false },
      });
      return rendered as unknown as string;
    },
    tokenId,
  };
}

/**
 * Throws unless every token id that text and the chat template produce exists in a model with
 * `modelVocabSize` rows. Special tokens past the model's rows are allowed: Gemma 3's shared
 * tokenizer ends with `<image_soft_token>` (id 262144), which its 262 144-row text models never see.
 */
export function checkTokenizerFitsModel(tokenizer: ChatTokenizer, modelVocabSize: number): void {
  // Text tokens, the tokens the template writes (turn markers, BOS) and the stop tokens.
  const templateIds = tokenizer.encode(tokenizer.applyChatTemplate([{ role: 'user', content: 'x' }]));
  const needed = Math.max(tokenizer.textVocabSize, ...templateIds.map((id) => id + 1), ...tokenizer.stopTokenIds.map((id) => id + 1));
  if (needed > modelVocabSize)
    throw new TokenizerMismatchError(
      `The tokenizer and model do not match: the tokenizer from ${tokenizer.source} has ${needed} tokens but the model's vocabulary has only ${modelVocabSize}; pass the tokenizer of this model.`,
    );
}
