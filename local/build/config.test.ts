import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { RunwayError } from '../../services/shared/errors.ts';
import { repoRoot } from '../images.ts';
import { camelKeys, checkTags, parseBuild, parseBuildConfig } from './config.ts';

function refused(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof RunwayError, String(err));
    assert.equal(err.code, 'INVALID_ARGUMENT');
    assert.match(err.message, pattern);
    return true;
  });
}

const step = (over: Record<string, unknown> = {}) => ({
  name: 'bash',
  args: ['-c', 'true'],
  ...over,
});

describe('a config file', () => {
  test("runway's own cloudbuild.yaml parses", () => {
    const build = parseBuildConfig(readFileSync(`${repoRoot}/cloudbuild.yaml`, 'utf8'));
    assert.equal(build.steps.length, 10);
    assert.deepEqual(
      build.steps.map((s) => s.id),
      [
        'check-commit',
        'install',
        'test',
        'build-deployer',
        'build-acceptance',
        'push-deployer',
        'push-acceptance',
        'workflow-source',
        'deploy-workflow',
        'deploy-by-digest',
      ],
    );
    assert.equal(build.options.dynamicSubstitutions, true);
    assert.equal(build.options.substitutionOption, 'ALLOW_LOOSE');
    assert.equal(build.options.logging, 'CLOUD_LOGGING_ONLY');
    assert.equal(build.timeoutMs, 3600_000);
    assert.equal(build.substitutions._REGION, 'us-central1');
  });

  test('JSON is read too, snake_case keys as gcloud camel-cases them', () => {
    const build = parseBuildConfig(
      JSON.stringify({
        steps: [{ name: 'bash', wait_for: ['-'], allow_failure: true }],
        options: { substitution_option: 'ALLOW_LOOSE' },
        substitutions: { _A_B: 'x' },
      }),
      'cloudbuild.json',
    );
    assert.deepEqual(build.steps[0]?.waitFor, ['-']);
    assert.equal(build.steps[0]?.allowFailure, true);
    assert.equal(build.options.substitutionOption, 'ALLOW_LOOSE');
    assert.deepEqual(build.substitutions, { _A_B: 'x' });
  });

  test('map keys are not camel-cased', () => {
    assert.deepEqual(camelKeys({ substitutions: { _a_b: 'x' }, some_key: { inner_key: 1 } }), {
      substitutions: { _a_b: 'x' },
      someKey: { innerKey: 1 },
    });
  });

  test('defaults', () => {
    const build = parseBuildConfig('steps: [{name: ubuntu}]');
    assert.deepEqual(build.steps[0], {
      name: 'ubuntu',
      args: [],
      env: [],
      dir: '',
      id: '',
      waitFor: [],
      entrypoint: '',
      script: '',
      allowFailure: false,
      allowExitCodes: [],
    });
    assert.equal(build.options.substitutionOption, 'MUST_MATCH');
    assert.equal(build.options.logging, 'LOGGING_UNSPECIFIED');
  });

  test('timeouts, exit codes and enum numbers', () => {
    const build = parseBuild(
      {
        steps: [step({ timeout: '1.5s', allowExitCodes: [1, '2'] })],
        timeout: '600s',
        options: { substitutionOption: 1, logging: 5, machineType: 'E2_HIGHCPU_8' },
      },
      'api',
    );
    assert.equal(build.steps[0]?.timeoutMs, 1500);
    assert.deepEqual(build.steps[0]?.allowExitCodes, [1, 2]);
    assert.equal(build.timeoutMs, 600_000);
    assert.equal(build.options.substitutionOption, 'ALLOW_LOOSE');
    assert.equal(build.options.logging, 'CLOUD_LOGGING_ONLY');
    assert.deepEqual(build.options.ignored, { machineType: 'E2_HIGHCPU_8' });
  });

  test('output-only fields of a described build are ignored', () => {
    const build = parseBuild(
      {
        id: 'x',
        status: 'SUCCESS',
        logUrl: 'u',
        steps: [step({ status: 'SUCCESS', timing: {}, exitCode: 0 })],
      },
      'api',
    );
    assert.equal(build.steps.length, 1);
  });

  test('storage source from the API', () => {
    const build = parseBuild(
      {
        source: {
          storageSource: { bucket: 'p_cloudbuild', object: 'source/x.tgz', generation: '7' },
        },
        steps: [step()],
      },
      'api',
    );
    assert.deepEqual(build.source, {
      storageSource: { bucket: 'p_cloudbuild', object: 'source/x.tgz', generation: '7' },
    });
  });
});

