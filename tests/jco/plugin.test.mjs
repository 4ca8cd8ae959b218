// The default plugin runs unchanged in Node: jco transpiles the very component
// that the host embeds (`make plugins` writes it to build/), and these tests
// call it through the JavaScript bindings jco generates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { plugin } from './build/kamaji-telemetry-plugin.js';

const installation = {
  clusterUid: '6f1c2a9e-3b7d-4e0a-9c55-2d8e41f7a0b3',
  kamajiVersion: 'v1.0.0',
  kubernetesVersion: 'v1.30.2-eks-5e0fdde',
};

function tcp(overrides = {}) {
  return {
    name: 'tenant-zeta-prod',
    namespace: 'customer-zeta',
    uid: '7d0c6d1e-0f0e-4a43-8a53-8f7f0b1f6c11',
    labels: [{ key: 'team', value: 'payments-zeta' }],
    annotations: [],
    ownerReferences: [],
    desiredVersion: 'v1.31.0',
    installedVersion: undefined,
    status: undefined,
    serviceType: 'NodePort',
    ingress: undefined,
    gateway: undefined,
    networkAddress: '10.20.30.40',
    endpoint: undefined,
    dataStore: 'zeta-etcd',
    ...overrides,
  };
}

// One event through `handle-batch`: a result inside a list is an object
// ({ tag: 'ok' | 'err', val }), not a throw.
function handle(installation, event) {
  const answers = plugin.handleBatch(installation, [event]);
  assert.equal(answers.length, 1);
  return answers[0];
}

function body(event) {
  const answer = handle(installation, event);
  assert.equal(answer.tag, 'ok', JSON.stringify(answer));
  const payload = answer.val;
  assert.ok(payload, 'a payload');
  for (const secret of ['tenant-zeta-prod', 'customer-zeta', 'payments-zeta', '10.20.30.40', 'zeta-etcd', installation.clusterUid]) {
    assert.ok(!payload.body.includes(secret), `${secret} must not leave the cluster`);
  }
  return { route: payload.route, body: JSON.parse(payload.body) };
}

test('describe names the plugin and documents its fields', () => {
  const description = plugin.describe();
  assert.equal(description.name, 'kamaji-telemetry-default');
  assert.equal(description.wireSchema, 'kamaji-telemetry/v1');
  assert.ok(description.fields.some((field) => field.name === 'uuid' && field.route === 'stats'));
  assert.deepEqual(description.routes, ['stats', 'create', 'update', 'delete']);
  assert.equal(description.reads.identity, false);
  assert.equal(description.reads.versions, true);
});

test('created', () => {
  assert.deepEqual(body({ tag: 'created', val: tcp() }), {
    route: 'create',
    body: { kamaji_version: 'v1.0.0', kubernetes_version: 'v1.30.2', tcp_version: 'v1.31.0', cluster_api: false, network_profile: 'node_port' },
  });
});

test('updated with a version change', () => {
  const previous = tcp({ desiredVersion: 'v1.30.2', installedVersion: 'v1.30.2', status: 'Ready' });
  assert.deepEqual(body({ tag: 'updated', val: { previous, current: tcp() } }), {
    route: 'update',
    body: { kamaji_version: 'v1.0.0', kubernetes_version: 'v1.30.2', old_tcp_version: 'v1.30.2', new_tcp_version: 'v1.31.0' },
  });
});

test('updated without a version change gives nothing', () => {
  assert.deepEqual(handle(installation, { tag: 'updated', val: { previous: tcp(), current: tcp() } }), { tag: 'ok', val: undefined });
});

test('deleted', () => {
  assert.deepEqual(body({ tag: 'deleted', val: tcp({ status: 'Ready' }) }), {
    route: 'delete',
    body: { kamaji_version: 'v1.0.0', kubernetes_version: 'v1.30.2', tcp_version: 'v1.31.0', status: 'Ready' },
  });
});

test('heartbeat', () => {
  const fleet = {
    tenantControlPlanes: [tcp({ status: 'Ready' }), tcp({ status: 'Sleeping' })],
    dataStores: [{ name: 'zeta-etcd', driver: 'etcd', usedBy: ['customer-zeta/tenant-zeta-prod'], usedByCount: 1 }],
  };
  const { route, body: stats } = body({ tag: 'heartbeat', val: fleet });
  assert.equal(route, 'stats');
  // The same pseudonym the host's own tests expect (uuid v5 under the plugin's namespace).
  assert.equal(stats.uuid, 'e52e529d-51d5-5587-aa66-b2ea79f9d878');
  assert.deepEqual(stats.tenant_control_plane, { running: 1, upgrading: 0, not_ready: 0, sleeping: 1 });
  assert.deepEqual(stats.datastores.etcd, { count: 1, used_by_count: 1 });
});

test('a malformed cluster UID is a clear error', () => {
  const fleet = { tenantControlPlanes: [], dataStores: [] };
  const answer = handle({ ...installation, clusterUid: 'not-a-uid' }, { tag: 'heartbeat', val: fleet });
  assert.equal(answer.tag, 'err');
  assert.equal(answer.val.tag, 'malformed-input');
  assert.ok(answer.val.val.includes('not a UUID'), answer.val.val);
});
