// @ts-check
import tseslint from 'typescript-eslint';

/**
 * Import directions of DESIGN.md: renderer → common, electron → forensics/common,
 * gateway → common, forensics → common. Nothing imports the renderer; gateway and
 * forensics never import each other; common imports no other module.
 * @param {string[]} forbidden folders the files of a module may not import
 * @param {string} why
 */
const forbid = (forbidden, why) => ({
  'no-restricted-imports': ['error', {
    patterns: forbidden.map((folder) => ({
      group: [`**/${folder}`, `**/${folder}/**`, `${folder}/**`],
      message: `${why} (import directions in DESIGN.md)`,
    })),
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
  { files: ['common/**'], rules: forbid(['renderer', 'gateway', 'forensics', 'electron', 'bin'], 'common/ is shared by all and imports no other module') },
  { files: ['gateway/**'], rules: forbid(['renderer', 'forensics', 'electron', 'bin'], 'gateway/ imports only common/') },
  { files: ['forensics/**'], rules: forbid(['renderer', 'gateway', 'electron', 'bin'], 'forensics/ imports only common/') },
  { files: ['electron/**'], rules: forbid(['renderer', 'gateway', 'bin'], 'electron/ imports only forensics/ and common/') },
  { files: ['renderer/**'], rules: forbid(['gateway', 'forensics', 'electron', 'bin'], 'renderer/ imports only common/') },
  { files: ['bin/**', 'bench/**', 'test/**'], rules: forbid(['renderer'], 'nothing imports the renderer') },
);
