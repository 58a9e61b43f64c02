export { ShellJudge, type ShellDefault, type ShellDefaults } from './judge.js';
export { loadShellParser, shellParserLoaded } from './parser.js';
export { factsOf, type CommandFact, type Feed, type LineFacts } from './facts.js';
export { PROGRAM_GROUPS } from './programs.js';
