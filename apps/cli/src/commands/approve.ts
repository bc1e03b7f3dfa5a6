import type { Command } from 'commander';
import type { CommandEnv } from '../context.js';
import { registerDecision } from './decision.js';

export function registerApprove(program: Command, env: CommandEnv): void {
  registerDecision(program, env, 'approve');
}
