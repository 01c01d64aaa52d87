// The CEL environment rules are compiled in: ValidatingAdmissionPolicy's variable names, so admins' existing
// expressions carry over, plus Countersign's own.
import { Environment } from '@marcbachmann/cel-js';
import './guards.js';
import { registerAgentType } from './agent.js';
import { registerKubernetesLibraries } from './k8s/index.js';

export const VARIABLES = {
  request: 'dyn',
  object: 'dyn',
  oldObject: 'dyn',
  namespaceObject: 'dyn',
  params: 'dyn',
  environment: 'string',
  agent: 'countersign.Agent',
  countersign: 'dyn',
  blastRadius: 'dyn',
  effects: 'dyn',
} as const;

export type CelVariables = { [K in keyof typeof VARIABLES]: unknown };
export type CelVariable = keyof typeof VARIABLES;
export const CEL_VARIABLE_NAMES = Object.keys(VARIABLES) as CelVariable[];

export function createCelEnvironment(): Environment {
  const env = new Environment({
    enableOptionalTypes: true,
    homogeneousAggregateLiterals: false,
    // Parse-time limits: a policy cannot smuggle in a huge literal or a pathological nesting depth.
    limits: { maxAstNodes: 2000, maxDepth: 64, maxListElements: 1000, maxMapEntries: 1000, maxCallArguments: 32 },
  });
  registerAgentType(env);
  for (const [name, type] of Object.entries(VARIABLES)) env.registerVariable(name, type);
  registerKubernetesLibraries(env);
  return env;
}
