// effects.cutsTraffic (Service selectors and ports, NetworkPolicies, Pod labels, Endpoints, Ingress routes) and
// effects.weakensGuard (Countersign's namespace, CRDs, own RBAC, admission objects, APIServices, flow control),
// each with a near miss.
import { describe, expect, it } from '@jest/globals';
import type { KubeObject } from '../../../../src/kube/types.js';
import { admission, configMap, connect, create, edited, effectsOf, pod, update } from '../../../helpers/effects.js';

const NS = 'shop-prod';
const NOT_FLAGGED = { any: false, causes: [] };

describe('effects.cutsTraffic', () => {
  const service: KubeObject = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: NS, uid: 'svc-web' }, spec: { selector: { app: 'web' }, ports: [{ port: 80 }] } };

  it('flags a Service whose selector or ports change', () => {
    expect(effectsOf(update('services', service, edited(service, (s) => { s.spec = { ...(s.spec as object), selector: { app: 'nothing' } }; }))).cutsTraffic)
      .toEqual({ any: true, causes: [`changes the selector of Service ${NS}/web: the pods it reached are cut off`] });
    expect(effectsOf(update('services', service, edited(service, (s) => { s.spec = { ...(s.spec as object), ports: [{ port: 8080 }] }; }))).cutsTraffic)
      .toEqual({ any: true, causes: [`changes the ports of Service ${NS}/web`] });
  });

  it('does not flag a Service relabelled or created', () => {
    expect(effectsOf(update('services', service, edited(service, (s) => { s.metadata = { ...s.metadata, labels: { team: 'a' } }; }))).cutsTraffic).toEqual(NOT_FLAGGED);
    expect(effectsOf(create('services', service)).cutsTraffic).toEqual(NOT_FLAGGED);
  });

  it('flags a NetworkPolicy created or changed', () => {
    const policy: KubeObject = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'deny-all', namespace: NS, uid: 'np' }, spec: { podSelector: {}, policyTypes: ['Ingress'] } };
    expect(effectsOf(create('networking.k8s.io/networkpolicies', policy)).cutsTraffic)
      .toEqual({ any: true, causes: [`creates NetworkPolicy ${NS}/deny-all, which can deny traffic to the pods it selects`] });
    expect(effectsOf(update('networking.k8s.io/networkpolicies', policy, policy)).cutsTraffic.any).toBe(true);
    // Deleting one only opens traffic.
    expect(effectsOf(admission({ operation: 'DELETE', resource: 'networking.k8s.io/networkpolicies', namespace: NS, name: 'deny-all', oldObject: policy }), [policy]).cutsTraffic)
      .toEqual(NOT_FLAGGED);
  });

  it('flags a Pod relabelled, not a Pod annotated', () => {
    const p = pod(NS, 'web-1', undefined, { labels: { app: 'web' } });
    expect(effectsOf(update('pods', p, edited(p, (o) => { o.metadata = { ...o.metadata, labels: { app: 'quarantine' } }; }))).cutsTraffic.any).toBe(true);
    expect(effectsOf(update('pods', p, edited(p, (o) => { o.metadata = { ...o.metadata, annotations: { note: 'x' } }; }))).cutsTraffic).toEqual(NOT_FLAGGED);
  });

  it('flags Endpoints and EndpointSlices written by hand, and an Ingress whose routes change', () => {
    expect(effectsOf(create('endpoints', { kind: 'Endpoints', metadata: { name: 'web', namespace: NS } })).cutsTraffic.any).toBe(true);
    const slice: KubeObject = { kind: 'EndpointSlice', metadata: { name: 'web-x', namespace: NS, uid: 'eps' }, addressType: 'IPv4', endpoints: [] };
    expect(effectsOf(update('discovery.k8s.io/endpointslices', slice, slice)).cutsTraffic)
      .toEqual({ any: true, causes: [`rewrites endpointslices ${NS}/web-x by hand`] });
    // Their status or a subresource is not a rewrite of routes.
    expect(effectsOf(update('services', slice, slice, 'status')).cutsTraffic).toEqual(NOT_FLAGGED);
    const ingress: KubeObject = { kind: 'Ingress', metadata: { name: 'web', namespace: NS, uid: 'ing' }, spec: { rules: [{ host: 'shop.example' }] } };
    expect(effectsOf(update('networking.k8s.io/ingresses', ingress, edited(ingress, (i) => { i.spec = { rules: [] }; }))).cutsTraffic.any).toBe(true);
    expect(effectsOf(update('networking.k8s.io/ingresses', ingress, edited(ingress, (i) => { i.metadata = { ...i.metadata, labels: { a: 'b' } }; }))).cutsTraffic).toEqual(NOT_FLAGGED);
  });

  it('does not flag a ConfigMap change', () => {
    const cm = configMap(NS, 'flags', { a: '1' });
    expect(effectsOf(update('configmaps', cm, configMap(NS, 'flags', { a: '2' }))).cutsTraffic).toEqual(NOT_FLAGGED);
  });
});

