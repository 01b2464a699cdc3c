import type { CommandSpec } from '../registry.js';

/** Every command berth has, registered in one place. */
export const COMMANDS: CommandSpec[] = [];
