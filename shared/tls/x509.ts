/**
 * The one entry point to @peculiar/x509 in this project: it loads the
 * Reflect metadata polyfill tsyringe needs before the library. Import x509 from here.
 */
import "reflect-metadata";

export * from "@peculiar/x509";
