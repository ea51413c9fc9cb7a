// The io namespace: model directories (save/load/checkpoints), safetensors, atomic writes.
export {
  save, load, loadWithInfo, loadCheckpoint, readModelInfo, inferInputShape,
  MODEL_FORMAT, MODEL_FORMAT_VERSION, WEIGHTS_FILE, OPTIMIZER_FILE, TRAINING_STATE_FILE,
} from './model-file';
export type {
  SaveOptions, LoadOptions, ModelInfo, Checkpoint, SavableModel, StatefulOptimizer, JsonValue,
} from './model-file';
export { checkpointCallback, readResumeState } from './checkpoint';
export type { ResumeState } from './checkpoint';
export {
  encodeSafetensors, encodeSafetensorsBuffer, decodeSafetensors, readSafetensorsSync, writeSafetensorsSync,
} from './safetensors';
export type { NamedArray, SafetensorsContents, StoredDtype } from './safetensors';
export { saveStateDict, loadStateDictFile } from './safetensors-state';
export type { LoadStateDictOptions } from './safetensors-state';
export { writeFileAtomic, writeFileAtomicSync } from './atomic';
