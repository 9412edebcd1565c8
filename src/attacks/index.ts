// Attack trajectories: ICA k-shot, template ladder, suffix search, GCG, custom prompts, and the scenario files.

export * from './types';
export * from './scenarios';
export * from './ica';
export * from './ladder';
export * from './custom';
export * from './suffix-search';
export * from './gcg';
