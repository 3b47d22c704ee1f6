// The objects `kubewasm install` applies, as typed values. Pure: the same
// options give the same objects; `kubewasm manifests` prints them as YAML and
// manifests/ is generated from it.
import type {
  KubernetesObject,
  V1ClusterRole,
  V1ClusterRoleBinding,
  V1DaemonSet,
  V1Namespace,
  V1RuntimeClass,
  V1ServiceAccount,
  V1ValidatingAdmissionPolicy,
  V1ValidatingAdmissionPolicyBinding,
} from '@kubernetes/client-node';
import { dumpYaml } from '@kubernetes/client-node';
import type { ShimInfo } from '../shims/catalog.js';
import {
  DEFAULT_INSTALLER_IMAGE,
  DESIRED_ANNOTATION,
  desiredDigest,
  ENV,
  INSTALLER,
  installerUser,
  MANAGED_BY,
  MANAGED_LABEL,
  NAMESPACE,
  OPT_IN_LABEL,
  OPT_IN_VALUE,
  OWN_KEY_PREFIX,
  OWN_NODE_POLICY,
  PART_OF,
  readyLabel,
  READY_LABEL_PREFIX,
  READY_VALUE,
  runtimeClassesFor,
  SHIM_LABEL,
} from './names.js';

export { DEFAULT_INSTALLER_IMAGE, ENV } from './names.js';
/** The installer's readiness endpoint (GET /readyz). */
export const PROBE_PORT = 8467;
/** How often the kubelet asks it: readiness follows the node's real state within this (one failure is enough). */
export const PROBE_PERIOD_SECONDS = 2;
/** The user-info extra key carrying the node name claim of bound service account tokens (Kubernetes >= 1.32). */
export const NODE_NAME_EXTRA = 'authentication.kubernetes.io/node-name';

export interface ManifestOptions {
  /** Where the installer runs (default kubewasm-system). */
  namespace?: string | undefined;
  image: string;
  shims: readonly ShimInfo[];
  /** Where the shims go on the node (default: containerd's PATH). */
  installDir?: string | undefined;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /** How many nodes may converge (restart containerd) at once during a rolling update of the installer. */
  maxUnavailable?: number;
  /** Secrets (in the namespace) the kubelet pulls the image with, for a private registry. */
  imagePullSecrets?: readonly string[] | undefined;
}


const selectorLabels = { 'app.kubernetes.io/name': INSTALLER };
const labels = (extra: Record<string, string> = {}) => ({ ...MANAGED_BY, ...PART_OF, ...extra });

export function namespace(name: string = NAMESPACE): V1Namespace {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name,
      // The installer is privileged (hostPID, the host's / mounted): Pod Security must allow it here.
      labels: labels({ 'pod-security.kubernetes.io/enforce': 'privileged', 'pod-security.kubernetes.io/warn': 'privileged' }),
    },
  };
}

export function serviceAccount(ns: string = NAMESPACE): V1ServiceAccount {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: INSTALLER, namespace: ns, labels: labels() } };
}

/**
 * Read and patch Nodes (the policy below narrows "patch" to its own Node's
 * kubewasm keys), and record Events about its Node (converge, drift,
 * conflict, reset, failures; `kubectl describe node` shows them).
 */
export function clusterRole(): V1ClusterRole {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: INSTALLER, labels: labels() },
    rules: [
      { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch', 'patch'] },
      { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
    ],
  };
}

export function clusterRoleBinding(ns: string = NAMESPACE): V1ClusterRoleBinding {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: INSTALLER, labels: labels() },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: INSTALLER },
    subjects: [{ kind: 'ServiceAccount', name: INSTALLER, namespace: ns }],
  };
}

// CEL: a label/annotation key the installer may write. Never the opt-in label: only the user sets that.
const ownKey = (k: string) => `(${k}.startsWith('${READY_LABEL_PREFIX}') || (${k}.startsWith('${OWN_KEY_PREFIX}') && ${k} != '${OPT_IN_LABEL}'))`;
const onlyOwnKeysChange = (v: string) =>
  `variables.new${v}.all(k, ${ownKey('k')} || (k in variables.old${v} && variables.old${v}[k] == variables.new${v}[k])) && ` +
  `variables.old${v}.all(k, ${ownKey('k')} || k in variables.new${v})`;

