// Datasets and data utilities: the embedded digits, Fashion-MNIST, IDX files, splitting and batching.
export { loadDigits, parseDigitsCsv, DIGITS_PATH } from './digits';
export type { DigitsOptions, DigitsData } from './digits';
export {
  loadFashionMnist, fashionMnistSearchDirs, FASHION_MNIST_CLASSES, FASHION_MNIST_DEFAULT_DIR,
} from './fashion-mnist';
export type { FashionMnistOptions, FashionMnistData } from './fashion-mnist';
export { standardize } from './normalize';
export type { Standardization } from './normalize';
export { readIdx, parseIdx, isGzip } from './idx';
export type { IdxArray, IdxData, IdxDtype } from './idx';
export {
  trainTestSplit, permutation, shuffleInPlace, gatherRows, batchRanges, takeRows, SeededRandom,
} from './split';
export type { Dataset, LabeledDataset, SplitOptions, Split } from './split';
export { readCsv, readCsvBatches, splitCsvLine, DEFAULT_MAX_LINE_LENGTH, DEFAULT_MAX_COLUMNS, MAX_BATCH_VALUES } from './csv';
export type { CsvOptions, CsvBatch, CsvTable, LabelColumn } from './csv';
