import { describe, expect, it, vi } from 'vitest';
import { EVENT_CHANNELS, createBridge } from './bridge.js';

describe('preload bridge events', () => {
  it('subscribes the page to its own event channel, calls it with nothing, and unsubscribes', () => {
    const listeners = new Map<string, () => void>();
    const off = vi.fn();
    const bridge = createBridge({
      invoke: async () => ({ ok: true, value: null }),
      on: (channel, listener) => {
        listeners.set(channel, listener);
        return off;
      },
    });
    const page = vi.fn();
    const unsubscribe = bridge.onCaseChanged(page);
    expect([...listeners.keys()]).toEqual([EVENT_CHANNELS.onCaseChanged]);
    (listeners.get(EVENT_CHANNELS.onCaseChanged) as unknown as (...a: unknown[]) => void)({ sender: 'an IPC event' }, 'extra');
    expect(page).toHaveBeenCalledTimes(1);
    expect(page).toHaveBeenCalledWith();
    unsubscribe();
    expect(off).toHaveBeenCalledTimes(1);
  });

  it('refuses a listener that is not a function, and is a no-op where no event source exists', () => {
    const bridge = createBridge({ invoke: async () => ({ ok: true, value: null }) });
    expect(() => bridge.onCaseChanged('x' as unknown as () => void)).toThrow(/takes a function/);
    expect(typeof bridge.onCaseChanged(() => undefined)).toBe('function');
  });
});