describe('refused builds', () => {
  const steps100 = Array.from({ length: 101 }, () => step());
  const cases: [string, unknown, RegExp, ('file' | 'api')?][] = [
    ['not an object', [1, 2], /must be an object/],
    ['no steps', { steps: [] }, /no build steps are specified/],
    ['101 steps', { steps: steps100 }, /cannot specify more than 100 build steps/],
    ['a step without name', { steps: [{ args: ['x'] }] }, /build step 0 must specify name/],
    ['a step that is a string', { steps: ['bash'] }, /steps\[0\]: a step must be an object/],
    [
      'an unknown step field',
      { steps: [step({ nmae: 'x' })] },
      /Unknown name "nmae" at 'build.steps\[0\]': Cannot find field/,
    ],
    ['an unknown build field', { stpes: [] }, /Unknown name "stpes" at 'build'/],
    ['args not a list', { steps: [step({ args: 'echo hi' })] }, /build.steps\[0\].args/],
    ['101 args', { steps: [step({ args: Array(101).fill('a') })] }, /too many args \(max: 100\)/],
    [
      'an arg of 4001 chars',
      { steps: [step({ args: ['x'.repeat(4001)] })] },
      /arg 0 too long \(max: 4000\)/,
    ],
    ['a name of 1001 chars', { steps: [step({ name: 'x'.repeat(1001) })] }, /name too long/],
    [
      'an env entry without =',
      { steps: [step({ id: 'a', env: ['FOO'] })] },
      /build step #0 - "a": the Env entry "FOO" must be of the form "KEY=VALUE"/,
    ],
    [
      'waitFor an unknown step',
      { steps: [step({ waitFor: ['nope'] })] },
      /build step #0 depends on "nope", which has not been defined/,
    ],
    [
      'waitFor a later step',
      { steps: [step({ id: 'a', waitFor: ['b'] }), step({ id: 'b' })] },
      /depends on "b", which has not been defined/,
    ],
    [
      'a duplicate id',
      { steps: [step({ id: 'a' }), step({ id: 'a' })] },
      /build step #1 - "a": the ID is not unique/,
    ],
    ['the id -', { steps: [step({ id: '-' })] }, /the ID cannot be "-"/],
    [
      'script with args',
      { steps: [{ name: 'bash', script: 'echo', args: ['x'] }] },
      /when script is provided, entrypoint and args cannot be specified/,
    ],
    [
      'script with entrypoint',
      { steps: [{ name: 'bash', script: 'echo', entrypoint: 'sh' }] },
      /entrypoint and args cannot be specified/,
    ],
    ['a bad duration', { steps: [step({ timeout: '10m' })] }, /invalid duration "10m"/],
    ['a negative duration', { timeout: '-5s', steps: [step()] }, /invalid duration/],
    [
      'a build timeout over 24h',
      { timeout: '86401s', steps: [step()] },
      /timeout exceeds the timeout limit of 24h0m0s/,
    ],
    [
      'a step timeout over the build timeout',
      { timeout: '60s', steps: [step({ timeout: '61s' })] },
      /build step timeout 61s must be <= build timeout 60s/,
    ],
    [
      'secretEnv on a step',
      { steps: [step({ secretEnv: ['TOKEN'] })] },
      /secretEnv is not supported by the local Cloud Build/,
    ],
    [
      'volumes on a step',
      { steps: [step({ volumes: [{ name: 'v', path: '/v' }] })] },
      /volumes are not supported/,
    ],
    [
      'availableSecrets',
      { steps: [step()], availableSecrets: { secretManager: [{ env: 'X', versionName: 'v' }] } },
      /availableSecrets \(Secret Manager\) is not supported/,
    ],
    [
      'global secretEnv',
      { steps: [step()], options: { secretEnv: ['X'] } },
      /build.options.secretEnv: secretEnv is not supported/,
    ],
    [
      'artifacts',
      { steps: [step()], artifacts: { objects: { location: 'gs://b/', paths: ['x'] } } },
      /artifacts are not supported/,
    ],
    [
      '101 images',
      { steps: [step()], images: Array(101).fill('gcr.io/p/i') },
      /cannot specify more than 100 images/,
    ],
    ['65 tags', { steps: [step()], tags: Array(65).fill('t') }, /cannot specify more than 64 tags/],
    [
      'an unknown substitution option',
      { steps: [step()], options: { substitutionOption: 'LOOSE' } },
      /substitutionOption/,
    ],
    ['an unknown enum number', { steps: [step()], options: { logging: 9 } }, /invalid value 9/],
    [
      'a bad service account',
      { steps: [step()], serviceAccount: 'ci@p.iam.gserviceaccount.com', logsBucket: 'gs://b' },
      /must be of the form projects\/\{PROJECT_ID\}\/serviceAccounts\/\{ACCOUNT\}/,
    ],
    [
      'a service account with default logging',
      {
        steps: [step()],
        serviceAccount: 'projects/p/serviceAccounts/ci@p.iam.gserviceaccount.com',
      },
      /if 'build.service_account' is specified, the build must either \(a\) specify 'build.logs_bucket'/,
    ],
    [
      'source in a config file',
      { steps: [step()], source: { storageSource: { bucket: 'b', object: 'o' } } },
      /config cannot specify source/,
      'file',
    ],
    [
      'a storage source without object',
      { steps: [step()], source: { storageSource: { bucket: 'b' } } },
      /build.source.storageSource.object/,
    ],
    [
      'a substitution value that is not a string',
      { steps: [step()], substitutions: { _A: 1 } },
      /build.substitutions._A/,
    ],
    [
      'a global env entry without =',
      { steps: [step()], options: { env: ['X'] } },
      /options.env field: the Env entry "X"/,
    ],
  ];
  for (const [name, input, pattern, origin] of cases) {
    test(name, () => refused(() => parseBuild(input, origin ?? 'api'), pattern));
  }

  test('a service account with CLOUD_LOGGING_ONLY is accepted', () => {
    parseBuild(
      {
        steps: [step()],
        serviceAccount: 'projects/p/serviceAccounts/ci@p.iam.gserviceaccount.com',
        options: { logging: 'CLOUD_LOGGING_ONLY' },
      },
      'api',
    );
  });

  const files: [string, string, RegExp][] = [
    ['YAML that does not parse', 'steps: [', /cloudbuild.yaml: not valid YAML or JSON/],
    ['a YAML list', '- a\n- b', /must be an object/],
    [
      'an empty file',
      '',
      /validating cloudbuild.yaml as build config: invalid .steps field: no build steps/,
    ],
    [
      'a billion laughs',
      `a: &a [x,x,x,x,x,x,x,x,x]\n${Array.from({ length: 120 }, (_, i) => `b${i}: &b${i} [*a,*a,*a]`).join('\n')}\nsteps: []`,
      /not valid YAML or JSON|Unknown name/,
    ],
    ['a config over 1 MiB', `steps: []\n#${'x'.repeat(1024 * 1024)}`, /larger than 1048576 bytes/],
  ];
  for (const [name, text, pattern] of files)
    test(name, () => refused(() => parseBuildConfig(text), pattern));

  test('tags after substitution', () => {
    checkTags(['ok', 'v1.2-x_y']);
    refused(() => checkTags(['bad tag']), /invalid build tag "bad tag"/);
    refused(() => checkTags(['-x']), /invalid build tag/);
  });
});
