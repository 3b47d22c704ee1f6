// What a caller may tell the node algorithm (every transport, every caller).
import type { SetupOverrides } from '../containerd/facts.js';
import type { ShimByteCache } from './node-files.js';

export interface NodeOptions {
  /** containerd settings that override detection (config path, socket, restart command, …). */
  containerd?: SetupOverrides;
  /** Where kubewasm keeps its record, journal and backups on the node. */
  stateDir?: string;
  /** How long to wait for containerd's CRI after a restart. */
  criTimeoutMs?: number;
  /** Progress messages. */
  onStep?: (message: string) => void;
  /** Runs the restart step (config write, restart, wait, and its rollback): the fleet passes a semaphore, so at most K nodes restart at once. */
  restartGate?: <T>(fn: () => Promise<T>) => Promise<T>;
  /** Runs the upload step: the fleet lets a few nodes upload at a time, so the first ones reach the restart step early instead of all finishing together. */
  uploadGate?: <T>(fn: () => Promise<T>) => Promise<T>;
  /** Stops the run at the next safe point, undoing what it did (SIGINT). Once containerd is restarting, the run finishes that step first. */
  signal?: AbortSignal;
  /** Who runs this, for the lock and the journal (default: pid, host, user, command). */
  owner?: string;
  /** The verified shim bytes on this machine: a fleet passes one to all its nodes (default: one per applyPlan). */
  shimBytes?: ShimByteCache;
}

export interface ApplyTimings {
  uploadMs: number;
  /** Waiting for the restart gate (the fleet's --max-unavailable). */
  gateMs: number;
  /** Config write, restart and waiting for the CRI. */
  restartMs: number;
}

export const noGate = <T>(fn: () => Promise<T>): Promise<T> => fn();
