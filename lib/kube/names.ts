// Every name kubewasm writes into a cluster, in one place (DESIGN.md "Names
// and labels"). Labels and annotations on Nodes are the contract between the
// CLI and the node installer: the installer writes them, `install`, `status`
// and `uninstall` read them.
import { createHash } from 'node:crypto';
import type { ShimInfo, ShimName } from '../shims/catalog.js';

/** The default namespace of the installer (`-n` chooses another). */
export const NAMESPACE = 'kubewasm-system';
/** The field manager of every server-side apply and patch kubewasm makes. */
export const FIELD_MANAGER = 'kubewasm';
/** DaemonSet, ServiceAccount, ClusterRole(Binding) of the node installer. */
export const INSTALLER = 'kubewasm-node-installer';
/** The ValidatingAdmissionPolicy (and its binding) that keeps the installer on its own Node. */
export const OWN_NODE_POLICY = 'kubewasm-node-installer-own-node';
export function installerUser(namespace: string = NAMESPACE): string {
  return `system:serviceaccount:${namespace}:${INSTALLER}`;
}

/** The installer image `kubewasm manifests` names (install builds and tags its own). */
export const DEFAULT_INSTALLER_IMAGE = 'kubewasm.io/node-installer:0.1.0';

/** The installer's environment variables (set by the DaemonSet, read by cmd/node-installer.ts). */
export const ENV = {
  nodeName: 'NODE_NAME',
  shims: 'KUBEWASM_SHIMS',
  image: 'KUBEWASM_IMAGE',
  installDir: 'KUBEWASM_INSTALL_DIR',
} as const;

/** The apiVersion of kubewasm's own documents (status -o json|yaml, cluster create -o json). */
export const API_VERSION = 'kubewasm.io/v1alpha1';
/** On each RuntimeClass: the shim whose ready label schedules it. */
export const SHIM_LABEL = 'kubewasm.io/shim';
/** On the pod template: desiredDigest() of the spec, the same the nodes report in ANNOTATIONS.desired. */
export const DESIRED_ANNOTATION = 'kubewasm.io/desired';
/** On verify's and the bench's pods. */
export const VERIFY_LABEL = 'kubewasm.io/verify';
/** Label and annotation keys that are kubewasm's (the admission policy lets the installer change only these). */
export const OWN_KEY_PREFIX = 'kubewasm.io/';

/** The reportingComponent of the Events the node installer writes. */
export const REPORTING_COMPONENT = `${OWN_KEY_PREFIX}${INSTALLER}`;

/** On every object kubewasm creates. */
export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'kubewasm' } as const;
export const PART_OF = { 'app.kubernetes.io/part-of': 'kubewasm' } as const;

// ---- Node labels ----

/** Set by the user (`kubewasm label`): this node should run Wasm. */
export const OPT_IN_LABEL = 'kubewasm.io/enabled';
export const OPT_IN_VALUE = 'true';
/**
 * Set by the node installer before it changes anything on the node and removed
 * after the node was reset: "kubewasm may have files here". The DaemonSet runs
 * on nodes with the opt-in label OR this one, so removing the opt-in label
 * leaves the installer pod running until it has cleaned the node.
 */
export const MANAGED_LABEL = 'kubewasm.io/managed';
/** Per shim, set only while containerd on the node is healthy with that runtime. */
export const READY_LABEL_PREFIX = 'runtime.kubewasm.io/';
export const READY_VALUE = 'ready';

export function readyLabel(shim: ShimName | string): string {
  return `${READY_LABEL_PREFIX}${shim}`;
}

// ---- Node annotations (written by the node installer only) ----

export const ANNOTATIONS = {
  /** Converging | Ready | Drifted | Conflict | Failed | Resetting (removed, with all the others, once the node is reset). */
  state: 'kubewasm.io/state',
  /** desiredDigest() of the spec the node last converged to (or is converging to). */
  desired: DESIRED_ANNOTATION,
  /** JSON: [{ "name", "version", "sha256", "runtime" }] of the shims installed. */
  shims: 'kubewasm.io/shims',
  /** "sha256:<hex>" of the containerd config file after the last converge. */
  configDigest: 'kubewasm.io/config-digest',
  /** "<containerd version> config v<N> <path>". */
  containerd: 'kubewasm.io/containerd',
  /** The last failure's message (what; where; fix), cleared on success. */
  lastError: 'kubewasm.io/last-error',
  /** RFC 3339 time of that failure. */
  lastErrorTime: 'kubewasm.io/last-error-time',
  /** RFC 3339 time of the last successful converge or check. */
  updated: 'kubewasm.io/updated',
  /** "sha256:<hex>" of kubewasm's block as the installer last wrote or found it: a block that differs from it and from what kubewasm would write was edited by hand. */
  blockDigest: 'kubewasm.io/block-digest',
} as const;

/** Drifted: the node stopped matching (files or containerd changed under kubewasm); Conflict: a user's own change kubewasm leaves alone. */
export type NodeState = 'Converging' | 'Ready' | 'Drifted' | 'Conflict' | 'Failed' | 'Resetting';

// ---- RuntimeClasses ----

export interface RuntimeClassSpec {
  name: string;
  handler: string;
  /** The shim whose ready label schedules it. */
  shim: ShimName;
}

/** name = handler = runtime name; spin also gets spin-operator's default `wasmtime-spin-v2`. */
export function runtimeClassesFor(shims: readonly ShimInfo[]): RuntimeClassSpec[] {
  const classes: RuntimeClassSpec[] = [];
  for (const shim of shims) {
    classes.push({ name: shim.runtimeName, handler: shim.runtimeName, shim: shim.name });
    if (shim.name === 'spin') classes.push({ name: 'wasmtime-spin-v2', handler: shim.runtimeName, shim: shim.name });
  }
  return classes;
}


// ---- The desired spec of a node ----

export interface DesiredSpec {
  /** The installer image: it carries the shim binaries. */
  image: string;
  /** Shim names, as in KUBEWASM_SHIMS. */
  shims: readonly string[];
  /** Where the shim binaries go on the node; empty = containerd's PATH. */
  installDir?: string | undefined;
}

/**
 * A short digest of what a node is asked to be. The installer records it in
 * the `kubewasm.io/desired` annotation; `install` computes it from the same
 * DaemonSet it applied and waits until every node reports it as Ready.
 */
export function desiredDigest(spec: DesiredSpec): string {
  const canonical = JSON.stringify({ image: spec.image, shims: [...new Set(spec.shims)].sort(), installDir: spec.installDir ?? '' });
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}
