import { z } from 'zod';
import { durationText } from '#libs/domain/index.js';

// How long one evaluation of a gate may take: `deadline` in an environment's gate options, or in
// the top-level `gates:` section for every gate without its own. A registry that answers one byte
// at a time never trips an idle timeout; only a deadline frees the worker's slot.

export const DEFAULT_GATE_DEADLINE_MS = 5 * 60_000;

export const gateDeadline = durationText;

/** The top-level `gates:` section: defaults for every environment's gates. */
export const gateDefaultsSchema = z.strictObject({
  /** Deadline of a gate that sets none itself. */
  deadline: gateDeadline.default('5m'),
});

/** The deadline of a gate in an environment, in milliseconds. */
export function gateDeadlineMs(environment: { gateDeadlinesMs?: Partial<Record<string, number>> }, gate: string): number {
  return environment.gateDeadlinesMs?.[gate] ?? DEFAULT_GATE_DEADLINE_MS;
}
