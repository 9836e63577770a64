/**
 * Refusals of the PEFT-layout adapter loader. Each names the key or tensor it refuses in its
 * message and in `details`, and extends the ML layer's error it refines, so callers that
 * already map `AdapterShapeError` or `SafetensorsFormatError` keep working.
 */
import { AdapterShapeError, ManifestError, ModelError, SafetensorsFormatError } from "../errors";

/** `adapter_config.json` is not valid: not an object, a field of the wrong type, missing r / lora_alpha. */
export class PeftConfigError extends ManifestError {}

/** The config asks for a PEFT feature we do not serve (DoRA, lora_bias, fan_in_fan_out, patterns, ...). */
export class UnsupportedPeftFeatureError extends ModelError {}

/** A target module, a `modules_to_save` entry or a tensor key names no module of the base. */
export class UnknownModuleError extends ModelError {}

/** A tensor is in the file but not declared by the config, or declared and missing. */
export class PeftTensorSetError extends AdapterShapeError {}

/** A tensor's shape does not fit its module (or the head's labels). */
export class PeftShapeError extends AdapterShapeError {}

/** lora_A and lora_B disagree on the rank, or either disagrees with the config's `r`. */
export class PeftRankError extends AdapterShapeError {}

/** A tensor's dtype is not F32, F16 or BF16. */
export class UnsupportedDtypeError extends SafetensorsFormatError {}

/** A tensor holds NaN or an infinity: it would poison every row it touches. */
export class NonFiniteTensorError extends AdapterShapeError {}
