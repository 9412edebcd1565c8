// Engine entry: open a GPU context for a platform and load models onto it.

export type * from './api';
export { GpuContext, type GpuPlatform, type Capabilities } from './gpu';
export { loadModel, type LoadOptions } from './model';
export * from '../errors';
