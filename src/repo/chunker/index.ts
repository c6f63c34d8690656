export { cut } from './fastcdc.js';
export { CHUNKER_KEY_BYTES, gearTable, type GearTable } from './gear.js';
export {
  chunkerMasks,
  DEFAULT_CHUNKER_PARAMS,
  MAX_CHUNK_SIZE_CEILING,
  MIN_CHUNK_SIZE_FLOOR,
  validateChunkerParams,
  type ChunkerMasks,
  type ChunkerParams,
} from './params.js';
export { chunkStream, type ChunkStreamOptions } from './stream.js';
