// Typed errors every layer shares (GGUF reading, download, engine, lab, CLI, app): each says in
// one sentence what went wrong and what to do next. Below every folder of src/, so none imports up.

export class SlipLabError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The bytes are not a GGUF file (wrong magic or unknown version). */
export class NotGgufError extends SlipLabError {}
/** The file ends before the data its header promises. */
export class TruncatedGgufError extends SlipLabError {}
/**
 * The header contradicts itself or the format: overlapping or misaligned tensors, sizes that do
 * not match their type and shape, shapes that disagree with the hyper-parameters, impossible values.
 */
export class CorruptGgufError extends SlipLabError {}
/** A forward pass produced NaN or infinity: the weights are corrupt (or the settings extreme). */
export class NonFiniteOutputError extends SlipLabError {}
export class UnsupportedArchitectureError extends SlipLabError {}
export class UnsupportedWeightTypeError extends SlipLabError {}
/** A tensor or the whole model is larger than the adapter allows. */
export class DeviceLimitError extends SlipLabError {}
export class NoWebGPUError extends SlipLabError {}
export class DeviceLostError extends SlipLabError {}
export class DownloadError extends SlipLabError {}
/** Arguments to the engine that cannot be honoured (e.g. prompt longer than the context). */
export class EngineInputError extends SlipLabError {}
/** WebGPU rejected a command we issued: an engine bug, never the user's fault. */
export class GpuValidationError extends SlipLabError {}
