import type { CommandEntry } from '../registry.js';

/**
 * Every command berth has, registered in one place, as data: its name with positional arguments,
 * its one-line summary, the group `berth --help` lists it under, and how to load it. A command's module (and everything it imports: the
 * engine, the AWS SDK, the runtime) is loaded only when that command runs or shows its own help,
 * so `berth --version`, `berth --help` and the shell hooks start at once.
 *
 * To add a command: write `commands/NAME.ts` exporting a `CommandSpec`, and add one entry here
 * whose name and summary are the spec's own (a test checks that they agree).
 */
export const COMMANDS: CommandEntry[] = [
  {
    name: 'up',
    summary: 'start the control plane: the local runtime, the API, the reconciler host and the dashboard',
    group: 'Start and deploy:',
    load: async () => (await import('./up.js')).upCommand,
  },
  {
    name: 'demo',
    summary: 'deploy the examples on the local runtime and print their URLs and status',
    group: 'Start and deploy:',
    load: async () => (await import('./demo.js')).demoCommand,
  },
  {
    name: 'deploy [path]',
    summary: 'apply berth.yaml (PATH: a directory or file, default .) and show each step live',
    group: 'Start and deploy:',
    load: async () => (await import('./deploy.js')).deployCommand,
  },
  {
    name: 'plan [path]',
    summary: 'what a deploy would change, without changing it',
    group: 'Start and deploy:',
    load: async () => (await import('./plan.js')).planCommand,
  },
  {
    name: 'status [service]',
    summary: "health, sync/drift, each resource, the observation's age and any active operation",
    group: 'Look:',
    load: async () => (await import('./status.js')).statusCommand,
  },
  {
    name: 'ls [filter]',
    summary: 'services in an environment (FILTER: a part of the name)',
    group: 'Look:',
    load: async () => (await import('./ls.js')).lsCommand,
  },
  {
    name: 'events <service>',
    summary: 'what happened to a service, oldest first (--follow to keep watching)',
    group: 'Look:',
    load: async () => (await import('./events.js')).eventsCommand,
  },
  {
    name: 'logs <service>',
    summary: "what a service's replicas printed (--since 10m, --follow to keep watching)",
    group: 'Look:',
    load: async () => (await import('./logs.js')).logsCommand,
  },
  {
    name: 'history <service>',
    summary: 'revisions and operations of a service, newest first',
    group: 'Look:',
    load: async () => (await import('./history.js')).historyCommand,
  },
  {
    name: 'drift',
    summary: 'drift across an environment: missing, modified, unhealthy and orphaned resources',
    group: 'Look:',
    load: async () => (await import('./drift.js')).driftCommand,
  },
  {
    name: 'rollback <service>',
    summary: 'deploy an earlier revision again, as a new revision (default: the one before the current)',
    group: 'Change and repair:',
    load: async () => (await import('./rollback.js')).rollbackCommand,
  },
  {
    name: 'cancel <service>',
    summary:
      "stop a service's active operation (the deploying command then returns to the last healthy revision)",
    group: 'Change and repair:',
    load: async () => (await import('./cancel.js')).cancelCommand,
  },
  {
    name: 'delete <service>',
    summary: 'remove a service and every resource it owns (shows them first)',
    group: 'Change and repair:',
    load: async () => (await import('./delete.js')).deleteCommand,
  },
  {
    name: 'restore <service>',
    summary: 'redeploy a deleted service exactly as it was (within the restore window)',
    group: 'Change and repair:',
    load: async () => (await import('./restore.js')).restoreCommand,
  },
  {
    name: 'orphans',
    summary: "resources tagged as berth's that no service desires (--delete, --adopt SERVICE)",
    group: 'Change and repair:',
    load: async () => (await import('./orphans.js')).orphansCommand,
  },
  {
    name: 'reconcile',
    summary: 'watch an environment in the foreground, repairing (or reporting) drift until Ctrl-C',
    group: 'Change and repair:',
    load: async () => (await import('./reconcile.js')).reconcileCommand,
  },
  {
    name: 'env',
    summary: 'the environments in berth.config.yaml',
    group: 'Where you are, and what happened:',
    load: async () => (await import('./env.js')).envCommand,
  },
  {
    name: 'whoami',
    summary: 'the environment and the verified identity behind it',
    group: 'Where you are, and what happened:',
    load: async () => (await import('./whoami.js')).whoamiCommand,
  },
  {
    name: 'audit',
    summary: 'who changed what, where, through which interface, as which identity, with which result',
    group: 'Where you are, and what happened:',
    load: async () => (await import('./audit.js')).auditCommand,
  },
  {
    name: 'timeline',
    summary: "an incident timeline of an environment's events and audit, as Markdown or JSON",
    group: 'Where you are, and what happened:',
    load: async () => (await import('./timeline.js')).timelineCommand,
  },
  {
    name: 'install',
    summary: 'deploy berth\'s own control plane into an environment as the service "berth" (2+ replicas)',
    group: 'Control plane and runtime:',
    load: async () => (await import('./install.js')).installCommand,
  },
  {
    name: 'recover',
    summary: "bring berth's own control plane back: redeploy its last revision from the store (direct)",
    group: 'Control plane and runtime:',
    load: async () => (await import('./recover.js')).recoverCommand,
  },
  {
    name: 'login <url>',
    summary: "save a control plane (its service's URL and a token) as a context and make it current",
    group: 'Control plane and runtime:',
    load: async () => (await import('./login.js')).loginCommand,
  },
  {
    name: 'context',
    summary: 'the control planes this CLI talks to (saved by berth login and berth install)',
    group: 'Control plane and runtime:',
    load: async () => (await import('./context.js')).contextCommand,
  },
  {
    name: 'secret',
    summary:
      'values for `secrets:` in berth.yaml (set reads stdin or a hidden prompt; ls never shows values)',
    group: 'Control plane and runtime:',
    load: async () => (await import('./secret.js')).secretCommand,
  },
  {
    name: 'token',
    summary: 'API tokens of the control plane in this data dir (role per environment)',
    group: 'Control plane and runtime:',
    load: async () => (await import('./token.js')).tokenCommand,
  },
  {
    name: 'dashboard',
    summary: 'print a one-time sign-in link to the dashboard of the running control plane',
    group: 'Control plane and runtime:',
    load: async () => (await import('./dashboard.js')).dashboardCommand,
  },
  {
    name: 'runtime',
    summary: "the local runtime's own console (acts behind berth's back)",
    group: 'Control plane and runtime:',
    load: async () => (await import('./runtime.js')).runtimeCommand,
  },
  {
    name: 'prompt',
    summary: 'a short segment for a shell prompt naming the environment (fast: touches no provider)',
    group: 'Shell:',
    load: async () => (await import('./prompt.js')).promptCommand,
  },
  {
    name: 'completion <shell>',
    summary: 'print shell completion for bash, zsh or fish (commands, options, environments, services)',
    group: 'Shell:',
    load: async () => (await import('./completion.js')).completionCommand,
  },
  {
    name: '__complete <what>',
    summary: 'names for shell completion (internal)',
    group: 'Shell:',
    hidden: true,
    load: async () => (await import('./completion.js')).completeNamesCommand,
  },
];
