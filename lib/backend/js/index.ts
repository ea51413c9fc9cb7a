// The pure-TypeScript backend: the table's kernels (validated by kernels.gen.ts) over the TypeScript twins in this folder, and the plan kernels.
import type { Backend, BackendInfo } from '../contract';
import { validatedKernels } from '../kernels.gen';
import { activationBackward, activationForward } from './activation';
import { add, addBias, axpy, div, mul, scale, sub, unary } from './elementwise';
import { gemm, linearBackward, linearForward } from './gemm';
import { adamStep, rmspropStep, sgdStep } from './optimizer';
import { forwardAsync, forwardDense, freezePlan } from './plan';
import { colSum, rowSum, sum } from './reduce';
import {
  logSoftmax, logSoftmaxBackward, mseBackward, mseLoss, softmax, softmaxBackward, softmaxCrossEntropy,
} from './softmax';

export const jsBackend: Backend = {
  name: 'js',

  info(): BackendInfo {
    return { backend: 'js', simd: 'none', threads: 1 };
  },

  ...validatedKernels({
    gemm, linearForward, linearBackward, addBias, colSum, rowSum, add, sub, mul, div, scale, axpy, unary, sum,
    activationForward, activationBackward, softmax, logSoftmax, softmaxBackward, logSoftmaxBackward,
    softmaxCrossEntropy, mseLoss, mseBackward, sgdStep, adamStep, rmspropStep,
  }),

  freezePlan,
  forwardAsync,
  forwardDense,
};
