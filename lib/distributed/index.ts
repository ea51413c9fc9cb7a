// myelin.distributed: data-parallel training over Gloo (init, the process group, the sampler, the gradient reducer).
export { init, group, isInitialized, getRank, getWorldSize, destroy, resolveInit, type InitOptions, type ProcessGroup, type DistributedBackend } from './group';
export { DistributedSampler } from './sampler';
export { GradientReducer, type ReducerStats } from './reducer';
export { type DistributedFitOption, type DistributedFitSettings } from './fit-hook';
export { launch, type LaunchOptions, type RankExit } from './launch';
export { syncBatchNorm } from './sync-bn';
