// Defenses: attention sharpening, SmoothLLM and Token Highlighter.

export * from './errors';
export * from './highlighter';
export * from './sharpening';
export * from './smoothllm';
