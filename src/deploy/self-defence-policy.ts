// Self-defence: webhook configurations and admission policies are never sent to webhooks, so an agent that may
// edit them could switch Countersign off. ValidatingAdmissionPolicies run inside the apiserver and do see them.
// These policies deny agents (the same matchConditions expression as the webhook) any change to Countersign's own
// CRDs, to any admission webhook configuration, to anything in its namespace, and to the environment label.
import { OWNER_ANNOTATION } from '../approvals/types.js';
import type { Config } from '../config/schema.js';
import { agentMatchExpression, celString, protectedNamespaces } from './webhook-configuration.js';

const API = 'admissionregistration.k8s.io/v1';
/** The apiserver reserves this suffix for policies loaded from its static manifest directory. */
export const STATIC_SUFFIX = '.static.k8s.io';

/**
 * `api`: objects to apply through the API (an agent allowed to write admission policies can delete them).
 * `static`: files for the apiserver's staticManifestsDir, which no API call can change or delete, and which (unlike
 * API-managed policies) are evaluated on writes to admission policies, bindings and webhook configurations.
 */
export type SelfDefenceForm = 'api' | 'static';
const WRITE = ['CREATE', 'UPDATE', 'DELETE'];

interface PolicySpec {
  name: string;
  /** Matches every requester, not only agents: only for checks that can never stand in anyone's normal way. */
  everyone?: boolean;
  matchConstraints: Record<string, unknown>;
  validations: { expression: string; messageExpression: string; reason: string }[];
}

function policy(config: Config, form: SelfDefenceForm, spec: PolicySpec): Record<string, unknown>[] {
  // A static policy cannot be removed by anyone short of the control plane's operator: it must never match humans
  // or controllers, so checks for everyone stay API-managed (the static guard keeps agents from deleting them).
  if (form === 'static' && spec.everyone === true) return [];
  const name = form === 'static' ? `${spec.name}${STATIC_SUFFIX}` : spec.name;
  return [
    {
      apiVersion: API,
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name, labels: { 'app.kubernetes.io/name': 'countersign' } },
      spec: {
        // An error in the check refuses the agent; nobody else is matched (matchConditions), so nobody else can be.
        failurePolicy: 'Fail',
        matchConstraints: spec.matchConstraints,
        ...(spec.everyone === true ? {} : { matchConditions: [{ name: 'agents-only', expression: agentMatchExpression(config.agents) }] }),
        validations: spec.validations,
      },
    },
    {
      apiVersion: API,
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name, labels: { 'app.kubernetes.io/name': 'countersign' } },
      spec: { policyName: name, validationActions: ['Deny'] },
    },
  ];
}

/** Only a static policy sees these writes: API-managed policies skip admission objects to avoid a circular guard. */
function admissionObjectsPolicy(): PolicySpec {
  return {
    name: 'countersign-admission-policies',
    matchConstraints: {
      resourceRules: [{
        apiGroups: ['admissionregistration.k8s.io'], apiVersions: ['*'], operations: WRITE,
        resources: [
          'validatingadmissionpolicies', 'validatingadmissionpolicies/status', 'validatingadmissionpolicybindings',
          'mutatingadmissionpolicies', 'mutatingadmissionpolicybindings',
          'validatingwebhookconfigurations', 'mutatingwebhookconfigurations',
        ],
      }],
    },
    validations: [{
      // Any of them, not only Countersign's: deleting ours removes the guard, and an agent's own deny-everything
      // policy or failing webhook would lock everyone out.
      expression: 'false',
      messageExpression: "'agents may not create, change or delete admission policies, their bindings or webhook configurations (' + request.resource.resource + ' ' + request.name + ')'",
      reason: 'Forbidden',
    }],
  };
}

