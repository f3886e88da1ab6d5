import { spawnSync } from 'child_process';
import { join } from 'path';

jest.setTimeout(120_000);

/**
 * Issue 15, offline: every kustomize overlay under deploy/k8s renders and each rendered document
 * validates against the Kubernetes and KEDA schemas; the Prometheus alert rules pass
 * `promtool check rules` and their unit tests. The work is done by deploy/validate.mjs (an ES
 * module, as kubernetes-models is ESM-only), which skips with a message when kustomize/kubectl or
 * promtool is not installed (.ci/run installs them when it can).
 */
describe('deployment files (deploy/)', () => {
  const root = join(__dirname, '..');
  const run = spawnSync(process.execPath, [join(root, 'deploy', 'validate.mjs')], { cwd: root, encoding: 'utf8' });
  const output = `${run.stdout}${run.stderr}`;

  it('renders and validates every overlay and alert rule file', () => {
    // Tell what ran and what was skipped in the test log.
    process.stdout.write(output);
    expect(output).not.toMatch(/^FAIL /m);
    expect(run.status).toBe(0);
  });

  it('covers the base, KEDA and HPA overlays (unless kustomize is unavailable)', () => {
    if (/SKIP kustomize/.test(output)) return;
    for (const overlay of ['base', 'keda', 'keda-agents', 'hpa']) expect(output).toMatch(new RegExp(`^ok +deploy/k8s/${overlay} `, 'm'));
  });

  it('checks the alert rules (unless promtool is unavailable)', () => {
    if (/SKIP promtool/.test(output)) return;
    expect(output).toMatch(/^ok +promtool check rules deploy\/alerts\/saga-platform\.rules\.yml/m);
    expect(output).toMatch(/^ok +promtool test rules /m);
  });
});
