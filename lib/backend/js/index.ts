// The pure-TypeScript backend: the table's kernels (validated by kernels.gen.ts) over the TypeScript twins in this folder, and the plan kernels.
import type { Backend, BackendInfo } from '../contract';
import { validatedKernels } from '../kernels.gen';
import * as activation from './activation';
import * as attention from './attention';
import * as conv from './conv';
import * as convBackward from './conv-backward';
import * as elementwise from './elementwise';
import * as gemm from './gemm';
import * as norm from './norm';
import * as layerNorm from './layer-norm';
import * as mixedBf16 from './mixed-bf16';
import * as optimizer from './optimizer';
import { forwardAsync, forwardDense, freezePlan } from './plan';
import * as quant from './quant';
import * as reduce from './reduce';
import * as recurrent from './recurrent';
import * as sequence from './sequence';
import * as softmax from './softmax';

export const jsBackend: Backend = {
  name: 'js',

  info(): BackendInfo {
    return { backend: 'js', simd: 'none', threads: 1 };
  },

  // Each family file exports its kernels under their table names (the compiler checks none is missing).
  ...validatedKernels({ ...activation, ...attention, ...conv, ...convBackward, ...elementwise, ...gemm, ...layerNorm, ...mixedBf16, ...norm, ...optimizer, ...quant, ...recurrent, ...reduce, ...sequence, ...softmax }),

  freezePlan,
  forwardAsync,
  forwardDense,
};
