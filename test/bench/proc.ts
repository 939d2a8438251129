import { readFile } from 'node:fs/promises';

/**
 * Resident set size of another process in bytes, read from `/proc/<pid>/status` (Linux only): the gateway
 * has no admin route, so its memory is measured from outside.
 */
export async function readRssBytes(pid: number): Promise<number> {
  let status: string;
  try {
    status = await readFile(`/proc/${pid}/status`, 'utf8');
  } catch (error) {
    throw new Error(`cannot read /proc/${pid}/status (memory figures need Linux): ${(error as Error).message}`);
  }
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!match) throw new Error(`/proc/${pid}/status has no VmRSS line`);
  return Number(match[1]) * 1024;
}
