#!/usr/bin/env node
// Offline validation of the deployment files (run by test/deploy.e2e-spec.ts and usable by hand):
//   node deploy/validate.mjs
// 1. Renders every kustomize overlay under deploy/k8s (the `kustomize` binary, else `kubectl
//    kustomize`, which embeds kustomize) and validates every rendered document against the
//    Kubernetes and KEDA JSON schemas of kubernetes-models / @kubernetes-models/keda
//    (github.com/tommy351/kubernetes-models-ts: schemas generated from the Kubernetes OpenAPI spec and
//    the KEDA CRDs, checked with ajv). An apiVersion/kind without a schema is an error.
//    Limit: those schemas do not reject unknown fields (kubeconform -strict would; it is not
//    installable here).
// 2. `promtool check rules` on deploy/alerts/*.rules.yml and `promtool test rules` on their tests.
// A missing tool is reported as "SKIP <what>: <tool> not installed" and is not an error; any
// invalid document or rule is, and the exit code is then 1.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const k8sDir = join(root, 'deploy', 'k8s');
const alertsDir = join(root, 'deploy', 'alerts');
let failures = 0;
const fail = (msg) => {
  failures++;
  console.log(`FAIL ${msg}`);
};
const has = (cmd, args = ['--help']) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;

function renderer() {
  if (has('kustomize', ['version'])) return { name: 'kustomize build', run: (dir) => execFileSync('kustomize', ['build', dir], { encoding: 'utf8' }) };
  if (has('kubectl', ['version', '--client'])) return { name: 'kubectl kustomize', run: (dir) => execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8' }) };
  return undefined;
}

async function modelFor(apiVersion, kind) {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const spec = group.endsWith('keda.sh') ? `@kubernetes-models/keda/${group}/${version}` : group ? `kubernetes-models/${group}/${version}` : `kubernetes-models/${version}`;
  try {
    return (await import(spec))[kind];
  } catch {
    return undefined;
  }
}

async function validateOverlays() {
  const overlays = readdirSync(k8sDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(k8sDir, d.name, 'kustomization.yaml')))
    .map((d) => d.name)
    .sort();
  const render = renderer();
  if (!render) {
    console.log('SKIP kustomize render and schema validation: neither kustomize nor kubectl installed');
    return;
  }
  for (const overlay of overlays) {
    let out;
    try {
      out = render.run(join(k8sDir, overlay));
    } catch (err) {
      fail(`${render.name} ${relative(root, join(k8sDir, overlay))}: ${err.stderr || err.message}`);
      continue;
    }
    const docs = parseAllDocuments(out).map((d) => d.toJS()).filter(Boolean);
    let ok = 0;
    for (const doc of docs) {
      const id = `${overlay}: ${doc.apiVersion}/${doc.kind} ${doc.metadata?.name}`;
      const Model = await modelFor(doc.apiVersion, doc.kind);
      if (!Model) {
        fail(`${id}: no schema for ${doc.apiVersion} ${doc.kind}`);
        continue;
      }
      try {
        new Model(doc).validate();
        ok++;
      } catch (err) {
        fail(`${id}: ${err.message}`);
      }
    }
    console.log(`${ok === docs.length ? 'ok  ' : 'FAIL'} ${relative(root, join(k8sDir, overlay))} (${render.name}): ${ok}/${docs.length} documents valid`);
    if (docs.length === 0) fail(`${overlay}: rendered no documents`);
  }
}

function checkRules() {
  if (!has('promtool', ['--version'])) {
    console.log('SKIP promtool check rules: promtool not installed (Debian package prometheus)');
    return;
  }
  const rules = readdirSync(alertsDir).filter((f) => /\.rules\.ya?ml$/.test(f)).map((f) => join(alertsDir, f));
  const tests = readdirSync(alertsDir).filter((f) => /\.rules\.test\.ya?ml$/.test(f));
  const check = spawnSync('promtool', ['check', 'rules', ...rules], { encoding: 'utf8' });
  if (check.status === 0) console.log(`ok   promtool check rules ${rules.map((f) => relative(root, f)).join(' ')}`);
  else fail(`promtool check rules:\n${check.stdout}${check.stderr}`);
  for (const t of tests) {
    const run = spawnSync('promtool', ['test', 'rules', t], { encoding: 'utf8', cwd: alertsDir });
    if (run.status === 0) console.log(`ok   promtool test rules deploy/alerts/${t}`);
    else fail(`promtool test rules ${t}:\n${run.stdout}${run.stderr}`);
  }
}

await validateOverlays();
checkRules();
console.log(failures ? `${failures} failure(s)` : 'all deployment files valid');
process.exit(failures ? 1 : 0);
