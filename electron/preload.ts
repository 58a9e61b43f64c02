// The sandboxed preload (bundled to dist/electron/preload.cjs: a sandboxed preload cannot load other files).
import { contextBridge, ipcRenderer } from 'electron';
import { createBridge } from './bridge.js';

contextBridge.exposeInMainWorld('hopscope', createBridge({ invoke: (channel, ...args) => ipcRenderer.invoke(channel, ...args) }));
