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
