// The Electron main process: one sandboxed window over the case, the custom protocol, IPC, dialogs and menu.
import { copyFileSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { app, BrowserWindow, dialog, ipcMain, Menu, net, protocol, session } from 'electron';
import { loadTrustedKeys } from '../common/keys.js';
import { CaseBackend } from '../workbench/node/backend.js';
import { EVENT_CHANNELS } from '../workbench/common/bridge.js';
import { APP_HOST, APP_SCHEME, APP_URL, isAppUrl, registerDesktop, registerIpc } from './ipc.js';
import { CONTENT_SECURITY_POLICY, rendererDist } from '../workbench/node/paths.js';

const { values: args } = parseArgs({
  args: process.argv.slice(app.isPackaged ? 1 : 2),
  options: { db: { type: 'string' }, key: { type: 'string', multiple: true } },
  strict: false,
});

protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } }]);
app.enableSandbox();

let win: BrowserWindow | undefined;
const workDir = mkdtempSync(join(tmpdir(), 'hopscope-workbench-'));

function serveApp(): void {
  const root = resolve(rendererDist());
  protocol.handle(APP_SCHEME, async (request) => {
    const url = new URL(request.url);
    const path = normalize(join(root, decodeURIComponent(url.pathname)));
    if (url.host !== APP_HOST || !path.startsWith(root + sep) || !existsSync(path) || !statSync(path).isFile()) {
      return new Response('not found', { status: 404 });
    }
    const res = await net.fetch(pathToFileURL(path).href);
    const headers = new Headers(res.headers);
    headers.set('content-security-policy', CONTENT_SECURITY_POLICY);
    headers.set('x-content-type-options', 'nosniff');
    return new Response(res.body, { status: res.status, headers });
  });
}

function createWindow(backend: CaseBackend): BrowserWindow {
  const w = new BrowserWindow({
    width: 1400, height: 900, title: 'hopscope workbench', show: false,
    webPreferences: {
      preload: join(dirname(fileURLToPath(import.meta.url)), 'preload.cjs'),
      contextIsolation: true, sandbox: true, nodeIntegration: false, nodeIntegrationInWorker: false, nodeIntegrationInSubFrames: false,
      webSecurity: true, allowRunningInsecureContent: false, webviewTag: false, navigateOnDragDrop: false, spellcheck: false,
    },
  });
  w.once('ready-to-show', () => w.show());
  w.webContents.setWindowOpenHandler(() => ({ action: 'deny' }));
  w.webContents.on('will-navigate', (event, url) => {
    if (!isAppUrl(url)) event.preventDefault();
  });
  w.webContents.on('will-redirect', (event, url) => {
    if (!isAppUrl(url)) event.preventDefault();
  });
  Menu.setApplicationMenu(menu(backend));
  void w.loadURL(APP_URL);
  return w;
}

function menu(backend: CaseBackend): Menu {
  const openCase = async () => {
    const r = await dialog.showOpenDialog(win!, { title: 'Open or create a case file', properties: ['openFile', 'promptToCreate'],
      filters: [{ name: 'hopscope case', extensions: ['db', 'sqlite', 'hopscope'] }] });
    if (r.canceled || !r.filePaths[0]) return;
    await backend.openCase(r.filePaths[0]).catch((err: Error) => dialog.showErrorBox('Cannot open the case file', err.message));
    win?.webContents.reload();
  };
  // The import runs in the backend; the page is given its id (the Case view shows its progress) and told once it is over,
  // and refreshes its files, sessions and graph (no reload).
  const importFolder = async () => {
    const r = await dialog.showOpenDialog(win!, { title: 'Import recordings', properties: ['openFile', 'openDirectory', 'multiSelections'] });
    if (r.canceled || r.filePaths.length === 0) return;
    try {
      let job = await backend.importPaths(r.filePaths);
      if (win && !win.isDestroyed()) win.webContents.send(EVENT_CHANNELS.onImportStarted, job.id);
      while (job.state === 'running') {
        await new Promise((resolve) => setTimeout(resolve, 200));
        job = await backend.importStatus(job.id);
      }
      if (job.state === 'failed') dialog.showErrorBox('The import stopped', job.message ?? 'see the log');
    } catch (err) {
      dialog.showErrorBox('Cannot import', (err as Error).message);
    } finally {
      if (win && !win.isDestroyed()) win.webContents.send(EVENT_CHANNELS.onCaseChanged);
    }
  };
  return Menu.buildFromTemplate([
    { label: 'File', submenu: [
      { label: 'Open Case…', accelerator: 'CmdOrCtrl+O', click: () => void openCase() },
      { label: 'Import Recordings…', accelerator: 'CmdOrCtrl+I', click: () => void importFolder() },
      { type: 'separator' }, { role: 'quit' },
    ] },
    { role: 'editMenu' },
    { label: 'View', submenu: [{ role: 'reload' }, { role: 'resetZoom' }, { role: 'zoomIn' }, { role: 'zoomOut' }, { role: 'togglefullscreen' }] },
  ]);
}

app.on('web-contents-created', (_event, contents) => {
  contents.on('will-attach-webview', (event) => event.preventDefault());
});

void app.whenReady().then(() => {
  session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  serveApp();
  const keys = Array.isArray(args.key) ? args.key.filter((k): k is string => typeof k === 'string') : [];
  const backend = new CaseBackend({
    ...(typeof args.db === 'string' ? { db: args.db } : {}),
    trusted: loadTrustedKeys(keys),
    workDir,
    deliver: async (file, fileName) => {
      const r = await dialog.showSaveDialog(win!, { title: 'Save export', defaultPath: fileName });
      if (r.canceled || !r.filePath) return {};
      copyFileSync(file, r.filePath);
      return { savedTo: r.filePath };
    },
  });
  registerIpc(ipcMain, backend);
  registerDesktop(ipcMain, {
    chooseGatewayConfig: async () => {
      const r = await dialog.showOpenDialog(win!, { title: 'Local gateway config', properties: ['openFile'],
        filters: [{ name: 'gateway config', extensions: ['yml', 'yaml', 'json'] }, { name: 'all files', extensions: ['*'] }] });
      return r.canceled ? null : r.filePaths[0] ?? null;
    },
  });
  win = createWindow(backend);
  app.on('window-all-closed', () => {
    backend.close();
    rmSync(workDir, { recursive: true, force: true });
    app.quit();
  });
});
