/** The line the load process of bench:http prints when its clock starts (presigning done). */
export const LOAD_STARTED = "load-started";
