// validate.mjs FILE - checks that FILE is a valid OpenAPI 3.1 document
// (the gateway's /v1/openapi.json) against the specification's JSON schema,
// with an independent validator; prints each error and exits 1 when not.
import { readFileSync } from "node:fs";
import { Validator } from "@seriousme/openapi-schema-validator";

const file = process.argv[2];
const document = JSON.parse(readFileSync(file, "utf8"));
const validator = new Validator();
const result = await validator.validate(document);
if (!result.valid) {
  console.error(JSON.stringify(result.errors, null, 2).slice(0, 4000));
  process.exit(1);
}
if (validator.version !== "3.1") {
  console.error(`the document is OpenAPI ${validator.version}, not 3.1`);
  process.exit(1);
}
console.log(`valid OpenAPI ${validator.version}: ${Object.keys(document.paths).length} paths`);
