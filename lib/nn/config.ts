// The JSON architecture description of a model (LayerConfig), as produced by Module.toConfig().
// Each layer file declares its own config keys (see registry.ts); every key is always written and
// always required: fromConfig rejects unknown and missing keys.

/** One layer's config: its registered type plus the keys its definition lists. */
export interface LayerConfig {
  type: string;
  [key: string]: unknown;
}
