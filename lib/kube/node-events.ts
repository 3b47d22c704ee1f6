// Kubernetes Events on the installer's own Node (converge, drift, conflict,
// reset, failures), where `kubectl describe node` shows them. Like the
// kubelet's node events: core/v1 Events in the `default` namespace whose
// involvedObject carries the node's name as its uid (kubectl describe node
// searches by that). The same event again within a while bumps the count of
// the last one instead of adding another.
import { randomBytes } from 'node:crypto';
import { PatchStrategy, setHeaderOptions, type CoreV1Event } from '@kubernetes/client-node';
import type { Kube } from './client.js';
import { INSTALLER, REPORTING_COMPONENT } from './names.js';

/** Cluster-scoped objects' events live in `default` (the API server requires it for core/v1 Events). */
export const NODE_EVENT_NAMESPACE = 'default';

export type NodeEventType = 'Normal' | 'Warning';

/** Reasons, in the kubelet's CamelCase style. */
export type NodeEventReason = 'Converged' | 'Drifted' | 'Conflict' | 'ConvergeFailed' | 'Reset' | 'ResetFailed';

/** Pure: a new Event about the node. */
export function nodeEvent(node: string, type: NodeEventType, reason: NodeEventReason, message: string, now: Date, instance: string): CoreV1Event {
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `${node}.kubewasm.${randomBytes(6).toString('hex')}`, namespace: NODE_EVENT_NAMESPACE },
    involvedObject: { apiVersion: 'v1', kind: 'Node', name: node, uid: node },
    type,
    reason,
    message: message.length > 1024 ? `${message.slice(0, 1023)}…` : message,
    source: { component: INSTALLER, host: node },
    reportingComponent: REPORTING_COMPONENT,
    reportingInstance: instance,
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
  };
}

/** Records events for one node; never throws (an event is worth less than the work it reports). */
export class NodeEvents {
  private last: { key: string; name: string; count: number; at: number } | undefined;

  constructor(
    private readonly kube: Kube,
    private readonly node: string,
    private readonly log: (line: string) => void,
    private readonly now: () => Date = () => new Date(),
    /** The same event within this window counts up instead of adding one. */
    private readonly aggregateMs = 10 * 60_000,
  ) {}

  async record(type: NodeEventType, reason: NodeEventReason, message: string): Promise<void> {
    const key = `${type}\n${reason}\n${message}`;
    const now = this.now();
    try {
      if (this.last && this.last.key === key && now.getTime() - this.last.at < this.aggregateMs) {
        const last = this.last;
        last.count += 1;
        await this.kube.call(`count event ${last.name}`, () =>
          this.kube.core.patchNamespacedEvent({ name: last.name, namespace: NODE_EVENT_NAMESPACE, body: { count: last.count, lastTimestamp: now.toISOString() } }, mergePatch),
        );
        return;
      }
      const event = nodeEvent(this.node, type, reason, message, now, this.node);
      await this.kube.call(`record event ${reason} on node ${this.node}`, () => this.kube.core.createNamespacedEvent({ namespace: NODE_EVENT_NAMESPACE, body: event }));
      this.last = { key, name: event.metadata!.name!, count: 1, at: now.getTime() };
    } catch (err) {
      this.last = undefined;
      this.log(`cannot record event ${reason} on Node ${this.node}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
}

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
