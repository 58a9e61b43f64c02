// The sandboxed preload (bundled to dist/electron/preload.cjs: a sandboxed preload cannot load other files).
import { contextBridge, ipcRenderer } from 'electron';
import { createBridge } from './bridge.js';

contextBridge.exposeInMainWorld('hopscope', createBridge({
  invoke: (channel, ...args) => ipcRenderer.invoke(channel, ...args),
  on: (channel, listener) => {
    const onEvent = () => listener(); // the IpcRendererEvent and any arguments stay here
    ipcRenderer.on(channel, onEvent);
    return () => void ipcRenderer.removeListener(channel, onEvent);
  },
}));
