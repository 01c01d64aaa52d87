// Kubernetes' CEL extension libraries, so ValidatingAdmissionPolicy expressions compile and run unchanged.
// Hand-written: no JavaScript CEL library ships them; each follows the Go implementation, checked by the corpus test.
import type { Environment } from '@marcbachmann/cel-js';
import { registerListsLibrary } from './lists.js';
import { registerOptionalEquality } from './optional.js';
import { registerQuantityLibrary } from './quantity-library.js';
import { registerRegexLibrary } from './regex.js';
import { registerStringsLibrary } from './strings.js';
import { registerUrlLibrary } from './url.js';

export function registerKubernetesLibraries(env: Environment): void {
  registerQuantityLibrary(env);
  registerStringsLibrary(env);
  registerListsLibrary(env);
  registerRegexLibrary(env);
  registerUrlLibrary(env);
  registerOptionalEquality(env);
}
