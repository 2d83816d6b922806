// Validates an AsyncAPI document with @asyncapi/parser: `node validate.mjs FILE`.
// Prints each diagnostic of severity error (0) and exits 1 if there is any; warnings
// are printed too, and do not fail.
import { readFile } from "node:fs/promises";
import { Parser } from "@asyncapi/parser";

const [file] = process.argv.slice(2);
const parser = new Parser();
const { document, diagnostics } = await parser.parse(await readFile(file, "utf8"));
let errors = 0;
for (const diagnostic of diagnostics) {
  const level = diagnostic.severity === 0 ? "error" : "warning";
  if (diagnostic.severity === 0) errors += 1;
  console.log(`${level}: ${diagnostic.code}: ${diagnostic.message} at ${diagnostic.path.join(".")}`);
}
if (errors || !document) process.exit(1);
console.log(`valid: ${document.operations().length} operations, ${document.channels().length} channels`);
