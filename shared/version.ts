/** The nightshift version agents and coordinator report to each other. */
export const NIGHTSHIFT_VERSION = "0.1.0";
