// Defenses: attention sharpening and SmoothLLM (Token Highlighter comes later).

export * from './errors';
export * from './sharpening';
export * from './smoothllm';