export function selfDefencePolicies(config: Config, form: SelfDefenceForm = 'api'): Record<string, unknown> {
  const label = config.environments.label;
  const labelOf = (object: string): string => `${object}.metadata.?labels[?${celString(label)}].orValue('')`;
  const ownerOf = (object: string): string => `${object}.metadata.?annotations[?${celString(OWNER_ANNOTATION)}].orValue('')`;
  const items = [
    ...policy(config, form, {
      name: 'countersign-admission-webhooks',
      matchConstraints: {
        resourceRules: [
          {
            apiGroups: ['admissionregistration.k8s.io'], apiVersions: ['*'], operations: WRITE,
            // Admission policies and their bindings are exempt from admission policies (checked against the real
            // apiserver: an agent deleted one): only RBAC can keep agents from writing them.
            resources: ['validatingwebhookconfigurations', 'mutatingwebhookconfigurations'],
          },
          { apiGroups: ['apiextensions.k8s.io'], apiVersions: ['*'], operations: WRITE, resources: ['customresourcedefinitions', 'customresourcedefinitions/status'] },
          // An APIService reroutes a whole API group (Countersign's own included) to a server of the agent's choosing.
          { apiGroups: ['apiregistration.k8s.io'], apiVersions: ['*'], operations: WRITE, resources: ['apiservices', 'apiservices/status'] },
        ],
      },
      validations: [
        {
          // Any webhook configuration, not only Countersign's: a mutating webhook of an agent's could rewrite a
          // human's Approval on its way in, and a failing validating one could lock everyone out.
          expression: "!(request.resource.resource.endsWith('webhookconfigurations') || request.resource.resource == 'apiservices')",
          messageExpression: "'agents may not create, change or delete admission webhooks or API services (' + request.resource.resource + ' ' + request.name + ')'",
          reason: 'Forbidden',
        },
        {
          expression: "!request.name.endsWith('.countersign.dev')",
          messageExpression: "'agents may not change Countersign\\'s CustomResourceDefinitions (' + request.name + ')'",
          reason: 'Forbidden',
        },
      ],
    }),
    ...policy(config, form, {
      name: 'countersign-protected-namespaces',
      matchConstraints: {
        // Countersign's namespace and the system's: the webhook is never called there, this refuses agents instead.
        // The Namespaces themselves match on their own labels; a namespaceSelector never skips other
        // cluster-scoped objects, hence the scopes (without them this would deny agents every cluster-scoped write).
        namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: protectedNamespaces(config) }] },
        resourceRules: [
          { apiGroups: ['*'], apiVersions: ['*'], operations: [...WRITE, 'CONNECT'], resources: ['*/*'], scope: 'Namespaced' },
          { apiGroups: [''], apiVersions: ['*'], operations: WRITE, resources: ['namespaces', 'namespaces/*'], scope: 'Cluster' },
        ],
      },
      validations: [{
        expression: 'false',
        messageExpression: "'agents may not touch anything in namespace ' + (request.namespace != '' ? request.namespace : request.name) + ', kept for the system and Countersign (' + request.resource.resource + ')'",
        reason: 'Forbidden',
      }],
    }),
    ...policy(config, form, {
      name: 'countersign-environment-label',
      matchConstraints: {
        resourceRules: [{ apiGroups: [''], apiVersions: ['*'], operations: ['UPDATE'], resources: ['namespaces', 'namespaces/status', 'namespaces/finalize'] }],
      },
      validations: [{
        expression: `${labelOf('object')} == ${labelOf('oldObject')}`,
        messageExpression: `'agents may not change the ' + ${celString(label)} + ' label of namespace ' + request.name`,
        reason: 'Forbidden',
      }],
    }),
    ...policy(config, form, {
      name: 'countersign-agent-owner',
      // Everyone: an owner who could remove the annotation could then approve their own agent's requests.
      everyone: true,
      matchConstraints: {
        resourceRules: [{ apiGroups: [''], apiVersions: ['*'], operations: ['UPDATE'], resources: ['serviceaccounts'] }],
      },
      validations: [{
        expression: `${ownerOf('oldObject')} == '' || ${ownerOf('object')} == ${ownerOf('oldObject')}`,
        messageExpression: `'the owner recorded on ServiceAccount ' + request.namespace + '/' + request.name + ' cannot be changed or removed (' + ${celString(OWNER_ANNOTATION)} + ')'`,
        reason: 'Forbidden',
      }],
    }),
    ...(form === 'static' ? policy(config, form, admissionObjectsPolicy()) : []),
  ];
  return { apiVersion: 'v1', kind: 'List', items };
}

/** The AdmissionConfiguration that loads `dir` (absolute) as the ValidatingAdmissionPolicy plugin's static manifests. */
export function staticAdmissionConfiguration(dir: string): Record<string, unknown> {
  return {
    apiVersion: 'apiserver.config.k8s.io/v1',
    kind: 'AdmissionConfiguration',
    plugins: [{
      name: 'ValidatingAdmissionPolicy',
      configuration: { apiVersion: 'apiserver.config.k8s.io/v1', kind: 'ValidatingAdmissionPolicyConfiguration', staticManifestsDir: dir },
    }],
  };
}
