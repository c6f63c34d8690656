export { Workspace, DEFAULT_CHECKPOINT_LOG, type WorkspaceOptions } from './workspace.js';
export { KEY_PATHS, ensureWorkspaceKeys, type WorkspaceKeys } from './keys.js';
export { ensureGitignore } from './gitignore.js';
export {
  openSpecRepository,
  specRepositoryTarget,
  type OpenedSpecRepository,
  type SpecRepositoryContext,
  type SpecRepositoryTarget,
} from './repository.js';
