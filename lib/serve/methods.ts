// model.predict / predictClasses / predictAsync: thin methods serve installs on nn.Module (Module itself imports nothing from serve).
import type { Tensor } from '../tensor';
import { Module, type ModuleOutput } from '../nn/module';
import { predict, predictClasses, type PredictOptions } from './run';
import { predictAsync, type PredictAsyncOptions } from './predict';
import type { ModelInput } from './inputs';
import type { IntTensor } from '../int-tensor';

declare module '../nn/module' {
  interface Module {
    /** serve.predict(this, x, opts): see there. */
    predict<T extends ModuleOutput = Tensor>(x: ModelInput | IntTensor, opts?: PredictOptions): T;
    /** serve.predictClasses(this, x, opts): see there. */
    predictClasses(x: ModelInput, opts?: PredictOptions): string[];
    /** serve.predictAsync(this, x, opts): see there. */
    predictAsync<T extends ModuleOutput = Tensor>(x: ModelInput | IntTensor, opts?: PredictAsyncOptions): Promise<T>;
  }
}

Module.prototype.predict = function predictMethod<T extends ModuleOutput = Tensor>(this: Module, x: ModelInput | IntTensor, opts?: PredictOptions): T {
  return predict<T>(this, x, opts);
};
Module.prototype.predictClasses = function predictClassesMethod(this: Module, x: ModelInput, opts?: PredictOptions): string[] {
  return predictClasses(this, x, opts);
};
Module.prototype.predictAsync = function predictAsyncMethod<T extends ModuleOutput = Tensor>(this: Module, x: ModelInput | IntTensor, opts?: PredictAsyncOptions): Promise<T> {
  return predictAsync<T>(this, x, opts);
};
