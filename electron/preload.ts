// The sandboxed preload (bundled to dist/electron/preload.cjs: a sandboxed preload cannot load other files).
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { createBridge } from '../workbench/common/bridge.js';

contextBridge.exposeInMainWorld('hopscope', createBridge({
  invoke: (channel, ...args) => ipcRenderer.invoke(channel, ...args),
  on: (channel, listener) => {
    const onEvent = (_event: IpcRendererEvent, ...args: unknown[]) => listener(...args); // the IpcRendererEvent stays here; the bridge checks the arguments
    ipcRenderer.on(channel, onEvent);
    return () => void ipcRenderer.removeListener(channel, onEvent);
  },
}));
