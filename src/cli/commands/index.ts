import type { CommandSpec } from '../registry.js';
import { deployCommand } from './deploy.js';
import { planCommand } from './plan.js';
import { statusCommand } from './status.js';
import { lsCommand } from './ls.js';
import { eventsCommand } from './events.js';
import { historyCommand } from './history.js';
import { rollbackCommand } from './rollback.js';
import { cancelCommand } from './cancel.js';
import { deleteCommand } from './delete.js';
import { envCommand } from './env.js';
import { whoamiCommand } from './whoami.js';
import { demoCommand } from './demo.js';
import { auditCommand } from './audit.js';
import { timelineCommand } from './timeline.js';
import { restoreCommand } from './restore.js';
import { promptCommand } from './prompt.js';
import { runtimeCommand } from './runtime.js';
import { upCommand } from './up.js';
import { tokenCommand } from './token.js';
import { driftCommand } from './drift.js';
import { orphansCommand } from './orphans.js';
import { reconcileCommand } from './reconcile.js';
import { dashboardCommand } from './dashboard.js';

/** Every command berth has, registered in one place. */
export const COMMANDS: CommandSpec[] = [
  // start and deploy
  upCommand,
  demoCommand,
  deployCommand,
  planCommand,
  // look
  statusCommand,
  lsCommand,
  eventsCommand,
  historyCommand,
  driftCommand,
  // change and repair
  rollbackCommand,
  cancelCommand,
  deleteCommand,
  restoreCommand,
  orphansCommand,
  reconcileCommand,
  // where you are, and what happened
  envCommand,
  whoamiCommand,
  promptCommand,
  auditCommand,
  timelineCommand,
  // the control plane and the runtime
  tokenCommand,
  dashboardCommand,
  runtimeCommand,
];
