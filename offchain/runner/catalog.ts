/** The models a runner serves, as the registry describes them. */
import type { Hex } from "viem";

export type ModelStatus = "active" | "paused" | "retired";

export interface ServedModel {
  modelId: bigint;
  adapterHash: Hex;
  pricePerCall: bigint;
  status: ModelStatus;
  metadataURI: string;
}

export interface ModelCatalog {
  /** The model as last read from the registry, or null if it is not registered or not served. */
  model(modelId: bigint): Promise<ServedModel | null>;
  models(): Promise<ServedModel[]>;
}