describe('effects.weakensGuard', () => {
  it('flags anything in Countersign\'s namespace, and the namespace itself', () => {
    const cm = configMap('countersign', 'countersign-config');
    expect(effectsOf(update('configmaps', cm, configMap('countersign', 'countersign-config', { a: 'b' }))).weakensGuard)
      .toEqual({ any: true, causes: ['changes configmaps countersign-config in Countersign\'s namespace countersign'] });
    const ns: KubeObject = { kind: 'Namespace', metadata: { name: 'countersign', uid: 'ns-cs', labels: { a: 'b' } } };
    expect(effectsOf(update('namespaces', ns, edited(ns, (n) => { n.metadata = { ...n.metadata, labels: {} }; }))).weakensGuard)
      .toEqual({ any: true, causes: ['changes Countersign\'s namespace countersign'] });
    const lookalike: KubeObject = { kind: 'Namespace', metadata: { name: 'countersign-demo', uid: 'ns-demo' } };
    expect(effectsOf(update('namespaces', lookalike, edited(lookalike, (n) => { n.metadata = { ...n.metadata, labels: { a: 'b' } }; }))).weakensGuard).toEqual(NOT_FLAGGED);
    expect(effectsOf(update('configmaps', configMap('countersign-demo', 'c'), configMap('countersign-demo', 'c', { a: 'b' }))).weakensGuard).toEqual(NOT_FLAGGED);
  });

  it('flags a shell into Countersign\'s own pods (exec, attach, port-forward), not into a pod elsewhere', () => {
    for (const sub of ['exec', 'attach', 'portforward']) {
      expect(effectsOf(connect('pods', sub, 'countersign', 'countersign-7d9f-abcde')).weakensGuard)
        .toEqual({ any: true, causes: ['changes pods countersign-7d9f-abcde in Countersign\'s namespace countersign'] });
    }
    expect(effectsOf(connect('pods', 'exec', 'shop-dev', 'web-1')).weakensGuard).toEqual(NOT_FLAGGED);
  });

  it('flags Countersign\'s CRDs, not another group\'s', () => {
    const crd = (name: string): KubeObject => ({ kind: 'CustomResourceDefinition', metadata: { name, uid: `crd-${name}` }, spec: { group: name.slice(name.indexOf('.') + 1), names: { plural: name.slice(0, name.indexOf('.')) }, versions: [] } });
    expect(effectsOf(update('apiextensions.k8s.io/customresourcedefinitions', crd('approvals.countersign.dev'), crd('approvals.countersign.dev'))).weakensGuard)
      .toEqual({ any: true, causes: ['changes Countersign\'s CustomResourceDefinition approvals.countersign.dev'] });
    expect(effectsOf(update('apiextensions.k8s.io/customresourcedefinitions', crd('widgets.example.com'), crd('widgets.example.com'))).weakensGuard).toEqual(NOT_FLAGGED);
    // A look-alike group is not Countersign's.
    expect(effectsOf(update('apiextensions.k8s.io/customresourcedefinitions', crd('approvals.notcountersign.dev.example.com'), crd('approvals.notcountersign.dev.example.com'))).weakensGuard)
      .toEqual(NOT_FLAGGED);
  });

  const clusterRole = (name: string, labels: Record<string, string> = {}): KubeObject => ({
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name, uid: `cr-${name}`, labels }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }],
  });

  it('flags Countersign\'s own ClusterRole (by label) changed or deleted', () => {
    const own = clusterRole('countersign-webhook', { 'app.kubernetes.io/name': 'countersign' });
    const emptied = edited(own, (r) => { r.rules = []; });
    expect(effectsOf(update('rbac.authorization.k8s.io/clusterroles', own, emptied)).weakensGuard)
      .toEqual({ any: true, causes: ['changes Countersign\'s own clusterroles countersign-webhook'] });
    const deleted = admission({ operation: 'DELETE', resource: 'rbac.authorization.k8s.io/clusterroles', name: 'countersign-webhook', oldObject: own });
    expect(effectsOf(deleted, [own]).weakensGuard).toEqual({ any: true, causes: ['deletes Countersign\'s own clusterroles countersign-webhook'] });
    // Taking the label off is changing it too.
    expect(effectsOf(update('rbac.authorization.k8s.io/clusterroles', own, clusterRole('countersign-webhook'))).weakensGuard.any).toBe(true);
  });

  it('flags a binding that names Countersign\'s ServiceAccount', () => {
    const binding = (namespace: string): KubeObject => ({
      kind: 'ClusterRoleBinding', metadata: { name: 'b', uid: `crb-${namespace}` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' }, subjects: [{ kind: 'ServiceAccount', name: 'countersign', namespace }],
    });
    const unbound = edited(binding('countersign'), (b) => { b.subjects = []; });
    expect(effectsOf(update('rbac.authorization.k8s.io/clusterrolebindings', binding('countersign'), unbound)).weakensGuard)
      .toEqual({ any: true, causes: ['changes Countersign\'s own clusterrolebindings b'] });
    expect(effectsOf(update('rbac.authorization.k8s.io/clusterrolebindings', binding('shop-dev'), edited(binding('shop-dev'), (b) => { b.subjects = []; }))).weakensGuard)
      .toEqual(NOT_FLAGGED);
  });

  it('does not flag an unrelated ClusterRole changed, nor a new ClusterRole carrying the label', () => {
    const other = clusterRole('shop-reader');
    expect(effectsOf(update('rbac.authorization.k8s.io/clusterroles', other, edited(other, (r) => { r.rules = []; }))).weakensGuard).toEqual(NOT_FLAGGED);
    expect(effectsOf(create('rbac.authorization.k8s.io/clusterroles', clusterRole('extra', { 'app.kubernetes.io/name': 'countersign' }))).weakensGuard).toEqual(NOT_FLAGGED);
  });

  it('flags admission webhooks and policies, APIServices and flow control', () => {
    const object = (name: string): KubeObject => ({ metadata: { name, uid: name } });
    const cases: [string, string][] = [
      ['admissionregistration.k8s.io/validatingwebhookconfigurations', 'changes admission configuration validatingwebhookconfigurations countersign'],
      ['admissionregistration.k8s.io/validatingadmissionpolicies', 'changes admission configuration validatingadmissionpolicies countersign'],
      ['apiregistration.k8s.io/apiservices', 'changes APIService countersign, which reroutes an API group past admission'],
      ['flowcontrol.apiserver.k8s.io/prioritylevelconfigurations', 'changes API priority and fairness (prioritylevelconfigurations countersign), which can starve Countersign\'s API calls'],
    ];
    for (const [resource, cause] of cases) {
      expect(effectsOf(update(resource, object('countersign'), object('countersign'))).weakensGuard).toEqual({ any: true, causes: [cause] });
      expect(effectsOf(create(resource, object('countersign'))).weakensGuard.any).toBe(true);
    }
  });

  it('does not flag ordinary objects elsewhere', () => {
    expect(effectsOf(update('configmaps', configMap(NS, 'c'), configMap(NS, 'c', { a: 'b' }))).weakensGuard).toEqual(NOT_FLAGGED);
    expect(effectsOf(create('pods', pod('shop-dev', 'p'))).weakensGuard).toEqual(NOT_FLAGGED);
  });
});
