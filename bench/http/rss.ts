import { readFileSync } from 'node:fs';

/** A field of /proc/<pid>/status in kB (VmRSS: resident now; VmHWM: the peak since the process started). */
export function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Samples the resident memory of `pid` every `everyMs` until stopped; returns the highest sample
 * and the kernel's own peak (VmHWM, which also covers what happened before sampling began).
 */
export function sampleMemory(pid: number, everyMs = 20): { stop(): { rssPeakKb: number; hwmKb: number } } {
  let peak = statusKb(pid, 'VmRSS') ?? 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, statusKb(pid, 'VmRSS') ?? 0);
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      peak = Math.max(peak, statusKb(pid, 'VmRSS') ?? 0);
      return { rssPeakKb: peak, hwmKb: statusKb(pid, 'VmHWM') ?? 0 };
    },
  };
}
