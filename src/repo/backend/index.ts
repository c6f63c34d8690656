export {
  BACKEND_CAPABILITY_NAMES,
  BackendCapability,
  FILE_TYPES,
  FileType,
  type Backend,
  type BackendCapabilities,
  type BackendCapabilityName,
  type ByteRange,
  type ObjectInfo,
  type PutOptions,
} from './backend.js';
export { BackendErrorCode, isRetainedError, objectRetained } from './errors.js';
export {
  FS_CAPABILITIES,
  FS_TEMP_PREFIX,
  FsBackend,
  openFsBackend,
  type CleanupOptions,
  type FsBackendOptions,
  type FsFailpoint,
} from './fs.js';
export { NODE_FS_OPS, type FsFileHandle, type FsOps } from './fs-ops.js';
export { checkFileType, checkObjectName, checkRange } from './names.js';
export {
  S3_AWS_CAPABILITIES,
  S3_COMPATIBLE_CAPABILITIES,
  S3_MIN_PART_BYTES,
  S3Backend,
  openS3Backend,
  type S3BackendOptions,
  type S3Credentials,
} from './s3.js';
