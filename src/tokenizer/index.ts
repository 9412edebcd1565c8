// Tokenizer entry (browser-safe): chat tokenizers from the Hub, prompt anatomy, opener tokens.
// Node code loads local directories through ./source-node.

export * from './tokenizer';
export * from './prompt';
export * from './offsets';
export * from './openers';
