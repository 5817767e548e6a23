// Validates Istio, prometheus-operator and Strimzi resources against their published models (npm
// @kubernetes-models/istio, @kubernetes-models/prometheus-operator and
// @kubernetes-models/strimzi-kafka-operator, generated from the projects' CRDs), in two passes:
//   1. schema: each model's validate() (types, enums, required fields, patterns);
//   2. unknown fields: the CRD schemas allow unknown fields (the API server would silently prune
//      them, so a misspelt outlierDetection would just not apply); each resource is written out
//      as a TypeScript object literal typed with the model's interface, and tsc's excess-property
//      check rejects any field the model does not define.
// The Strimzi models of kafka.strimzi.io/v1beta2 come from the Strimzi 0.49 CRDs, a little newer
// than the 0.47 that scripts/deploy-minikube.sh installs: a field added in 0.48 or 0.49 would pass
// here and be pruned by the cluster. Free-form maps (spec.kafka.config, a topic's config) are
// typed {} and so not checked field by field; deploy/check/strimzi.py checks the Kafka options.
// Run by scripts/check-deploy.sh from the folder where those packages are installed:
//   node validate-models.mjs RESOURCES.json WORK_DIR
// RESOURCES.json: [{"source": "...", "resource": {...}}, ...]. Exits 1 on any failure.
import { readFileSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const packages = {
  "networking.istio.io": "@kubernetes-models/istio",
  "security.istio.io": "@kubernetes-models/istio",
  "telemetry.istio.io": "@kubernetes-models/istio",
  "monitoring.coreos.com": "@kubernetes-models/prometheus-operator",
  "kafka.strimzi.io": "@kubernetes-models/strimzi-kafka-operator",
};

const [resourcesFile, workDir] = process.argv.slice(2);
const items = JSON.parse(readFileSync(resourcesFile, "utf8"));
let failures = 0;
const failed = new Set();
const typed = [];
const fail = (label, message) => {
  console.log(`FAIL ${label}: ${message}`);
  failed.add(label);
  failures++;
};

for (const { source, resource } of items) {
  const label = `${source}: ${resource.kind}/${resource.metadata?.name}`;
  const group = resource.apiVersion.split("/")[0];
  const pkg = packages[group];
  if (!pkg) {
    fail(label, `no model for ${resource.apiVersion}`);
    continue;
  }
  const module = `${pkg}/${resource.apiVersion}/${resource.kind}`;
  let Model;
  try {
    Model = (await import(module))[resource.kind];
  } catch (error) {
    fail(label, `no model for ${resource.apiVersion} ${resource.kind} (${error.code ?? error.message})`);
    continue;
  }
  try {
    new Model(resource).validate();
    typed.push({ label, module, resource });
  } catch (error) {
    fail(label, error.message);
  }
}

// Pass 2: one .mts file (ES module, as the packages are), one typed constant per resource.
const lines = [];
const owners = [];
typed.forEach(({ label, module, resource }, index) => {
  const kind = resource.kind;
  lines.push(`import type { I${kind} as T${index} } from "${module}";`);
  owners.push(label);
});
typed.forEach(({ label, resource }, index) => {
  const body = JSON.stringify(resource, null, 2).split("\n");
  const first = lines.length + 1;
  lines.push(`export const r${index}: T${index} = ${body[0]}`, ...body.slice(1), ";");
  owners[index] = { label, first, last: lines.length };
});
const file = join(workDir, "resources.mts");
writeFileSync(file, lines.join("\n") + "\n");

if (typed.length > 0) {
  const here = dirname(fileURLToPath(import.meta.url));
  const tsc = join(here, "node_modules", ".bin", "tsc");
  const result = spawnSync(
    tsc,
    ["--noEmit", "--strict", "--skipLibCheck", "--target", "es2022", "--module", "nodenext",
      "--moduleResolution", "nodenext", file],
    { encoding: "utf8" },
  );
  if (result.status !== 0) {
    // resources.mts(LINE,COL): error TSxxxx: message
    for (const line of (result.stdout + result.stderr).split("\n").filter(Boolean)) {
      const match = /\.mts\((\d+),\d+\): (.*)$/.exec(line);
      if (!match) {
        fail("tsc", line);
        continue;
      }
      const at = Number(match[1]);
      const owner = owners.find((o) => typeof o === "object" && at >= o.first && at <= o.last);
      fail(owner ? owner.label : "resources.mts", `${match[2]} (at ${lines[at - 1].trim()})`);
    }
  }
}

for (const { label } of typed) {
  if (!failed.has(label)) console.log(`ok   ${label}`);
}
console.log(`${items.length - failed.size} of ${items.length} resources valid against their models`);
process.exit(failures === 0 ? 0 : 1);
