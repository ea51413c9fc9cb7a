// Datasets and data utilities: data.Dataset (streams of rows or batches), the embedded digits, Fashion-MNIST, IDX files, splitting and batching.
export { loadDigits, parseDigitsCsv, DIGITS_PATH } from './digits';
export type { DigitsOptions, DigitsData } from './digits';
export {
  loadFashionMnist, fashionMnistSearchDirs, FASHION_MNIST_CLASSES, FASHION_MNIST_DEFAULT_DIR,
} from './fashion-mnist';
export type { FashionMnistOptions, FashionMnistData, FashionMnistImages, FashionMnistImageSet } from './fashion-mnist';
export { standardize } from './normalize';
export type { Standardization, StandardizeOptions } from './normalize';
export { preprocessor, Preprocessor, PREPROCESSING_VERSION } from './preprocess';
export type { PreprocessorOptions, PreprocessorFitData, PreprocessingJson } from './preprocess';
export { readIdx, parseIdx, isGzip } from './idx';
export type { IdxArray, IdxData, IdxDtype } from './idx';
export {
  trainTestSplit, permutation, shuffleInPlace, gatherRows, batchRanges, takeRows, SeededRandom,
} from './split';
// The flat { x, y, n, features } form the loaders return (named Dataset before data.Dataset, the stream, existed).
export type { Dataset as FlatDataset, LabeledDataset, SplitOptions, Split } from './split';
export { Dataset, isDataset } from './dataset';
export type { Row, Batch, MapOptions, DatasetSource, ArraysData } from './dataset';
export type { CsvDatasetOptions, IdxOptions, FilesOptions } from './dataset-sources';
export {
  readCsv, readCsvBatches, splitCsvLine, DEFAULT_MAX_LINE_LENGTH, DEFAULT_MAX_COLUMNS, MAX_BATCH_VALUES, MISSING_TOKENS, AUTO_MAX_CLASSES,
} from './csv';
export type { CsvOptions, CsvBatch, CsvTable, CsvSchema, LabelColumn, MissingOption } from './csv';
export { augmentImages, imageAugmenter } from './augment';
export type { AugmentOptions, BatchPosition } from './augment';
export { Vocabulary, charVocabulary, wordVocabulary } from './text';
export type { TokenLevel, SpecialTokens, VocabularyOptions, EncodeOptions, EncodeBatchOptions, DecodeOptions, VocabularyJson } from './text';
export { languageModelWindows, timeSeriesWindows } from './windows';
export type { LanguageModelWindowOptions, LanguageModelWindows, TimeSeriesWindowOptions, TimeSeriesWindows } from './windows';
export { loadFirstNames, loadSpamAssassin, FIRST_NAMES_PACKAGES, SPAM_ASSASSIN_PACKAGE } from './text-corpora';
export type { FirstNamesOptions, SpamAssassinOptions, SpamAssassinData } from './text-corpora';
