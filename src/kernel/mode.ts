/**
 * The agent's `--kernel-events auto|on|off` policy in one place.
 *
 * - `off`: kernel events are not read; returns null.
 * - `on`: a failure to start is fatal; the KernelEventsError is thrown.
 * - `auto`: a failure is logged once at warn ("kernel reset events unavailable:
 *   <reason>; continuing from packets alone") and null is returned; the agent
 *   runs from packets alone.
 */
import { KernelEventsError } from '../common/errors';
import type { Logger } from '../common/log';

export type KernelEventsMode = 'auto' | 'on' | 'off';

export const KERNEL_EVENTS_MODES: readonly KernelEventsMode[] = ['auto', 'on', 'off'];

export interface Startable {
  start(signal: AbortSignal): Promise<void>;
}

/** Starts `create()`'s component per `mode`; returns it when running, null when running without. */
export async function startWithKernelEventsMode<T extends Startable>(
  mode: KernelEventsMode,
  create: () => T,
  signal: AbortSignal,
  logger: Logger,
): Promise<T | null> {
  if (mode === 'off') return null;
  try {
    const component = create();
    await component.start(signal);
    return component;
  } catch (err) {
    const error = err instanceof KernelEventsError ? err : new KernelEventsError(errorMessage(err), { cause: err });
    if (mode === 'on') throw error;
    logger.warn({ err: error }, `kernel reset events unavailable: ${error.message}; continuing from packets alone`);
    return null;
  }
}

function errorMessage(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0];
}