/**
 * "The installer patches only its own Node", enforced by the API server: a
 * request from the installer's service account must carry a token bound to a
 * pod on the Node it changes (the `authentication.kubernetes.io/node-name`
 * extra that Kubernetes >= 1.32 puts into pod-bound tokens), and may change
 * only kubewasm's labels and annotations there.
 */
export function ownNodePolicy(ns: string = NAMESPACE): V1ValidatingAdmissionPolicy {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name: OWN_NODE_POLICY, labels: labels() },
    spec: {
      failurePolicy: 'Fail',
      matchConstraints: {
        resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['UPDATE'], resources: ['nodes', 'nodes/status'] }],
      },
      matchConditions: [{ name: 'is-node-installer', expression: `request.userInfo.username == '${installerUser(ns)}'` }],
      variables: [
        {
          name: 'tokenNode',
          expression: `has(request.userInfo.extra) && '${NODE_NAME_EXTRA}' in request.userInfo.extra ? request.userInfo.extra['${NODE_NAME_EXTRA}'] : []`,
        },
        { name: 'newLabels', expression: 'object.metadata.?labels.orValue({})' },
        { name: 'oldLabels', expression: 'oldObject.metadata.?labels.orValue({})' },
        { name: 'newAnnotations', expression: 'object.metadata.?annotations.orValue({})' },
        { name: 'oldAnnotations', expression: 'oldObject.metadata.?annotations.orValue({})' },
      ],
      validations: [
        {
          expression: `variables.tokenNode.size() == 1 && variables.tokenNode[0] == oldObject.metadata.name`,
          messageExpression: `'the kubewasm node installer may change only the Node its pod runs on (' + (variables.tokenNode.size() == 1 ? variables.tokenNode[0] : 'no node in its token') + '), not ' + oldObject.metadata.name`,
          reason: 'Forbidden',
        },
        { expression: onlyOwnKeysChange('Labels'), message: `the kubewasm node installer may change only ${OWN_KEY_PREFIX} and ${READY_LABEL_PREFIX} labels (never ${OPT_IN_LABEL})`, reason: 'Forbidden' },
        { expression: onlyOwnKeysChange('Annotations'), message: `the kubewasm node installer may change only ${OWN_KEY_PREFIX} annotations`, reason: 'Forbidden' },
        { expression: 'object.spec == oldObject.spec', message: "the kubewasm node installer may not change a Node's spec", reason: 'Forbidden' },
      ],
    },
  };
}

export function ownNodePolicyBinding(): V1ValidatingAdmissionPolicyBinding {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicyBinding',
    metadata: { name: OWN_NODE_POLICY, labels: labels() },
    spec: { policyName: OWN_NODE_POLICY, validationActions: ['Deny'] },
  };
}

