// Analysis entry: pure functions over attention arrays, spans and responses (no GPU, no UI).

export * from './spans';
export * from './mass';
export * from './slipping';
export * from './judge';
export * from './margin';
