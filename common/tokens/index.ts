export { issueToken, verifyToken, parseDuration, TokenClaims, TOKEN_PREFIX, type IssueOptions } from './token.js';
