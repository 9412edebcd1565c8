// The defense error: a setting that cannot be applied, said in one sentence with what to change.

import { SlipLabError } from '../errors';

export class DefenseConfigError extends SlipLabError {}
