/** The line the load process of bench:http prints when its clock starts (presigning done). */
export const LOAD_STARTED = "load-started";
/** Load the load process runs before its clock starts, whose calls do not count. */
export const WARM_UP_MS = 1_000;
