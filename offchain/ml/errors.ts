/**
 * Errors of the ML layer (base model, adapters, training). Each has a short message and
 * structured details; the CLI maps them to exit codes (invalid input → usage).
 */
export class ModelError extends Error {
  constructor(
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The files of lande's pretrained model could not be read or decoded. */
export class BaseModelSourceError extends ModelError {}

/** An adapter's bytes do not hash to the expected content hash. */
export class AdapterHashMismatchError extends ModelError {}

/** An adapter was trained for another base model (its base-model hash differs). */
export class BaseModelMismatchError extends ModelError {}

/** An adapter's tensors do not have the shapes its manifest and base model require. */
export class AdapterShapeError extends ModelError {}

/** A safetensors file is malformed (header, dtype, offsets). */
export class SafetensorsFormatError extends ModelError {}

/** A manifest does not match the manifest schema. */
export class ManifestError extends ModelError {}

/** A training data set is empty, unlabeled or malformed. */
export class DatasetError extends ModelError {}

/** Training or co-training configuration is invalid. */
export class TrainingConfigError extends ModelError {}
