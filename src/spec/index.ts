/** The spec module: berth.yaml service specs and the berth.config.yaml environment config. */
export type * from './types.js';
export { parseDuration, formatDuration } from './duration.js';
export { formatDiagnostics, hasErrors } from './diagnostics.js';
export {
  normalizeServiceSpec,
  DEFAULT_HEALTH,
  DEFAULT_PORT,
  DEFAULT_REPLICAS,
  type NormalizeOptions,
} from './normalize.js';
export { loadServiceSpec, SPEC_FILE_NAME, type LoadServiceSpecOptions } from './load.js';
export {
  loadBerthConfig,
  normalizeBerthConfig,
  resolveEnvironment,
  CONFIG_FILE_NAME,
  DEFAULT_CONFIG_YAML,
} from './environments.js';
export { parseYaml } from './yaml-source.js';
