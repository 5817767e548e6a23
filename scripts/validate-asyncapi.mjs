// Validates AsyncAPI documents with the AsyncAPI project's own parser (@asyncapi/parser, which
// scripts/setup.sh --test installs under $STOREFRONT_TOOLS_DIR/npm-tools):
//   node validate-asyncapi.mjs PARSER_DIR FILE...
// Prints each document's errors and warnings, one per line; exits 1 if any document has an error.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const [parserDir, ...files] = process.argv.slice(2);
const require = createRequire(`${parserDir}/package.json`);
const { Parser } = require("@asyncapi/parser");

const parser = new Parser();
let failed = false;
for (const file of files) {
  const { document, diagnostics } = await parser.parse(readFileSync(file, "utf8"));
  const errors = diagnostics.filter((d) => d.severity === 0);
  const warnings = diagnostics.filter((d) => d.severity === 1);
  console.log(`${file}: ${document ? "parsed" : "not parsed"}, ${errors.length} errors, ${warnings.length} warnings`);
  for (const d of [...errors, ...warnings]) {
    console.log(`  ${d.severity === 0 ? "error" : "warning"} ${d.code} at ${d.path.join(".")}: ${d.message}`);
  }
  failed ||= !document || errors.length > 0;
}
process.exit(failed ? 1 : 0);
