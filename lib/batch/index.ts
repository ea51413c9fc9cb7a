// Batch inference at scale: predictFile (streaming, sharded), mergeShards, and the shard helpers.
export { predictFile, modelDigest, expandInputs, type PredictFileOptions, type PredictFileResult } from './predict-file';
export { mergeShards, type MergeResult } from './merge';
export { parseShard, shardFromEnv, checkShard, csvSplit, evenRange, type Shard, type Range } from './shard';
export { readShardManifest, manifestPathFor, type ShardManifest } from './manifest';