export function daemonSet(options: ManifestOptions): V1DaemonSet {
  const shimList = options.shims.map((s) => s.name).join(',');
  const digest = desiredDigest({ image: options.image, shims: options.shims.map((s) => s.name), installDir: options.installDir });
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: INSTALLER, namespace: options.namespace ?? NAMESPACE, labels: labels(selectorLabels) },
    spec: {
      selector: { matchLabels: selectorLabels },
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: options.maxUnavailable ?? 1 } },
      template: {
        metadata: { labels: labels(selectorLabels), annotations: { [DESIRED_ANNOTATION]: digest } },
        spec: {
          serviceAccountName: INSTALLER,
          ...(options.imagePullSecrets?.length ? { imagePullSecrets: options.imagePullSecrets.map((name) => ({ name })) } : {}),
          hostPID: true,
          // Runs only where asked: opted-in nodes, and nodes it has not finished cleaning yet.
          affinity: {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [
                  { matchExpressions: [{ key: OPT_IN_LABEL, operator: 'In', values: [OPT_IN_VALUE] }] },
                  { matchExpressions: [{ key: MANAGED_LABEL, operator: 'Exists' }] },
                ],
              },
            },
          },
          // A node the user opted in gets its shims whatever its taints.
          tolerations: [{ operator: 'Exists' }],
          // Time to finish a containerd restart (and its rollback) when the pod is stopped.
          terminationGracePeriodSeconds: 180,
          containers: [
            {
              name: 'installer',
              image: options.image,
              imagePullPolicy: options.imagePullPolicy ?? 'IfNotPresent',
              securityContext: { privileged: true },
              env: [
                { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
                { name: 'KUBEWASM_SHIMS', value: shimList },
                { name: 'KUBEWASM_IMAGE', value: options.image },
                ...(options.installDir ? [{ name: 'KUBEWASM_INSTALL_DIR', value: options.installDir }] : []),
              ],
              ports: [{ name: 'probe', containerPort: PROBE_PORT, protocol: 'TCP' }],
              readinessProbe: { httpGet: { path: '/readyz', port: 'probe' }, periodSeconds: PROBE_PERIOD_SECONDS, failureThreshold: 1 },
              resources: { requests: { cpu: '10m', memory: '64Mi' }, limits: { memory: '512Mi' } },
              volumeMounts: [{ name: 'host', mountPath: '/host' }],
            },
          ],
          volumes: [{ name: 'host', hostPath: { path: '/', type: 'Directory' } }],
        },
      },
    },
  };
}

export function runtimeClasses(shims: readonly ShimInfo[]): V1RuntimeClass[] {
  return runtimeClassesFor(shims).map((rc) => ({
    apiVersion: 'node.k8s.io/v1',
    kind: 'RuntimeClass',
    metadata: { name: rc.name, labels: labels({ [SHIM_LABEL]: rc.shim }) },
    handler: rc.handler,
    // Wasm pods land only on nodes where this shim is installed and containerd is healthy with it.
    scheduling: { nodeSelector: { [readyLabel(rc.shim)]: READY_VALUE } },
  }));
}

/** Everything `install` applies, in apply order (namespace first; the DaemonSet after its RBAC and policy). */
export function installObjects(options: ManifestOptions): KubernetesObject[] {
  const ns = options.namespace ?? NAMESPACE;
  return [
    namespace(ns),
    serviceAccount(ns),
    clusterRole(),
    clusterRoleBinding(ns),
    ownNodePolicy(ns),
    ownNodePolicyBinding(),
    daemonSet(options),
    ...runtimeClasses(options.shims),
  ];
}

/** A multi-document YAML stream. */
export function toYaml(objects: readonly KubernetesObject[], header?: string): string {
  const docs = objects.map((o) => dumpYaml(o, { noRefs: true, lineWidth: -1, sortKeys: false }).trimEnd());
  return `${header ? `${header.trimEnd()}\n` : ''}${docs.map((d) => `---\n${d}\n`).join('')}`;
}

/** "Kind/name" or "Kind namespace/name", for messages. */
export function describeObject(o: KubernetesObject): string {
  return `${o.kind ?? '?'} ${o.metadata?.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata?.name ?? '?'}`;
}

/** The YAML `kubewasm manifests` prints (and manifests/ holds), with a header naming the command that made it. */
export function renderManifests(options: ManifestOptions): string {
  const args = [
    `--shims ${options.shims.map((s) => s.name).join(',')}`,
    ...(options.image !== DEFAULT_INSTALLER_IMAGE ? [`--image ${options.image}`] : []),
    ...(options.installDir ? [`--install-dir ${options.installDir}`] : []),
    ...(options.namespace && options.namespace !== NAMESPACE ? [`-n ${options.namespace}`] : []),
  ];
  const header = `# kubewasm: the node installer (DaemonSet, RBAC, own-node admission policy) and RuntimeClasses.
# Generated by \`kubewasm manifests ${args.join(' ')}\`; do not edit by hand.
# Opt nodes in with: kubectl label node NODE ${OPT_IN_LABEL}=${OPT_IN_VALUE}
# The image must be reachable by the nodes: push the archive kubewasm builds, or load it (kubewasm install does).`;
  return toYaml(installObjects(options), header);
}
