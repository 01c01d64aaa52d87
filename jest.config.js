// Two projects: fast unit tests of the pure core and the server, and end-to-end tests against a real control plane.
const tsJest = [
  'ts-jest',
  { useESM: true, tsconfig: 'tsconfig.json' },
];
const common = {
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': tsJest },
  testEnvironment: 'node',
  // .run/ holds control planes' data (etcd writes *.snap files jest would take for obsolete snapshots).
  // test/node/ holds the node's binaries and image build caches (whole root filesystems).
  modulePathIgnorePatterns: ['<rootDir>/.run/', '<rootDir>/test/node/'],
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/.run/', '<rootDir>/test/node/'],
  roots: ['<rootDir>/test', '<rootDir>/src'],
};

export default {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/e2e/**/*.test.ts'],
      globalSetup: '<rootDir>/test/e2e/global-setup.mjs',
      globalTeardown: '<rootDir>/test/e2e/global-teardown.mjs',
    },
    {
      // A cluster with a real node (kubelet, containerd, the image built from the Dockerfile): run inside a network
      // namespace of its own by `npm run test:node`.
      ...common,
      displayName: 'node',
      testMatch: ['<rootDir>/test/node-e2e/**/*.test.ts'],
      globalSetup: '<rootDir>/test/node-e2e/global-setup.mjs',
      globalTeardown: '<rootDir>/test/node-e2e/global-teardown.mjs',
    },
  ],
};
