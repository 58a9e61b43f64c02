// The forensic store's public API: what the CLI and the workbench call.
export { ForensicsError, type ForensicsErrorCode } from './errors.js';
export { openCase, type CaseFile, type OpenCaseOptions } from './store/case.js';
export { SCHEMA_VERSION } from './store/schema.js';
export { eventsBetween, getSession, iterateEvents, listSessions, resolveSessionId, type SessionSummary, type StoredEvent } from './store/queries.js';
export { importFile, sha256File, type FileImport, type ImportAction, type ImportOptions, type Progress } from './import/importer.js';
export { findRecordings, importPaths, type ImportSummary } from './import/paths.js';
export { buildChain, type Chain, type ChainEdge, type ChainHop, type ChainRoot, type HopLink } from './chain/graph.js';
export { answersOf, chainDot, chainJson, chainMermaid, chainText, type ChainAnswers } from './chain/render.js';
export { screenAt, type Screen } from './replay/screen.js';
export { showSession } from './replay/show.js';
export { EXPORT_FORMATS, exportCase, ExportRefusedError, type ExportFormat, type ExportOptions } from './export/index.js';
export { chainTimeline } from './chain/timeline.js';
export { applyJournals } from './import/paths.js';
// The workbench's reads: the only way in to the case file's tables from outside forensics/.
export { FIRST_PAGE, hopDetail, recordingFile } from './query/hop.js';
export { exchangeIndex, exchangePage } from './query/exchanges.js';
export { gatewayDetail, gatewayIndex, gatewayPage, type GatewayExchange } from './query/gateway-log.js';
export { sessionFactMatches } from './query/session-facts.js';
export { chainFacts, revocationFacts, type ChainFacts, type EvidenceRow } from './query/evidence.js';
export { caseCounts, fileEntries, gatewayRows, hopLinks, hopLinkTo, searchStatements, sessionRows, terminalChunks, terminalMeta, type GatewayRecordingRow } from './query/workbench-rows.js';
