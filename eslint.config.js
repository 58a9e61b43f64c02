// @ts-check
import tseslint from 'typescript-eslint';

/**
 * Import directions of DESIGN.md: renderer → common, electron → workbench/common,
 * workbench/node → forensics/common, gateway → common, forensics → common. Nothing imports
 * the renderer; gateway and forensics never import each other; common imports no other
 * module. Outside forensics/, the case file is read only through forensics/index.ts (its
 * query layer): the tables stay private to forensics/ (forensics/testing is test support).
 * @param {string[]} forbidden folders the files of a module may not import
 * @param {string} why
 */
const forbid = (forbidden, why, { forensicsInternals = true } = {}) => ({
  'no-restricted-imports': ['error', {
    patterns: [
      ...forbidden.map((folder) => ({
        group: [`**/${folder}`, `**/${folder}/**`, `${folder}/**`],
        message: `${why} (import directions in DESIGN.md)`,
      })),
      ...(forensicsInternals ? [{
        group: ['**/forensics/*/**', '!**/forensics/testing/**'],
        message: 'outside forensics/, import forensics/index.js: the case file is read through its query layer only',
      }] : []),
    ],
  }],
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'out/**', 'release/**', 'renderer/dist/**', 'test-artifacts/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  { files: ['common/**'], rules: forbid(['renderer', 'gateway', 'forensics', 'electron', 'workbench', 'bin'], 'common/ is shared by all and imports no other module') },
  { files: ['gateway/**'], rules: forbid(['renderer', 'forensics', 'electron', 'bin'], 'gateway/ imports only common/') },
  { files: ['forensics/**'], rules: forbid(['renderer', 'gateway', 'electron', 'workbench', 'bin'], 'forensics/ imports only common/', { forensicsInternals: false }) },
  { files: ['workbench/common/**'], rules: forbid(['renderer', 'gateway', 'forensics', 'electron', 'workbench/node', 'bin'], 'workbench/common/ is pure: it imports only common/') },
  { files: ['workbench/node/**'], rules: forbid(['renderer', 'gateway', 'electron', 'bin'], 'workbench/node/ imports only forensics/, workbench/common/ and common/') },
  { files: ['electron/**'], rules: forbid(['renderer', 'gateway', 'forensics', 'bin'], 'electron/ is the thin Electron shell: it imports only workbench/ and common/') },
  { files: ['renderer/**'], rules: forbid(['gateway', 'forensics', 'electron', 'workbench', 'bin'], 'renderer/ imports only common/') },
  { files: ['bin/**'], rules: forbid(['renderer'], 'nothing imports the renderer') },
  // Tests and benchmarks may look into the tables they check or report on (white-box), never into the renderer.
  { files: ['test/**', 'bench/**'], rules: forbid(['renderer'], 'nothing imports the renderer', { forensicsInternals: false }) },
);
